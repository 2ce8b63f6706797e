//! The static tree in a bucket (`[export] target = "s3://…"`,
//! `index-spec/export.md` §5.3), against a real S3-compatible server
//! (Garage) with nginx caching in front of the bucket's website endpoint:
//! cargo, `skillreg install` and the `skills` CLI read from it with the
//! daemon stopped, and a crash between two objects leaves a tree that
//! verifies.

mod common;

use common::*;
use skillreg::index::sign::{paths, types};
use std::collections::BTreeMap;
use std::time::Duration;

/// `(status, body, X-Cache)` of a GET through nginx.
fn get_cached(url: &str) -> (u16, Vec<u8>, String) {
    let r = get_with(url, &[]);
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut body).unwrap();
    (status, body, cache)
}

fn export_toml(garage: &Garage, target: &str, base_url: &str) -> String {
    format!(
        "[export]\ntarget = \"{target}\"\nbase_url = \"{base_url}\"\n{}",
        garage.s3_toml()
    )
}

#[test]
fn cargo_skillreg_and_the_skills_cli_read_the_bucket_through_nginx_with_the_daemon_stopped() {
    let tools = AgentTools::get();
    let garage = Garage::start("skills-tree");
    let nginx = Nginx::cache_in_front_of_bucket(garage.web_port, "skills-tree", "reg/v1");
    let d = Daemon::with_config(&export_toml(&garage, "s3://skills-tree/reg/v1", &nginx.url));
    let publisher = d.token("publisher", "alice");
    let cargo = Cargo::new(&d.url, false);
    cargo.publish_ex_base("0.1.0", &publisher);
    d.publish_skill("bucket-skill", "1.0.0");
    d.wait_for_export();

    // What the daemon acknowledged is in the bucket, and the tree nginx
    // serves from it verifies; its index files are the daemon's bytes.
    let index = |p: &str| {
        let (status, body, _) = get_cached(&format!("{}/index/{p}", nginx.url));
        assert_eq!(status, 200, "index/{p} through nginx");
        body
    };
    let listed = assert_verifies(index);
    for path in ["ex/-b/ex-base", "bu/ck/bucket-skill"] {
        let (status, from_daemon) = get(&format!("{}/index/{path}", d.url));
        assert_eq!(status, 200);
        assert_eq!(listed[path], from_daemon.as_bytes(), "{path}");
    }
    let config: serde_json::Value = serde_json::from_slice(&listed["config.json"]).unwrap();
    assert_eq!(
        config["dl"],
        format!("{}/blobs/{{sha256-checksum}}", nginx.url)
    );
    let (status, _) = get(&format!("{}/index/no/ne/none-such", nginx.url));
    assert_eq!(status, 404, "a missing file is a 404 for cargo");

    // Blobs are immutable: the second read is nginx's cached copy.
    let line: serde_json::Value = serde_json::from_slice(
        listed["bu/ck/bucket-skill"]
            .split(|b| *b == b'\n')
            .next()
            .unwrap(),
    )
    .unwrap();
    let blob_url = format!("{}/blobs/{}", nginx.url, line["cksum"].as_str().unwrap());
    let (status, first, _) = get_cached(&blob_url);
    assert_eq!(status, 200);
    let (_, again, cache) = get_cached(&blob_url);
    assert_eq!((again, cache.as_str()), (first, "HIT"));

    // The daemon stops; every client reads on from the bucket.
    let trust_dir = tempfile::tempdir().unwrap();
    let trust = export_root(&d.data, trust_dir.path(), "root.json");
    d.stop();

    let user = ClientEnv::new();
    let project = user.project("p");
    user.install(&nginx.url, &trust, &project, &["bucket-skill"]);
    assert!(project
        .join(".claude/skills/bucket-skill/SKILL.md")
        .is_file());

    let from_nginx = Cargo::new(&nginx.url, false);
    assert_eq!(from_nginx.run_ex_base_consumer("0.1"), "0.1.0");

    let work = tempfile::tempdir().unwrap();
    let (home, skills_project) = (work.path().join("home"), work.path().join("project"));
    std::fs::create_dir_all(&skills_project).unwrap();
    let run = ToolRun::of(tools.skills(&home, &skills_project).args([
        "add",
        &nginx.url,
        "-y",
        "-a",
        "claude-code",
    ]));
    assert_eq!(run.code, Some(0), "{}", run.output());
    let installed = std::fs::read(skills_project.join(".claude/skills/bucket-skill/SKILL.md"))
        .unwrap_or_else(|e| panic!("not installed ({e}): {}", run.output()));
    let published = tar_entries(&skill_tarball("bucket-skill", "1.0.0"));
    let (_, skill_md) = published.iter().find(|(p, _)| p == "SKILL.md").unwrap();
    assert_eq!(&installed, skill_md);
}

#[test]
fn every_change_reaches_the_bucket_with_credentials_from_the_environment() {
    let garage = Garage::start("env-tree");
    let toml = "[export]\ntarget = \"s3://env-tree\"\nbase_url = \"http://tree.example\"\n\
                [signing]\nsuperseded_grace_secs = 0\n";
    let env = [
        ("AWS_ENDPOINT_URL", garage.endpoint.as_str()),
        ("AWS_REGION", GARAGE_REGION),
        ("AWS_ACCESS_KEY_ID", GARAGE_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", GARAGE_SECRET),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start_with_env(dir, data, toml, &env);
    let index = |p: &str| {
        let (status, body) = garage.web_get(&format!("index/{p}"));
        assert_eq!(status, 200, "index/{p} from the bucket");
        body
    };
    let versions = |listed: &BTreeMap<String, Vec<u8>>| -> Vec<(String, bool)> {
        String::from_utf8_lossy(&listed["ch/an/changing"])
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["vers"].as_str().unwrap().to_string(), v["yanked"] == true)
            })
            .collect()
    };

    d.publish_skill("changing", "1.0.0");
    d.wait_for_export();
    assert_eq!(versions(&assert_verifies(index)), [("1.0.0".into(), false)]);
    d.publish_skill("changing", "1.1.0");
    let (status, _) = delete(
        &format!("{}/api/v1/crates/changing/1.0.0/yank", d.url),
        Some(&d.admin),
    );
    assert_eq!(status, 200);
    d.wait_for_export();
    let listed = assert_verifies(index);
    assert_eq!(
        versions(&listed),
        [("1.0.0".into(), true), ("1.1.0".into(), false)]
    );
    // Every bundle is in the bucket, the yanked one included.
    for line in String::from_utf8_lossy(&listed["ch/an/changing"]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (status, _) = garage.web_get(&format!("blobs/{}", v["cksum"].as_str().unwrap()));
        assert_eq!(status, 200, "{line}");
    }
    // Superseded snapshots go (no grace here), the current one and the
    // one before it stay.
    std::thread::sleep(Duration::from_millis(1100));
    d.publish_skill("changing", "1.2.0");
    d.wait_for_export();
    let snapshots: Vec<String> = (1..=20)
        .filter(|n| {
            garage
                .web_get(&format!("index/_skillreg/snapshot/{n}.json"))
                .0
                == 200
        })
        .map(|n| n.to_string())
        .collect();
    assert!(
        (1..=2).contains(&snapshots.len()),
        "snapshots left in the bucket: {snapshots:?}"
    );
    d.assert_serving();
}

#[test]
fn a_bucket_the_daemon_cannot_write_stops_it_at_start_with_a_clear_error() {
    let garage = Garage::start("locked-tree");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("skillreg.toml");
    std::fs::write(
        &config,
        format!(
            "[export]\ntarget = \"s3://locked-tree\"\nbase_url = \"http://tree.example\"\n\
             [s3]\nendpoint = \"{}\"\nregion = \"garage\"\naccess_key_id = \"GKffffffffffffffffffffffff\"\nsecret_access_key = \"{GARAGE_SECRET}\"\n",
            garage.endpoint
        ),
    )
    .unwrap();
    let stderr = serve_refused(&config, &dir.path().join("data"));
    assert!(stderr.contains("bucket locked-tree"), "{stderr}");
    assert_eq!(
        garage.web_get("index/config.json").0,
        404,
        "nothing was written"
    );

    let bad_url = dir.path().join("bad.toml");
    std::fs::write(
        &bad_url,
        "[export]\ntarget = \"s3://Bad_Bucket\"\nbase_url = \"http://tree.example\"\n",
    )
    .unwrap();
    let stderr = serve_refused(&bad_url, &dir.path().join("data2"));
    assert!(
        stderr.contains("export.target") && stderr.contains("s3://BUCKET"),
        "{stderr}"
    );
}

/// The signed chain of a tree (root, timestamp, snapshot, its hash tree)
/// verifies, and every listed file has the bytes the snapshot vouches for,
/// except those `in_flight` allows (what an interrupted change was
/// replacing: index files are replaced in place before their snapshot,
/// `index-spec/export.md` §4). Returns the listed paths.
fn assert_chain_verifies(
    fetch: impl Fn(&str) -> Vec<u8>,
    in_flight: impl Fn(&str) -> bool,
) -> Vec<String> {
    use skillreg::index::sign::{self, Envelope};
    let (root_env, root) = root_of(&fetch(paths::ROOT));
    root_env
        .verify(types::ROOT, "root", &root.roles["root"], &root.keys)
        .unwrap();
    let ts_env = Envelope::from_bytes(&fetch(paths::TIMESTAMP)).unwrap();
    let ts_payload = ts_env
        .verify(
            types::TIMESTAMP,
            "timestamp",
            &root.roles["timestamp"],
            &root.keys,
        )
        .unwrap();
    let ts: sign::Timestamp = sign::parse(&ts_payload).unwrap();
    let snap_bytes = fetch(&paths::snapshot(ts.snapshot.version));
    assert_eq!(
        skillreg::blobs::Sha256Digest::of(&snap_bytes).to_hex(),
        ts.snapshot.sha256,
        "the snapshot the timestamp names"
    );
    let snap_env = Envelope::from_bytes(&snap_bytes).unwrap();
    let snap_payload = snap_env
        .verify(
            types::SNAPSHOT,
            "snapshot",
            &root.roles["index"],
            &root.keys,
        )
        .unwrap();
    let snapshot: sign::Snapshot = sign::parse(&snap_payload).unwrap();
    let listed = listed_files(&snapshot, &fetch);
    for (path, meta) in &listed {
        let sha = skillreg::blobs::Sha256Digest::of(&fetch(path)).to_hex();
        assert!(
            sha == meta.sha256 || in_flight(path),
            "{path}: the bucket holds other bytes than the snapshot vouches for"
        );
    }
    listed.into_keys().collect()
}

/// The daemon is stopped after the Nth object of the bucket's tree (at
/// start-up, or during a publish), for several N. Each time the bucket's
/// signed chain verifies, every file but those the interrupted publish was
/// replacing matches it, and a real client installs an untouched package
/// from the bucket; a clean restart then brings the tree up to date with
/// everything acknowledged.
#[test]
fn a_crash_between_two_objects_leaves_the_bucket_tree_verifiable() {
    let garage = Garage::start("crash-tree");
    let nginx = Nginx::cache_in_front_of_bucket(garage.web_port, "crash-tree", "t");
    let toml = export_toml(&garage, "s3://crash-tree/t", &nginx.url);
    let index = |p: &str| {
        let (status, body) = garage.web_get(&format!("t/index/{p}"));
        assert_eq!(status, 200, "t/index/{p} from the bucket");
        body
    };
    let d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");
    d.wait_for_export();
    assert_verifies(index);
    let trust_dir = tempfile::tempdir().unwrap();
    let trust = export_root(&d.data, trust_dir.path(), "root.json");
    let (dir, data) = d.stop();
    let in_flight = |path: &str| path.contains("crashy") || path.starts_with("_feeds/");

    let mut crashed_in_publish = 0;
    let mut acknowledged = vec!["before".to_string()];
    for n in [1, 2, 3, 4, 6, 8, 11] {
        let point = format!("export.after_put:{n}");
        let mut child = std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(dir.path().join("skillreg.toml"))
            .arg("--data")
            .arg(&data)
            .env("SKILLREG_TEST_CRASH_AT", &point)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            let admin = std::fs::read_to_string(data.join("admin.token")).unwrap();
            let name = format!("crashy-{n}");
            let body = skill_publish_body(&name, "1.0.0", &skill_tarball(&name, "1.0.0"));
            let answered = ureq::put(format!("{url}/api/v1/crates/new"))
                .header("Authorization", admin.trim())
                .send(&body[..]);
            if matches!(answered, Ok(r) if r.status() == 200) {
                acknowledged.push(name);
            }
            // The tree is written after the publish is acknowledged: the
            // crash point stops the daemon then, unless the publish wrote
            // fewer than N objects.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().unwrap().is_some() {
                crashed_in_publish += 1;
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let listed = assert_chain_verifies(index, in_flight);
        assert!(
            listed.iter().any(|p| p == "be/fo/before"),
            "{point}: {status}"
        );
        let user = ClientEnv::new();
        user.install(&nginx.url, &trust, &user.project("p"), &["before"]);
    }
    assert!(crashed_in_publish > 0, "no crash landed in a publish");

    // A clean start writes the rest: everything acknowledged is in the
    // tree, and every file matches.
    let d = Daemon::start_in(dir, data, &toml);
    let listed = assert_verifies(index);
    for name in &acknowledged {
        let path = skillreg::index::path_for(name);
        assert!(listed.contains_key(&path), "{name} is in the bucket's tree");
    }
    d.assert_serving();
}
