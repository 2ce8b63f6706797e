//! Writing the index as a static tree any web server can serve:
//!
//! ```text
//! OUT/index/config.json          dl → BASE/blobs/{sha256-checksum}
//! OUT/index/<cargo path>         index files, byte-identical to the daemon's
//! OUT/index/_skillreg/...        signed metadata
//! OUT/blobs/<sha256 hex>         bundles
//! ```
//!
//! Every file is written atomically (temp, fsync, rename, fsync dir), in an
//! order that keeps a reader's view consistent: blobs, then files at new
//! paths, then files replaced in place (index files, statements, feeds),
//! then the snapshot, and the timestamp last; nodes the snapshot no longer
//! names go one snapshot later (`index-spec/export.md` §4).

use std::io;
use std::path::{Path, PathBuf};

mod bucket;
mod target;

pub use bucket::BucketTree;
pub use target::TreeTarget;

use super::sign::paths;
use super::IndexCache;
use crate::blobs::{BlobStore, Sha256Digest};
use crate::crash_point::crash_point;
use crate::fsutil;

/// The `config.json` of a static tree served at `base_url`: downloads come
/// from the content-addressed blob files, and there is no web API.
pub fn config_json(base_url: &str) -> Vec<u8> {
    let config = serde_json::json!({
        "dl": format!("{}/blobs/{{sha256-checksum}}", base_url.trim_end_matches('/')),
        "auth-required": false,
    });
    let mut out = serde_json::to_vec_pretty(&config).expect("static JSON");
    out.push(b'\n');
    out
}

/// Where the file at index path `path` goes below `out`.
pub fn index_file_path(out: &Path, path: &str) -> PathBuf {
    out.join("index").join(path)
}

/// Where a blob goes below `out`.
pub fn blob_path(out: &Path, digest: &Sha256Digest) -> PathBuf {
    out.join("blobs").join(digest.to_hex())
}

/// Copies a blob into the tree if it is not there yet.
pub fn write_blob(out: &Path, blobs: &BlobStore, digest: &Sha256Digest) -> io::Result<bool> {
    copy_blob_to(out, &format!("blobs/{}", digest.to_hex()), blobs, digest)
}

/// Writes `bytes` at `rel` below `out` (a feed document or zip, outside
/// `index/`), durably, unless the file there already holds them.
pub fn write_at(out: &Path, rel: &str, bytes: &[u8]) -> io::Result<bool> {
    let target = out.join(rel);
    if std::fs::read(&target).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    ensure_dir(target.parent().expect("a feed path has a parent"))?;
    replace_served(&target, bytes)?;
    Ok(true)
}

/// Writes a file a web server serves, durably, with a modification time
/// later than the one it replaces. nginx's ETag and Last-Modified are the
/// mtime in whole seconds and the size: a same-size rewrite within the same
/// second (a re-signed timestamp, an entry whose digest changed) would
/// otherwise be answered `304` with the old bytes.
pub fn replace_served(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let before = std::fs::metadata(target).and_then(|m| m.modified()).ok();
    fsutil::write_durable_at(target, bytes, 0o644, "export.before_rename")?;
    crash_point("export.after_rename");
    let Some(before) = before else {
        return Ok(());
    };
    let secs = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    let now = std::fs::metadata(target)?.modified()?;
    if secs(now) <= secs(before) {
        let later = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs(before) + 1);
        std::fs::File::options()
            .write(true)
            .open(target)?
            .set_modified(later)?;
    }
    Ok(())
}

/// Copies a blob to `rel` below `out` if it is not there yet, checking it
/// against its name on the way.
pub fn copy_blob_to(
    out: &Path,
    rel: &str,
    blobs: &BlobStore,
    digest: &Sha256Digest,
) -> io::Result<bool> {
    let target = out.join(rel);
    if target.exists() {
        return Ok(false);
    }
    let bytes = blobs.read(digest)?;
    if Sha256Digest::of(&bytes) != *digest {
        return Err(io::Error::other(format!(
            "blob {digest} in the store does not match its name"
        )));
    }
    ensure_dir(target.parent().expect("a feed path has a parent"))?;
    fsutil::write_durable_at(&target, &bytes, 0o644, "export.before_rename")?;
    crash_point("export.after_rename");
    Ok(true)
}

/// Writes the files at `changed` (index paths) from `cache` into the tree,
/// the snapshot and timestamp after everything they vouch for.
pub fn write_files(out: &Path, cache: &IndexCache, changed: &[String]) -> io::Result<()> {
    for path in write_order(changed) {
        let Some(file) = cache.get(path) else {
            continue;
        };
        let target = index_file_path(out, path);
        // A snapshot-tree node is named by its sha256 and written
        // atomically: one already there (of its length) is these bytes.
        if path.starts_with(paths::TREE_DIR)
            && std::fs::metadata(&target).is_ok_and(|m| m.len() == file.body.len() as u64)
        {
            continue;
        }
        ensure_dir(target.parent().expect("index path has a parent"))?;
        replace_served(&target, &file.body)?;
    }
    Ok(())
}

/// Whether `path` is a snapshot or the timestamp: the documents that make
/// what is written before them visible, so never written ahead of the rest.
pub fn is_signed_top(path: &str) -> bool {
    write_rank(path) >= 2
}

/// Where `path` comes in the write order: roots, then index files,
/// statements and nodes, then snapshots, the timestamp last.
fn write_rank(path: &str) -> u8 {
    if path == paths::TIMESTAMP {
        3
    } else if path.starts_with("_skillreg/snapshot/") {
        2
    } else if path.starts_with("_skillreg/root") {
        0
    } else {
        1
    }
}

/// The index paths of `changed` in the order they are written: roots,
/// then index files, statements and nodes, then snapshots, the timestamp
/// last (`index-spec/export.md` §4).
fn write_order(changed: &[String]) -> Vec<&String> {
    let mut ordered: Vec<&String> = changed.iter().collect();
    ordered.sort_by_key(|p| (write_rank(p), p.as_str()));
    ordered
}

/// Removes the temp files a crash left anywhere below `out` (written and
/// never renamed: no reader was ever shown them), so they do not pile up
/// in a served tree. Returns how many.
pub fn remove_abandoned_temps(out: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            entries => entries?,
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file()
                && fsutil::is_abandoned_temp(&entry.file_name().to_string_lossy())
            {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Removes a file from the tree if present (e.g. a snapshot two versions old).
pub fn remove_file(out: &Path, path: &str) -> io::Result<()> {
    match std::fs::remove_file(index_file_path(out, path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Creates a directory (world-readable: the tree is meant to be served).
fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    if let Some(parent) = dir.parent() {
        fsutil::sync_dir(parent)?;
    }
    Ok(())
}
