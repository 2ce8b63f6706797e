//! The static tree in a shared or failing bucket (`index-spec/export.md`
//! §5.3), against a real Garage: another writer deleting or replacing the
//! tree's objects, the store going down in the middle of a publish, and keys
//! in the tree's prefix that are no tree file.

mod common;

use common::*;
use skillreg::blobs::Sha256Digest;
use skillreg::bucket::ObjectKind;
use std::time::{Duration, Instant};

fn export_toml(garage: &Garage, target: &str) -> String {
    format!(
        "[export]\ntarget = \"{target}\"\nbase_url = \"http://tree.example\"\n{}",
        garage.s3_toml()
    )
}

/// The checksum of each version in an index file.
fn cksums(index_file: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(index_file)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["cksum"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Every blob the tree's index files name is in the bucket with the bytes
/// its name says.
fn assert_blobs_served(garage: &Garage, prefix: &str, files: &[Vec<u8>]) {
    for file in files {
        for cksum in cksums(file) {
            let (status, body) = garage.web_get(&format!("{prefix}/blobs/{cksum}"));
            assert_eq!(status, 200, "blobs/{cksum}");
            assert_eq!(Sha256Digest::of(&body).to_hex(), cksum, "blobs/{cksum}");
        }
    }
}

/// Another writer deletes one blob, replaces another and every snapshot-tree
/// node with other bytes, and replaces an index file: a restart lists the
/// bucket again and puts back every object the tree needs, so the tree
/// verifies and every blob has its bytes.
#[test]
fn objects_deleted_or_replaced_behind_the_daemons_back_are_put_back_at_restart() {
    let garage = Garage::start("shared-tree");
    let toml = export_toml(&garage, "s3://shared-tree/t");
    let index = |p: &str| {
        let (status, body) = garage.web_get(&format!("t/index/{p}"));
        assert_eq!(status, 200, "t/index/{p} from the bucket");
        body
    };
    let d = Daemon::with_config(&toml);
    d.publish_skill("victim", "1.0.0");
    d.publish_skill("other", "1.0.0");
    d.wait_for_export();
    let listed = assert_verifies(index);
    let files = [
        listed["vi/ct/victim"].clone(),
        listed["ot/he/other"].clone(),
    ];
    let (victim, other) = (&cksums(&files[0])[0], &cksums(&files[1])[0]);

    let writer = garage.client("t");
    writer.delete(&format!("blobs/{victim}")).unwrap();
    writer
        .put(
            &format!("blobs/{other}"),
            b"not the bundle".to_vec(),
            ObjectKind::Immutable,
        )
        .unwrap();
    let nodes = writer
        .list("index/_skillreg/tree/", 10_000)
        .unwrap()
        .objects;
    assert!(!nodes.is_empty());
    for key in nodes.keys() {
        writer
            .put(key, b"{}".to_vec(), ObjectKind::Immutable)
            .unwrap();
    }
    writer
        .put("index/ot/he/other", b"{}\n".to_vec(), ObjectKind::Mutable)
        .unwrap();

    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, &toml);
    let listed = assert_verifies(index);
    assert_eq!(listed["vi/ct/victim"], files[0]);
    assert_eq!(listed["ot/he/other"], files[1]);
    assert_blobs_served(&garage, "t", &files);
    d.assert_serving();
}

/// The store stops answering in the middle of the daemon's life: a publish
/// is acknowledged all the same (it is durable in the daemon's store), the
/// failure is logged, and once the store is back the tree catches up by
/// itself, without a restart.
#[test]
fn a_publish_while_the_bucket_is_down_is_acknowledged_and_reaches_it_once_it_is_back() {
    let mut garage = Garage::start("flaky-tree");
    let toml = export_toml(&garage, "s3://flaky-tree/t");
    let d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");

    garage.stop();
    let started = Instant::now();
    d.publish_skill("during", "1.0.0");
    eprintln!(
        "a publish with the S3 endpoint refusing connections took {:?}",
        started.elapsed()
    );
    d.assert_serving();
    let (status, _) = get(&format!("{}/index/du/ri/during", d.url));
    assert_eq!(status, 200, "the daemon serves what it acknowledged");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !d.log().contains("updating the static export failed") {
        assert!(Instant::now() < deadline, "no failure logged: {}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    garage.resume();
    let deadline = Instant::now() + Duration::from_secs(60);
    while garage.web_get("t/index/du/ri/during").0 != 200 {
        assert!(
            Instant::now() < deadline,
            "the tree did not catch up: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The refresh that wrote it writes the snapshot and timestamp after it.
    std::thread::sleep(Duration::from_secs(2));
    let listed = assert_verifies(|p: &str| {
        let (status, body) = garage.web_get(&format!("t/index/{p}"));
        assert_eq!(status, 200, "t/index/{p} from the bucket");
        body
    });
    assert_blobs_served(
        &garage,
        "t",
        &[
            listed["be/fo/before"].clone(),
            listed["du/ri/during"].clone(),
        ],
    );
    d.assert_serving();
}

/// The store takes connections and never answers (packets dropped on the
/// way back): publishes are acknowledged at once all the same, since the
/// tree is written after them, off the publish path, and `/metrics` shows
/// the tree falling behind; once the store answers again it catches up.
#[test]
fn a_bucket_that_never_answers_holds_up_no_publish() {
    let garage = Garage::start("silent-tree");
    let toml = export_toml(&garage, "s3://silent-tree/t");
    let d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");
    d.wait_for_export();

    garage.freeze();
    for name in ["during-one", "during-two"] {
        let started = Instant::now();
        d.publish_skill(name, "1.0.0");
        // The bucket client would wait minutes for an answer.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a publish with the S3 endpoint silent took {:?}",
            started.elapsed()
        );
        let (status, _) = get(&format!(
            "{}/index/{}",
            d.url,
            skillreg::index::path_for(name)
        ));
        assert_eq!(status, 200, "the daemon serves what it acknowledged");
    }
    d.assert_serving();
    let (status, metrics) = get_auth_body(&d, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("skillreg_export_pending_changes ") && !l.ends_with(" 0")),
        "the tree is shown behind: {metrics}"
    );

    garage.thaw();
    d.wait_for_export();
    let listed = assert_verifies(|p: &str| {
        let (status, body) = garage.web_get(&format!("t/index/{p}"));
        assert_eq!(status, 200, "t/index/{p} from the bucket");
        body
    });
    for path in ["be/fo/before", "du/ri/during-one", "du/ri/during-two"] {
        assert!(listed.contains_key(path), "{path} reached the bucket");
    }
    d.assert_serving();
}

/// GET `path` on the daemon with its admin token: (status, body).
fn get_auth_body(d: &Daemon, path: &str) -> (u16, String) {
    let mut r = get_with(&format!("{}{path}", d.url), &[("authorization", &d.admin)]);
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// Another writer leaves objects in the tree's prefix whose keys object_store
/// cannot name (`a//b`, `a/../b`): the daemon starts all the same, the tree
/// verifies, and their objects are left alone.
#[test]
fn keys_in_the_prefix_that_are_no_path_do_not_keep_the_daemon_from_starting() {
    let garage = Garage::start("odd-tree");
    let toml = export_toml(&garage, "s3://odd-tree/t");
    let d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");
    let (dir, data) = d.stop();
    for key in ["t/odd//key", "t/index/x/../y", "t/blobs//z"] {
        assert_eq!(garage.put_raw(key, b"foreign"), 200, "{key}");
    }
    let d = Daemon::start_in(dir, data, &toml);
    d.publish_skill("after", "1.0.0");
    d.wait_for_export();
    let listed = assert_verifies(|p: &str| {
        let (status, body) = garage.web_get(&format!("t/index/{p}"));
        assert_eq!(status, 200, "t/index/{p} from the bucket");
        body
    });
    assert!(listed.contains_key("af/te/after"));
    d.assert_serving();
}

/// A store whose listing never ends (the same key on every page, more pages
/// promised forever) stops the daemon at start with a clear error, in time
/// bounded by the objects it may list, not by what the store claims.
#[test]
fn a_listing_that_never_ends_stops_the_daemon_at_start_with_a_clear_error() {
    let s3 = LyingS3::endless_listing("t/index/config.json", 20_000);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("skillreg.toml");
    std::fs::write(
        &config,
        format!(
            "[export]\ntarget = \"s3://lying-tree/t\"\nbase_url = \"http://tree.example\"\nmax_listed_objects = 50000\n\
             [s3]\nendpoint = \"{}\"\nregion = \"r\"\naccess_key_id = \"k\"\nsecret_access_key = \"s\"\n",
            s3.endpoint
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon still lists an endless listing after 120 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("lying-tree") && stderr.contains("objects below"),
        "{stderr}"
    );
}
