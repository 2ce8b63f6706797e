//! Where a static tree is written: a directory a web server serves, or an
//! S3-compatible bucket. Both take the same writes in the same order
//! (`index-spec/export.md` §4); paths are relative to the tree's top
//! (`index/config.json`, `blobs/{hex}`).

use std::io;
use std::path::{Path, PathBuf};

use super::bucket::BucketTree;
use super::IndexCache;
use crate::blobs::{BlobStore, Sha256Digest};
use crate::bucket::ObjectKind;
use crate::index::sign::paths;

/// A static tree's home.
#[derive(Debug)]
pub enum TreeTarget {
    /// A directory (`[export] dir`, `skillreg export-static OUT`).
    Dir(PathBuf),
    /// A bucket (`[export] target = "s3://…"`).
    Bucket(BucketTree),
}

impl std::fmt::Display for TreeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TreeTarget::Dir(dir) => write!(f, "{}", dir.display()),
            TreeTarget::Bucket(tree) => write!(f, "{}", tree.bucket().url()),
        }
    }
}

impl TreeTarget {
    /// Removes what an interrupted write left that no reader is shown (a
    /// directory's temp files; a bucket has none: a PUT is whole or absent).
    pub fn sweep_temps(&self) -> io::Result<usize> {
        match self {
            TreeTarget::Dir(out) => super::remove_abandoned_temps(out),
            TreeTarget::Bucket(_) => Ok(0),
        }
    }

    /// The names of the files directly in folder `dir`.
    pub fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        match self {
            TreeTarget::Dir(out) => {
                let entries = match std::fs::read_dir(out.join(dir)) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                    entries => entries?,
                };
                let mut names = Vec::new();
                for entry in entries {
                    let entry = entry?;
                    if entry.file_type()?.is_file() {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
                Ok(names)
            }
            TreeTarget::Bucket(tree) => Ok(tree.list_dir(dir)),
        }
    }

    /// Whether the tree holds a file at `rel` (a link counts: it is in
    /// the way of a new file all the same).
    pub fn holds(&self, rel: &str) -> bool {
        match self {
            TreeTarget::Dir(out) => out.join(rel).symlink_metadata().is_ok(),
            TreeTarget::Bucket(tree) => tree.contains(rel),
        }
    }

    /// Removes the file at `rel`, if any.
    pub fn remove(&self, rel: &str) -> io::Result<()> {
        match self {
            TreeTarget::Dir(out) => match std::fs::remove_file(out.join(rel)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            TreeTarget::Bucket(tree) => tree.remove(rel),
        }
    }

    /// Copies a blob to `rel` if it is not there yet, checked against its
    /// name on the way.
    pub fn copy_blob(
        &self,
        rel: &str,
        blobs: &BlobStore,
        digest: &Sha256Digest,
    ) -> io::Result<bool> {
        match self {
            TreeTarget::Dir(out) => super::copy_blob_to(out, rel, blobs, digest),
            TreeTarget::Bucket(tree) => tree.copy_blob(rel, blobs, digest),
        }
    }

    /// Copies a bundle to `blobs/{hex}` if it is not there yet.
    pub fn write_blob(&self, blobs: &BlobStore, digest: &Sha256Digest) -> io::Result<bool> {
        self.copy_blob(&format!("blobs/{}", digest.to_hex()), blobs, digest)
    }

    /// Writes `bytes` at `rel` (a feed document, a ClawHub file), unless
    /// the file there already holds them.
    pub fn write_at(&self, rel: &str, bytes: &[u8]) -> io::Result<bool> {
        match self {
            TreeTarget::Dir(out) => super::write_at(out, rel, bytes),
            TreeTarget::Bucket(tree) => tree.write_at(rel, bytes, ObjectKind::Mutable),
        }
    }

    /// Writes the files at `changed` (index paths) from `cache`, the
    /// snapshot and timestamp after everything they vouch for.
    pub fn write_files(&self, cache: &IndexCache, changed: &[String]) -> io::Result<()> {
        match self {
            TreeTarget::Dir(out) => super::write_files(out, cache, changed),
            TreeTarget::Bucket(tree) => {
                for path in super::write_order(changed) {
                    let Some(file) = cache.get(path) else {
                        continue;
                    };
                    // A node is named by its sha256, but the object there
                    // is compared all the same: another writer may have
                    // replaced it (a node is small, its MD5 cheap).
                    let kind = match path.starts_with(paths::TREE_DIR) {
                        true => ObjectKind::Immutable,
                        false => ObjectKind::Mutable,
                    };
                    tree.write_at(&format!("index/{path}"), &file.body, kind)?;
                }
                Ok(())
            }
        }
    }

    /// Removes the snapshot-tree nodes that `keep` does not name; call only
    /// once the timestamp naming the current snapshot is in place.
    pub fn sweep_tree_nodes(&self, keep: impl Fn(&str) -> bool) -> io::Result<usize> {
        let mut removed = 0;
        for name in self.list_dir(&format!("index/{}", paths::TREE_DIR))? {
            let path = format!("{}/{name}", paths::TREE_DIR);
            if !keep(&path) {
                self.remove(&format!("index/{path}"))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The directory of a directory tree, for what only a directory has.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            TreeTarget::Dir(out) => Some(out),
            TreeTarget::Bucket(_) => None,
        }
    }
}
