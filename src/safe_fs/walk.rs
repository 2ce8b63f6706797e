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
/// FIFO, socket or device, or a name that is not UTF-8 refuses the tree.
pub fn walk(dir: &Dir, skip: &[&str], max_entries: u64) -> Result<Vec<TreeEntry>, SafeFsError> {
    let mut out = Vec::new();
    walk_into(dir, "", skip, max_entries, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk_into(
    dir: &Dir,
    prefix: &str,
    skip: &[&str],
    max_entries: u64,
    out: &mut Vec<TreeEntry>,
) -> Result<(), SafeFsError> {
    for entry in dir.entries()? {
        if skip.contains(&entry.name.as_str()) {
            continue;
        }
        let mut path = prefix.to_string();
        push_component(&mut path, &entry.name);
        if out.len() as u64 >= max_entries {
            return Err(SafeFsError::TooLarge {
                path: dir.path().display().to_string(),
                size: out.len() as u64 + 1,
                limit: max_entries,
            });
        }
        match entry.kind {
            EntryKind::Dir => {
                // Opened by its handle: a directory swapped for a link
                // since the listing is refused here.
                let sub = dir.open_dir(&entry.name)?;
                out.push(TreeEntry {
                    path: path.clone(),
                    kind: TreeKind::Dir,
                });
                walk_into(&sub, &path, skip, max_entries, out)?;
            }
            EntryKind::File => out.push(TreeEntry {
                path,
                kind: TreeKind::File,
            }),
            EntryKind::Symlink => {
                let target = dir.read_link(&entry.name)?;
                out.push(TreeEntry {
                    path,
                    kind: TreeKind::Symlink(target),
                });
            }
            EntryKind::Special(kind) => {
                return Err(SafeFsError::NotAFile {
                    path: dir.path().join(&entry.name).display().to_string(),
                    kind,
                })
            }
        }
    }
    Ok(())
}
