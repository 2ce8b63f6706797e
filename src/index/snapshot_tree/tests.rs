use super::*;

fn meta(n: u64) -> FileMeta {
    FileMeta {
        length: n,
        sha256: Sha256Digest::of(&n.to_be_bytes()).to_hex(),
    }
}

/// A tree of `n` files and the node store its commits filled.
fn tree_of(n: u64) -> (SnapshotTree, HashMap<String, Vec<u8>>) {
    let mut tree = SnapshotTree::default();
    for i in 0..n {
        tree.set(&format!("pk/g{i}/pkg{i}"), meta(i));
    }
    let mut store = HashMap::new();
    for (sha, bytes) in tree.commit().added {
        store.insert(sha, bytes);
    }
    (tree, store)
}

fn fetch_from(
    store: &HashMap<String, Vec<u8>>,
) -> impl FnMut(&str, &FileMeta) -> Result<Vec<u8>, String> + '_ {
    |_, meta| store.get(&meta.sha256).cloned().ok_or("not served".into())
}

#[test]
fn expand_gives_back_every_file_and_resolve_each_one() {
    let (tree, store) = tree_of(300);
    let files = expand(&tree.children(), fetch_from(&store)).unwrap();
    assert_eq!(files.len(), 300);
    for (path, m) in &files {
        assert_eq!(tree.get(path), Some(m));
        let got = resolve(&tree.children(), path, fetch_from(&store)).unwrap();
        assert_eq!(got.as_ref(), Some(m));
    }
    assert_eq!(
        resolve(&tree.children(), "no/ne/none", fetch_from(&store)).unwrap(),
        None
    );
}

#[test]
fn a_change_rehashes_one_path_and_retires_what_it_replaced() {
    let (mut tree, mut store) = tree_of(1000);
    tree.set("pk/g7/pkg7", meta(99_999));
    let changes = tree.commit();
    // One bin, its two ancestors: the top document is the caller's.
    assert_eq!(changes.added.len(), DEPTH);
    assert_eq!(changes.retired.len(), DEPTH);
    for sha in &changes.retired {
        assert!(!tree.is_live(sha));
    }
    for (sha, bytes) in changes.added {
        assert!(tree.is_live(&sha));
        store.insert(sha, bytes);
    }
    let got = resolve(&tree.children(), "pk/g7/pkg7", fetch_from(&store)).unwrap();
    assert_eq!(got, Some(meta(99_999)));
    // Nothing changed: nothing to commit.
    tree.set("pk/g7/pkg7", meta(99_999));
    assert_eq!(tree.commit(), Changes::default());
}

#[test]
fn removing_the_last_file_of_a_subtree_drops_its_nodes() {
    let mut tree = SnapshotTree::default();
    tree.set("config.json", meta(1));
    let added = tree.commit().added;
    assert_eq!(added.len(), DEPTH);
    tree.remove("config.json");
    let changes = tree.commit();
    assert!(changes.added.is_empty());
    assert_eq!(changes.retired.len(), DEPTH);
    assert!(tree.children().is_empty());
    assert!(tree.is_empty());
}

#[test]
fn a_node_from_another_snapshot_fails_its_parents_hash() {
    let (mut tree, mut store) = tree_of(50);
    let old_children = tree.children();
    let path = "pk/g3/pkg3";
    let bin = bin_of(path);
    let old_bin_meta = {
        let mut m = None;
        resolve(&old_children, path, |p, meta| {
            if p == bin {
                m = Some(meta.clone());
            }
            fetch_from(&store)(p, meta)
        })
        .unwrap();
        m.unwrap()
    };
    tree.set(path, meta(4242));
    for (sha, bytes) in tree.commit().added {
        store.insert(sha, bytes);
    }
    // The new snapshot's walk, served the old bin in place of the new one.
    let old_bin = store[&old_bin_meta.sha256].clone();
    let err = resolve(&tree.children(), path, |p, meta| {
        if p == bin {
            Ok::<_, String>(old_bin.clone())
        } else {
            fetch_from(&store)(p, meta)
        }
    })
    .unwrap_err();
    assert!(
        matches!(&err, WalkError::Tree(TreeError::Mismatch { prefix, .. }) if *prefix == bin),
        "{err}"
    );
}

#[test]
fn a_node_must_sit_where_it_says_and_list_only_its_own_files() {
    let files: BTreeMap<String, FileMeta> = [("config.json".to_string(), meta(1))].into();
    let right = bin_of("config.json");
    let wrong = if right == "000" { "001" } else { "000" };
    let bytes = canonical(&BinNode {
        _type: BIN_TYPE.into(),
        prefix: wrong.into(),
        files: files.clone(),
    });
    let pin = |b: &[u8]| FileMeta {
        length: b.len() as u64,
        sha256: Sha256Digest::of(b).to_hex(),
    };
    // At its own prefix, a bin listing a path of another bin.
    let err = verify_node(wrong, &pin(&bytes), &bytes).unwrap_err();
    assert!(err.to_string().contains("not in this bin"), "{err}");
    // At another place than it says.
    let err = verify_node(&right, &pin(&bytes), &bytes).unwrap_err();
    assert!(err.to_string().contains("it says prefix"), "{err}");
    let bytes = canonical(&BinNode {
        _type: BIN_TYPE.into(),
        prefix: right.clone(),
        files,
    });
    assert!(verify_node(&right, &pin(&bytes), &bytes).is_ok());
    // A bin where a node belongs, and a child key of two digits.
    let err = verify_node(&right[..2], &pin(&bytes), &bytes).unwrap_err();
    assert!(err.to_string().contains("not a node"), "{err}");
    let node = canonical(&InteriorNode {
        _type: NODE_TYPE.into(),
        prefix: "a".into(),
        children: [("bc".to_string(), meta(1))].into(),
    });
    let err = verify_node("a", &pin(&node), &node).unwrap_err();
    assert!(err.to_string().contains("not one hex digit"), "{err}");
    let node = canonical(&InteriorNode {
        _type: BIN_TYPE.into(),
        prefix: "a".into(),
        children: BTreeMap::new(),
    });
    let err = verify_node("a", &pin(&node), &node).unwrap_err();
    assert!(err.to_string().contains("`_type`"), "{err}");
}

#[test]
fn an_oversized_node_is_refused_before_its_bytes_are_looked_at() {
    let huge = FileMeta {
        length: MAX_NODE_BYTES + 1,
        sha256: "00".repeat(32),
    };
    assert!(matches!(
        verify_node("a", &huge, b""),
        Err(TreeError::TooLarge { .. })
    ));
}

#[test]
fn at_100k_files_a_bin_stays_small() {
    let (tree, store) = tree_of(100_000);
    assert_eq!(store.len(), 4096 + 256 + 16);
    let largest = store.values().map(Vec::len).max().unwrap();
    // About 25 files of ~110 bytes; interior nodes 16 × ~90 bytes.
    assert!(largest < 8 * 1024, "largest node {largest} bytes");
    assert_eq!(tree.len(), 100_000);
}
