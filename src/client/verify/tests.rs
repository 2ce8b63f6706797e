//! Unit tests of the verifying client's pure parts: messages, names and
//! paths, URLs, limits, index lines, roots and expiry.

use super::expiry::check_expiry;
use super::index::safe_index_path;
use super::roots::root_problem;
use super::*;
use crate::index::sign::{self, self_signed_root, types, Envelope, Root};
use std::path::Path;

#[test]
fn mirror_messages_advise_the_mirroring_admin() {
    let status = TrustError::Status {
        url: "http://up/index/config.json".into(),
        status: 401,
        detail: ": a token is required".into(),
    };
    assert!(status.to_string().contains("pass --token"));
    let mirrored = status.for_mirror();
    assert!(
        mirrored.contains("a token is required") && mirrored.contains("set `token` in the source")
    );
    assert!(!mirrored.contains("--token"), "{mirrored}");
    let transport = TrustError::Transport {
        url: "http://up".into(),
        message: "connection refused".into(),
    };
    assert!(transport.to_string().contains("--offline"));
    let mirrored = transport.for_mirror();
    assert!(mirrored.contains("connection refused") && mirrored.contains("the source's `url`"));
    assert!(!mirrored.contains("--registry") && !mirrored.contains("--offline"));
}

#[test]
fn dl_without_markers_appends_the_cargo_path() {
    assert_eq!(
        download_url("http://h/api/v1/crates", "hello", "1.0.0", "ab"),
        "http://h/api/v1/crates/hello/1.0.0/download"
    );
}

#[test]
fn dl_markers_are_replaced() {
    let dl = "http://h/{prefix}/{lowerprefix}/{crate}/{version}/{sha256-checksum}";
    assert_eq!(
        download_url(dl, "HeLLo", "1.0.0+b", "ff"),
        "http://h/He/LL/he/ll/HeLLo/1.0.0+b/ff"
    );
    assert_eq!(
        download_url(dl, "a", "1.0.0", "ff"),
        "http://h/1/1/a/1.0.0/ff"
    );
    assert_eq!(
        download_url(dl, "ab", "1.0.0", "ff"),
        "http://h/2/2/ab/1.0.0/ff"
    );
    assert_eq!(
        download_url(dl, "Abc", "1.0.0", "ff"),
        "http://h/3/A/3/a/Abc/1.0.0/ff"
    );
    assert_eq!(
        download_url("http://h/blobs/{sha256-checksum}", "x", "1", "ff"),
        "http://h/blobs/ff"
    );
}

#[test]
fn names_are_checked_before_they_become_paths() {
    assert!(validate_name("base-skill").is_ok());
    assert!(validate_name("Serde_Json").is_ok());
    for bad in ["", "../x", "a/b", "-a", "é", ".hidden", &"a".repeat(65)] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
    assert!(safe_index_path("he/ll/hello"));
    assert!(safe_index_path("config.json"));
    assert!(!safe_index_path("../x"));
    assert!(!safe_index_path("_skillreg/root.json"));
    assert!(!safe_index_path("/etc/passwd"));
    assert!(safe_index_path("ab/_c/ab_c"));
}

#[test]
fn limited_reads_refuse_endless_data() {
    let data = [7u8; 100];
    assert_eq!(read_limited(&mut &data[..], 100, "u").unwrap().len(), 100);
    let err = read_limited(&mut std::io::repeat(1), 1000, "u").unwrap_err();
    assert!(err.to_string().contains("endless data"), "{err}");
}

#[test]
fn urls_and_state_dirs() {
    assert_eq!(normalize_url("http://h:1/").unwrap(), "http://h:1");
    assert!(normalize_url("ftp://h").is_err());
    assert!(normalize_url("http://").is_err());
    let a = state_dir_for(Path::new("/s"), "http://h:1");
    assert_eq!(a.parent().unwrap(), Path::new("/s/registries"));
    assert_eq!(a.file_name().unwrap().len(), 16);
    assert_ne!(a, state_dir_for(Path::new("/s"), "http://h:2"));
}

#[test]
fn index_lines_skip_garbage_and_other_names() {
    let line = |name: &str, vers: &str| {
        format!(
            r#"{{"name":"{name}","vers":"{vers}","deps":[],"cksum":"00","features":{{}},"yanked":false,"links":null,"v":1,"rust_version":null,"pubtime":"2026-01-01T00:00:00Z","kind":"skill","description":null,"license":null,"size":12}}"#
        )
    };
    let body = format!(
        "{}\nnot json\n{}\n{}\n",
        line("hello", "1.0.0"),
        line("other", "1.0.0"),
        line("hello", "1.1.0")
    );
    let lines = parse_index_lines("hello", body.as_bytes());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].version, semver::Version::new(1, 1, 0));
    assert_eq!(lines[0].size, Some(12));
}

#[test]
fn pinned_roots_must_be_sound() {
    use ed25519_dalek::SigningKey;
    let key = SigningKey::from_bytes(&[3u8; 32]);
    let id = sign::key_id(&key.verifying_key());
    let root = |spec: &str, listed_id: &str| {
        let root = Root {
            _type: "root".into(),
            spec_version: spec.into(),
            version: 1,
            expires: "2999-01-01T00:00:00Z".into(),
            keys: [(
                listed_id.to_string(),
                sign::PublicKey::of(&key.verifying_key()),
            )]
            .into(),
            roles: [(
                "root".to_string(),
                sign::RoleKeys {
                    keyids: vec![listed_id.to_string()],
                    threshold: 1,
                },
            )]
            .into(),
        };
        Envelope::sign(types::ROOT, &sign::canonical(&root), &[&key]).to_bytes()
    };
    assert!(self_signed_root(&root("1", &id)).is_ok());
    let err = self_signed_root(&root("2", &id)).unwrap_err();
    assert!(err.to_string().contains("spec_version"), "{err}");
    let worded = root_problem(err).to_string();
    assert!(worded.contains("understands only `1`"), "{worded}");
    // Listed under another id: the signature's key id is unknown.
    assert!(self_signed_root(&root("1", &"0".repeat(64))).is_err());
}

#[test]
fn expiry_is_checked() {
    assert!(check_expiry("timestamp", "u", "2000-01-01T00:00:00Z").is_err());
    assert!(check_expiry("timestamp", "u", "2999-01-01T00:00:00Z").is_ok());
    assert!(check_expiry("timestamp", "u", "soon").is_err());
}

/// A path whose position (`snapshot_tree::position`) starts with `prefix`.
fn path_at(prefix: &str) -> String {
    (0..)
        .map(|i| format!("pa/th/path{i}"))
        .find(|p| crate::index::snapshot_tree::position(p).starts_with(prefix))
        .expect("some path lands there")
}

/// A node's bytes and the `FileMeta` its parent pins it with.
fn pinned<T: serde::Serialize>(node: &T) -> (Vec<u8>, sign::FileMeta) {
    let bytes = sign::canonical(node);
    let meta = sign::FileMeta {
        length: bytes.len() as u64,
        sha256: crate::blobs::Sha256Digest::of(&bytes).to_hex(),
    };
    (bytes, meta)
}

/// An offline [`TrustedRegistry`] over a hand-made signed top `children`
/// whose nodes sit in its state directory's node cache (`(prefix, bytes)`):
/// what a registry that holds its own index key (a hostile upstream, for
/// a mirror) can make the client read.
fn offline_over(
    state: &Path,
    children: std::collections::BTreeMap<String, sign::FileMeta>,
    cached: &[(&str, &[u8])],
) -> TrustedRegistry {
    let dir = state.join(tree::TREE_CACHE_DIR);
    std::fs::create_dir_all(&dir).unwrap();
    for (prefix, bytes) in cached {
        std::fs::write(dir.join(format!("{prefix}.json")), bytes).unwrap();
    }
    TrustedRegistry {
        base: "http://up".into(),
        state_dir: state.to_path_buf(),
        http: None,
        root: Root {
            _type: "root".into(),
            spec_version: "1".into(),
            version: 1,
            expires: "2999-01-01T00:00:00Z".into(),
            keys: Default::default(),
            roles: Default::default(),
        },
        snapshot: sign::Snapshot {
            _type: "snapshot".into(),
            version: 1,
            expires: "2999-01-01T00:00:00Z".into(),
            root_version: 1,
            depth: 3,
            children,
        },
        timestamp_version: 1,
        nodes: Default::default(),
    }
}

/// A node verified at one place must not answer for another that pins the
/// same bytes: the prefix and `_type` checks hold for every use, not only
/// the first, or a signed tree that pins the interior node `0a` again as
/// the bin `1bc` walks into a bin slot with an interior node in hand.
#[test]
fn a_node_verified_at_one_place_is_refused_at_another() {
    use crate::index::snapshot_tree::{BinNode, InteriorNode, BIN_TYPE, NODE_TYPE};
    let interior = |prefix: &str, digit: &str, child: &sign::FileMeta| InteriorNode {
        _type: NODE_TYPE.into(),
        prefix: prefix.into(),
        children: [(digit.to_string(), child.clone())].into(),
    };
    let (here, there) = (path_at("0ab"), path_at("1bc"));
    let file = sign::FileMeta {
        length: 1,
        sha256: "0".repeat(64),
    };
    let (bin, bin_meta) = pinned(&BinNode {
        _type: BIN_TYPE.into(),
        prefix: "0ab".into(),
        files: [(here.clone(), file.clone())].into(),
    });
    let (n0a, n0a_meta) = pinned(&interior("0a", "b", &bin_meta));
    let (n0, n0_meta) = pinned(&interior("0", "a", &n0a_meta));
    // `1b` pins `0a`'s bytes as its child `c`, a bin slot.
    let (n1b, n1b_meta) = pinned(&interior("1b", "c", &n0a_meta));
    let (n1, n1_meta) = pinned(&interior("1", "b", &n1b_meta));
    let state = tempfile::tempdir().unwrap();
    let registry = offline_over(
        state.path(),
        [("0".to_string(), n0_meta), ("1".to_string(), n1_meta)].into(),
        &[
            ("0", &n0),
            ("0a", &n0a),
            ("0ab", &bin),
            ("1", &n1),
            ("1b", &n1b),
            ("1bc", &n0a),
        ],
    );
    assert_eq!(registry.file_meta(&here).unwrap(), Some(file));
    let err = registry.file_meta(&there).unwrap_err();
    assert!(
        err.to_string().contains("snapshot node `1bc`"),
        "refused as the node at 1bc: {err}"
    );
}

/// Every node a walk verified is not kept for the registry's life: a
/// hostile upstream signs a tree of 4,096 bins of 8 MB each, and a mirror
/// walking it (a node, then every file of it) would hold 32 GB. What is
/// kept stays under the memo's limit, and every lookup still answers.
#[test]
fn the_nodes_kept_in_memory_stay_under_their_limit() {
    let mut tree = crate::index::snapshot_tree::SnapshotTree::default();
    let paths: Vec<String> = (0..300).map(|i| format!("pk/g{i}/pkg{i}")).collect();
    let file = |i: usize| sign::FileMeta {
        length: i as u64,
        sha256: "0".repeat(64),
    };
    for (i, path) in paths.iter().enumerate() {
        tree.set(path, file(i));
    }
    let nodes: Vec<(String, Vec<u8>)> = tree
        .commit()
        .added
        .into_iter()
        .map(|(_, bytes)| {
            let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            (doc["prefix"].as_str().unwrap().to_string(), bytes)
        })
        .collect();
    let total: usize = nodes.iter().map(|(_, b)| b.len()).sum();
    let cached: Vec<(&str, &[u8])> = nodes
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let state = tempfile::tempdir().unwrap();
    let mut registry = offline_over(state.path(), tree.children(), &cached);
    let limit = 8 * 1024;
    assert!(
        total > 4 * limit,
        "the tree ({total} bytes) outgrows the limit"
    );
    registry.nodes = tree::Nodes::with_limit(limit as u64);
    for (i, path) in paths.iter().enumerate() {
        assert_eq!(registry.file_meta(path).unwrap(), Some(file(i)));
        let kept = registry.nodes.bytes();
        assert!(kept <= limit as u64, "{kept} bytes kept, over {limit}");
    }
}

/// A hostile upstream pads every node on a path to the node cap (JSON
/// whitespace: the bytes are pinned, so any bytes its key signs go). The
/// memo must still hold a whole path, or a mirror reading every file of a
/// bin reads and hashes the path's 24 MB again for each file.
#[test]
fn a_whole_path_of_nodes_at_the_cap_stays_in_memory() {
    use crate::index::snapshot_tree::{BinNode, InteriorNode, BIN_TYPE, MAX_NODE_BYTES, NODE_TYPE};
    let padded = |bytes: Vec<u8>| {
        let mut out = bytes;
        out.resize(MAX_NODE_BYTES as usize - 1024, b' ');
        let meta = sign::FileMeta {
            length: out.len() as u64,
            sha256: crate::blobs::Sha256Digest::of(&out).to_hex(),
        };
        (out, meta)
    };
    let path = path_at("0ab");
    let file = sign::FileMeta {
        length: 1,
        sha256: "0".repeat(64),
    };
    let (bin, bin_meta) = padded(sign::canonical(&BinNode {
        _type: BIN_TYPE.into(),
        prefix: "0ab".into(),
        files: [(path.clone(), file.clone())].into(),
    }));
    let interior = |prefix: &str, digit: &str, child: &sign::FileMeta| {
        padded(sign::canonical(&InteriorNode {
            _type: NODE_TYPE.into(),
            prefix: prefix.into(),
            children: [(digit.to_string(), child.clone())].into(),
        }))
    };
    let (n0a, n0a_meta) = interior("0a", "b", &bin_meta);
    let (n0, n0_meta) = interior("0", "a", &n0a_meta);
    let state = tempfile::tempdir().unwrap();
    let registry = offline_over(
        state.path(),
        [("0".to_string(), n0_meta)].into(),
        &[("0", &n0), ("0a", &n0a), ("0ab", &bin)],
    );
    assert_eq!(registry.file_meta(&path).unwrap(), Some(file.clone()));
    // Every further lookup is answered from memory: the cache is gone.
    std::fs::remove_dir_all(state.path().join(tree::TREE_CACHE_DIR)).unwrap();
    assert_eq!(registry.file_meta(&path).unwrap(), Some(file));
}
