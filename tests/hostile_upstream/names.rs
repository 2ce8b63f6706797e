//! See the crate doc of `hostile_upstream.rs`. An upstream chooses the names
//! it offers: a name that only has mirrored versions waiting for review
//! must not leak to anyone but an admin (owners, yank, publish errors,
//! `/healthz`), and a local publish claims it as if it were free. Also here:
//! the caps on uploads in progress and the private modes of the data dir.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// An upstream daemon and a downstream mirroring it behind review.
struct Mirrored {
    upstream: Daemon,
    down: Daemon,
    _dir: tempfile::TempDir,
}

/// Starts an upstream holding `skills` (name, version) and a downstream
/// with `down_toml` plus a registry source `up` on it, synced on demand.
fn mirror_of(skills: &[(&str, &str)], down_toml: &str) -> Mirrored {
    let upstream = Daemon::start();
    for (name, version) in skills {
        upstream.publish_skill(name, version);
    }
    let dir = tempfile::tempdir().unwrap();
    let root = export_root(&upstream.data, dir.path(), "upstream-root.json");
    let down = Daemon::with_config(&format!(
        "{down_toml}\n[[sources]]\nname = \"up\"\nkind = \"registry\"\nurl = {:?}\nroot_key = {:?}\ninterval = \"0\"\n",
        upstream.url, root
    ));
    Mirrored {
        upstream,
        down,
        _dir: dir,
    }
}

/// Syncs source `up` and checks that `pending` versions arrived, pending.
fn sync_pending(down: &Daemon, pending: i64) -> serde_json::Value {
    let run = down.sync_source("up");
    assert_eq!(
        (run["status"].as_str(), run["pending"].as_i64()),
        (Some("completed"), Some(pending)),
        "{run}"
    );
    run
}

/// One request with an optional token → (status, body).
fn call(method: &str, url: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let response = match method {
        "GET" => authorized(agent.get(url), token).call(),
        "PUT" => authorized(agent.put(url), token).send(body),
        "DELETE" => authorized(agent.delete(url).force_send_body(), token).send(body),
        other => panic!("no helper for {other}"),
    };
    let mut r = response.unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap())
}

fn authorized<B>(req: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
    match token {
        Some(t) => req.header("Authorization", t),
        None => req,
    }
}

/// `body` with every spelling of `name` and its index path replaced by
/// placeholders, so answers about two names can be compared byte for byte.
fn neutral(body: &str, name: &str) -> String {
    body.replace(&skillreg::index::path_for(name), "INDEX-PATH")
        .replace(&name.to_uppercase(), "NAME")
        .replace(name, "NAME")
}

/// The public routes, as (method, path with `{}` for the name and
/// `{index}` for its index path, body).
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/crates/{}/owners", ""),
    ("PUT", "/api/v1/crates/{}/owners", r#"{"users":["pat"]}"#),
    (
        "DELETE",
        "/api/v1/crates/{}/owners",
        r#"{"users":["mirror:up"]}"#,
    ),
    ("PUT", "/api/v1/crates/{}/owners", r#"{"users":[]}"#),
    ("DELETE", "/api/v1/crates/{}/1.0.0/yank", ""),
    ("PUT", "/api/v1/crates/{}/1.0.0/unyank", ""),
    ("DELETE", "/api/v1/crates/{}/9.9.9/yank", ""),
    ("GET", "/api/v1/crates/{}/1.0.0/download", ""),
    ("GET", "/index/{index}", ""),
    ("GET", "/api/v1/crates?q={}", ""),
];

/// Asserts that every public route answers about `hidden` (a package with
/// only pending versions) exactly as about `absent` (a name never used),
/// for each of `tokens`, in two spellings.
fn assert_answers_like_absent(
    d: &Daemon,
    hidden: &str,
    absent: &str,
    tokens: &[(&str, Option<&str>)],
) {
    for (who, token) in tokens {
        for (method, path, body) in ROUTES {
            for (h, a) in [
                (hidden.to_string(), absent.to_string()),
                (hidden.to_uppercase(), absent.to_uppercase()),
            ] {
                let url = |name: &str| {
                    let path = path
                        .replace("{index}", &skillreg::index::path_for(name))
                        .replace("{}", name);
                    format!("{}{path}", d.url)
                };
                let (hs, hb) = call(method, &url(&h), *token, body.as_bytes());
                let (as_, ab) = call(method, &url(&a), *token, body.as_bytes());
                assert_eq!(
                    (hs, neutral(&hb, hidden)),
                    (as_, neutral(&ab, absent)),
                    "{who}: {method} {path} ({h}) must answer like a name that never existed"
                );
            }
        }
    }
}

/// The pending-only name, a never-used name, and every kind of caller but
/// an admin, including a publisher whose login is the source's mirror
/// login (so it is listed as owner of the pending package).
fn check_no_name_leaks(down_toml: &str) {
    let m = mirror_of(&[("hidden-skill", "1.0.0")], down_toml);
    let d = &m.down;
    sync_pending(d, 1);
    let reader = d.token("reader", "rita");
    let publisher = d.token("publisher", "pat");
    let mirror_login = d.token("publisher", "mirror:up");
    let owners_url = format!("{}/api/v1/crates/hidden-skill/owners", d.url);
    let (status, owners) = call("GET", &owners_url, Some(&d.admin), b"");
    assert_eq!(status, 200, "an admin still sees the owners: {owners}");
    assert!(owners.contains("\"login\":\"mirror:up\""), "{owners}");
    let before = d.fingerprint();

    let mut tokens = vec![
        ("reader", Some(reader.as_str())),
        ("publisher", Some(publisher.as_str())),
        ("publisher mirror:up", Some(mirror_login.as_str())),
    ];
    if !down_toml.contains("auth_required = true") {
        tokens.insert(0, ("anonymous", None));
    }
    assert_answers_like_absent(d, "hidden-skill", "absent-skill", &tokens);
    let (status, body) = call("GET", &owners_url, Some(&reader), b"");
    assert_eq!(status, 404, "{body}");

    assert_eq!(d.fingerprint(), before, "no refusal changed the store");
    assert_eq!(
        call("GET", &owners_url, Some(&d.admin), b""),
        (200, owners),
        "nor the owners"
    );
    let (_, audit) = d.admin_json("GET", "/admin/v1/audit", "");
    assert!(
        !audit.to_string().contains("owner-"),
        "no owner change: {audit}"
    );
    d.assert_serving();
}

#[test]
fn pending_names_answer_like_names_that_never_existed() {
    check_no_name_leaks("");
}

#[test]
fn pending_names_answer_like_names_that_never_existed_with_auth_required() {
    check_no_name_leaks("auth_required = true");
}

/// `packages` from `/healthz`.
fn healthz_packages(d: &Daemon) -> i64 {
    let (status, body) = get(&format!("{}/healthz", d.url));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["packages"]
        .as_i64()
        .unwrap()
}

#[test]
fn healthz_counts_only_packages_with_an_approved_version() {
    let m = mirror_of(&[("counted-skill", "1.0.0")], "");
    let d = &m.down;
    d.publish_skill("local-skill", "1.0.0");
    assert_eq!(healthz_packages(d), 1);
    sync_pending(d, 1);
    assert_eq!(
        healthz_packages(d),
        1,
        "a pending-only package is not counted"
    );
    let (status, body) = d.admin_json(
        "POST",
        "/admin/v1/packages/counted-skill/1.0.0/approve",
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(healthz_packages(d), 2, "approved, it is counted");
}

/// A skill tarball for `name@version` whose description differs from the
/// upstream's, so its checksum does too.
fn local_skill(name: &str, version: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = skill_dir(dir.path(), name, version, "Published here, not upstream.");
    skillreg::bundle::pack::pack_dir(&path).unwrap()
}

/// A publish body for a minimal crate `name@version`.
fn crate_body(name: &str, version: &str) -> Vec<u8> {
    let root = format!("{name}-{version}");
    let tar = raw_tar(&[
        file_entry(
            &format!("{root}/Cargo.toml"),
            format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n")
                .as_bytes(),
        ),
        file_entry(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
    ]);
    let meta = serde_json::json!({"name": name, "vers": version, "deps": [], "features": {}});
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &gzip(&tar))
}

/// Every audit entry as `actor action subject detail`.
fn audit_lines(d: &Daemon) -> Vec<String> {
    let (_, audit) = d.admin_json("GET", "/admin/v1/audit", "");
    audit["audit"]
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
        .collect()
}

#[test]
fn a_local_publish_claims_a_name_only_pending_versions_hold() {
    let m = mirror_of(&[("claimed-skill", "1.0.0"), ("twin-tools", "1.0.0")], "");
    let d = &m.down;
    sync_pending(d, 2);
    let pat = d.token("publisher", "pat");
    let (_, pending) = d.admin_json("GET", "/admin/v1/pending", "");
    let mirrored_cksum = pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "claimed-skill")
        .unwrap()["cksum"]
        .as_str()
        .unwrap()
        .to_string();

    // The same name and version as the pending one: accepted as if free.
    let tarball = local_skill("claimed-skill", "1.0.0");
    let new = format!("{}/api/v1/crates/new", d.url);
    let (status, body) = put(
        &new,
        Some(&pat),
        &skill_publish_body("claimed-skill", "1.0.0", &tarball),
    );
    assert_eq!(status, 200, "{body}");
    let (status, owners) = get(&format!("{}/api/v1/crates/claimed-skill/owners", d.url));
    assert_eq!(status, 200, "{owners}");
    let owners: serde_json::Value = serde_json::from_str(&owners).unwrap();
    assert_eq!(owners["users"].as_array().unwrap().len(), 1, "{owners}");
    assert_eq!(owners["users"][0]["login"], "pat", "{owners}");
    let (_, index) = get(&format!("{}/index/cl/ai/claimed-skill", d.url));
    let cksum = skillreg::blobs::Sha256Digest::of(&tarball).to_hex();
    assert_eq!(index.lines().count(), 1, "{index}");
    assert!(index.contains(&cksum), "{index}");
    let (status, bytes) = get_bytes(&format!(
        "{}/api/v1/crates/claimed-skill/1.0.0/download",
        d.url
    ));
    assert_eq!((status, bytes), (200, tarball.clone()), "the local bundle");

    // The mirrored version is rejected, kept, and audited by `registry`.
    let store = skillreg::store::Store::open(&d.data).unwrap();
    let rejected = store
        .versions_with_status(skillreg::store::VersionStatus::Rejected)
        .unwrap();
    assert!(
        rejected.iter().any(|r| r.name == "claimed-skill"
            && r.version == "1.0.0"
            && r.source.as_deref() == Some("up")
            && r.cksum == mirrored_cksum),
        "{rejected:?} {:?} {:#?}",
        store.published(),
        audit_lines(d)
    );
    let blobs = skillreg::blobs::BlobStore::open(&d.data)
        .unwrap()
        .list()
        .unwrap();
    assert!(
        blobs.iter().any(|b| b.to_hex() == mirrored_cksum),
        "its bundle stays stored"
    );
    let (_, pending) = d.admin_json("GET", "/admin/v1/pending", "");
    let names: Vec<&str> = pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["twin-tools"], "{pending}");
    let log = audit_lines(d);
    for expected in [
        "registry reject claimed-skill@1.0.0 superseded: the name was published here by pat",
        "registry owner-remove claimed-skill mirror:up",
        "registry owner-add claimed-skill pat",
    ] {
        assert!(
            log.iter().any(|l| l == expected),
            "{expected} not in {log:#?}"
        );
    }
    assert!(
        log.iter()
            .any(|l| l.starts_with("pat publish claimed-skill@1.0.0 ")),
        "{log:#?}"
    );

    // The source skips the name from now on.
    m.upstream.publish_skill("claimed-skill", "1.1.0");
    let before = d.fingerprint();
    let run = d.sync_source("up");
    assert_eq!(run["status"], "completed", "{run}");
    assert!(
        run["detail"].as_array().unwrap().iter().any(|l| l
            == "claimed-skill@1.1.0: a package published here (not by source `up`) already uses this name"),
        "{run}"
    );
    // Nothing mirrored into it: the one change is the source's record that
    // it handled the upstream's new index file (so the next run does not
    // fetch it again), now naming that file's hash and its two lines, and
    // its records of the snapshot-tree subtrees it handled (`tree:…`, so
    // the next run does not walk them again).
    let (_, upstream_file) = get_bytes(&format!("{}/index/cl/ai/claimed-skill", m.upstream.url));
    let (trees, changes): (Vec<String>, Vec<String>) = before
        .diff(&d.fingerprint())
        .into_iter()
        .partition(|c| c.contains(r#"source="up", key="tree:"#));
    assert!(
        trees.iter().all(|c| c.starts_with("mirror_state: ")),
        "{trees:#?}"
    );
    assert_eq!(changes.len(), 2, "nothing mirrored into it: {changes:#?}");
    let row = r#"source="up", key="file:cl/ai/claimed-skill", value="#;
    assert!(
        changes[0].starts_with(&format!("mirror_state: - {row}")),
        "{changes:#?}"
    );
    assert_eq!(
        changes[1],
        format!(
            "mirror_state: + {row}\"{} 2\"",
            skillreg::blobs::Sha256Digest::of(&upstream_file).to_hex()
        ),
        "{changes:#?}"
    );

    // Another spelling or kind cannot claim it; the refusal names nothing
    // of the pending package.
    let before = d.fingerprint();
    for name in ["twin_tools", "twin-tools"] {
        let (status, body) = put(&new, Some(&pat), &crate_body(name, "1.0.0"));
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            detail(&body),
            format!("the name `{name}` cannot be published right now: a name that differs only in case, `-`/`_` or kind is waiting for an admin's review; ask an admin"),
        );
    }
    assert_eq!(d.fingerprint(), before, "the refusals stored nothing");
    let (_, owners) = d.admin_json("GET", "/api/v1/crates/twin-tools/owners", "");
    assert_eq!(owners["users"][0]["login"], "mirror:up", "{owners}");
    // An admin, who reviews it, is told what holds the name.
    let (status, body) = put(&new, Some(&d.admin), &crate_body("twin_tools", "1.0.0"));
    assert_eq!(status, 409, "{body}");
    assert!(detail(&body).contains("the skill `twin-tools`"), "{body}");
    assert_eq!(d.fingerprint(), before);
    d.assert_serving();
}

/// An upload whose body is held open: the request head and half the body
/// are sent; the rest on [`SlowUpload::finish`].
struct SlowUpload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    fn start(d: &Daemon, token: &str, body: &[u8]) -> SlowUpload {
        let mut stream = TcpStream::connect(d.url.trim_start_matches("http://")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        let half = body.len() / 2;
        stream.write_all(&body[..half]).unwrap();
        stream.flush().unwrap();
        SlowUpload {
            stream,
            rest: body[half..].to_vec(),
        }
    }

    /// Reads the answer without sending the rest (for a refused upload).
    fn answer(mut self) -> String {
        read_answer(&mut self.stream)
    }

    /// Sends the rest of the body and reads the answer.
    fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).unwrap();
        read_answer(&mut self.stream)
    }
}

fn read_answer(stream: &mut TcpStream) -> String {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

/// Polls with an empty upload by `token` until the daemon refuses it with
/// 429 (every slot it may use is held), within 10 s. An empty upload that
/// gets a slot fails at once on its framing and frees the slot.
fn wait_until_capped(d: &Daemon, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = put(&format!("{}/api/v1/crates/new", d.url), Some(token), b"");
        if status == 429 {
            return;
        }
        assert_eq!(status, 400, "an empty upload fails on its framing: {body}");
        assert!(
            Instant::now() < deadline,
            "the slow uploads never filled the cap"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls with an empty upload by `token` until the daemon gives it a slot
/// again (its framing error, not 429), within 10 s.
fn wait_until_free(d: &Daemon, token: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = put(&format!("{}/api/v1/crates/new", d.url), Some(token), b"");
        if status == 400 {
            return;
        }
        assert_eq!(status, 429, "{body}");
        assert!(
            Instant::now() < deadline,
            "the abandoned upload's slot was never freed: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Status line, `Retry-After` and detail of a raw HTTP answer.
fn refusal(raw: &str) -> (String, Option<String>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    let retry = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.trim().to_string());
    (status, retry, detail(body))
}

#[test]
fn uploads_in_progress_are_capped_per_token_and_per_ip() {
    let d = Daemon::start(); // caps 2 per token, 4 per address
    let tokens: Vec<String> = (1..=3)
        .map(|i| d.token("publisher", &format!("uploader{i}")))
        .collect();
    let body = |n: usize| {
        let name = format!("slow-{n}");
        skill_publish_body(&name, "1.0.0", &skill_tarball(&name, "1.0.0"))
    };

    // Per token: two held open, the third is refused before its body.
    let mut slow = vec![
        SlowUpload::start(&d, &tokens[0], &body(1)),
        SlowUpload::start(&d, &tokens[0], &body(2)),
    ];
    wait_until_capped(&d, &tokens[0]);
    let before = d.fingerprint();
    let (status, retry, text) = refusal(&SlowUpload::start(&d, &tokens[0], &body(9)).answer());
    assert!(status.starts_with("HTTP/1.1 429"), "{status}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert!(
        text.contains("2 upload(s) in progress")
            && text.contains("raise limits.max_concurrent_uploads_per_token"),
        "{text}"
    );

    // Per address: four held open (two tokens), a fresh token is refused.
    slow.push(SlowUpload::start(&d, &tokens[1], &body(3)));
    slow.push(SlowUpload::start(&d, &tokens[1], &body(4)));
    wait_until_capped(&d, &tokens[2]);
    let (status, retry, text) = refusal(&SlowUpload::start(&d, &tokens[2], &body(9)).answer());
    assert!(status.starts_with("HTTP/1.1 429"), "{status}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert!(
        text.contains("4 upload(s) in progress")
            && text.contains("raise limits.max_concurrent_uploads_per_ip"),
        "{text}"
    );
    assert_eq!(
        d.fingerprint(),
        before,
        "the refused uploads stored nothing"
    );
    d.assert_serving();

    // A client that hangs up mid-body frees its slot.
    drop(slow.remove(0));
    wait_until_free(&d, &tokens[0]);

    // The held uploads complete; then their slots are free again.
    for upload in slow {
        let answer = upload.finish();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let (status, text) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&tokens[2]),
        &body(9),
    );
    assert_eq!(status, 200, "{text}");
    let (_, index) = get(&format!("{}/index/sl/ow/slow-9", d.url));
    assert_eq!(index.lines().count(), 1, "{index}");
    d.assert_serving();
}

/// The permission bits of `path` (not following a symlink), in octal.
fn mode(path: &Path) -> String {
    let mode = std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode();
    format!("{:04o}", mode & 0o7777)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn serve_makes_an_existing_data_dir_private() {
    let d = Daemon::start();
    d.publish_skill("kept-skill", "1.0.0");
    let (dir, data) = d.stop();
    let db = data.join(skillreg::store::DB_FILE);
    let key = skillreg::keys::key_path(&data, skillreg::keys::KeyRole::Index);
    chmod(&data, 0o755);
    chmod(&db, 0o644);
    chmod(&data.join("keys"), 0o755);
    chmod(&key, 0o644);

    let d = Daemon::start_in(dir, data.clone(), "");
    assert_eq!(mode(&data), "0700");
    assert_eq!(mode(&db), "0600");
    for suffix in ["-wal", "-shm"] {
        let extra = data.join(format!("{}{suffix}", skillreg::store::DB_FILE));
        if extra.exists() {
            assert_eq!(mode(&extra), "0600", "{}", extra.display());
        }
    }
    assert_eq!(mode(&data.join("keys")), "0700");
    assert_eq!(mode(&key), "0600");
    let log = d.log();
    assert!(
        log.contains("made private: mode 0755 -> 0700")
            && log.contains("made private: mode 0644 -> 0600"),
        "{log}"
    );
    assert_eq!(get(&format!("{}/index/ke/pt/kept-skill", d.url)).0, 200);
    d.assert_serving();
}
