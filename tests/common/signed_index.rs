//! Signed metadata as a client sees it: roots, verification, exported roots
//! and byte-exact copies of what a daemon serves.

use std::path::{Path, PathBuf};

use super::{cli, get_bytes};

/// Parses a root envelope (without verifying it).
pub fn root_of(bytes: &[u8]) -> (skillreg::index::sign::Envelope, skillreg::index::sign::Root) {
    let env = skillreg::index::sign::Envelope::from_bytes(bytes).unwrap();
    let root = skillreg::index::sign::parse(&env.payload_bytes().unwrap()).unwrap();
    (env, root)
}

/// Every file the snapshot lists: its tree expanded node by node from
/// `fetch` (paths below `/index/`), each node checked against its parent's
/// pin by the library's own walk.
pub fn listed_files(
    snapshot: &skillreg::index::sign::Snapshot,
    mut fetch: impl FnMut(&str) -> Vec<u8>,
) -> std::collections::BTreeMap<String, skillreg::index::sign::FileMeta> {
    use skillreg::index::{sign::paths, snapshot_tree};
    assert_eq!(snapshot.depth, snapshot_tree::DEPTH as u64);
    snapshot_tree::expand(&snapshot.children, |_, meta| {
        Ok::<_, String>(fetch(&paths::tree_node(&meta.sha256)))
    })
    .unwrap_or_else(|e| panic!("the snapshot's tree does not verify: {e}"))
}

/// Verifies what a client would, given a trusted root: the timestamp with
/// the timestamp role, the snapshot against it and with the index role, its
/// tree, and every file the snapshot lists (bytes and signed statement).
pub fn verify_signed_index(
    root: &skillreg::index::sign::Root,
    fetch: impl Fn(&str) -> Vec<u8>,
) -> (
    skillreg::index::sign::Timestamp,
    skillreg::index::sign::Snapshot,
) {
    use skillreg::index::sign::{self, paths, types, Envelope};
    let ts_env = Envelope::from_bytes(&fetch(paths::TIMESTAMP)).unwrap();
    let ts: sign::Timestamp = sign::parse(
        &ts_env
            .verify(
                types::TIMESTAMP,
                "timestamp",
                &root.roles["timestamp"],
                &root.keys,
            )
            .unwrap(),
    )
    .unwrap();
    let snap_bytes = fetch(&paths::snapshot(ts.snapshot.version));
    assert_eq!(snap_bytes.len() as u64, ts.snapshot.length);
    assert_eq!(
        skillreg::blobs::Sha256Digest::of(&snap_bytes).to_hex(),
        ts.snapshot.sha256
    );
    let snap_env = Envelope::from_bytes(&snap_bytes).unwrap();
    let snapshot: sign::Snapshot = sign::parse(
        &snap_env
            .verify(
                types::SNAPSHOT,
                "snapshot",
                &root.roles["index"],
                &root.keys,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(snapshot.root_version, root.version);
    for (path, meta) in &listed_files(&snapshot, &fetch) {
        let bytes = fetch(path);
        assert_eq!(
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
            meta.sha256,
            "{path}"
        );
        let statement = Envelope::from_bytes(&fetch(&paths::statement(path))).unwrap();
        let payload = statement
            .verify(types::INDEX_FILE, "index", &root.roles["index"], &root.keys)
            .unwrap();
        let statement: sign::IndexFileStatement = sign::parse(&payload).unwrap();
        assert_eq!(
            (statement.path.as_str(), statement.sha256.as_str()),
            (path.as_str(), meta.sha256.as_str())
        );
    }
    (ts, snapshot)
}

/// Writes `skillreg key export-root --data DATA` to `dir/name` and returns the path.
pub fn export_root(data: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = cli(&["key", "export-root", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "export-root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Copies what a daemon serves to installers into `dir`, at the paths it is
/// served at: `index/config.json`, every root version, the timestamp, the
/// snapshot it names and its tree's nodes, every index file the snapshot
/// lists with its statement, and each version's bundle at
/// `api/v1/crates/{name}/{version}/download`. Nothing is re-signed, so a
/// daemon started with `public_url` = a [`StaticServer`]'s URL gives a tree
/// that server serves byte-identically (config.json's `dl` included).
pub fn mirror_registry(daemon_url: &str, dir: &Path) {
    use skillreg::index::sign::{self, paths, Envelope};
    let copy = |rel: &str| -> Option<Vec<u8>> {
        let (status, body) = get_bytes(&format!("{daemon_url}/{rel}"));
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "mirroring {rel}");
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &body).unwrap();
        Some(body)
    };
    let payload = |bytes: &[u8]| {
        Envelope::from_bytes(bytes)
            .unwrap()
            .payload_bytes()
            .unwrap()
    };
    copy(&format!("index/{}", paths::ROOT)).expect("root.json");
    let mut n = 1;
    while copy(&format!("index/{}", paths::root(n))).is_some() {
        n += 1;
    }
    let ts = copy(&format!("index/{}", paths::TIMESTAMP)).expect("timestamp.json");
    let ts: sign::Timestamp = sign::parse(&payload(&ts)).unwrap();
    let snap = copy(&format!("index/{}", paths::snapshot(ts.snapshot.version))).expect("snapshot");
    let snap: sign::Snapshot = sign::parse(&payload(&snap)).unwrap();
    let listed = listed_files(&snap, |rel| {
        copy(&format!("index/{rel}")).unwrap_or_else(|| panic!("{rel} is not served"))
    });
    for path in listed.keys() {
        let body = copy(&format!("index/{path}")).expect("listed index file");
        copy(&format!("index/{}", paths::statement(path))).expect("statement");
        // config.json and the feed documents are not index lines.
        if path == "config.json" || path.starts_with("_feeds/") {
            continue;
        }
        for line in String::from_utf8(body).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (name, vers) = (v["name"].as_str().unwrap(), v["vers"].as_str().unwrap());
            copy(&format!("api/v1/crates/{name}/{vers}/download")).expect("bundle");
        }
    }
}

/// Verifies the signed tree `fetch` reads the way a client does, from its
/// root down to every file its snapshot lists; returns those files.
pub fn assert_verifies(
    fetch: impl Fn(&str) -> Vec<u8>,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let (root_env, root) = root_of(&fetch(skillreg::index::sign::paths::ROOT));
    root_env
        .verify(
            skillreg::index::sign::types::ROOT,
            "root",
            &root.roles["root"],
            &root.keys,
        )
        .unwrap();
    let snapshot = verify_signed_index(&root, &fetch).1;
    listed_files(&snapshot, &fetch)
        .into_iter()
        .map(|(path, meta)| {
            let bytes = fetch(&path);
            assert_eq!(
                skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
                meta.sha256,
                "{path}: the bytes the snapshot vouches for"
            );
            (path, bytes)
        })
        .collect()
}
