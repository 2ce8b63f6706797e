//! A registry that holds its own keys (a hostile upstream, for a mirror;
//! a compromised one, for a user) signs a tree that pins one node at two
//! places: the client must check each use of a node against its place.

use super::*;
use skillreg::index::snapshot_tree::{self, InteriorNode};

/// The length and sha256 a parent pins `bytes` with.
fn pin(bytes: &[u8]) -> sign::FileMeta {
    sign::FileMeta {
        length: bytes.len() as u64,
        sha256: skillreg::blobs::Sha256Digest::of(bytes).to_hex(),
    }
}

/// Writes `node` to the tree at its content address; returns its pin.
fn put_node(tree: &Path, node: &InteriorNode) -> sign::FileMeta {
    let bytes = canonical(node);
    let meta = pin(&bytes);
    std::fs::write(
        tree.join("index").join(paths::tree_node(&meta.sha256)),
        &bytes,
    )
    .unwrap();
    meta
}

fn interior(file: &Path) -> InteriorNode {
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// The install reads the package's bin first, then config.json's. A tree
/// signed with the registry's own keys pins the package's level-2 node
/// again in config.json's bin slot: the client, having verified that node
/// as an interior node, must refuse it as a bin (it held it by hash alone
/// and panicked).
#[test]
fn a_node_pinned_again_in_another_place_is_refused_there() {
    let fx = Fixture::new();
    let tree = fx.pristine.clone();
    let (pkg, cfg) = ("he/ll/hello-skill", "config.json");
    let (pkg_pos, cfg_pos) = (snapshot_tree::position(pkg), snapshot_tree::position(cfg));
    assert_ne!(
        pkg_pos[..2],
        cfg_pos[..2],
        "the two paths share their level-2 node"
    );
    let (pkg_nodes, cfg_nodes) = (node_files(&tree, pkg), node_files(&tree, cfg));
    let moved = pin(&std::fs::read(&pkg_nodes[1]).unwrap());
    let data = fx.daemon().data.clone();
    let (index_key, timestamp_key) = (
        stolen_key(&data, "index.ed25519"),
        stolen_key(&data, "timestamp.ed25519"),
    );
    fx.tamper(&tree, "moved-node", |d| {
        // config.json's level-2 node pins the package's level-2 node as
        // its bin, and everything above it is re-hashed and re-signed.
        let mut level2 = interior(&cfg_nodes[1]);
        level2
            .children
            .insert(cfg_pos[2..3].to_string(), moved.clone());
        let level2 = put_node(d, &level2);
        let mut level1 = interior(&cfg_nodes[0]);
        level1.children.insert(cfg_pos[1..2].to_string(), level2);
        let level1 = put_node(d, &level1);
        let snapshot_file = snapshot_path(d);
        let mut snapshot: sign::Snapshot =
            sign::parse(&read_envelope(&snapshot_file).payload_bytes().unwrap()).unwrap();
        snapshot.children.insert(cfg_pos[..1].to_string(), level1);
        let signed =
            Envelope::sign(types::SNAPSHOT, &canonical(&snapshot), &[&index_key]).to_bytes();
        std::fs::write(&snapshot_file, &signed).unwrap();
        let mut timestamp = timestamp_of(d);
        let names = pin(&signed);
        (timestamp.snapshot.length, timestamp.snapshot.sha256) = (names.length, names.sha256);
        let signed =
            Envelope::sign(types::TIMESTAMP, &canonical(&timestamp), &[&timestamp_key]).to_bytes();
        std::fs::write(d.join(TIMESTAMP), signed).unwrap();
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            &format!("malformed snapshot node `{}`", &cfg_pos[..3]),
            "not a bin",
        ],
    );
}
