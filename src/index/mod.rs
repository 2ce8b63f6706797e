//! The sparse index: cargo's path layout, the entry format, and the prepared
//! files the server hands out.
//!
//! Each index file is rendered once per change (publish, yank) into a
//! [`Prepared`] file: body, gzip body, strong ETag and Last-Modified. Serving
//! an index hit is a hash-map lookup, never SQL.

pub mod export;
mod gzip;
pub mod sign;
pub mod snapshot_tree;
pub mod verbatim;

use bytes::Bytes;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use crate::package::Kind;
use crate::store::EntryRow;

/// The index file path for a package name, per cargo's layout (lowercased):
/// `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`.
///
/// ```
/// use skillreg::index::path_for;
/// assert_eq!(path_for("a"), "1/a");
/// assert_eq!(path_for("cc"), "2/cc");
/// assert_eq!(path_for("syn"), "3/s/syn");
/// assert_eq!(path_for("Serde_Json"), "se/rd/serde_json");
/// ```
pub fn path_for(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// One line of an index file: cargo's fields, then skillreg's own.
/// Field order is fixed by this struct, so rendering is deterministic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Package name as published.
    pub name: String,
    /// Exact version.
    pub vers: String,
    /// Dependencies.
    #[serde(default)]
    pub deps: Vec<IndexDep>,
    /// Hex sha256 of the bundle.
    pub cksum: String,
    /// Features in the original syntax.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Features using `dep:` or `?/` syntax (index format v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    /// Yanked: hidden from new resolutions.
    #[serde(default)]
    pub yanked: bool,
    /// The `links` value of a crate.
    #[serde(default)]
    pub links: Option<String>,
    /// Index format version: 2 when `features2` is present (cargo reads a
    /// line without it as 1).
    #[serde(default = "format_v1")]
    pub v: u32,
    /// Minimum Rust version of a crate.
    #[serde(default)]
    pub rust_version: Option<String>,
    /// Publish time, `YYYY-MM-DDTHH:MM:SSZ` (empty when a mirrored
    /// crate's upstream line has none).
    #[serde(default)]
    pub pubtime: String,
    /// skillreg: the package kind (a line without one, as other cargo
    /// registries serve them, is a crate).
    #[serde(default = "crate_kind")]
    pub kind: Kind,
    /// skillreg: one-line description.
    #[serde(default)]
    pub description: Option<String>,
    /// skillreg: licence expression.
    #[serde(default)]
    pub license: Option<String>,
    /// skillreg: the bundle's size in bytes (a cap for downloaders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// skillreg: the publisher's signature, verified at publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

fn format_v1() -> u32 {
    1
}

fn crate_kind() -> Kind {
    Kind::Crate
}

fn yes() -> bool {
    true
}

fn normal_dep() -> String {
    "normal".into()
}

/// Who signed a version, as verified by the registry at publish: the
/// signature is over `PAE(publisher type, canonical PublisherStatement)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The publisher's login.
    pub publisher: String,
    /// The key id (hex sha256 of the public key).
    pub keyid: String,
    /// The public key, hex.
    pub public_key: String,
    /// Base64 ed25519 signature.
    pub sig: String,
}

/// A dependency in an index line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDep {
    /// The name used in code (the alias when renamed).
    pub name: String,
    /// Version requirement.
    pub req: String,
    /// Features enabled on it.
    #[serde(default)]
    pub features: Vec<String>,
    /// Optional dependency.
    #[serde(default)]
    pub optional: bool,
    /// Default features enabled.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// Platform cfg, when target-specific.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `dev` or `build` (cargo reads a missing kind as normal).
    #[serde(default = "normal_dep")]
    pub kind: String,
    /// Index URL of another registry; absent for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The real package name when renamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// An index file ready to serve: bytes and header values built once.
#[derive(Debug)]
pub struct Prepared {
    /// The bytes.
    pub body: Bytes,
    /// The same bytes gzip-compressed, when that is smaller.
    pub gzip: Option<Bytes>,
    /// Strong ETag of the identity body, quoted.
    pub etag: HeaderValue,
    /// Strong ETag of the gzip body (a different representation, so a
    /// different tag).
    pub gzip_etag: HeaderValue,
    /// HTTP date of the last change.
    pub last_modified: HeaderValue,
    /// Unix seconds of the last change (for If-Modified-Since).
    pub modified_unix: i64,
}

impl Prepared {
    /// Prepares `body`, last changed at `modified_unix`.
    pub fn new(body: Vec<u8>, modified_unix: i64) -> Prepared {
        let digest = crate::blobs::Sha256Digest::of(&body);
        let gz = gzip::best(&body);
        let time =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(modified_unix.max(0) as u64);
        // Held for as long as the file is current, so held at their length:
        // rendering leaves up to twice that in capacity (a tenth of the
        // resident size at 10,000 packages).
        Prepared {
            gzip: (gz.len() < body.len()).then(|| Bytes::from(gz.into_boxed_slice())),
            body: Bytes::from(body.into_boxed_slice()),
            etag: HeaderValue::try_from(format!("\"{}\"", &digest.to_hex()[..32]))
                .expect("hex is a valid header value"),
            gzip_etag: HeaderValue::try_from(format!("\"{}-gz\"", &digest.to_hex()[..32]))
                .expect("hex is a valid header value"),
            last_modified: HeaderValue::try_from(httpdate::fmt_http_date(time))
                .expect("HTTP dates are valid header values"),
            modified_unix,
        }
    }
}

/// A stored index line that cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[error("a stored index line has no top-level `yanked` field: {0}")]
pub struct CorruptLine(pub String);

/// Serializes a new entry into the exact line stored forever (`yanked` false).
pub fn line(entry: &IndexEntry) -> String {
    let mut entry = entry.clone();
    entry.yanked = false;
    serde_json::to_string(&entry).expect("index entries serialize")
}

/// Renders a package's index file: each stored line as it was written at
/// publish (or as its upstream served it, [`verbatim`]), with only `yanked`
/// changed. Bytes never drift with code changes.
pub fn render(entries: &[EntryRow]) -> Result<Vec<u8>, CorruptLine> {
    let mut out = Vec::new();
    for row in entries {
        let line = verbatim::with_yanked(&row.entry_json, row.yanked)
            .ok_or_else(|| CorruptLine(row.entry_json.chars().take(200).collect()))?;
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// The prepared index files, by path. Readers clone an `Arc`; writers swap one file.
#[derive(Default)]
pub struct IndexCache {
    files: RwLock<HashMap<String, Arc<Prepared>>>,
}

impl IndexCache {
    /// The file at `path` (as cargo asks for it, e.g. `se/rd/serde`).
    pub fn get(&self, path: &str) -> Option<Arc<Prepared>> {
        self.files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// Installs or replaces the file at `path`.
    pub fn put(&self, path: String, file: Prepared) {
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, Arc::new(file));
    }

    /// Installs or replaces the file at `path` with one already prepared
    /// (served at two paths without preparing it twice).
    pub fn put_shared(&self, path: String, file: Arc<Prepared>) {
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path, file);
    }

    /// Every (path, file), for writing a static tree.
    pub fn entries(&self) -> Vec<(String, Arc<Prepared>)> {
        self.files
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Removes the file at `path`.
    pub fn remove(&self, path: &str) {
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path);
    }

    /// Number of files (for health output).
    pub fn len(&self) -> usize {
        self.files.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no package is published.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The body of `config.json`.
pub fn config_json(base_url: &str, auth_required: bool) -> Vec<u8> {
    let config = serde_json::json!({
        "dl": format!("{base_url}/api/v1/crates"),
        "api": base_url,
        "auth-required": auth_required,
    });
    let mut out = serde_json::to_vec_pretty(&config).expect("static JSON");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests;
