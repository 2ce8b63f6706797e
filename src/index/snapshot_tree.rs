//! The snapshot as a hash tree (`index-spec/signing.md` §6.2): the signed
//! top document pins 16 child nodes by length and sha256, each interior
//! node pins its 16 children the same way, and the leaves ("bins") list the
//! index files whose path hashes into their prefix.
//!
//! ```text
//! position(path) = lowercase hex of sha256(path)
//! top (signed)   children: "0".."f" → FileMeta of the node with prefix "0".."f"
//! node  "3a"     {"_type":"snapshot-node","prefix":"3a","children":{"0":{…},…}}
//! bin   "3a7"    {"_type":"snapshot-bin","prefix":"3a7","files":{path: FileMeta}}
//! ```
//!
//! Nodes are unsigned canonical JSON, served content-addressed at
//! `_skillreg/tree/{sha256}.json`: a node's bytes never change, and the
//! signed top fixes every node below it, so a node from another snapshot
//! (stale, rolled back or mixed in) cannot pass its parent's hash check.
//! Empty subtrees are left out: a child that is not listed holds no file.
//!
//! [`SnapshotTree`] is the writer's side (a change re-hashes the nodes on
//! one path only); [`verify_node`], [`resolve`] and [`expand`] the reader's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::sign::{canonical, FileMeta};
use crate::blobs::Sha256Digest;

/// Levels below the top: 16³ = 4096 bins (about 25 files, 3 KB, a bin at
/// 100,000 packages).
pub const DEPTH: usize = 3;

/// The largest node a reader accepts, whatever its signed length says: a
/// bin at this size lists about 80,000 files, far beyond what hashing
/// spreads into one bin, so only a hostile registry reaches it.
pub const MAX_NODE_BYTES: u64 = 8 * 1024 * 1024;

/// The `_type` of an interior node.
pub const NODE_TYPE: &str = "snapshot-node";
/// The `_type` of a bin.
pub const BIN_TYPE: &str = "snapshot-bin";

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Where the index file at `path` sits in the tree: the hex of its sha256.
pub fn position(path: &str) -> String {
    Sha256Digest::of(path.as_bytes()).to_hex()
}

/// The prefix of the bin holding `path`.
pub fn bin_of(path: &str) -> String {
    position(path)[..DEPTH].to_string()
}

/// An interior node as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteriorNode {
    /// Always [`NODE_TYPE`].
    pub _type: String,
    /// The hex digits leading to it (1 to `DEPTH - 1` of them).
    pub prefix: String,
    /// One hex digit → the child node with `prefix + digit`.
    pub children: BTreeMap<String, FileMeta>,
}

/// A bin (a leaf) as served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinNode {
    /// Always [`BIN_TYPE`].
    pub _type: String,
    /// The `DEPTH` hex digits every listed path's position starts with.
    pub prefix: String,
    /// Index path → its length and sha256.
    pub files: BTreeMap<String, FileMeta>,
}

/// A verified node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Children by hex digit.
    Interior(BTreeMap<String, FileMeta>),
    /// Files by index path.
    Bin(BTreeMap<String, FileMeta>),
}

/// Why a node (or a top document's children) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Longer than [`MAX_NODE_BYTES`].
    #[error(
        "the snapshot node `{prefix}` is {length} bytes, more than the {limit} a node may have"
    )]
    TooLarge {
        /// The node's prefix.
        prefix: String,
        /// Its signed length.
        length: u64,
        /// [`MAX_NODE_BYTES`].
        limit: u64,
    },
    /// Not the bytes its parent pins: stale, from another snapshot, rolled
    /// back or tampered with.
    #[error("the snapshot node `{prefix}` is {got}, but its parent pins {want}: it is not the node of this snapshot (stale, from another snapshot, or rolled back)")]
    Mismatch {
        /// The node's prefix.
        prefix: String,
        /// What came.
        got: String,
        /// What the parent lists.
        want: String,
    },
    /// The pinned bytes are not a well-formed node of this place.
    #[error("the snapshot node `{prefix}` is malformed: {detail}")]
    Malformed {
        /// The node's prefix.
        prefix: String,
        /// What is wrong.
        detail: String,
    },
}

/// Reads `bytes` as the node at `prefix` that its (verified) parent pins
/// with `meta`: exact length and sha256, the right `_type` and `prefix`,
/// single-hex-digit children, and only files that hash into the bin.
pub fn verify_node(prefix: &str, meta: &FileMeta, bytes: &[u8]) -> Result<Node, TreeError> {
    if meta.length > MAX_NODE_BYTES {
        return Err(TreeError::TooLarge {
            prefix: prefix.into(),
            length: meta.length,
            limit: MAX_NODE_BYTES,
        });
    }
    let sha = Sha256Digest::of(bytes).to_hex();
    if bytes.len() as u64 != meta.length || !sha.eq_ignore_ascii_case(&meta.sha256) {
        return Err(TreeError::Mismatch {
            prefix: prefix.into(),
            got: format!("{} bytes with sha256 {sha}", bytes.len()),
            want: format!("{} bytes with sha256 {}", meta.length, meta.sha256),
        });
    }
    let malformed = |detail: String| TreeError::Malformed {
        prefix: prefix.into(),
        detail,
    };
    let (doc_type, doc_prefix, node) = if prefix.len() < DEPTH {
        let n: InteriorNode =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not a node: {e}")))?;
        check_children(&n.children).map_err(malformed)?;
        (n._type, n.prefix, Node::Interior(n.children))
    } else {
        let n: BinNode =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("not a bin: {e}")))?;
        if let Some(path) = n.files.keys().find(|p| !position(p).starts_with(prefix)) {
            return Err(malformed(format!(
                "it lists `{path}`, whose position {} is not in this bin",
                position(path)
            )));
        }
        (n._type, n.prefix, Node::Bin(n.files))
    };
    let want_type = if prefix.len() < DEPTH {
        NODE_TYPE
    } else {
        BIN_TYPE
    };
    if doc_type != want_type {
        return Err(malformed(format!(
            "`_type` is `{doc_type}`, not `{want_type}`"
        )));
    }
    if doc_prefix != prefix {
        return Err(malformed(format!(
            "it says prefix `{doc_prefix}`, but it sits at `{prefix}`"
        )));
    }
    Ok(node)
}

/// Refuses children keyed by anything but one lowercase hex digit (so a
/// child's prefix is always its parent's plus one digit).
pub fn check_children(children: &BTreeMap<String, FileMeta>) -> Result<(), String> {
    match children
        .keys()
        .find(|k| k.len() != 1 || !HEX.contains(&k.as_bytes()[0]))
    {
        Some(k) => Err(format!("it has a child `{k}`, not one hex digit")),
        None => Ok(()),
    }
}

/// Why [`resolve`] or [`expand`] stopped: the fetch failed, or a node did
/// not verify.
#[derive(Debug, thiserror::Error)]
pub enum WalkError<E> {
    /// The caller's fetch failed.
    #[error("{0}")]
    Fetch(E),
    /// A node was refused.
    #[error("{0}")]
    Tree(#[from] TreeError),
}

/// The signed entry for `path`, walking from the top's `children` down to
/// its bin: `fetch(prefix, meta)` gives the bytes of the node the parent
/// pins with `meta`, each checked with [`verify_node`]. `None` when the
/// snapshot does not list `path`.
pub fn resolve<E>(
    children: &BTreeMap<String, FileMeta>,
    path: &str,
    mut fetch: impl FnMut(&str, &FileMeta) -> Result<Vec<u8>, E>,
) -> Result<Option<FileMeta>, WalkError<E>> {
    check_children(children).map_err(|detail| TreeError::Malformed {
        prefix: String::new(),
        detail,
    })?;
    let position = position(path);
    let mut children = children.clone();
    for level in 1..=DEPTH {
        let prefix = &position[..level];
        let Some(meta) = children.get(&prefix[level - 1..]) else {
            return Ok(None);
        };
        let bytes = fetch(prefix, meta).map_err(WalkError::Fetch)?;
        match verify_node(prefix, meta, &bytes)? {
            Node::Interior(next) => children = next,
            Node::Bin(files) => return Ok(files.get(path).cloned()),
        }
    }
    unreachable!("a node at depth {DEPTH} is a bin")
}

/// Every file of the snapshot whose top lists `children`, every node
/// fetched with `fetch` and verified (fsck, test support, the vectors).
pub fn expand<E>(
    children: &BTreeMap<String, FileMeta>,
    mut fetch: impl FnMut(&str, &FileMeta) -> Result<Vec<u8>, E>,
) -> Result<BTreeMap<String, FileMeta>, WalkError<E>> {
    check_children(children).map_err(|detail| TreeError::Malformed {
        prefix: String::new(),
        detail,
    })?;
    let mut files = BTreeMap::new();
    let mut pending: Vec<(String, FileMeta)> = children
        .iter()
        .map(|(k, m)| (k.clone(), m.clone()))
        .collect();
    while let Some((prefix, meta)) = pending.pop() {
        let bytes = fetch(&prefix, &meta).map_err(WalkError::Fetch)?;
        match verify_node(&prefix, &meta, &bytes)? {
            Node::Interior(next) => {
                pending.extend(next.into_iter().map(|(k, m)| (format!("{prefix}{k}"), m)))
            }
            Node::Bin(listed) => files.extend(listed),
        }
    }
    Ok(files)
}

/// What one [`SnapshotTree::commit`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New nodes: sha256 → bytes, to be served at `_skillreg/tree/{sha256}.json`.
    pub added: Vec<(String, Vec<u8>)>,
    /// sha256 of the nodes the new snapshot no longer names.
    pub retired: Vec<String>,
}

/// The writer's tree: every file's entry by bin, and the current nodes.
/// A change marks one bin dirty; [`commit`](SnapshotTree::commit)
/// re-renders only dirty bins and their ancestors.
#[derive(Debug, Default)]
pub struct SnapshotTree {
    bins: BTreeMap<String, BTreeMap<String, FileMeta>>,
    /// The committed node at each prefix (all levels below the top).
    nodes: HashMap<String, FileMeta>,
    /// sha256 of every committed node.
    live: HashSet<String>,
    dirty: BTreeSet<String>,
}

impl SnapshotTree {
    /// Records `path` with `meta` (taking effect at the next commit).
    pub fn set(&mut self, path: &str, meta: FileMeta) {
        let bin = bin_of(path);
        let files = self.bins.entry(bin.clone()).or_default();
        if files.get(path) != Some(&meta) {
            files.insert(path.to_string(), meta);
            self.dirty.insert(bin);
        }
    }

    /// Forgets `path` (taking effect at the next commit).
    pub fn remove(&mut self, path: &str) {
        let bin = bin_of(path);
        if let Some(files) = self.bins.get_mut(&bin) {
            if files.remove(path).is_some() {
                if files.is_empty() {
                    self.bins.remove(&bin);
                }
                self.dirty.insert(bin);
            }
        }
    }

    /// The entry recorded for `path`.
    pub fn get(&self, path: &str) -> Option<&FileMeta> {
        self.bins.get(&bin_of(path))?.get(path)
    }

    /// Every recorded path.
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.bins.values().flat_map(|files| files.keys())
    }

    /// How many paths are recorded.
    pub fn len(&self) -> usize {
        self.bins.values().map(BTreeMap::len).sum()
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// True when the committed tree names the node with this sha256.
    pub fn is_live(&self, sha256: &str) -> bool {
        self.live.contains(sha256)
    }

    /// The top document's `children`, as of the last commit.
    pub fn children(&self) -> BTreeMap<String, FileMeta> {
        self.children_of("")
    }

    fn children_of(&self, prefix: &str) -> BTreeMap<String, FileMeta> {
        HEX.iter()
            .filter_map(|d| {
                let digit = (*d as char).to_string();
                let meta = self.nodes.get(&format!("{prefix}{digit}"))?;
                Some((digit, meta.clone()))
            })
            .collect()
    }

    /// Re-renders the dirty bins and the nodes above them: O(depth) nodes
    /// per changed bin, whatever the number of files.
    pub fn commit(&mut self) -> Changes {
        let mut changes = Changes::default();
        let mut parents = BTreeSet::new();
        for prefix in std::mem::take(&mut self.dirty) {
            let bytes = self.bins.get(&prefix).map(|files| {
                canonical(&BinNode {
                    _type: BIN_TYPE.into(),
                    prefix: prefix.clone(),
                    files: files.clone(),
                })
            });
            self.replace(&prefix, bytes, &mut changes);
            parents.insert(prefix[..DEPTH - 1].to_string());
        }
        for level in (1..DEPTH).rev() {
            let mut next = BTreeSet::new();
            for prefix in parents {
                let children = self.children_of(&prefix);
                let bytes = (!children.is_empty()).then(|| {
                    canonical(&InteriorNode {
                        _type: NODE_TYPE.into(),
                        prefix: prefix.clone(),
                        children,
                    })
                });
                self.replace(&prefix, bytes, &mut changes);
                next.insert(prefix[..level - 1].to_string());
            }
            parents = next;
        }
        changes
    }

    /// Puts `bytes` (or nothing) at `prefix`, noting what was added and retired.
    fn replace(&mut self, prefix: &str, bytes: Option<Vec<u8>>, changes: &mut Changes) {
        let meta = bytes.as_ref().map(|b| FileMeta {
            length: b.len() as u64,
            sha256: Sha256Digest::of(b).to_hex(),
        });
        let old = self.nodes.get(prefix);
        if old == meta.as_ref() {
            return;
        }
        if let Some(old) = self.nodes.remove(prefix) {
            self.live.remove(&old.sha256);
            changes.retired.push(old.sha256);
        }
        if let (Some(meta), Some(bytes)) = (meta, bytes) {
            self.live.insert(meta.sha256.clone());
            changes.added.push((meta.sha256.clone(), bytes));
            self.nodes.insert(prefix.to_string(), meta);
        }
    }
}

#[cfg(test)]
mod tests;
