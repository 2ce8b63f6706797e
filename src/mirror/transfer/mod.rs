//! Air-gap transfer archives: one signed file that carries versions from a
//! connected registry to an air-gapped one.
//!
//! - [`export`] (`skillreg export-transfer`) writes the archive from a data
//!   directory on the connected side.
//! - [`import_archive`] (`skillreg import`, and `drop` sources) reads it as
//!   hostile input, verifies it against a pinned root, stages its blobs and
//!   imports every version in one store transaction. Importing the same
//!   archive twice changes nothing. Versions arrive pending.
//! - [`sync_drop`] runs a `drop` source: its directory is scanned at every
//!   run and watched (inotify, via `notify`) between runs.
//!
//! # The archive
//!
//! A gzip-compressed tar (one gzip member) of regular files, in this order
//! ([`FORMAT`] 2):
//!
//! | entry | what |
//! |---|---|
//! | `manifest.json` | canonical JSON [`Manifest`]: every version, its index line and blob |
//! | `manifest.sig` | an envelope of type [`types::TRANSFER`] over the [`TransferDigest`] of `manifest.json` (its sha256 and size), signed by the exporter's index key |
//! | `roots/N.json` | every root document of the exporter, N = 1, 2, … in ascending order (the bytes it serves at `/index/_skillreg/root/N.json`) |
//! | `blobs/SHA256` | each bundle once, named by the lowercase hex sha256 of its bytes |
//!
//! The importer pins one root of the exporter (`root_key`, `--trust-root`):
//! the archive must carry that root byte-for-byte at its version, and every
//! later root N+1 must verify with the root keys of N and with its own (the
//! rule clients follow). Only the index key of the newest root may sign the
//! manifest's digest. Each blob must match the manifest's sha256 and size.
//! Anything else in the archive (other names, links, `..`, duplicates,
//! roots out of order, data after the end) refuses the whole archive before
//! anything is stored.
//!
//! Memory is bounded by what has been verified: `manifest.json` is streamed
//! to the staging directory while hashed and read only once its signed
//! digest matched; `manifest.sig` and each root are read under small fixed
//! caps, roots are walked as they arrive (only the newest trusted one kept);
//! blobs stream to staged files.
//!
//! # Loose bundles
//!
//! [`export_bundles`] (`export-transfer --bundles`) writes each version as
//! its bundle file and a detached [`BundleSignature`] (`BUNDLE.sig`, at
//! most 1 MiB): a one-version manifest, its digest signed as an archive's
//! is, with the exporter's roots. [`import_bundle`] checks it exactly as an archive is checked, then
//! the bundle's size and sha256 against it.
//!
//! # Drop directories
//!
//! A `drop` source imports files named `*.skillreg-transfer.tar.gz` (see
//! [`SUFFIX`]) and bundle pairs (`BUNDLE` + `BUNDLE.sig`) that appear
//! directly in its `path`. A writer must write under another name (e.g. a
//! leading `.` or a `.part` suffix) in the same directory and rename when
//! complete; as a second guard, a file modified in the last [`SETTLE`] is
//! left for later. Half a pair waits, named in the run's detail. An imported
//! file moves to `path/imported/`, a refused one to `path/rejected/` beside
//! a `NAME.error.txt` saying why. Local trouble (disk, database) leaves the
//! file where it is for the next run.

mod drop;
mod export;
mod import;
mod read_archive;
mod read_bundle;
#[cfg(test)]
mod tests;
mod trust;

pub use drop::{is_archive_name, is_bundle_name, sync_drop, watch_sources};
pub use export::{
    export, export_bundles, parse_since, BundleSignature, BundleWritten, ExportError,
    ExportOptions, ExportSummary,
};
pub use import::{import_archive, import_bundle, import_file, verify_archive, ImportOptions};
pub use trust::PinnedRoot;

use import::*;
use read_archive::*;
use read_bundle::*;
use trust::*;

use crate::bundle::archive::normalize_path;
use crate::config::SourceConfig;
use crate::fsutil::{self, rfc3339, unix_now};
use crate::index::sign::{self, canonical, key_id, types, Envelope, Root};
// The transfer tests build pinned roots with the shared root rule.
#[cfg(test)]
use crate::index::sign::self_signed_root;
use crate::index::IndexEntry;
use crate::keys::{self, KeyRole};
use crate::package::{self, Kind};
use crate::registry::{Imported, Registry, TransferItem, TransferSink};
use crate::store::{Store, SyncRun, VersionStatus};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// The file-name ending a `drop` source imports.
pub const SUFFIX: &str = ".skillreg-transfer.tar.gz";
/// The archive format this build writes and reads: 2, where `manifest.sig`
/// signs a [`TransferDigest`] of the manifest. Format 1 (the signature held
/// the whole manifest) is refused with a request to export again.
pub const FORMAT: u32 = 2;
/// The manifest entry.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's signature entry.
pub const SIGNATURE: &str = "manifest.sig";
/// The ending of a loose bundle's detached signature: `BUNDLE.sig`.
pub const SIGNATURE_SUFFIX: &str = ".sig";
/// The `_type` of a [`BundleSignature`].
pub const BUNDLE_SIGNATURE_TYPE: &str = "transfer-signature";
/// File-name endings a drop directory treats as loose bundles (with or
/// without their signature yet).
pub const BUNDLE_SUFFIXES: [&str; 3] = [".crate", ".tar.gz", ".tgz"];
/// The `_type` of a [`TransferDigest`].
pub const DIGEST_TYPE: &str = "transfer-digest";
/// Largest `BUNDLE.sig`: a one-version manifest, a digest signature and
/// the roots (a few KB each).
const MAX_SIGNATURE_BYTES: u64 = 1024 * 1024;
/// Largest `manifest.sig`: a digest envelope is a few hundred bytes (one
/// signature per index key), whatever the manifest's size.
const MAX_DIGEST_SIGNATURE_BYTES: u64 = 64 * 1024;
/// Where a `drop` source moves imported archives (below its `path`).
pub const IMPORTED_DIR: &str = "imported";
/// Where a `drop` source moves refused archives (below its `path`).
pub const REJECTED_DIR: &str = "rejected";
/// The source name `skillreg import` records runs under by default.
pub const CLI_SOURCE: &str = "import";
/// A file in a drop directory modified more recently than this is left for
/// a later scan (it may still be being written).
pub const SETTLE: Duration = Duration::from_secs(2);
/// Most root documents an archive or bundle signature may carry (the
/// client walks at most as many in one refresh).
const MAX_ROOTS: u64 = 1024;
/// Largest root document, in an archive, a bundle signature or a trust root
/// file. A registry's root names a handful of keys: 1–3 KB.
const MAX_ROOT_BYTES: u64 = 64 * 1024;
/// Most zero bytes allowed after the tar end-of-archive marker.
const MAX_PADDING: u64 = 64 * 1024;
/// mirror_state key prefix: the newest exporter root version imported from a
/// source under one pinned root (see [`PinnedRoot::state_key`]).
const ROOT_STATE_KEY: &str = "transfer:root_version";

/// How much of an archive the importer reads before giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransferLimits {
    /// Largest archive, compressed, and largest total unpacked size.
    pub max_bytes: u64,
    /// Most tar entries.
    pub max_entries: u64,
    /// Largest `manifest.json`. Until its signed digest is checked it
    /// waits in a staging file, so this bounds disk, not memory.
    pub max_manifest_bytes: u64,
}

impl Default for TransferLimits {
    fn default() -> Self {
        TransferLimits {
            max_bytes: 10 * 1024 * 1024 * 1024,
            max_entries: 1_000_000,
            max_manifest_bytes: 256 * 1024 * 1024,
        }
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `transfer`.
    pub _type: String,
    /// [`FORMAT`].
    pub format: u32,
    /// RFC 3339 UTC time of the export.
    pub created: String,
    /// The exporting registry's newest root.
    pub registry: Exporter,
    /// With `--since`: the RFC 3339 time versions were published or decided after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// With `--approved-only`: pending versions were left out.
    pub approved_only: bool,
    /// Every version carried.
    pub versions: Vec<ManifestVersion>,
}

/// Who exported: the newest root's version and each role's key ids.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exporter {
    /// The newest root version (the highest `roots/N.json`).
    pub root_version: u64,
    /// Role (`root`, `index`, `timestamp`) → key ids, as that root names them.
    pub keyids: BTreeMap<String, Vec<String>>,
}

/// One version in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestVersion {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Package kind.
    pub kind: Kind,
    /// Lowercase hex sha256 of the blob.
    pub cksum: String,
    /// Blob size in bytes.
    pub size: u64,
    /// The exporter's index line, exactly as it serves it.
    pub line: String,
    /// `approved` or `pending` on the exporting side.
    pub status: VersionStatus,
    /// RFC 3339 UTC time it was published (or mirrored) on the exporting side.
    pub published: String,
    /// Where it came from before: the exporter's signed admin decision
    /// (`decision`, an envelope) and, if it was mirrored there, its source
    /// and upstream facts (`mirrored`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<serde_json::Value>,
    /// Its entry in the archive: `blobs/` + `cksum`.
    pub blob: String,
}

/// What `manifest.sig` (and a bundle signature's `signature`) signs: the
/// manifest's sha256 and size. The signature stays a few hundred bytes
/// however large the manifest, so it is read and checked before the
/// manifest is (which waits on disk until then).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferDigest {
    /// Always [`DIGEST_TYPE`].
    pub _type: String,
    /// [`FORMAT`].
    pub format: u32,
    /// Lowercase hex sha256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// The manifest's length in bytes.
    pub manifest_size: u64,
}

impl TransferDigest {
    /// The digest of these manifest bytes.
    pub fn of(manifest: &[u8]) -> TransferDigest {
        TransferDigest {
            _type: DIGEST_TYPE.into(),
            format: FORMAT,
            manifest_sha256: crate::blobs::Sha256Digest::of(manifest).to_hex(),
            manifest_size: manifest.len() as u64,
        }
    }
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The archive is refused (signature, contents, shape); importing it
    /// again will not help. Nothing was stored.
    #[error("{0}")]
    Refused(String),
    /// Local trouble (trust root, disk, database); nothing was imported, and
    /// the same archive may be retried.
    #[error("{0}")]
    Local(String),
}

fn refused(message: impl Into<String>) -> TransferError {
    TransferError::Refused(message.into())
}

fn local(message: impl std::fmt::Display) -> TransferError {
    TransferError::Local(message.to_string())
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    limit: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R, limit: u64) -> Hashing<R> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
            limit,
        }
    }

    fn hex(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(TooLarge));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}

impl std::error::Error for TooLarge {}

fn is_too_large(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TooLarge>())
}

/// The file name of a loose bundle: `NAME-VERSION.crate` for crates,
/// `NAME-VERSION.tar.gz` for skills and plugins.
pub fn bundle_file_name(kind: Kind, name: &str, version: &str) -> String {
    match kind {
        Kind::Crate => format!("{name}-{version}.crate"),
        _ => format!("{name}-{version}.tar.gz"),
    }
}

/// `BUNDLE.sig`.
pub fn signature_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.as_os_str().to_os_string();
    name.push(SIGNATURE_SUFFIX);
    PathBuf::from(name)
}

/// A root version as written in a name (`N` of `roots/N.json`): 1, 2, …
/// in canonical decimal.
fn root_version_of(n: &str) -> Option<u64> {
    n.parse()
        .ok()
        .filter(|v: &u64| *v >= 1 && v.to_string() == n)
}

/// True for a lowercase hex sha256 (64 digits).
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
