//! Index files as the client reads them: package names checked before they
//! become paths, index paths checked before they are used below the state
//! directory, the lines of an index file, and download URLs from
//! config.json's `dl` (cargo's rules).

use super::fetch::Http;
use super::metadata::{check_bytes, check_type, verify_doc};
use super::{TrustError, MAX_METADATA_BYTES};
use crate::index::sign::{paths, types, FileMeta, IndexFileStatement, Root};
use crate::index::IndexEntry;

/// Checks a package name before it becomes a path or a URL.
pub fn validate_name(name: &str) -> Result<(), TrustError> {
    let ok = !name.is_empty()
        && name.len() <= crate::package::MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(TrustError::BadName {
            name: name.to_string(),
        })
    }
}

/// A name as compared: lowercase, `_` as `-` (cargo's and skillreg's rule).
pub fn normalized_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// cargo's `{prefix}` of a name: `1`, `2`, `3/a`, `ab/cd`.
fn dl_prefix(name: &str) -> String {
    match name.len() {
        1 => "1".into(),
        2 => "2".into(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    }
}

/// The download URL of `name@version` from config.json's `dl`, per cargo:
/// markers are replaced as plain strings; without any marker,
/// `/{crate}/{version}/download` is appended.
pub fn download_url(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{dl}/{name}/{version}/download");
    }
    let prefix = dl_prefix(name);
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{prefix}", &prefix)
        .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
        .replace("{sha256-checksum}", cksum)
}

/// One parsed line of an index file.
#[derive(Clone, Debug)]
pub struct IndexLine {
    /// The entry.
    pub entry: IndexEntry,
    /// Its version, parsed.
    pub version: semver::Version,
    /// The bundle's size, when the line states one (the download cap).
    pub size: Option<u64>,
    /// The line's exact text (a mirror keeps a crate's line verbatim).
    pub raw: String,
}

/// Parses the lines of `name`'s index file; lines that do not parse, or
/// belong to another name, are skipped (as cargo does).
pub fn parse_index_lines(name: &str, bytes: &[u8]) -> Vec<IndexLine> {
    let want = normalized_name(name);
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .filter_map(|l| {
            let raw = std::str::from_utf8(l).ok()?.trim_end_matches('\r');
            let entry: IndexEntry = serde_json::from_str(raw).ok()?;
            if normalized_name(&entry.name) != want {
                return None;
            }
            let version = semver::Version::parse(&entry.vers).ok()?;
            Some(IndexLine {
                raw: raw.to_string(),
                size: entry.size,
                entry,
                version,
            })
        })
        .collect()
}

/// An index path as it may be used below the state directory.
pub(super) fn safe_index_path(path: &str) -> bool {
    // Signed documents live below `_skillreg/`; no index path starts with `_`.
    !path.is_empty()
        && !path.starts_with(['/', '_'])
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'))
}

/// Fetches the index file at `path` (a safe path the verified snapshot
/// lists as `meta`) and checks it against the snapshot and against its own
/// statement, signed by the index role of `root`.
pub(super) fn fetch_verified(
    http: &Http,
    root: &Root,
    path: &str,
    meta: &FileMeta,
) -> Result<Vec<u8>, TrustError> {
    let url = http.index_url(path);
    let bytes = http.need(
        &url,
        meta.length,
        "the snapshot lists this file but the registry does not serve it; if a publish happened just now, retry",
    )?;
    let what = format!("the index file `{path}`");
    check_bytes(&bytes, meta, &what, &url, "snapshot")?;
    let statement = fetch_statement(http, root, path)?;
    check_bytes(
        &bytes,
        &FileMeta {
            length: statement.length,
            sha256: statement.sha256,
        },
        &what,
        &url,
        "statement",
    )?;
    Ok(bytes)
}

/// The verified statement about the index file at `path`: signed by the
/// index role of `root`, and about that path (not moved from another file).
fn fetch_statement(http: &Http, root: &Root, path: &str) -> Result<IndexFileStatement, TrustError> {
    let url = http.index_url(&paths::statement(path));
    let bytes = http.need(
        &url,
        MAX_METADATA_BYTES,
        "the index file has no signed statement",
    )?;
    let statement: IndexFileStatement = verify_doc(
        &bytes,
        types::INDEX_FILE,
        "index-file statement",
        root,
        "index",
        &url,
    )?;
    check_type(&statement._type, "index-file", "index-file statement", &url)?;
    if statement.path != path {
        return Err(TrustError::Inconsistent {
            url,
            detail: format!(
                "the statement is about `{}`, not `{path}` (a statement moved from another file)",
                statement.path
            ),
        });
    }
    Ok(statement)
}
