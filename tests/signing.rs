//! Signed metadata as the daemon serves it: the root chain across every kind
//! of rotation, statements for every index file, and re-signing before expiry.

mod common;

use common::*;
use skillreg::index::sign::{paths, types, Envelope, Root, Snapshot, Timestamp};
use std::time::{Duration, Instant};

fn fetch(d: &Daemon, path: &str) -> Option<Vec<u8>> {
    let r = get_with(&format!("{}/index/{path}", d.url), &[]);
    if r.status() == 404 {
        return None;
    }
    assert_eq!(r.status(), 200, "{path}");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut out).unwrap();
    Some(out)
}

/// Walks root/1.json, root/2.json, … from a pinned root, applying the
/// client's rule: N+1 verifies with N's root keys and with its own.
fn walk_chain(d: &Daemon, pinned: &[u8]) -> Root {
    let (env, mut trusted) = root_of(pinned);
    env.verify(types::ROOT, "root", &trusted.roles["root"], &trusted.keys)
        .unwrap();
    while let Some(bytes) = fetch(d, &paths::root(trusted.version + 1)) {
        let (env, next) = root_of(&bytes);
        env.verify(types::ROOT, "root", &trusted.roles["root"], &trusted.keys)
            .unwrap_or_else(|e| {
                panic!(
                    "root v{} does not verify with v{}: {e}",
                    next.version, trusted.version
                )
            });
        env.verify(types::ROOT, "root", &next.roles["root"], &next.keys)
            .unwrap();
        assert_eq!(next.version, trusted.version + 1);
        trusted = next;
    }
    trusted
}

/// Verifies timestamp → snapshot → every file with the trusted root.
fn verify_current(d: &Daemon, root: &Root) -> (Timestamp, Snapshot) {
    d.wait_for_feeds();
    verify_signed_index(root, |p| {
        fetch(d, p).unwrap_or_else(|| panic!("{p} is missing"))
    })
}

fn rotate(d: &Daemon, role: &str) {
    let out = cli(&["key", "rotate", role, "--data", d.data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("rotated the {role} key")));
}

fn wait_for_root(d: &Daemon, version: u64) -> Root {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, root) = root_of(&fetch(d, paths::ROOT).unwrap());
        if root.version >= version {
            // The daemon re-signs right after it adopts the root.
            let ts = fetch(d, paths::TIMESTAMP).unwrap();
            let env = Envelope::from_bytes(&ts).unwrap();
            if env
                .verify(
                    types::TIMESTAMP,
                    "timestamp",
                    &root.roles["timestamp"],
                    &root.keys,
                )
                .is_ok()
            {
                return root;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not adopt root v{version}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_rotation_keeps_the_chain_verifiable_from_the_first_root() {
    let d = Daemon::start();
    d.publish_skill("rotating", "1.0.0");
    let export = cli(&["key", "export-root", "--data", d.data.to_str().unwrap()]);
    assert!(export.status.success());
    let pinned = export.stdout.clone();
    let root = walk_chain(&d, &pinned);
    assert_eq!(root.version, 1);
    verify_current(&d, &root);

    for (step, role) in ["index", "timestamp", "root", "root", "index"]
        .iter()
        .enumerate()
    {
        let old = walk_chain(&d, &pinned);
        rotate(&d, role);
        let adopted = wait_for_root(&d, old.version + 1);
        let trusted = walk_chain(&d, &pinned);
        assert_eq!(trusted.version, adopted.version, "step {step}");
        assert_ne!(
            trusted.roles[*role].keyids, old.roles[*role].keyids,
            "step {step}: the {role} key changed"
        );
        // Everything served now verifies with the newest root.
        d.publish_skill("rotating", &format!("1.{}.0", step + 1));
        verify_current(&d, &trusted);
        // ... and the old online keys no longer sign the timestamp.
        if *role == "timestamp" {
            let env = Envelope::from_bytes(&fetch(&d, paths::TIMESTAMP).unwrap()).unwrap();
            assert!(env
                .verify(
                    types::TIMESTAMP,
                    "timestamp",
                    &old.roles["timestamp"],
                    &old.keys
                )
                .is_err());
        }
    }
    // A restart keeps the rotated keys and the whole chain.
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, "");
    let trusted = walk_chain(&d, &pinned);
    assert_eq!(trusted.version, 6);
    verify_current(&d, &trusted);
    let show = cli(&["key", "show", "--data", d.data.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("root version 6"));
}

/// A registry laid out from the committed vectors (`index-spec/vectors/`,
/// at the paths its README's "Served at" column gives), with `root_2` (a
/// file below the vectors) served as `_skillreg/root/2.json`.
fn vector_registry(dir: &std::path::Path, root_2: &str) -> StaticServer {
    let vectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index-spec/vectors");
    for (from, to) in [
        ("config.json", "config.json"),
        ("he/ll/hello", "he/ll/hello"),
        ("sig/config.json", "_skillreg/sig/config.json"),
        ("sig/he/ll/hello", "_skillreg/sig/he/ll/hello"),
        ("root.json", "_skillreg/root.json"),
        ("root.json", "_skillreg/root/1.json"),
        ("snapshot.json", "_skillreg/snapshot/1.json"),
        ("timestamp.json", "_skillreg/timestamp.json"),
        (root_2, "_skillreg/root/2.json"),
    ] {
        let to = dir.join("index").join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(vectors.join(from), &to).unwrap_or_else(|e| panic!("{from}: {e}"));
    }
    // The snapshot's tree nodes, served by their sha256 like the daemon's.
    let nodes = dir.join("index/_skillreg/tree");
    std::fs::create_dir_all(&nodes).unwrap();
    for entry in std::fs::read_dir(vectors.join("tree")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), nodes.join(entry.file_name())).unwrap();
    }
    StaticServer::serve(dir)
}

/// `skillreg install hello` from `server`, pinned to the vectors' root v1,
/// as a new user: the error it fails with (it must fail: the vectors'
/// bundle is not an archive and their `dl` is not reachable).
fn install_from_vectors(server: &StaticServer) -> String {
    let user = ClientEnv::new();
    let project = user.project("p");
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("index-spec/vectors/root.json");
    let out = user.run(&[
        "install",
        "hello",
        "--registry",
        &server.url,
        "--trust-root",
        root.to_str().unwrap(),
        "--dir",
        project.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!project.join(".claude").exists(), "nothing is installed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_root_signed_only_by_the_new_key_breaks_the_chain() {
    // The negative vector: root v2 signed by the new root key only, served
    // as the registry's root/2.json after the vectors' root v1.
    let tmp = tempfile::tempdir().unwrap();
    let server = vector_registry(
        &tmp.path().join("broken"),
        "negative/root-2-signed-by-new-key-only.json",
    );
    let err = install_from_vectors(&server);
    for want in [
        "root v2 from",
        "/index/_skillreg/root/2.json does not continue the chain of trust",
        "not signed by the root keys of the trusted root v1",
        "unknown key id(s)",
        "nothing was installed",
    ] {
        assert!(err.contains(want), "{want:?} not in: {err}");
    }

    // The control: the same payload signed by the old and the new root key
    // (the rotation vector) continues the chain; the install then fails
    // further on, because the vectors' snapshot names root v1. (Both hold
    // until the vectors' timestamp expires, 2029-01-02: see their README.)
    let server = vector_registry(&tmp.path().join("rotated"), "rotation/root-2.json");
    let err = install_from_vectors(&server);
    assert!(!err.contains("chain of trust"), "{err}");
    assert!(
        err.contains("the snapshot was signed under root v1 but the newest root is v2"),
        "{err}"
    );
}

#[test]
fn timestamps_are_re_signed_before_they_expire() {
    let d = Daemon::with_config("[signing]\ntimestamp_expiry_secs = 4\nsnapshot_expiry_secs = 8\n");
    let pinned = cli(&["key", "export-root", "--data", d.data.to_str().unwrap()]).stdout;
    let root = walk_chain(&d, &pinned);
    let (first, first_snapshot) = verify_current(&d, &root);
    let mut versions = vec![first.version];
    let deadline = Instant::now() + Duration::from_secs(7);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        let (ts, _) = verify_current(&d, &root);
        let expires = humantime::parse_rfc3339(&ts.expires).unwrap();
        assert!(
            expires > std::time::SystemTime::now(),
            "a served timestamp is never expired"
        );
        versions.push(ts.version);
    }
    assert!(
        versions.windows(2).all(|w| w[0] <= w[1]),
        "versions only grow: {versions:?}"
    );
    assert!(
        versions.last().unwrap() > &first.version,
        "re-signed within its lifetime: {versions:?}"
    );
    let (_, snapshot) = verify_current(&d, &root);
    assert!(
        snapshot.version > first_snapshot.version,
        "the snapshot is re-signed too"
    );
}

/// The sha256 of every node of the tree of `snapshot`, with the files it
/// lists, walked through the daemon.
fn tree_of(
    d: &Daemon,
    snapshot: &Snapshot,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeMap<String, skillreg::index::sign::FileMeta>,
) {
    let mut nodes = std::collections::BTreeSet::new();
    let files = skillreg::index::snapshot_tree::expand(&snapshot.children, |_, meta| {
        nodes.insert(meta.sha256.clone());
        fetch(d, &paths::tree_node(&meta.sha256)).ok_or("not served")
    })
    .unwrap();
    (nodes, files)
}

#[test]
fn a_publish_adds_the_nodes_on_changed_paths_and_keeps_retired_ones_for_the_grace() {
    // A publish signs two snapshots (its own, then the feeds'): what the
    // first retired must outlive both, so it is kept for a time.
    let d = Daemon::with_config("[signing]\nsuperseded_grace_secs = 1\n");
    for i in 0..40 {
        d.publish_skill(&format!("tree-{i}"), "1.0.0");
    }
    let pinned = cli(&["key", "export-root", "--data", d.data.to_str().unwrap()]).stdout;
    let root = walk_chain(&d, &pinned);
    let (_, first) = verify_current(&d, &root);
    let (first_nodes, first_files) = tree_of(&d, &first);

    d.publish_skill("tree-7", "1.1.0");
    let (_, second) = verify_current(&d, &root);
    let (second_nodes, second_files) = tree_of(&d, &second);
    let changed = second_files
        .iter()
        .filter(|(p, m)| first_files.get(*p) != Some(m))
        .count();
    // The package's file and the feed documents a skill is listed in.
    assert!((1..=4).contains(&changed), "{changed} files changed");
    let added = second_nodes.difference(&first_nodes).count();
    assert!(
        added <= 3 * changed,
        "{added} new nodes for {changed} changed files"
    );
    assert!(second.children.len() <= 16);
    // The nodes only the first snapshot named are still served, after the
    // publish's snapshot and the feeds': a client holding the timestamp
    // before is still walking them. So is the first snapshot.
    assert!(fetch(&d, &paths::snapshot(first.version)).is_some());
    let retired: Vec<&String> = first_nodes.difference(&second_nodes).collect();
    assert!(!retired.is_empty());
    for sha in &retired {
        assert!(fetch(&d, &paths::tree_node(sha)).is_some(), "{sha}");
    }
    // Once the grace is over, the next snapshot drops them, unless a change
    // brought them back.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    d.publish_skill("tree-8", "1.1.0");
    let (_, third) = verify_current(&d, &root);
    let (third_nodes, _) = tree_of(&d, &third);
    for sha in retired.iter().filter(|s| !third_nodes.contains(**s)) {
        assert!(
            fetch(&d, &paths::tree_node(sha)).is_none(),
            "{sha} is still served"
        );
    }
    assert!(
        fetch(&d, &paths::snapshot(first.version)).is_none(),
        "the first snapshot is still served"
    );
}
