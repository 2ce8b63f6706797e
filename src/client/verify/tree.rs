//! The snapshot's tree on the client (`index-spec/signing.md` §9.6): the
//! nodes on the path from the verified top to a file's bin, each checked
//! against the length and sha256 its verified parent pins
//! ([`snapshot_tree::verify_node`]), so a stale node, one from another
//! snapshot or a rolled-back one is refused however it arrives.
//!
//! Verified nodes are kept in the state directory by prefix
//! (`tree/{prefix}.json`): a node whose bytes still have the pinned hash is
//! used without a request, so a warm client whose packages did not change
//! fetches the timestamp and nothing else.

use std::collections::HashMap;
use std::sync::Mutex;

use super::state::{is_listed, read_state_file};
use super::{TrustError, TrustedRegistry};
use crate::index::sign::{paths, FileMeta};
use crate::index::snapshot_tree::{self, Node, TreeError, MAX_NODE_BYTES};

/// Verified snapshot-tree nodes, below the state directory, by prefix.
pub(super) const TREE_CACHE_DIR: &str = "tree";

/// What the verified nodes kept in memory may add up to (their verified
/// lengths): room for a whole path of nodes at the cap, top to bin. A
/// walk of a whole tree (a mirror) reads each node, then every file below
/// it, so the newest path is the one asked for again; with less room, a
/// hostile upstream padding each node of a path to the cap would have the
/// path read and hashed again for every file of the bin.
pub(super) const MAX_MEMO_BYTES: u64 = snapshot_tree::DEPTH as u64 * MAX_NODE_BYTES;

/// The nodes verified during one [`TrustedRegistry`]'s life, by prefix and
/// sha256: a node was verified for its place (`prefix`, `_type`), and
/// must not answer for another place whose parent pins the same bytes (a
/// signed tree, which a hostile upstream makes with its own key, may pin
/// an interior node again as a bin). Bounded by [`MAX_MEMO_BYTES`]: a
/// hostile upstream's tree of 4,096 bins of 8 MB each must not be held
/// whole; a node let go is read again from the state directory.
#[derive(Debug)]
pub(super) struct Nodes(Mutex<Memo>);

#[derive(Debug)]
struct Memo {
    nodes: HashMap<(String, String), Node>,
    /// The verified lengths of `nodes`.
    bytes: u64,
    limit: u64,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes::with_limit(MAX_MEMO_BYTES)
    }
}

impl Nodes {
    /// A memo that keeps at most `limit` bytes of nodes.
    pub(super) fn with_limit(limit: u64) -> Nodes {
        Nodes(Mutex::new(Memo {
            nodes: HashMap::new(),
            bytes: 0,
            limit,
        }))
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &(String, String)) -> Option<Node> {
        self.memo().nodes.get(key).cloned()
    }

    /// Keeps `node` (`length` bytes as verified), letting every other go
    /// first when it would not fit: nothing is kept past the limit, and
    /// the node just verified is the one asked for next.
    fn put(&self, key: (String, String), node: Node, length: u64) {
        let mut memo = self.memo();
        if memo.nodes.contains_key(&key) {
            return;
        }
        if memo.bytes + length > memo.limit {
            memo.nodes.clear();
            memo.bytes = 0;
        }
        if length <= memo.limit {
            memo.bytes += length;
            memo.nodes.insert(key, node);
        }
    }

    /// The verified lengths of the nodes kept now.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> u64 {
        self.memo().bytes
    }
}

impl TrustedRegistry {
    /// The signed length and sha256 of the index file at `path` (below
    /// `/index/`), walking the snapshot's tree; `None` when the snapshot
    /// does not list it.
    pub fn file_meta(&self, path: &str) -> Result<Option<FileMeta>, TrustError> {
        let position = snapshot_tree::position(path);
        let mut children = self.snapshot.children.clone();
        for level in 1..=snapshot_tree::DEPTH {
            let prefix = &position[..level];
            let Some(meta) = children.get(&prefix[level - 1..]).cloned() else {
                return Ok(None);
            };
            match self.node(prefix, &meta)? {
                Node::Interior(next) => children = next,
                Node::Bin(files) => return Ok(files.get(path).cloned()),
            }
        }
        unreachable!("a node at the tree's depth is a bin")
    }

    /// The verified node at `prefix` that its (verified) parent pins with
    /// `meta`: from memory, the state directory, or the registry, in that
    /// order; offline, never from the registry.
    pub fn node(&self, prefix: &str, meta: &FileMeta) -> Result<Node, TrustError> {
        let key = (prefix.to_string(), meta.sha256.clone());
        if let Some(node) = self.nodes.get(&key) {
            return Ok(node);
        }
        let url = format!("{}/index/{}", self.base, paths::tree_node(&meta.sha256));
        let cache_path = self
            .state_dir
            .join(TREE_CACHE_DIR)
            .join(format!("{prefix}.json"));
        let cached = read_state_file(&cache_path)?
            .filter(|b| is_listed(b, meta.length, &meta.sha256.to_ascii_lowercase()));
        let (bytes, fetched) = match (cached, &self.http) {
            (Some(bytes), _) => (bytes, false),
            (None, None) => {
                return Err(TrustError::Offline {
                    what: format!(
                        "the snapshot node `{prefix}` of snapshot v{}",
                        self.snapshot.version
                    ),
                    path: cache_path.display().to_string(),
                })
            }
            (None, Some(http)) => (
                http.need(
                    &url,
                    meta.length.min(MAX_NODE_BYTES),
                    "the snapshot node the signed snapshot names is not served; if a publish happened just now, retry",
                )?,
                true,
            ),
        };
        let node =
            snapshot_tree::verify_node(prefix, meta, &bytes).map_err(|e| refusal(e, &url))?;
        if fetched {
            // A cache: every use checks it against the pinned hash again.
            if let Some(parent) = cache_path.parent() {
                crate::fsutil::create_private_dir(parent)
                    .map_err(super::error::local("create", parent))?;
            }
            crate::fsutil::write_replace(&cache_path, &bytes, 0o600)
                .map_err(super::error::local("write", &cache_path))?;
        }
        self.nodes.put(key, node.clone(), meta.length);
        Ok(node)
    }
}

/// The client's error for a refused node.
fn refusal(e: TreeError, url: &str) -> TrustError {
    match e {
        TreeError::Mismatch { prefix, got, want } => TrustError::Mismatch {
            what: format!(
                "the snapshot node `{prefix}` from {url} (stale, from another snapshot, or rolled back)"
            ),
            by: "snapshot",
            got,
            want,
        },
        TreeError::TooLarge { .. } => TrustError::Malformed {
            document: "snapshot node".into(),
            url: url.into(),
            detail: e.to_string(),
        },
        TreeError::Malformed { prefix, detail } => TrustError::Malformed {
            document: format!("snapshot node `{prefix}`"),
            url: url.into(),
            detail,
        },
    }
}
