//! Reading the files out of an archive, as hostile input: a stored bundle
//! read again ([`checked_files`]), or a skill archive an upstream sent
//! ([`upstream_files`]: a zip or a tar.gz, as the `skills` CLI and ClawHub
//! serve them).
//!
//! Nothing is written to disk and nothing an archive declares is trusted:
//! every file is read under the caller's unpacked-size budget counted from
//! the bytes that really come out, paths go through
//! [`normalize_path`](super::archive::normalize_path), and links are
//! refused (the agent tools refuse them too, so a link cannot be what an
//! upstream meant). The rules that need the whole tree (`.git`, folded
//! collisions, a path below a file) are judged by [`super::inspect`] when
//! the files are packed again and validated.

use std::collections::BTreeMap;
use std::io::Read;

use super::archive::{is_file_type, normalize_path, MAX_DEPTH};
use super::{inspect, Archive, ArchiveLimits, BundleError, EntryKind};

/// Files by normalized path: (executable, content).
pub type Files = BTreeMap<String, (bool, Vec<u8>)>;

/// Every regular file of a tar.gz that [`inspect`] has checked as
/// `checked`. The second reading takes only what the first proved bounded
/// (each file at most the size it was seen with), so it needs no limits of
/// its own.
pub fn checked_files(bytes: &[u8], checked: &Archive) -> Result<Files, BundleError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Files::new();
    let corrupt = |e: std::io::Error| BundleError::Corrupt(e.to_string());
    for entry in tar.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        // What `inspect` counts as a file, nothing less.
        if !is_file_type(entry.header().entry_type()) {
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Ok(path) = normalize_path(&raw) else {
            continue;
        };
        let Some(seen) = checked.entries.get(&path) else {
            continue;
        };
        if seen.kind != EntryKind::File {
            continue;
        }
        let mut content = Vec::with_capacity(seen.size as usize);
        (&mut entry)
            .take(seen.size)
            .read_to_end(&mut content)
            .map_err(corrupt)?;
        files.insert(path, (seen.executable, content));
    }
    let count = checked
        .entries
        .values()
        .filter(|e| e.kind == EntryKind::File)
        .count();
    if files.len() != count {
        return Err(BundleError::Corrupt(format!(
            "the second reading found {} of its {count} files",
            files.len()
        )));
    }
    Ok(files)
}

/// The files of a skill archive from an upstream: a zip (`PK` magic) or a
/// tar.gz (gzip magic), within `limits`. Links, devices and FIFOs refuse
/// the archive; directories are implied by the files' paths.
pub fn upstream_files(bytes: &[u8], limits: &ArchiveLimits) -> Result<Files, BundleError> {
    if bytes.len() as u64 > limits.max_compressed {
        return Err(BundleError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_compressed,
        });
    }
    if bytes.starts_with(b"PK") {
        return zip_files(bytes, limits);
    }
    let checked = inspect(bytes, limits, |_| false)?;
    if let Some(link) = checked
        .entries
        .values()
        .find(|e| matches!(e.kind, EntryKind::Symlink(_) | EntryKind::Hardlink(_)))
    {
        return Err(link_refused(&link.path));
    }
    checked_files(bytes, &checked)
}

fn link_refused(path: &str) -> BundleError {
    BundleError::ForbiddenEntry {
        path: path.to_string(),
        kind:
            "link (links are refused in archives from an upstream, as the agent tools refuse them)",
    }
}

/// Reads a zip: names must be UTF-8 and normalize safely, each file is read
/// through the remaining unpacked budget (the sizes the zip declares are
/// not believed), encrypted entries and links are refused.
fn zip_files(bytes: &[u8], limits: &ArchiveLimits) -> Result<Files, BundleError> {
    let corrupt =
        |e: zip::result::ZipError| BundleError::Corrupt(format!("not a readable zip: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(corrupt)?;
    if archive.len() as u64 > limits.max_entries {
        return Err(BundleError::TooManyEntries {
            limit: limits.max_entries,
        });
    }
    let mut files = Files::new();
    let mut unpacked = 0u64;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(corrupt)?;
        let raw = std::str::from_utf8(file.name_raw())
            .map_err(|_| BundleError::NonUtf8Path {
                lossy: String::from_utf8_lossy(file.name_raw()).into_owned(),
            })?
            .to_string();
        let path = normalize_path(&raw)?;
        if path.split('/').count() > MAX_DEPTH {
            return Err(BundleError::UnsafePath {
                path,
                reason: "nests more than 64 directories deep",
            });
        }
        if file.encrypted() {
            return Err(BundleError::ForbiddenEntry {
                path,
                kind: "encrypted zip entry",
            });
        }
        let mode = file.unix_mode().unwrap_or(0o644);
        match mode & 0o170000 {
            0o120000 => return Err(link_refused(&raw)),
            0 | 0o100000 | 0o040000 => {}
            _ => {
                return Err(BundleError::ForbiddenEntry {
                    path,
                    kind: "device, FIFO or socket",
                })
            }
        }
        if file.is_dir() || raw.ends_with('/') {
            continue;
        }
        if path.is_empty() {
            return Err(BundleError::UnsafePath {
                path: raw,
                reason: "an entry must have a name",
            });
        }
        let remaining = limits.max_unpacked.saturating_sub(unpacked);
        let mut content = Vec::new();
        (&mut file)
            .take(remaining.saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| BundleError::Corrupt(format!("`{path}` cannot be read: {e}")))?;
        unpacked = unpacked.saturating_add(content.len() as u64);
        if unpacked > limits.max_unpacked {
            return Err(BundleError::UnpackedTooLarge {
                limit: limits.max_unpacked,
            });
        }
        if files.contains_key(&path) {
            return Err(BundleError::DuplicatePath(path));
        }
        files.insert(path, (mode & 0o111 != 0, content));
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
