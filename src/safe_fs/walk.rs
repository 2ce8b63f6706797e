//! Listing a whole tree from outside: every directory, file and link below
//! a [`Dir`], without following any link, refusing FIFOs, sockets and
//! devices, within a count of entries.

use super::{push_component, Dir, EntryKind, SafeFsError};

/// What one entry of a tree is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeKind {
    /// A directory.
    Dir,
    /// A regular file (opened only when it is read, and judged again then).
    File,
    /// A symbolic link with its target, which nothing here resolves.
    Symlink(String),
}

/// One entry of [`walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// The path below the walked directory, `/`-separated.
    pub path: String,
    /// What it is.
    pub kind: TreeKind,
}

/// Every entry below `dir`, sorted by path, skipping entries named in
/// `skip` at any depth (e.g. `.git`). More than `max_entries` entries, a
/// path more than `max_depth` components deep, a FIFO, socket or device, or
/// a name that is not UTF-8 refuses the tree. The walk keeps a list of
/// directories to visit, not a recursion or an open handle per level, so a
/// deep tree costs neither stack nor file descriptors.
pub fn walk(
    dir: &Dir,
    skip: &[&str],
    max_entries: u64,
    max_depth: usize,
) -> Result<Vec<TreeEntry>, SafeFsError> {
    let mut out = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(prefix) = pending.pop() {
        let here = dir.open_dir(&prefix)?;
        for entry in here.entries()? {
            if skip.contains(&entry.name.as_str()) {
                continue;
            }
            let mut path = prefix.clone();
            push_component(&mut path, &entry.name);
            if out.len() as u64 >= max_entries {
                return Err(SafeFsError::TooLarge {
                    path: dir.path().display().to_string(),
                    size: out.len() as u64 + 1,
                    limit: max_entries,
                });
            }
            if path.split('/').count() > max_depth {
                return Err(SafeFsError::UnsafePath {
                    path: dir.path().join(&path).display().to_string(),
                    reason: "nests deeper than a bundle may",
                });
            }
            let kind = match entry.kind {
                EntryKind::Dir => {
                    pending.push(path.clone());
                    TreeKind::Dir
                }
                EntryKind::File => TreeKind::File,
                EntryKind::Symlink => TreeKind::Symlink(here.read_link(&entry.name)?),
                EntryKind::Special(kind) => {
                    return Err(SafeFsError::NotAFile {
                        path: here.path().join(&entry.name).display().to_string(),
                        kind,
                    })
                }
            };
            out.push(TreeEntry { path, kind });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
