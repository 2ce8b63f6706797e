//! `skillreg fsck` on a real daemon's data directory, while it runs: clean
//! after publishes; a flipped byte in a blob and a deleted blob are each
//! reported by path and by the versions that name them, with exit 1; an
//! orphan and a temp file are listed without failing; nothing is changed.
//! A static tree's tampered statement, index file, snapshot and timestamp
//! are caught. `--repair` (daemon stopped) quarantines a damaged blob's
//! version, which is then neither in the index nor downloadable, while the
//! rest installs through the verifying client; a restored blob serves its
//! version again; a tampered tree is re-rendered and verifies again.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// `skillreg fsck ARGS --data DATA`: (exit 0, stdout and stderr).
fn fsck_args(data: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["fsck", "--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = cli(&all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "fsck crashed: {text}"
    );
    (out.status.success(), text)
}

fn fsck(d: &Daemon) -> (bool, String) {
    fsck_args(&d.data, &[])
}

/// A daemon with two packages, and a static tree of it served at a
/// [`StaticServer`]'s URL: (daemon, site dir, tree dir, server).
fn daemon_with_tree() -> (Daemon, tempfile::TempDir, PathBuf, StaticServer) {
    let d = Daemon::start();
    d.publish_skill("tree-one", "1.0.0");
    d.publish_skill("tree-two", "1.0.0");
    let site = tempfile::tempdir().unwrap();
    let tree = site.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let server = StaticServer::serve(&tree);
    d.export_static(&tree, &server.url);
    (d, site, tree, server)
}

/// Changes one character of `path` in its middle, to another one of the
/// same class (so the file still parses as far as it can).
fn flip_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = match bytes[at] {
        b'A' => b'B',
        b'0'..=b'8' => bytes[at] + 1,
        _ => b'A',
    };
    std::fs::write(path, bytes).unwrap();
}

/// The sha256 of every file below `dir` (a multiset: hash → count).
fn contents(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if dir.is_dir() {
        for bytes in tree(dir).into_values() {
            *out.entry(skillreg::blobs::Sha256Digest::of(&bytes).to_hex())
                .or_default() += 1;
        }
    }
    out
}

/// The blob file of `name@version` as the daemon serves it.
fn blob_of(d: &Daemon, name: &str, version: &str) -> std::path::PathBuf {
    let (_, bytes) = get_bytes(&format!(
        "{}/api/v1/crates/{name}/{version}/download",
        d.url
    ));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    d.data.join("blobs/sha256").join(&hex[..2]).join(hex)
}

#[test]
fn fsck_finds_a_flipped_byte_and_a_missing_blob_and_changes_nothing() {
    let d = Daemon::start();
    d.publish_skill("fsck-one", "1.0.0");
    d.publish_skill("fsck-two", "1.0.0");
    let (ok, text) = fsck(&d);
    assert!(ok, "{text}");
    assert!(
        text.contains("clean: every blob matches its name"),
        "{text}"
    );

    // Orphans and temp files are listed; they are no damage.
    let orphan_bytes = b"nothing names me";
    let hex = skillreg::blobs::Sha256Digest::of(orphan_bytes).to_hex();
    let orphan = d.data.join("blobs/sha256").join(&hex[..2]);
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join(&hex), orphan_bytes).unwrap();
    std::fs::write(d.data.join("blobs/tmp/.half-written.tmp-1-2"), b"x").unwrap();
    let (ok, text) = fsck(&d);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "orphan (nothing names it): {}",
            orphan.join(&hex).display()
        )),
        "{text}"
    );
    assert!(text.contains(".half-written.tmp-1-2"), "{text}");

    // A flipped byte: named by path and by the version.
    let one = blob_of(&d, "fsck-one", "1.0.0");
    let mut bytes = std::fs::read(&one).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&one, &bytes).unwrap();
    let before = d.fingerprint();
    let (ok, text) = fsck(&d);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("DAMAGED {}", one.display())),
        "{text}"
    );
    assert!(
        text.contains("named by fsck-one@1.0.0 (approved)"),
        "{text}"
    );
    assert!(text.contains("1 damaged, 0 missing"), "{text}");
    assert_eq!(d.fingerprint(), before, "fsck changes nothing");

    // A deleted blob.
    let two = blob_of(&d, "fsck-two", "1.0.0");
    let hex_two = two.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::remove_file(&two).unwrap();
    let (ok, text) = fsck(&d);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "MISSING blob {hex_two}, named by fsck-two@1.0.0 (approved)"
        )),
        "{text}"
    );
    assert!(text.contains("1 damaged, 1 missing"), "{text}");
    d.assert_serving();
}

#[test]
fn fsck_catches_a_tampered_statement_and_index_file_of_a_tree() {
    let (d, _site, tree, _server) = daemon_with_tree();
    let export = ["--export", tree.to_str().unwrap()];
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(ok, "{text}");
    assert!(text.contains("the signed metadata verifies"), "{text}");

    let file = skillreg::index::path_for("tree-one");
    let statement = tree
        .join("index")
        .join(skillreg::index::sign::paths::statement(&file));
    let good = std::fs::read(&statement).unwrap();
    flip_one_byte(&statement);
    let before = skillreg::index::export::index_file_path(&tree, "");
    let tree_before = common::tree(&before);
    let db_before = Fingerprint::of_data_dir(&d.data);
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("BAD signed {}", statement.display())),
        "{text}"
    );
    assert!(text.contains("1 bad signed"), "{text}");
    assert_eq!(common::tree(&before), tree_before, "fsck changes no file");
    assert!(Fingerprint::of_data_dir(&d.data)
        .diff(&db_before)
        .is_empty());
    std::fs::write(&statement, good).unwrap();

    // An index file itself: its bytes no longer match the snapshot.
    let index_file = tree.join("index").join(&file);
    let good = std::fs::read(&index_file).unwrap();
    flip_one_byte(&index_file);
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "BAD signed {}: does not match the snapshot",
            index_file.display()
        )),
        "{text}"
    );
    std::fs::write(&index_file, good).unwrap();
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(ok, "{text}");
    d.assert_serving();
}

#[test]
fn fsck_catches_a_tampered_snapshot_and_timestamp_of_a_tree() {
    use skillreg::index::sign::{self, paths, Envelope};
    let (d, _site, tree, _server) = daemon_with_tree();
    let export = ["--export", tree.to_str().unwrap()];
    let timestamp = tree.join("index").join(paths::TIMESTAMP);
    let envelope = Envelope::from_bytes(&std::fs::read(&timestamp).unwrap()).unwrap();
    let ts: sign::Timestamp = sign::parse(&envelope.payload_bytes().unwrap()).unwrap();
    let snapshot = tree
        .join("index")
        .join(paths::snapshot(ts.snapshot.version));

    let good = std::fs::read(&snapshot).unwrap();
    flip_one_byte(&snapshot);
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "BAD signed {}: is not the snapshot the timestamp names",
            snapshot.display()
        )),
        "{text}"
    );
    std::fs::write(&snapshot, good).unwrap();

    let good = std::fs::read(&timestamp).unwrap();
    flip_one_byte(&timestamp);
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("BAD signed {}: ", timestamp.display())),
        "{text}"
    );
    std::fs::write(&timestamp, good).unwrap();

    // A node of the snapshot's tree: the bin of `tree-one`, then the one
    // above it, each with a byte changed, then gone.
    let top: sign::Snapshot = sign::parse(
        &Envelope::from_bytes(&std::fs::read(&snapshot).unwrap())
            .unwrap()
            .payload_bytes()
            .unwrap(),
    )
    .unwrap();
    let nodes = tree_nodes(&tree, &top, &skillreg::index::path_for("tree-one"));
    for (prefix, node) in nodes.iter().rev() {
        let good = std::fs::read(node).unwrap();
        flip_one_byte(node);
        let (ok, text) = fsck_args(&d.data, &export);
        assert!(!ok, "{text}");
        assert!(
            text.contains(&format!(
                "BAD signed {}: the snapshot node `{prefix}` is ",
                node.display()
            )) && text.contains("but its parent pins"),
            "{text}"
        );
        std::fs::remove_file(node).unwrap();
        let (ok, text) = fsck_args(&d.data, &export);
        assert!(!ok, "{text}");
        assert!(
            text.contains(&format!("BAD signed {}: cannot be read", node.display())),
            "{text}"
        );
        std::fs::write(node, good).unwrap();
    }
    let (ok, text) = fsck_args(&d.data, &export);
    assert!(ok, "{text}");
    d.assert_serving();
}

/// The (prefix, file) of each node on the path from `top` to the bin of
/// `index_path` in the static tree `tree`.
fn tree_nodes(
    tree: &std::path::Path,
    top: &skillreg::index::sign::Snapshot,
    index_path: &str,
) -> Vec<(String, std::path::PathBuf)> {
    use skillreg::index::{sign::paths, snapshot_tree as st};
    let position = st::position(index_path);
    let mut children = top.children.clone();
    let mut out = Vec::new();
    for level in 1..=st::DEPTH {
        let prefix = position[..level].to_string();
        let meta = children[&prefix[level - 1..]].clone();
        let file = tree.join("index").join(paths::tree_node(&meta.sha256));
        let node = st::verify_node(&prefix, &meta, &std::fs::read(&file).unwrap()).unwrap();
        out.push((prefix, file));
        if let st::Node::Interior(next) = node {
            children = next;
        }
    }
    out
}

#[test]
fn repair_quarantines_a_damaged_blob_and_the_rest_still_installs() {
    let d = Daemon::start();
    d.publish_skill("rep-keep", "1.0.0");
    d.publish_skill("rep-bad", "1.0.0");
    d.publish_skill("rep-bad", "1.1.0");
    d.publish_skill("rep-gone", "1.0.0");
    std::fs::remove_file(blob_of(&d, "rep-gone", "1.0.0")).unwrap();
    let bad = blob_of(&d, "rep-bad", "1.1.0");
    let original = std::fs::read(&bad).unwrap();
    let mut damaged = original.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    std::fs::write(&bad, &damaged).unwrap();
    let blobs_before = contents(&d.data.join("blobs"));

    // Not while the daemon runs; nothing changes.
    let before = d.fingerprint();
    let (ok, text) = fsck_args(&d.data, &["--repair"]);
    assert!(!ok, "{text}");
    assert!(text.contains("a skillreg daemon is running on"), "{text}");
    assert_eq!(d.fingerprint(), before, "a refused repair changes nothing");
    d.assert_serving();

    let trust = export_root(&d.data, d.data.parent().unwrap(), "root.json");
    let listen = d.url.clone();
    let (dir, data) = d.stop();
    let (ok, text) = fsck_args(&data, &["--repair"]);
    assert!(ok, "{text}");
    assert!(text.contains("quarantined rep-bad@1.1.0"), "{text}");
    assert!(text.contains("quarantined rep-gone@1.0.0"), "{text}");
    assert!(!bad.exists());
    let quarantine = data.join("quarantine");
    let moved: Vec<PathBuf> = std::fs::read_dir(&quarantine)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    let name = moved[0].file_name().unwrap().to_str().unwrap();
    let hex = bad.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("{hex}.")), "{name}");
    assert_eq!(
        std::fs::read(&moved[0]).unwrap(),
        damaged,
        "moved as it was"
    );
    // Nothing deleted: every blob file's bytes are still somewhere.
    let mut after = contents(&data.join("blobs"));
    for (sha, n) in contents(&quarantine) {
        *after.entry(sha).or_default() += n;
    }
    assert_eq!(after, blobs_before);

    let (ok, text) = fsck_args(&data, &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("quarantined (not served) rep-bad@1.1.0 (approved)"),
        "{text}"
    );
    let store = skillreg::store::Store::open_read_only(&data.join("skillreg.db")).unwrap();
    let audit = store.audit_log().unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == "fsck" && a.action == "quarantine" && a.subject == "rep-bad@1.1.0"),
        "{audit:?}"
    );
    drop(store);

    // The daemon no longer serves it; the rest installs through the client.
    let toml = std::fs::read_to_string(dir.path().join("skillreg.toml")).unwrap();
    let addr = listen.rsplit("://").next().unwrap().to_string();
    let d = Daemon::start_listening(dir, data, &toml, &[], &addr);
    let index = String::from_utf8(
        get_bytes(&format!(
            "{}/index/{}",
            d.url,
            skillreg::index::path_for("rep-bad")
        ))
        .1,
    )
    .unwrap();
    assert!(index.contains("\"1.0.0\""), "{index}");
    assert!(!index.contains("\"1.1.0\""), "{index}");
    let (status, body) = get(&format!("{}/api/v1/crates/rep-bad/1.1.0/download", d.url));
    assert_eq!(status, 410, "{body}");
    let (status, body) = get(&format!("{}/api/v1/crates/rep-gone/1.0.0/download", d.url));
    assert_eq!(status, 410, "{body}");
    let (status, _) = get(&format!(
        "{}/index/{}",
        d.url,
        skillreg::index::path_for("rep-gone")
    ));
    assert_eq!(
        status, 404,
        "a package with nothing servable has no index file"
    );
    assert!(
        body.contains("quarantined by `skillreg fsck --repair`"),
        "{body}"
    );
    // Nor does the catalog offer it: search, the package page, its own page.
    let (_, search) = get(&format!("{}/api/v1/crates?q=rep-bad", d.url));
    assert!(search.contains(r#""max_version":"1.0.0""#), "{search}");
    let (status, page) = get(&format!("{}/packages/rep-bad", d.url));
    assert_eq!(status, 200);
    assert!(!page.contains("1.1.0"), "the package page offers no 1.1.0");
    let (status, _) = get(&format!("{}/packages/rep-bad/1.1.0", d.url));
    assert_eq!(status, 404);
    let user = ClientEnv::new();
    let project = user.project("p");
    let out = user.install(&d.url, &trust, &project, &["rep-keep", "rep-bad"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("installed rep-bad@1.0.0"), "{printed}");
    assert!(printed.contains("installed rep-keep@1.0.0"), "{printed}");

    // The admin restores the blob: the next repair serves it again.
    std::fs::write(&bad, &original).unwrap();
    let (ok, text) = fsck(&d);
    assert!(ok, "{text}");
    assert!(
        text.contains("`skillreg fsck --repair` serves it again"),
        "{text}"
    );
    let d = {
        let (dir, data) = d.stop();
        let (ok, text) = fsck_args(&data, &["--repair"]);
        assert!(ok, "{text}");
        assert!(text.contains("released rep-bad@1.1.0"), "{text}");
        let toml = std::fs::read_to_string(dir.path().join("skillreg.toml")).unwrap();
        Daemon::start_listening(dir, data, &toml, &[], &addr)
    };
    let (status, body) = get_bytes(&format!("{}/api/v1/crates/rep-bad/1.1.0/download", d.url));
    assert_eq!(status, 200);
    assert_eq!(body, original);
}

#[test]
fn repair_rerenders_a_tampered_tree_and_a_client_verifies_it_again() {
    let (d, site, tree, server) = daemon_with_tree();
    let trust = export_root(&d.data, site.path(), "root.json");
    let index_file = tree
        .join("index")
        .join(skillreg::index::path_for("tree-one"));
    let good = std::fs::read(&index_file).unwrap();
    flip_one_byte(&index_file);
    let user = ClientEnv::new();
    let project = user.project("p");
    let refused = user.run(&[
        "install",
        "tree-one",
        "--registry",
        &server.url,
        "--trust-root",
        trust.to_str().unwrap(),
        "--dir",
        project.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success(),
        "the client refuses the tampered file"
    );

    let (_dir, data) = d.stop();
    let (ok, text) = fsck_args(&data, &["--repair", "--export", tree.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("re-rendered the static tree {}", tree.display())),
        "{text}"
    );
    assert_eq!(std::fs::read(&index_file).unwrap(), good);
    user.install(&server.url, &trust, &project, &["tree-one"]);
    assert!(project.join(".claude/skills/tree-one/SKILL.md").is_file());
    let (ok, text) = fsck_args(&data, &["--export", tree.to_str().unwrap()]);
    assert!(ok, "{text}");
}

#[test]
fn a_daemon_does_not_start_while_a_repair_holds_the_data_dir() {
    let d = Daemon::start();
    d.publish_skill("lock-one", "1.0.0");
    let (_dir, data) = d.stop();
    let before = Fingerprint::of_data_dir(&data);
    // What `fsck --repair` holds while it runs.
    let lock = skillreg::fsutil::DataDirLock::try_take(&data, true)
        .unwrap()
        .expect("no daemon holds it");
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon started while the data dir was locked");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(
        err.contains("`skillreg fsck --repair` is running on"),
        "{err}"
    );
    assert!(Fingerprint::of_data_dir(&data).diff(&before).is_empty());
    drop(lock);
    let d = Daemon::start_in(tempfile::tempdir().unwrap(), data, "");
    d.assert_serving();
}
