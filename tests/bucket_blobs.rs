//! Blobs kept in a bucket as well as in the data directory
//! (`[storage] blobs = "s3://…"`), against a real S3-compatible server
//! (Garage): a publish is acknowledged once the bucket holds its bundle, a
//! blob the data directory lost comes back from the bucket, and a bucket
//! that lies or is gone is refused without losing anything.

mod common;

use common::*;
use skillreg::blobs::{remote_key, Sha256Digest};

fn storage_toml(garage: &Garage, url: &str) -> String {
    format!("[storage]\nblobs = \"{url}\"\n{}", garage.s3_toml())
}

/// The `cksum` of every line of an index file the daemon serves.
fn cksums(d: &Daemon, path: &str) -> Vec<String> {
    let (status, body) = get(&format!("{}/index/{path}", d.url));
    assert_eq!(status, 200, "{path}");
    body.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["cksum"].as_str().unwrap().to_string()
        })
        .collect()
}

fn local_blob(d: &Daemon, cksum: &str) -> std::path::PathBuf {
    d.data.join("blobs/sha256").join(&cksum[..2]).join(cksum)
}

#[test]
fn every_blob_is_in_the_bucket_and_one_the_data_directory_lost_comes_back_from_it() {
    let garage = Garage::start("blob-store");
    let toml = storage_toml(&garage, "s3://blob-store/reg");
    let d = Daemon::with_config(&toml);
    let publisher = d.token("publisher", "alice");
    let cargo = Cargo::new(&d.url, false);
    cargo.publish_ex_base("0.1.0", &publisher);
    d.publish_skill("kept-skill", "1.0.0");

    // Each bundle, read back from the bucket by its sha256, is the bundle.
    let bucket = garage.client("reg");
    let mut published = Vec::new();
    for path in ["ex/-b/ex-base", "ke/pt/kept-skill"] {
        for cksum in cksums(&d, path) {
            let digest = Sha256Digest::from_hex(&cksum).unwrap();
            let bytes = bucket
                .get(&remote_key(&digest), 1 << 20)
                .unwrap()
                .unwrap_or_else(|| panic!("{path}: {cksum} is not in the bucket"));
            assert_eq!(Sha256Digest::of(&bytes), digest, "{path}");
            assert_eq!(bytes, std::fs::read(local_blob(&d, &cksum)).unwrap());
            published.push(cksum);
        }
    }

    // The data directory loses every blob; the restarted daemon serves
    // them again, from the bucket, and keeps them again.
    let trust_dir = tempfile::tempdir().unwrap();
    let trust = export_root(&d.data, trust_dir.path(), "root.json");
    let (dir, data) = d.stop();
    std::fs::remove_dir_all(data.join("blobs/sha256")).unwrap();
    std::fs::create_dir(data.join("blobs/sha256")).unwrap();
    let d = Daemon::start_in(dir, data, &toml);
    let user = ClientEnv::new();
    let project = user.project("p");
    user.install(&d.url, &trust, &project, &["kept-skill"]);
    assert!(project.join(".claude/skills/kept-skill/SKILL.md").is_file());
    let cargo = Cargo::new(&d.url, false);
    assert_eq!(cargo.run_ex_base_consumer("0.1"), "0.1.0");
    for cksum in &published {
        assert!(local_blob(&d, cksum).is_file(), "{cksum} is kept again");
    }
    assert_fsck_clean(&d.data);
}

#[test]
fn a_blob_the_bucket_holds_other_bytes_for_is_not_served_nor_kept() {
    let garage = Garage::start("liar-store");
    let toml = storage_toml(&garage, "s3://liar-store");
    let d = Daemon::with_config(&toml);
    d.publish_skill("honest", "1.0.0");
    d.publish_skill("swapped", "1.0.0");
    let cksum = cksums(&d, "sw/ap/swapped").remove(0);
    let (dir, data) = d.stop();

    // Behind the daemon's back: its copy is gone, the bucket's is other bytes.
    let digest = Sha256Digest::from_hex(&cksum).unwrap();
    let blob = data.join("blobs/sha256").join(&cksum[..2]).join(&cksum);
    std::fs::remove_file(&blob).unwrap();
    garage
        .client("")
        .put(
            &remote_key(&digest),
            b"not the bundle".to_vec(),
            skillreg::bucket::ObjectKind::Immutable,
        )
        .unwrap();

    let d = Daemon::start_in(dir, data, &toml);
    let (status, body) = get(&format!("{}/api/v1/crates/swapped/1.0.0/download", d.url));
    assert!(status >= 500, "{status} {body}");
    assert!(body.contains("check the daemon log"), "{body}");
    let log = d.log();
    assert!(log.contains("does not hold blob"), "{log}");
    assert!(!blob.exists(), "the bucket's bytes were not kept");
    // Everything else is served as before.
    let (status, _) = get_bytes(&format!("{}/api/v1/crates/honest/1.0.0/download", d.url));
    assert_eq!(status, 200);
    d.assert_serving();
}

#[test]
fn a_publish_the_bucket_cannot_take_is_refused_and_nothing_becomes_visible() {
    let garage = Garage::start("gone-store");
    let toml = storage_toml(&garage, "s3://gone-store");
    let d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");
    drop(garage);

    let admin = d.admin.clone();
    let body = skill_publish_body("after", "1.0.0", &skill_tarball("after", "1.0.0"));
    let r = ureq::put(format!("{}/api/v1/crates/new", d.url))
        .header("Authorization", &admin)
        .config()
        .http_status_as_error(false)
        .build()
        .send(&body[..])
        .unwrap();
    let status = r.status().as_u16();
    let text = r.into_body().read_to_string().unwrap();
    assert!(status >= 500, "{status} {text}");
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(d.log().contains("bucket gone-store"), "{}", d.log());
    let (status, _) = get(&format!("{}/index/af/te/after", d.url));
    assert_eq!(status, 404, "the refused version is not visible");
    let (status, _) = get_bytes(&format!("{}/api/v1/crates/before/1.0.0/download", d.url));
    assert_eq!(status, 200, "what was published before is served");
    d.assert_serving();

    // A daemon cannot start on a bucket that does not answer.
    let (dir, data) = d.stop();
    let stderr = serve_refused(&dir.path().join("skillreg.toml"), &data);
    assert!(stderr.contains("bucket gone-store"), "{stderr}");
}

/// The bucket takes connections and never answers (packets dropped on the
/// way back): the publish that waits for it to hold its bundle waits alone.
/// Other changes go on meanwhile, and once the bucket answers the publish
/// is acknowledged with its bundle in the bucket.
#[test]
fn a_silent_bucket_holds_up_only_the_publish_waiting_for_it() {
    let garage = Garage::start("silent-store");
    let d = Daemon::with_config(&storage_toml(&garage, "s3://silent-store"));
    d.publish_skill("before", "1.0.0");

    garage.freeze();
    let waiting = {
        let (url, admin) = (d.url.clone(), d.admin.clone());
        std::thread::spawn(move || {
            let body = skill_publish_body("during", "1.0.0", &skill_tarball("during", "1.0.0"));
            put(&format!("{url}/api/v1/crates/new"), Some(&admin), &body)
        })
    };
    std::thread::sleep(std::time::Duration::from_secs(1));
    let started = std::time::Instant::now();
    let (status, text) = delete(
        &format!("{}/api/v1/crates/before/1.0.0/yank", d.url),
        Some(&d.admin),
    );
    assert_eq!(status, 200, "{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a yank waited {:?} behind a publish waiting for the bucket",
        started.elapsed()
    );
    assert!(
        !waiting.is_finished(),
        "the publish did not wait for the bucket"
    );

    garage.thaw();
    let (status, text) = waiting.join().unwrap();
    assert_eq!(status, 200, "{text}");
    let cksum = cksums(&d, "du/ri/during").pop().unwrap();
    let digest = Sha256Digest::from_hex(&cksum).unwrap();
    let key = remote_key(&digest);
    assert_eq!(
        garage
            .client("")
            .get(&key, 1 << 20)
            .unwrap()
            .map(|b| Sha256Digest::of(&b)),
        Some(digest),
        "{key} in the bucket"
    );
    d.assert_serving();
}
