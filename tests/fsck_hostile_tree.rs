//! `skillreg fsck --export TREE` on a tree someone else could write into:
//! a FIFO where the timestamp should be, and a blob that is a link to
//! `/dev/zero`, are each reported as damaged, and fsck ends (it neither
//! waits on the FIFO forever nor hashes an endless device). A repair never
//! follows a link planted as `DATA/daemon.lock` or `DATA/quarantine`.

mod common;

use common::*;
use std::os::unix::fs::symlink;
use std::process::Command;

/// A daemon with one package and its static tree: (daemon, site dir, tree).
fn daemon_with_tree() -> (Daemon, tempfile::TempDir, std::path::PathBuf) {
    let d = Daemon::start();
    d.publish_skill("ht-one", "1.0.0");
    let site = tempfile::tempdir().unwrap();
    let tree = site.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    d.export_static(&tree, "http://127.0.0.1:9");
    (d, site, tree)
}

fn fsck_tree(d: &Daemon, tree: &std::path::Path) -> ToolRun {
    ToolRun::of(Command::new(BIN).args([
        "fsck",
        "--data",
        d.data.to_str().unwrap(),
        "--export",
        tree.to_str().unwrap(),
    ]))
}

#[test]
fn fsck_reports_a_fifo_in_place_of_the_trees_timestamp_and_ends() {
    let (d, _site, tree) = daemon_with_tree();
    let timestamp = tree.join("index/_skillreg/timestamp.json");
    std::fs::remove_file(&timestamp).unwrap();
    let made = Command::new("mkfifo").arg(&timestamp).status().unwrap();
    assert!(made.success());

    let run = fsck_tree(&d, &tree).exited(1);
    let text = run.output();
    assert!(
        text.contains(&format!("BAD signed {}: ", timestamp.display())),
        "{text}"
    );
    assert!(text.contains("FIFO"), "{text}");
    d.assert_serving();
}

#[test]
fn fsck_reports_a_tree_blob_that_links_to_an_endless_device_and_ends() {
    let (d, _site, tree) = daemon_with_tree();
    let blobs: Vec<_> = std::fs::read_dir(tree.join("blobs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(!blobs.is_empty());
    let blob = &blobs[0];
    std::fs::remove_file(blob).unwrap();
    symlink("/dev/zero", blob).unwrap();

    let run = fsck_tree(&d, &tree).exited(1);
    let text = run.output();
    assert!(text.contains(&blob.display().to_string()), "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    d.assert_serving();
}

#[test]
fn a_repair_does_not_create_a_file_where_a_planted_lock_link_points() {
    let d = Daemon::start();
    d.publish_skill("ht-lock", "1.0.0");
    let (dir, data) = d.stop();
    // Whoever can write the data directory (the daemon's user) points the
    // lock at a file a root-run repair would then create.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("nologin");
    std::fs::remove_file(data.join("daemon.lock")).ok();
    symlink(&target, data.join("daemon.lock")).unwrap();

    let run =
        ToolRun::of(Command::new(BIN).args(["fsck", "--repair", "--data", data.to_str().unwrap()]));
    assert_ne!(run.code, Some(0), "{}", run.output());
    assert!(
        !target.exists(),
        "the lock link was followed: {}",
        run.output()
    );
    std::fs::remove_file(data.join("daemon.lock")).unwrap();
    let d = Daemon::start_in(dir, data, "");
    d.assert_serving();
}

#[test]
fn a_repair_does_not_move_a_damaged_blob_through_a_planted_quarantine_link() {
    let d = Daemon::start();
    d.publish_skill("ht-quarantine", "1.0.0");
    let (_, bytes) = get_bytes(&format!(
        "{}/api/v1/crates/ht-quarantine/1.0.0/download",
        d.url
    ));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    let (dir, data) = d.stop();
    let blob = data.join("blobs/sha256").join(&hex[..2]).join(&hex);
    let mut damaged = std::fs::read(&blob).unwrap();
    damaged[0] ^= 0xff;
    std::fs::write(&blob, damaged).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), data.join("quarantine")).unwrap();

    let run =
        ToolRun::of(Command::new(BIN).args(["fsck", "--repair", "--data", data.to_str().unwrap()]));
    assert_ne!(run.code, Some(0), "{}", run.output());
    assert!(run.output().contains("symbolic link"), "{}", run.output());
    let moved: Vec<_> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .flatten()
        .collect();
    assert!(moved.is_empty(), "moved through the link: {moved:?}");
    assert!(blob.exists(), "the damaged blob stays where it was");
    std::fs::remove_file(data.join("quarantine")).unwrap();
    let d = Daemon::start_in(dir, data, "");
    d.assert_serving();
}

#[test]
fn fsck_does_not_follow_a_blob_that_is_a_link_out_of_the_data_dir() {
    let d = Daemon::start();
    d.publish_skill("ht-linked", "1.0.0");
    let (_, bytes) = get_bytes(&format!("{}/api/v1/crates/ht-linked/1.0.0/download", d.url));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    let blob = d.data.join("blobs/sha256").join(&hex[..2]).join(&hex);
    // The same bytes, outside, and the blob a link to them: whatever the
    // link names is read (as root: /proc/kmsg blocks, a file's hash leaks).
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("outside");
    std::fs::copy(&blob, &outside).unwrap();
    std::fs::remove_file(&blob).unwrap();
    symlink(&outside, &blob).unwrap();

    let run =
        ToolRun::of(Command::new(BIN).args(["fsck", "--data", d.data.to_str().unwrap()])).exited(1);
    let text = run.output();
    assert!(text.contains(&hex), "{text}");
    assert!(
        text.contains("MISSING") || text.contains("missing"),
        "{text}"
    );
}
