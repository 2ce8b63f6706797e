//! Deterministic packing: the same directory always gives byte-identical bytes.
//!
//! Entries are sorted by path; every header has mtime 0, uid/gid 0 and no
//! owner names; modes are 0755 for directories and executables, 0644 for the
//! rest; the gzip header carries no time and no file name. `.git` is skipped.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs;
use std::path::Path;

use super::BundleError;

/// Directory names never packed.
const SKIPPED: &[&str] = &[".git"];

/// Packs `dir` into a tar.gz.
pub fn pack_dir(dir: &Path) -> Result<Vec<u8>, BundleError> {
    let io = |path: &Path, source| BundleError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut paths = Vec::new();
    collect(dir, dir, &mut paths)?;
    paths.sort();
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for rel in &paths {
        let full = dir.join(rel);
        let meta = fs::symlink_metadata(&full).map_err(|e| io(&full, e))?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&full).map_err(|e| io(&full, e))?;
            let target = target.to_str().ok_or_else(|| BundleError::NonUtf8Path {
                lossy: target.display().to_string(),
            })?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder
                .append_link(&mut header, rel, target)
                .map_err(|e| io(&full, e))?;
        } else if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{rel}/"), std::io::empty())
                .map_err(|e| io(&full, e))?;
        } else {
            use std::os::unix::fs::PermissionsExt;
            let exec = meta.permissions().mode() & 0o111 != 0;
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if exec { 0o755 } else { 0o644 });
            header.set_size(meta.len());
            let file = fs::File::open(&full).map_err(|e| io(&full, e))?;
            builder
                .append_data(&mut header, rel, file)
                .map_err(|e| io(&full, e))?;
        }
    }
    let encoder = builder.into_inner().map_err(|e| io(dir, e))?;
    encoder.finish().map_err(|e| io(dir, e))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), BundleError> {
    let entries = fs::read_dir(dir).map_err(|source| BundleError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| BundleError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        if SKIPPED.iter().any(|s| name == *s) {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .expect("walked below root")
            .to_str()
            .ok_or_else(|| BundleError::NonUtf8Path {
                lossy: path.display().to_string(),
            })?
            .to_string();
        let file_type = entry.file_type().map_err(|source| BundleError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if file_type.is_dir() {
            out.push(rel);
            collect(root, &path, out)?;
        } else if file_type.is_file() || file_type.is_symlink() {
            out.push(rel);
        } else {
            return Err(BundleError::ForbiddenEntry {
                path: rel,
                kind: "special file (socket, device or FIFO)",
            });
        }
    }
    Ok(())
}
