//! Mirroring behind approval, with two real daemons on loopback: publish
//! upstream → sync → pending (invisible) → approve → installable and
//! buildable downstream; a rejected version stays out across re-syncs.

mod common;

use common::*;

fn source_config(upstream: &Daemon, root: &std::path::Path, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"up\"\nkind = \"registry\"\nurl = {:?}\nroot_key = {:?}\ninterval = \"0\"\n{extra}",
        upstream.url, root
    )
}

#[test]
fn mirrored_versions_wait_for_approval_then_install_and_build() {
    let upstream = Daemon::start();
    upstream.publish_skill("mirrored-skill", "1.0.0");
    let publisher = upstream.token("publisher", "alice");
    let to_upstream = Cargo::new(&upstream.url, false);
    let krate = to_upstream.krate(
        "mirrored",
        "[package]\nname = \"mirrored-crate\"\nversion = \"0.1.0\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n",
        &[("lib.rs", "pub fn answer() -> u32 { 42 }\n")],
    );
    to_upstream.ok(&krate, &PUBLISH, Some(&publisher));

    let dir = tempfile::tempdir().unwrap();
    let upstream_root = export_root(&upstream.data, dir.path(), "upstream-root.json");
    let down = Daemon::with_config(&source_config(&upstream, &upstream_root, ""));

    // Sync: both versions arrive, pending and invisible.
    let run = down.sync_source("up");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(2), Some(2)),
        "{run}"
    );
    assert_eq!(
        get(&format!("{}/index/mi/rr/mirrored-skill", down.url)).0,
        404,
        "pending is not in the index"
    );
    let download = format!("{}/api/v1/crates/mirrored-skill/1.0.0/download", down.url);
    assert_eq!(
        get(&download).0,
        404,
        "pending is not downloadable anonymously"
    );
    assert_eq!(
        get_with(&download, &[("authorization", &down.admin)]).status(),
        200,
        "an admin may review it"
    );
    let reader = down.token("reader", "rita");
    assert_eq!(
        get_with(&download, &[("authorization", &reader)]).status(),
        404
    );

    // The pending list tells the admin what they are approving.
    let (status, pending) = down.admin_json("GET", "/admin/v1/pending", "");
    assert_eq!(status, 200);
    let skill = pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mirrored-skill")
        .unwrap()
        .clone();
    assert_eq!(skill["source"], "up");
    assert_eq!(skill["upstream"]["signature"], "verified");
    assert!(
        skill["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "SKILL.md"),
        "{skill}"
    );
    assert!(skill["findings"].is_array());
    assert_eq!(skill["diff"]["against"], serde_json::Value::Null);

    // Non-admins cannot see or decide.
    let r = get_with(
        &format!("{}/admin/v1/pending", down.url),
        &[("authorization", &reader)],
    );
    assert_eq!(r.status(), 403);
    assert_eq!(get(&format!("{}/admin/v1/pending", down.url)).0, 401);

    // Approve both (one by one, then check the bulk form on the next round).
    for (name, version) in [("mirrored-skill", "1.0.0"), ("mirrored-crate", "0.1.0")] {
        let path = format!("/admin/v1/packages/{name}/{version}/approve");
        let (status, body) = down.admin_json("POST", &path, r#"{"note":"reviewed"}"#);
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        get(&format!("{}/index/mi/rr/mirrored-skill", down.url)).0,
        200
    );
    // The decision is signed by the registry's index key.
    let r = get_with(
        &format!(
            "{}/admin/v1/packages/mirrored-skill/1.0.0/decision",
            down.url
        ),
        &[("authorization", &down.admin)],
    );
    assert_eq!(r.status(), 200);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut bytes).unwrap();
    let envelope = skillreg::index::sign::Envelope::from_bytes(&bytes).unwrap();
    let (_, root) = root_of(&get_bytes(&format!("{}/index/_skillreg/root.json", down.url)).1);
    let payload = envelope
        .verify(
            skillreg::index::sign::types::DECISION,
            "index",
            &root.roles["index"],
            &root.keys,
        )
        .unwrap();
    let decision: skillreg::index::sign::DecisionStatement =
        skillreg::index::sign::parse(&payload).unwrap();
    assert_eq!(
        (
            decision.decision.as_str(),
            decision.by.as_str(),
            decision.note.as_str()
        ),
        ("approved", "admin", "reviewed")
    );

    // skillreg install verifies and installs from the downstream.
    let down_root = export_root(&down.data, dir.path(), "down-root.json");
    let user = ClientEnv::new();
    let project = user.project("p");
    user.install(&down.url, &down_root, &project, &["mirrored-skill"]);
    assert!(project
        .join(".claude/skills/mirrored-skill/SKILL.md")
        .is_file());

    // cargo resolves, fetches and builds the approved crate from the downstream.
    let from_down = Cargo::new(&down.url, false);
    let consumer = from_down.krate(
        "consumer",
        "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nmirrored-crate = { version = \"0.1\", registry = \"skillreg\" }\n",
        &[("main.rs", "fn main() { println!(\"{}\", mirrored_crate::answer()); }\n")],
    );
    assert_eq!(from_down.ok(&consumer, &["run", "-q"], None).trim(), "42");

    // A new upstream version is pending again; rejected, it stays rejected.
    upstream.publish_skill("mirrored-skill", "1.1.0");
    let run = down.sync_source("up");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let (_, pending) = down.admin_json("GET", "/admin/v1/pending", "");
    let next = &pending["pending"][0];
    assert_eq!(
        (next["name"].as_str(), next["version"].as_str()),
        (Some("mirrored-skill"), Some("1.1.0"))
    );
    assert_eq!(next["diff"]["against"], "1.0.0", "{next}");
    let (status, body) = down.admin_json(
        "POST",
        "/admin/v1/packages/mirrored-skill/1.1.0/reject",
        "{}",
    );
    assert_eq!(status, 400, "a rejection needs a reason: {body}");
    let (status, _) = down.admin_json("POST",
        "/admin/v1/bulk",
        r#"{"action":"reject","reason":"not reviewed yet","versions":[{"name":"mirrored-skill","version":"1.1.0"}]}"#,
    );
    assert_eq!(status, 200);
    let run = down.sync_source("up");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["added"].as_i64(), Some(0), "{run}");
    let (_, pending) = down.admin_json("GET", "/admin/v1/pending", "");
    assert!(
        pending["pending"].as_array().unwrap().is_empty(),
        "{pending}"
    );
    let (_, index) = get(&format!("{}/index/mi/rr/mirrored-skill", down.url));
    assert!(
        !index.contains("1.1.0"),
        "a rejected version never reaches clients: {index}"
    );

    // Every decision is audited with who and why.
    let (_, audit) = down.admin_json("GET", "/admin/v1/audit", "");
    let lines: Vec<String> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["actor"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["subject"].as_str().unwrap(),
                r["detail"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "admin approve mirrored-skill@1.0.0 reviewed",
        "admin reject mirrored-skill@1.1.0 not reviewed yet",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected} not in {lines:#?}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("mirror:up mirror mirrored-skill@1.0.0")),
        "{lines:#?}"
    );

    // The CLI shows runs and sources.
    let out = cli(&[
        "admin",
        "sources",
        "--registry",
        &down.url,
        "--token",
        &down.admin,
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("up"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "admin",
        "runs",
        "--registry",
        &down.url,
        "--token",
        &down.admin,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("completed"));
}

#[test]
fn auto_approve_sources_publish_at_once_and_quiet_resyncs_change_nothing() {
    let upstream = Daemon::start();
    upstream.publish_skill("auto-skill", "1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let root = export_root(&upstream.data, dir.path(), "root.json");
    let down = Daemon::with_config(&source_config(&upstream, &root, "auto_approve = true\n"));
    let run = down.sync_source("up");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(1), Some(0)),
        "{run}"
    );
    assert_eq!(get(&format!("{}/index/au/to/auto-skill", down.url)).0, 200);
    let before = down.fingerprint();
    let run = down.sync_source("up");
    assert_eq!(run["status"], "completed");
    assert_eq!(
        (
            run["added"].as_i64(),
            run["updated"].as_i64(),
            run["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(1)),
        "{run}"
    );
    assert_eq!(down.fingerprint(), before);
}

#[test]
fn upstream_yanks_reach_mirrored_versions_and_nothing_else() {
    let upstream = Daemon::start();
    upstream.publish_skill("yank-me", "1.0.0");
    upstream.publish_skill("yank-me", "1.1.0");
    upstream.publish_skill("pending-yank", "0.1.0");
    let dir = tempfile::tempdir().unwrap();
    let root = export_root(&upstream.data, dir.path(), "root.json");
    let down = Daemon::with_config(&source_config(&upstream, &root, ""));
    let run = down.sync_source("up");
    assert_eq!(run["added"].as_i64(), Some(3), "{run}");
    for v in ["1.0.0", "1.1.0"] {
        let path = format!("/admin/v1/packages/yank-me/{v}/approve");
        assert_eq!(down.admin_json("POST", &path, "{}").0, 200);
    }
    let index = format!("{}/index/ya/nk/yank-me", down.url);
    let (_, lines) = get(&index);
    assert!(!lines.contains("\"yanked\":true"), "{lines}");

    // Upstream yanks 1.0.0 (public here) and 0.1.0 (still pending here).
    for (name, v) in [("yank-me", "1.0.0"), ("pending-yank", "0.1.0")] {
        let (status, body) = delete(
            &format!("{}/api/v1/crates/{name}/{v}/yank", upstream.url),
            Some(&upstream.admin),
        );
        assert_eq!(status, 200, "{body}");
    }
    let run = down.sync_source("up");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["added"].as_i64(), Some(0), "{run}");
    let detail = run["detail"].to_string();
    assert!(
        detail.contains("yank-me@1.0.0: yanked upstream, so yanked here too")
            && detail.contains("pending-yank@0.1.0: yanked upstream, so yanked here too"),
        "{run}"
    );
    let (_, lines) = get(&index);
    let yanked: Vec<(String, bool)> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["vers"].as_str().unwrap().to_string(),
                v["yanked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        yanked,
        [("1.0.0".to_string(), true), ("1.1.0".to_string(), false)],
        "{lines}"
    );
    let (_, audit) = down.admin_json("GET", "/admin/v1/audit", "");
    let yanks: Vec<_> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "yank")
        .collect();
    assert_eq!(yanks.len(), 2, "{audit}");
    assert!(
        yanks
            .iter()
            .all(|e| e["actor"] == "mirror:up" && e["detail"] == "yanked upstream"),
        "{audit}"
    );

    // An admin's unyank here stands, also when the upstream file changes.
    let (status, body) = put(
        &format!("{}/api/v1/crates/yank-me/1.0.0/unyank", down.url),
        Some(&down.admin),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    upstream.publish_skill("yank-me", "1.2.0");
    let run = down.sync_source("up");
    assert_eq!(
        (run["status"].as_str(), run["added"].as_i64()),
        (Some("completed"), Some(1)),
        "{run}"
    );
    assert!(
        !run["detail"].to_string().contains("yanked here too"),
        "{run}"
    );
    let (_, lines) = get(&index);
    assert!(!lines.contains("\"yanked\":true"), "{lines}");

    // A version published here (by an admin, into the mirrored package) is
    // not the source's to yank, even when the upstream yanks its namesake.
    down.publish_skill("yank-me", "3.0.0");
    upstream.publish_skill("yank-me", "3.0.0");
    let (status, body) = delete(
        &format!("{}/api/v1/crates/yank-me/3.0.0/yank", upstream.url),
        Some(&upstream.admin),
    );
    assert_eq!(status, 200, "{body}");
    let run = down.sync_source("up");
    assert_eq!(run["status"], "completed", "{run}");
    assert!(
        !run["detail"].to_string().contains("yanked here too"),
        "{run}"
    );
    let (_, lines) = get(&index);
    assert!(
        lines.contains("\"3.0.0\"") && !lines.contains("\"yanked\":true"),
        "{lines}"
    );
    down.assert_serving();
}
