//! `skillreg backup` while the daemon takes publishes, and `skillreg
//! restore`: every publish acknowledged before the backup started is in the
//! restored registry, which serves, verifies for a client that pinned the
//! old root, and accepts publishes; a second backup is incremental; a
//! damaged blob fails a backup and leaves the earlier one intact; restore
//! never writes into a directory that holds anything.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn run(args: &[&str]) -> (bool, String) {
    let out = cli(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `skillreg backup DEST --data DATA`.
fn backup(dest: &std::path::Path, data: &std::path::Path) -> (bool, String) {
    run(&[
        "backup",
        dest.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
}

#[test]
fn a_backup_taken_during_publishes_restores_to_a_registry_that_serves_verifies_and_publishes() {
    let d = Daemon::start();
    d.publish_skill("bk-base", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&d.data, work.path(), "root.json");
    let client = ClientEnv::new();
    client.install(&d.url, &root, &client.project("before"), &["bk-base"]);

    // Publishes go on while the backup runs; each records when it was acknowledged.
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (url, admin, acked, stop) =
            (d.url.clone(), d.admin.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("bk-live-{i}");
                let body = skill_publish_body(&name, "1.0.0", &skill_tarball(&name, "1.0.0"));
                let (status, text) = put(&format!("{url}/api/v1/crates/new"), Some(&admin), &body);
                assert_eq!(status, 200, "{text}");
                acked.lock().unwrap().push((name, Instant::now()));
            }
        })
    };
    while acked.lock().unwrap().len() < 3 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let dest = work.path().join("backup");
    let started = Instant::now();
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    assert!(text.contains("checked"), "{text}");
    // Publishing went on past the backup: one more lands before it stops.
    let after = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() <= after {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    publisher.join().unwrap();
    let before_backup: Vec<String> = acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(n, _)| n.clone())
        .collect();
    assert!(before_backup.len() >= 3);

    // A second backup into the same place copies only what is new.
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    assert!(text.contains("already there"), "{text}");
    let kept: usize = text
        .split(" blob(s) copied, ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(kept >= before_backup.len(), "{text}");
    let (_dir, _data) = d.stop();

    // Restore refuses a directory that holds anything, and leaves it alone.
    let busy = work.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"mine").unwrap();
    let (ok, text) = run(&[
        "restore",
        dest.to_str().unwrap(),
        "--data",
        busy.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(text.contains("is not empty"), "{text}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // A restored registry serves every publish acknowledged before the
    // backup started, verifies for the client that pinned the old root,
    // and takes new publishes.
    let home = tempfile::tempdir().unwrap();
    let restored_data = home.path().join("data");
    let (ok, text) = run(&[
        "restore",
        dest.to_str().unwrap(),
        "--data",
        restored_data.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let restored = Daemon::start_in(home, restored_data, "");
    for name in &before_backup {
        let path = skillreg::index::path_for(name);
        assert_eq!(
            get(&format!("{}/index/{path}", restored.url)).0,
            200,
            "{name}"
        );
    }
    client.install(
        &restored.url,
        &root,
        &client.project("after"),
        &["bk-base", &before_backup[0]],
    );
    restored.publish_skill("bk-after-restore", "1.0.0");
    let (ok, text) = run(&["fsck", "--data", restored.data.to_str().unwrap()]);
    assert!(ok, "{text}");
    restored.assert_serving();
}

#[test]
fn a_damaged_blob_fails_the_backup_and_leaves_the_earlier_one_intact() {
    let d = Daemon::start();
    d.publish_skill("bk-one", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("backup");
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    let db_before = std::fs::read(dest.join("skillreg.db")).unwrap();

    d.publish_skill("bk-two", "1.0.0");
    let (_, bytes) = get_bytes(&format!("{}/api/v1/crates/bk-two/1.0.0/download", d.url));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    let blob = d.data.join("blobs/sha256").join(&hex[..2]).join(&hex);
    let mut damaged = std::fs::read(&blob).unwrap();
    damaged[0] ^= 0xff;
    std::fs::write(&blob, damaged).unwrap();
    let (ok, text) = backup(&dest, &d.data);
    assert!(!ok, "{text}");
    assert!(text.contains("bk-two@1.0.0 (approved): its blob"), "{text}");
    assert!(text.contains("is damaged"), "{text}");
    assert_eq!(
        std::fs::read(dest.join("skillreg.db")).unwrap(),
        db_before,
        "the earlier backup stands"
    );
    let (ok, text) = run(&["fsck", "--data", dest.to_str().unwrap()]);
    assert!(ok, "the earlier backup still checks out: {text}");
    d.assert_serving();
}

#[test]
fn blobs_fsck_moved_aside_are_carried_by_backup_and_restore() {
    let d = Daemon::start();
    d.publish_skill("bk-kept", "1.0.0");
    d.publish_skill("bk-hurt", "1.0.0");
    let (_, bytes) = get_bytes(&format!("{}/api/v1/crates/bk-hurt/1.0.0/download", d.url));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    let blob = d.data.join("blobs/sha256").join(&hex[..2]).join(&hex);
    let mut damaged = std::fs::read(&blob).unwrap();
    damaged[0] ^= 0xff;
    std::fs::write(&blob, &damaged).unwrap();
    let (_dir, data) = d.stop();
    let (ok, text) = run(&["fsck", "--repair", "--data", data.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(text.contains("quarantined bk-hurt@1.0.0"), "{text}");
    let moved = |root: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(root.join("quarantine"))
            .map(|d| {
                d.map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).unwrap())
                })
                .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let aside = moved(&data);
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(aside[0].1, damaged);

    // The backup carries the damaged bytes as they are (the version
    // naming them is quarantined, so the backup does not fail on them),
    // and a restore puts them back.
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("backup");
    let (ok, text) = backup(&dest, &data);
    assert!(ok, "{text}");
    assert_eq!(
        moved(&dest),
        aside,
        "the backup holds what fsck moved aside"
    );
    let restored = work.path().join("restored");
    let (ok, text) = run(&[
        "restore",
        dest.to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert_eq!(moved(&restored), aside, "and the restore puts it back");
    let (ok, text) = run(&["fsck", "--data", restored.to_str().unwrap()]);
    assert!(ok, "the restored registry checks out: {text}");
}
