//! Deterministic packing: the same directory always gives byte-identical bytes.
//!
//! Entries are sorted by path; every header has mtime 0, uid/gid 0 and no
//! owner names; modes are 0755 for directories and executables, 0644 for the
//! rest; the gzip header carries no time and no file name. `.git` is skipped.
//!
//! The tree is read through [`crate::safe_fs`], so packing content from
//! outside never follows a link: links are packed as links (for
//! [`super::inspect`] to judge), each file is opened beneath its directory
//! handle and packed with the length `fstat` gave its open handle, and a
//! FIFO or device refuses the tree.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::BTreeMap;
use std::path::Path;

use super::{ArchiveLimits, BundleError};
use crate::safe_fs::{self, Dir, TreeKind};

/// Directory names never packed.
const SKIPPED: &[&str] = &[".git"];

/// Packs `dir` (a directory the caller named) into a tar.gz, within the
/// registry's default limits.
pub fn pack_dir(dir: &Path) -> Result<Vec<u8>, BundleError> {
    let root = Dir::open(dir)?;
    pack_tree(&root, &BTreeMap::new(), &ArchiveLimits::default())
}

/// Packs the tree below `root`, with `extra` files (path → content, mode
/// 0644) added as if they were in it; an extra file whose path the tree
/// already uses, or whose parent in the tree is not a plain directory, is
/// refused. Stops early at the limits.
pub fn pack_tree(
    root: &Dir,
    extra: &BTreeMap<String, Vec<u8>>,
    limits: &ArchiveLimits,
) -> Result<Vec<u8>, BundleError> {
    let walked = safe_fs::walk(root, SKIPPED, limits.max_entries, super::archive::MAX_DEPTH)
        .map_err(|e| match e {
            safe_fs::SafeFsError::TooLarge { .. } => BundleError::TooManyEntries {
                limit: limits.max_entries,
            },
            other => other.into(),
        })?;
    let mut entries: BTreeMap<String, Item> = walked
        .into_iter()
        .map(|e| {
            let item = match e.kind {
                TreeKind::Dir => Item::Dir,
                TreeKind::File => Item::File,
                TreeKind::Symlink(target) => Item::Link(target),
            };
            (e.path, item)
        })
        .collect();
    for (path, content) in extra {
        add_extra(&mut entries, path, content, false)?;
    }
    write(&entries, Some(root), limits)
}

/// Packs files held in memory (path → (executable, content)), with the
/// directories their paths imply, exactly as [`pack_tree`] would pack the
/// same files on disk: a tree an upstream sent as an archive becomes a
/// deterministic bundle without ever touching the disk. A path below
/// another file is refused.
pub fn pack_files(
    files: &BTreeMap<String, (bool, Vec<u8>)>,
    limits: &ArchiveLimits,
) -> Result<Vec<u8>, BundleError> {
    let mut entries = BTreeMap::new();
    for (path, (executable, content)) in files {
        add_extra(&mut entries, path, content, *executable)?;
    }
    write(&entries, None, limits)
}

/// Writes `entries` as the deterministic tar.gz; `Item::File` entries are
/// read beneath `root`.
fn write(
    entries: &BTreeMap<String, Item>,
    root: Option<&Dir>,
    limits: &ArchiveLimits,
) -> Result<Vec<u8>, BundleError> {
    if entries.len() as u64 > limits.max_entries {
        return Err(BundleError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let io = |path: &str, source| BundleError::Io {
        path: match root {
            Some(root) => root.path().join(path).display().to_string(),
            None => path.to_string(),
        },
        source,
    };
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    let mut unpacked = 0u64;
    for (rel, item) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match item {
            Item::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder
                    .append_link(&mut header, rel, target)
                    .map_err(|e| io(rel, e))?;
            }
            Item::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{rel}/"), std::io::empty())
                    .map_err(|e| io(rel, e))?;
            }
            Item::File | Item::Extra(..) => {
                let remaining = limits.max_unpacked.saturating_sub(unpacked);
                let (len, exec, reader): (u64, bool, Box<dyn std::io::Read>) = match (item, root) {
                    (Item::Extra(bytes, exec), _) => {
                        (bytes.len() as u64, *exec, Box::new(&bytes[..]))
                    }
                    (_, None) => unreachable!("files on disk are packed from a root"),
                    (_, Some(root)) => {
                        let file = root.open_file(rel, remaining).map_err(|e| match e {
                            safe_fs::SafeFsError::TooLarge { .. } => {
                                BundleError::UnpackedTooLarge {
                                    limit: limits.max_unpacked,
                                }
                            }
                            other => other.into(),
                        })?;
                        (file.len, file.executable, Box::new(file.into_reader()))
                    }
                };
                unpacked = unpacked.saturating_add(len);
                if unpacked > limits.max_unpacked {
                    return Err(BundleError::UnpackedTooLarge {
                        limit: limits.max_unpacked,
                    });
                }
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if exec { 0o755 } else { 0o644 });
                header.set_size(len);
                builder
                    .append_data(&mut header, rel, reader)
                    .map_err(|e| io(rel, e))?;
            }
        }
    }
    let encoder = builder.into_inner().map_err(|e| io("", e))?;
    let bytes = encoder.finish().map_err(|e| io("", e))?;
    if bytes.len() as u64 > limits.max_compressed {
        return Err(BundleError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_compressed,
        });
    }
    Ok(bytes)
}

/// One entry to pack.
enum Item {
    Dir,
    File,
    Link(String),
    /// Content held in memory, and whether it is executable.
    Extra(Vec<u8>, bool),
}

/// Adds an extra file and the directories it needs; refuses a clash with
/// anything the tree has at that path or on the way to it.
fn add_extra(
    entries: &mut BTreeMap<String, Item>,
    path: &str,
    content: &[u8],
    executable: bool,
) -> Result<(), BundleError> {
    let parts = safe_fs::components(path)?;
    let mut prefix = String::new();
    for (i, part) in parts.iter().enumerate() {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        let last = i + 1 == parts.len();
        match entries.get(&prefix) {
            None if last => {
                entries.insert(prefix.clone(), Item::Extra(content.to_vec(), executable));
            }
            None => {
                entries.insert(prefix.clone(), Item::Dir);
            }
            Some(Item::Dir) if !last => {}
            Some(_) => {
                return Err(BundleError::Occupied {
                    path: prefix,
                    generated: path.to_string(),
                })
            }
        }
    }
    Ok(())
}
