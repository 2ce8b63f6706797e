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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::bundle::archive::normalize_path;
use crate::config::SourceConfig;
use crate::fsutil::{self, rfc3339, unix_now};
use crate::index::sign::{self, canonical, key_id, types, Envelope, Root};
use crate::index::IndexEntry;
use crate::keys::{self, KeyRole};
use crate::package::{self, Kind};
use crate::registry::{Imported, Registry, TransferItem, TransferSink};
use crate::store::{Store, SyncRun, VersionStatus};

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
/// Most half pairs one run names in its detail.
const MAX_WAITING_SHOWN: usize = 50;
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

// ---------------------------------------------------------------- export

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Only versions published or decided at or after this (unix seconds).
    pub since: Option<i64>,
    /// Leave pending versions out.
    pub approved_only: bool,
    /// Only these packages (`NAME`, or `NAME@VERSION`); empty = all. Each
    /// must select at least one version.
    pub packages: Vec<String>,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Versions in the manifest.
    pub versions: usize,
    /// Of which pending.
    pub pending: usize,
    /// Blob bytes carried.
    pub blob_bytes: u64,
    /// The exporter's newest root version.
    pub root_version: u64,
    /// sha256 of the archive file.
    pub sha256: String,
}

/// Parses `--since`: an RFC 3339 time (`2025-01-31T00:00:00Z`, or a date
/// `2025-01-31`) or a duration before `now` (`7d`, `12h`).
pub fn parse_since(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    let as_time = if text.len() == 10 {
        humantime::parse_rfc3339(&format!("{text}T00:00:00Z"))
    } else {
        humantime::parse_rfc3339_weak(text)
    };
    if let Ok(t) = as_time {
        return Ok(t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0));
    }
    match humantime::parse_duration(text) {
        Ok(d) => Ok(now.saturating_sub(d.as_secs() as i64)),
        Err(_) => Err(format!(
            "--since `{text}` is neither an RFC 3339 time (2025-01-31T00:00:00Z, 2025-01-31) nor a duration (7d, 12h)"
        )),
    }
}

/// The blob file of `cksum` in a data directory (the blob store's layout).
fn blob_path(data_dir: &Path, cksum: &str) -> PathBuf {
    data_dir
        .join("blobs")
        .join("sha256")
        .join(&cksum[..2])
        .join(cksum)
}

fn read_seed(path: &Path) -> Option<ed25519_dalek::SigningKey> {
    let text = fs::read_to_string(path).ok()?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).ok()?;
    Some(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The index key the newest root names (installed, or pending while a
/// rotation is being settled).
fn index_key(data_dir: &Path, root: &Root) -> Result<ed25519_dalek::SigningKey, String> {
    let wanted = root
        .roles
        .get("index")
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    for path in [
        keys::key_path(data_dir, KeyRole::Index),
        keys::pending_path(data_dir, KeyRole::Index),
    ] {
        if let Some(key) = read_seed(&path) {
            if wanted.contains(&key_id(&key.verifying_key())) {
                return Ok(key);
            }
        }
    }
    Err(format!(
        "no index key in {} is the one root v{} names; start the daemon once (it settles key rotations) and retry",
        keys::keys_dir(data_dir).display(),
        root.version
    ))
}

/// Parses a root envelope written by this registry (not verified).
fn parse_root(bytes: &[u8]) -> Result<Root, String> {
    let envelope = Envelope::from_bytes(bytes).map_err(|e| e.to_string())?;
    sign::parse(&envelope.payload_bytes().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
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

/// What an export carries: the exporter's roots and index key, and the
/// versions chosen by the [`ExportOptions`].
struct Gathered {
    roots: Vec<(u64, Vec<u8>)>,
    root: Root,
    key: ed25519_dalek::SigningKey,
    created: i64,
    versions: Vec<ManifestVersion>,
}

impl Gathered {
    /// The manifest of `versions` (all of them, or one for a loose bundle).
    fn manifest(&self, opts: &ExportOptions, versions: Vec<ManifestVersion>) -> Manifest {
        Manifest {
            _type: "transfer".into(),
            format: FORMAT,
            created: rfc3339(self.created),
            registry: Exporter {
                root_version: self.root.version,
                keyids: self
                    .root
                    .roles
                    .iter()
                    .map(|(role, keys)| (role.clone(), keys.keyids.clone()))
                    .collect(),
            },
            since: opts.since.map(rfc3339),
            approved_only: opts.approved_only,
            versions,
        }
    }
}

/// True when `spec` (`NAME` or `NAME@VERSION`) selects `v`.
fn selects(spec: &str, v: &ManifestVersion) -> bool {
    let (name, version) = match spec.rsplit_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (spec, None),
    };
    package::normalize(name) == package::normalize(&v.name)
        && version.is_none_or(|want| want == v.version)
}

/// Reads what to export from a data directory (works while the daemon runs).
fn gather(data_dir: &Path, opts: &ExportOptions) -> Result<Gathered, String> {
    if !data_dir.join(crate::store::DB_FILE).exists() {
        return Err(format!(
            "{} holds no skillreg database; pass the daemon's --data directory",
            data_dir.display()
        ));
    }
    let store = Store::open(data_dir).map_err(|e| e.to_string())?;
    let roots = store.roots().map_err(|e| e.to_string())?;
    let Some((_, newest)) = roots.last() else {
        return Err("no root document yet: start the daemon once to create the keys".into());
    };
    let root = parse_root(newest).map_err(|e| format!("the stored root is unreadable: {e}"))?;
    let key = index_key(data_dir, &root)?;
    let rows = store
        .transfer_rows(!opts.approved_only, opts.since.unwrap_or(i64::MIN))
        .map_err(|e| e.to_string())?;
    drop(store);

    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        if !is_sha256_hex(&row.cksum) {
            return Err(format!(
                "{}@{} has a malformed stored checksum `{}`",
                row.name, row.version, row.cksum
            ));
        }
        let mut provenance = serde_json::Map::new();
        if let Some(decision) = &row.decision {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(decision) {
                provenance.insert("decision".into(), v);
            }
        }
        if let Some(source) = &row.source {
            provenance.insert(
                "mirrored".into(),
                serde_json::json!({
                    "source": source,
                    "upstream": serde_json::from_str::<serde_json::Value>(&row.upstream)
                        .unwrap_or(serde_json::Value::Null),
                }),
            );
        }
        versions.push(ManifestVersion {
            name: row.name.clone(),
            version: row.version.clone(),
            kind: row.kind,
            cksum: row.cksum.clone(),
            size: row.size,
            line: row.entry_json.clone(),
            status: row.status,
            published: rfc3339(row.published_at),
            provenance: (!provenance.is_empty()).then_some(serde_json::Value::Object(provenance)),
            blob: format!("blobs/{}", row.cksum),
        });
    }
    if !opts.packages.is_empty() {
        for spec in &opts.packages {
            if !versions.iter().any(|v| selects(spec, v)) {
                return Err(format!(
                    "`{spec}` matches no exportable version in {}: it is not there, or it is yanked, rejected, pending (with --approved-only) or older than --since",
                    data_dir.display()
                ));
            }
        }
        versions.retain(|v| opts.packages.iter().any(|spec| selects(spec, v)));
    }
    Ok(Gathered {
        roots,
        root,
        key,
        created: unix_now(),
        versions,
    })
}

/// Reads the blob of `v` from a data directory, checking it against the store.
fn read_blob(data_dir: &Path, v: &ManifestVersion) -> Result<Vec<u8>, String> {
    let path = blob_path(data_dir, &v.cksum);
    let mut bytes = Vec::with_capacity(v.size as usize);
    File::open(&path)
        .and_then(|f| f.take(v.size + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            format!(
                "the blob of {}@{} ({}) cannot be read: {e}",
                v.name,
                v.version,
                path.display()
            )
        })?;
    let sha = crate::blobs::Sha256Digest::of(&bytes).to_hex();
    if bytes.len() as u64 != v.size || sha != v.cksum {
        return Err(format!(
            "the blob of {}@{} ({}) is damaged: {} bytes with sha256 {sha}, the store says {} bytes with {}",
            v.name,
            v.version,
            path.display(),
            bytes.len(),
            v.size,
            v.cksum
        ));
    }
    Ok(bytes)
}

/// Writes a transfer archive of `data_dir` to `out` (through a temp file in
/// the same directory, renamed when complete, so a drop directory never sees
/// half an archive). Works while the daemon runs.
pub fn export(data_dir: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportSummary, String> {
    let gathered = gather(data_dir, opts)?;
    let (roots, created) = (&gathered.roots, gathered.created);
    let manifest = gathered.manifest(opts, gathered.versions.clone());
    let manifest_bytes = canonical(&manifest);
    let signature = sign_digest(&manifest_bytes, &gathered.key).to_bytes();

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = out
        .file_name()
        .ok_or_else(|| format!("{} names no file", out.display()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{file_name}.partial-{}", std::process::id()));
    let write = || -> Result<(String, u64), String> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        let hashing = Hashing::new(BufWriter::new(file), u64::MAX);
        let gz = flate2::write::GzEncoder::new(hashing, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let io = |e: io::Error| format!("cannot write {}: {e}", tmp.display());
        fn add<W: Write>(
            tar: &mut tar::Builder<W>,
            path: &str,
            size: u64,
            mtime: i64,
            data: &mut dyn Read,
        ) -> io::Result<()> {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime as u64);
            header.set_size(size);
            tar.append_data(&mut header, path, data)
        }
        let len = |b: &[u8]| b.len() as u64;
        add(
            &mut tar,
            MANIFEST,
            len(&manifest_bytes),
            created,
            &mut &manifest_bytes[..],
        )
        .map_err(io)?;
        add(
            &mut tar,
            SIGNATURE,
            len(&signature),
            created,
            &mut &signature[..],
        )
        .map_err(io)?;
        for (version, bytes) in roots {
            let path = format!("roots/{version}.json");
            add(&mut tar, &path, len(bytes), created, &mut &bytes[..]).map_err(io)?;
        }
        let mut done = HashSet::new();
        let mut blob_bytes = 0;
        for v in &manifest.versions {
            if !done.insert(v.cksum.clone()) {
                continue;
            }
            let bytes = read_blob(data_dir, v)?;
            add(&mut tar, &v.blob, v.size, created, &mut &bytes[..]).map_err(io)?;
            blob_bytes += v.size;
        }
        let gz = tar.into_inner().map_err(io)?;
        let mut hashing = gz.finish().map_err(io)?;
        hashing.flush().map_err(io)?;
        let sha = hashing.hasher.finalize();
        let file = hashing.inner.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok((hex::encode(sha), blob_bytes))
    };
    let (sha256, blob_bytes) = match write() {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, out).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot move the archive to {}: {e}", out.display())
    })?;
    fsutil::sync_dir(dir).map_err(|e| e.to_string())?;
    Ok(ExportSummary {
        versions: manifest.versions.len(),
        pending: manifest
            .versions
            .iter()
            .filter(|v| v.status == VersionStatus::Pending)
            .count(),
        blob_bytes,
        root_version: gathered.root.version,
        sha256,
    })
}

/// The detached signature of a loose bundle (`BUNDLE.sig`, format 2): a
/// one-version transfer manifest, its digest signed as an archive's is,
/// and the exporter's roots.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    /// Always [`BUNDLE_SIGNATURE_TYPE`].
    pub _type: String,
    /// The manifest, exactly the bytes `signature` signs the digest of
    /// (canonical JSON), naming exactly one version: the bundle beside
    /// this file.
    pub manifest: String,
    /// An envelope of type [`types::TRANSFER`] over the [`TransferDigest`]
    /// of `manifest`, signed by the exporter's index key.
    pub signature: Envelope,
    /// Every root of the exporter, by version (`"1"`, `"2"`, …), as served.
    pub roots: BTreeMap<String, Envelope>,
}

/// One loose bundle [`export_bundles`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleWritten {
    /// `NAME@VERSION`.
    pub what: String,
    /// The bundle file.
    pub bundle: PathBuf,
    /// Its signature, `BUNDLE.sig`.
    pub signature: PathBuf,
    /// Whether it is pending on the exporting side.
    pub pending: bool,
}

/// The file name of a loose bundle: `NAME-VERSION.crate` for crates,
/// `NAME-VERSION.tar.gz` for skills and plugins.
pub fn bundle_file_name(kind: Kind, name: &str, version: &str) -> String {
    match kind {
        Kind::Crate => format!("{name}-{version}.crate"),
        _ => format!("{name}-{version}.tar.gz"),
    }
}

/// Writes each chosen version as a loose bundle and its signature
/// (`BUNDLE.sig`) into `out_dir`: the bundle first, the signature last, each
/// through a hidden temp file renamed into place. Works while the daemon runs.
pub fn export_bundles(
    data_dir: &Path,
    out_dir: &Path,
    opts: &ExportOptions,
) -> Result<Vec<BundleWritten>, String> {
    let gathered = gather(data_dir, opts)?;
    if !out_dir.is_dir() {
        return Err(format!(
            "{} is not a directory; create it first (loose bundles are written into it)",
            out_dir.display()
        ));
    }
    let mut roots = BTreeMap::new();
    for (version, bytes) in &gathered.roots {
        let envelope = Envelope::from_bytes(bytes)
            .map_err(|e| format!("the stored root v{version} is unreadable: {e}"))?;
        roots.insert(version.to_string(), envelope);
    }
    let mut written = Vec::with_capacity(gathered.versions.len());
    for v in &gathered.versions {
        let bytes = read_blob(data_dir, v)?;
        let manifest = canonical(&gathered.manifest(opts, vec![v.clone()]));
        let signature = BundleSignature {
            _type: BUNDLE_SIGNATURE_TYPE.into(),
            signature: sign_digest(&manifest, &gathered.key),
            manifest: String::from_utf8(manifest).map_err(|e| {
                format!("the manifest of {}@{} is not UTF-8: {e}", v.name, v.version)
            })?,
            roots: roots.clone(),
        };
        let bundle = out_dir.join(bundle_file_name(v.kind, &v.name, &v.version));
        let signature_path = signature_path(&bundle);
        let write = |path: &Path, bytes: &[u8]| {
            fsutil::write_durable(path, bytes, 0o644)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        write(&bundle, &bytes)?;
        write(&signature_path, &canonical(&signature))?;
        written.push(BundleWritten {
            what: format!("{}@{}", v.name, v.version),
            bundle,
            signature: signature_path,
            pending: v.status == VersionStatus::Pending,
        });
    }
    Ok(written)
}

/// `BUNDLE.sig`.
pub fn signature_path(bundle: &Path) -> PathBuf {
    let mut name = bundle.as_os_str().to_os_string();
    name.push(SIGNATURE_SUFFIX);
    PathBuf::from(name)
}

// ---------------------------------------------------------------- trust

/// The root an importer trusts: the exporter's root document pinned by
/// `root_key` / `--trust-root` (the output of `skillreg key export-root`).
#[derive(Clone, Debug)]
pub struct PinnedRoot {
    root: Root,
    payload: Vec<u8>,
    origin: String,
}

impl PinnedRoot {
    /// Reads and checks a root envelope file (it must verify with its own root keys).
    pub fn load(path: &Path) -> Result<PinnedRoot, TransferError> {
        let bytes = match fs::metadata(path) {
            Ok(m) if m.len() > MAX_ROOT_BYTES => {
                return Err(local(format!(
                    "the trust root {} is larger than {MAX_ROOT_BYTES} bytes; it must be the output of `skillreg key export-root`",
                    path.display()
                )))
            }
            Ok(_) => fs::read(path),
            Err(e) => Err(e),
        }
        .map_err(|e| local(format!("cannot read the trust root {}: {e}", path.display())))?;
        let (root, payload) = self_signed_root(&bytes).map_err(|e| {
            local(format!(
                "the trust root {} is not a valid root document ({e}); use the output of `skillreg key export-root` on the exporting registry",
                path.display()
            ))
        })?;
        Ok(PinnedRoot {
            root,
            payload,
            origin: path.display().to_string(),
        })
    }

    /// The pinned root's version.
    pub fn version(&self) -> u64 {
        self.root.version
    }

    /// Where the newest root version imported under this pin is kept: a
    /// source re-pinned to another registry starts afresh.
    fn state_key(&self) -> String {
        let digest = crate::blobs::Sha256Digest::of(&self.payload).to_hex();
        format!("{ROOT_STATE_KEY}:{}", &digest[..16])
    }
}

/// Parses a root envelope and checks that it verifies with its own root
/// keys and is well formed (the client's rule).
fn self_signed_root(bytes: &[u8]) -> Result<(Root, Vec<u8>), sign::VerifyError> {
    let envelope = Envelope::from_bytes(bytes)?;
    let unverified: Root = sign::parse(&envelope.payload_bytes()?)?;
    let role = unverified
        .roles
        .get("root")
        .ok_or_else(|| sign::VerifyError::Malformed("the root names no `root` role".into()))?;
    let payload = envelope.verify(types::ROOT, "root", role, &unverified.keys)?;
    let root: Root = sign::parse(&payload)?;
    if root._type != "root" || root.spec_version != "1" {
        return Err(sign::VerifyError::Malformed(format!(
            "`_type` `{}` / `spec_version` `{}`: not a version-1 root",
            root._type, root.spec_version
        )));
    }
    for (id, key) in &root.keys {
        if key_id(&key.verifying_key()?) != *id {
            return Err(sign::VerifyError::Malformed(format!(
                "the key listed as {id} has another key id"
            )));
        }
    }
    Ok((root, payload))
}

/// The exporter's root chain, walked one root at a time from the pinned
/// root: the one root walk of archives and bundle signatures. Roots come
/// in ascending version order. Those below the pinned version are not
/// needed and are dropped; the one at the pinned version must be the pinned
/// root byte for byte; each later one must verify with the previous root's
/// root keys and with its own (the rule clients follow). Only the newest
/// trusted root is kept, so a walk holds one root however many arrive.
struct RootChain<'a> {
    pinned: &'a PinnedRoot,
    /// The file the roots come from, in messages (`the archive`, `X.sig`).
    what: String,
    /// The newest trusted root: the pinned one until a later root chains.
    trusted: Root,
    /// The root at the pinned version was met, and matched.
    met_pinned: bool,
    /// The highest version taken so far (0: none yet).
    newest: u64,
    /// How many roots were taken.
    count: u64,
}

impl<'a> RootChain<'a> {
    /// A walk from `pinned` over the roots carried by `what`.
    fn new(pinned: &'a PinnedRoot, what: &str) -> RootChain<'a> {
        RootChain {
            pinned,
            what: what.to_string(),
            trusted: pinned.root.clone(),
            met_pinned: false,
            newest: 0,
            count: 0,
        }
    }

    /// Takes root `version` (its envelope bytes, as served). Refused when
    /// it breaks the order, the count or size caps, differs from the pin, or
    /// does not chain from the newest trusted root.
    fn push(&mut self, version: u64, bytes: &[u8]) -> Result<(), TransferError> {
        self.count += 1;
        if self.count > MAX_ROOTS {
            return Err(refused(format!(
                "{} carries more than {MAX_ROOTS} roots",
                self.what
            )));
        }
        if bytes.len() as u64 > MAX_ROOT_BYTES {
            return Err(refused(format!(
                "root v{version} in {} is {} bytes, more than the {MAX_ROOT_BYTES} a root may have (a registry's root is a few KB): it was not written by `skillreg export-transfer`; refused",
                self.what,
                bytes.len()
            )));
        }
        if version <= self.newest {
            return Err(refused(format!(
                "root v{version} in {} comes after root v{}: roots must be in ascending version order, each once (as `skillreg export-transfer` writes them); export it again",
                self.what, self.newest
            )));
        }
        self.newest = version;
        let pinned = self.pinned.root.version;
        match version.cmp(&pinned) {
            // Older than the pin: the pin already vouches for what follows.
            std::cmp::Ordering::Less => Ok(()),
            std::cmp::Ordering::Equal => self.match_pinned(bytes),
            std::cmp::Ordering::Greater => self.chain(version, bytes),
        }
    }

    /// The root at the pinned version must be the pinned root.
    fn match_pinned(&mut self, bytes: &[u8]) -> Result<(), TransferError> {
        let version = self.pinned.root.version;
        let payload = Envelope::from_bytes(bytes)
            .and_then(|e| e.payload_bytes())
            .map_err(|e| {
                refused(format!(
                    "root v{version} in {} is malformed: {e}",
                    self.what
                ))
            })?;
        if payload != self.pinned.payload {
            return Err(refused(format!(
                "{}'s root v{version} differs from the pinned root {}: it was made by another registry or for another trust root (or it is damaged); refused",
                self.what, self.pinned.origin
            )));
        }
        self.met_pinned = true;
        Ok(())
    }

    /// Root `version` above the pin must follow the newest trusted root.
    fn chain(&mut self, version: u64, bytes: &[u8]) -> Result<(), TransferError> {
        if !self.met_pinned {
            return Err(refused(format!(
                "{} does not carry root v{} (the pinned root's version) before root v{version}: roots come in ascending version order and must include the pinned one, else nothing can be checked against {}",
                self.what, self.pinned.root.version, self.pinned.origin
            )));
        }
        let next = self.trusted.version + 1;
        let chain = |detail: String| {
            refused(format!(
                "root v{next} in {} does not chain from the pinned root: {detail}",
                self.what
            ))
        };
        if version != next {
            return Err(chain(format!(
                "root v{next} is missing (v{version} follows v{})",
                next - 1
            )));
        }
        let envelope = Envelope::from_bytes(bytes).map_err(|e| chain(e.to_string()))?;
        let old_role =
            self.trusted.roles.get("root").ok_or_else(|| {
                chain(format!("root v{} names no root role", self.trusted.version))
            })?;
        envelope
            .verify(types::ROOT, "root", old_role, &self.trusted.keys)
            .map_err(|e| {
                chain(format!(
                    "it is not signed by the root keys of v{}: {e}",
                    self.trusted.version
                ))
            })?;
        let (root, _) = self_signed_root(bytes)
            .map_err(|e| chain(format!("it is not signed by its own root keys: {e}")))?;
        if root.version != next {
            return Err(chain(format!("it says version {}", root.version)));
        }
        self.trusted = root;
        Ok(())
    }

    fn without_pinned(&self) -> TransferError {
        refused(format!(
            "{} does not carry root v{} (the pinned root's version), so it cannot be checked against {}",
            self.what, self.pinned.root.version, self.pinned.origin
        ))
    }

    /// The newest trusted root, once every root was taken. Refused if none
    /// came, the newest is older than the pin or expired, or it is older than
    /// `seen.0`, the newest already imported from source `seen.1` (a rollback).
    fn finish(&self, seen: (u64, &str)) -> Result<Root, TransferError> {
        let pinned = self.pinned.root.version;
        if self.newest == 0 {
            return Err(refused(format!(
                "{} carries no root document (roots/N.json)",
                self.what
            )));
        }
        if self.newest < pinned {
            return Err(refused(format!(
                "{}'s newest root is v{}, older than the pinned root v{pinned} ({}): it was exported before a key rotation the pinned root already follows; export it again",
                self.what, self.newest, self.pinned.origin
            )));
        }
        if !self.met_pinned {
            return Err(self.without_pinned());
        }
        let trusted = &self.trusted;
        let expires = humantime::parse_rfc3339(&trusted.expires).map_err(|e| {
            refused(format!(
                "root v{} has a malformed expiry: {e}",
                trusted.version
            ))
        })?;
        if expires <= SystemTime::now() {
            return Err(refused(format!(
                "the exporter's newest root v{} expired at {}; the exporting registry renews it when its daemon runs: start it, then export again",
                trusted.version, trusted.expires
            )));
        }
        if trusted.version < seen.0 {
            return Err(refused(format!(
                "{} was signed under the exporter's root v{}, but a transfer under root v{} was already imported from source `{}`: a retired key may have signed it; export it again",
                self.what, trusted.version, seen.0, seen.1
            )));
        }
        Ok(trusted.clone())
    }
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

/// Signs the digest of `manifest` (a `manifest.sig`, or a bundle
/// signature's `signature`) with the exporter's index key.
fn sign_digest(manifest: &[u8], key: &ed25519_dalek::SigningKey) -> Envelope {
    Envelope::sign(
        types::TRANSFER,
        &canonical(&TransferDigest::of(manifest)),
        &[key],
    )
}

/// The refusal of a format-1 transfer: its signature carries the whole
/// manifest, so it cannot be checked before the manifest is read whole.
fn format_1(what: &str) -> TransferError {
    refused(format!(
        "{what} signs a whole manifest: this is a transfer of format 1, which this skillreg no longer reads (format {FORMAT} signs only the manifest's sha256 and size, so that nothing unverified is held in memory); export it again with this skillreg version (`skillreg export-transfer`, with --bundles for loose bundles)"
    ))
}

/// True when a signature payload looks like a whole manifest (format 1).
/// Only for the message: nothing is trusted from it.
fn is_format_1_manifest(payload: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        _type: String,
    }
    serde_json::from_slice::<Probe>(payload).is_ok_and(|p| p._type == "transfer")
}

/// Parses a signed payload as a [`TransferDigest`] of this [`FORMAT`];
/// `what` names the signature in messages.
fn parse_digest(payload: &[u8], what: &str) -> Result<TransferDigest, TransferError> {
    let digest: TransferDigest = match serde_json::from_slice(payload) {
        Ok(digest) => digest,
        Err(_) if is_format_1_manifest(payload) => return Err(format_1(what)),
        Err(e) => {
            return Err(refused(format!(
                "{what} does not sign a transfer digest ({e}); make the transfer with `skillreg export-transfer`"
            )))
        }
    };
    if digest._type != DIGEST_TYPE || digest.format != FORMAT {
        return Err(refused(format!(
            "{what} signs a `{}` document of format {}; this skillreg reads `{DIGEST_TYPE}` format {FORMAT}: export it again with this skillreg version",
            digest._type, digest.format
        )));
    }
    if !is_sha256_hex(&digest.manifest_sha256) {
        return Err(refused(format!(
            "{what}: `manifest_sha256` is not 64 lowercase hex digits"
        )));
    }
    Ok(digest)
}

/// Checks a digest signature with the newest root's index key (only that
/// key may sign a transfer) and returns the signed digest.
fn verify_digest(
    envelope: &Envelope,
    root: &Root,
    what: &str,
) -> Result<TransferDigest, TransferError> {
    let index = root.roles.get("index").ok_or_else(|| {
        refused(format!(
            "the exporter's root v{} names no index role",
            root.version
        ))
    })?;
    let payload = envelope
        .verify(types::TRANSFER, "index", index, &root.keys)
        .map_err(|e| {
            refused(format!(
                "the manifest signature is refused: {e} (only the index key of the exporter's newest root v{} may sign {what})",
                root.version
            ))
        })?;
    parse_digest(&payload, what)
}

/// Refuses a manifest of `size` bytes with `sha256` that is not the one
/// `digest` signs. `what` names the signature, `manifest` the manifest.
fn check_digest(
    digest: &TransferDigest,
    sha256: &str,
    size: u64,
    what: &str,
    manifest: &str,
) -> Result<(), TransferError> {
    if digest.manifest_size != size || digest.manifest_sha256 != sha256 {
        return Err(refused(format!(
            "{what} is signed but over other bytes than {manifest} ({} bytes with sha256 {}; {manifest} is {size} bytes with sha256 {sha256}): the manifest was changed or damaged",
            digest.manifest_size, digest.manifest_sha256
        )));
    }
    Ok(())
}

/// Parses a verified manifest and checks its own consistency; returns it
/// with each version's parsed line.
fn check_manifest(
    manifest_bytes: &[u8],
    root: &Root,
) -> Result<(Manifest, Vec<IndexEntry>), TransferError> {
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| refused(format!("manifest.json is malformed: {e}")))?;
    if manifest._type != "transfer" || manifest.format != FORMAT {
        return Err(refused(format!(
            "manifest.json is a `{}` document of format {}; this skillreg reads `transfer` format {FORMAT}",
            manifest._type, manifest.format
        )));
    }
    if manifest.registry.root_version != root.version {
        return Err(refused(format!(
            "the manifest names root v{} but the archive's newest root is v{}",
            manifest.registry.root_version, root.version
        )));
    }
    let mut lines = Vec::with_capacity(manifest.versions.len());
    let mut seen = HashSet::new();
    for v in &manifest.versions {
        let what = format!("{}@{}", v.name, v.version);
        let bad = |detail: &str| refused(format!("manifest.json: {what}: {detail}"));
        if !is_sha256_hex(&v.cksum) {
            return Err(bad("`cksum` is not 64 lowercase hex digits"));
        }
        if v.blob != format!("blobs/{}", v.cksum) {
            return Err(bad("`blob` is not `blobs/` followed by its cksum"));
        }
        if v.status == VersionStatus::Rejected {
            return Err(bad("a transfer carries approved or pending versions only"));
        }
        let line: IndexEntry = serde_json::from_str(&v.line)
            .map_err(|e| bad(&format!("its index line is malformed: {e}")))?;
        if line.name != v.name
            || line.vers != v.version
            || line.cksum != v.cksum
            || line.kind != v.kind
            || line.size.is_some_and(|s| s != v.size)
        {
            return Err(bad(
                "its index line names another name, version, kind, checksum or size",
            ));
        }
        if !seen.insert((package::normalize(&v.name), v.version.clone())) {
            return Err(bad("it is listed twice"));
        }
        lines.push(line);
    }
    Ok((manifest, lines))
}

// ---------------------------------------------------------------- import

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The source name runs, owners (`mirror:NAME`) and state are kept under.
    pub source: String,
    /// The exporter's pinned root.
    pub trust: PinnedRoot,
    /// Approve versions the exporter had approved (a `drop` source's
    /// `auto_approve`); pending ones stay pending.
    pub auto_approve: bool,
    /// Reading limits.
    pub limits: TransferLimits,
}

/// A verified, staged archive.
struct Verified {
    manifest: Manifest,
    lines: Vec<IndexEntry>,
    root: Root,
    sha256: String,
}

/// A unique staging directory below the data dir, removed on drop.
struct Staging {
    dir: PathBuf,
}

impl Staging {
    fn new(data_dir: &Path) -> io::Result<Staging> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let parent = data_dir.join("mirror").join("transfer-staging");
        fsutil::create_private_dir(&parent)?;
        // Debris of a crash: staging dirs untouched for a day.
        if let Ok(entries) = fs::read_dir(&parent) {
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(24 * 3600));
                if old {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = parent.join(format!(
            "{}-{}-{}",
            std::process::id(),
            unix_now(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fsutil::create_private_dir(&dir)?;
        Ok(Staging { dir })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A reader that fails once more than `remaining` bytes come out of the
/// decompressor: the gzip-bomb guard.
struct Budget<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            self.remaining = 0;
            return Err(io::Error::other(TooLarge));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn read_error(e: io::Error, limits: &TransferLimits) -> TransferError {
    if is_too_large(&e) {
        refused(format!(
            "the archive is larger than {} bytes (compressed or unpacked); raise --max-bytes if it is genuine",
            limits.max_bytes
        ))
    } else {
        refused(format!("the archive is corrupt or truncated: {e}"))
    }
}

/// Reads a whole small entry, at most `limit` bytes.
fn read_entry(
    entry: &mut impl Read,
    path: &str,
    size: u64,
    limit: u64,
    limits: &TransferLimits,
) -> Result<Vec<u8>, TransferError> {
    if size > limit {
        return Err(refused(format!(
            "`{path}` is {size} bytes, more than the {limit} allowed"
        )));
    }
    let mut out = Vec::with_capacity(size as usize);
    entry
        .take(size + 1)
        .read_to_end(&mut out)
        .map_err(|e| read_error(e, limits))?;
    if out.len() as u64 != size {
        return Err(refused(format!(
            "`{path}` claims {size} bytes but the archive holds {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Copies an entry into the new file `to` (or only reads it, for `None`)
/// with a fixed buffer, and returns the sha256 and count of its bytes.
/// Read errors are the archive's fault; write errors are ours.
fn copy_hashed(
    entry: &mut impl Read,
    to: Option<&Path>,
    limits: &TransferLimits,
) -> Result<(String, u64), TransferError> {
    let stage = |e: io::Error, path: &Path| local(format!("cannot stage {}: {e}", path.display()));
    let mut out = match to {
        Some(path) => Some(BufWriter::new(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| stage(e, path))?,
        )),
        None => None,
    };
    let mut hashing = Hashing::new(entry, u64::MAX);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = hashing.read(&mut buf).map_err(|e| read_error(e, limits))?;
        if n == 0 {
            break;
        }
        if let (Some(out), Some(path)) = (out.as_mut(), to) {
            out.write_all(&buf[..n]).map_err(|e| stage(e, path))?;
        }
    }
    // Not fsynced: staging is scratch; the blob store's put is durable.
    if let (Some(mut out), Some(path)) = (out, to) {
        out.flush().map_err(|e| stage(e, path))?;
    }
    let count = hashing.count;
    Ok((hashing.hex(), count))
}

/// `manifest.json` staged on disk, not yet verified.
struct StagedManifest {
    path: PathBuf,
    sha256: String,
    size: u64,
}

/// Streams `manifest.json` into the staging directory while hashing it:
/// never held in memory, at most `limits.max_manifest_bytes` on disk.
fn stage_manifest(
    entry: &mut impl Read,
    size: u64,
    limits: &TransferLimits,
    staging: &Path,
) -> Result<StagedManifest, TransferError> {
    if size > limits.max_manifest_bytes {
        return Err(refused(format!(
            "`{MANIFEST}` is {size} bytes, more than the {} allowed; raise --max-manifest-bytes if it is genuine",
            limits.max_manifest_bytes
        )));
    }
    let path = staging.join(MANIFEST);
    let (sha256, count) = copy_hashed(entry, Some(&path), limits)?;
    if count != size {
        return Err(refused(format!(
            "`{MANIFEST}` claims {size} bytes but the archive holds {count}"
        )));
    }
    Ok(StagedManifest { path, sha256, size })
}

/// Reads `manifest.sig` (at most [`MAX_DIGEST_SIGNATURE_BYTES`]) as an
/// envelope, not yet verified. A format-1 signature is refused here, by
/// its size or by its payload, before anything else is read.
fn read_signature(
    entry: &mut impl Read,
    size: u64,
    limits: &TransferLimits,
) -> Result<Envelope, TransferError> {
    if size > MAX_DIGEST_SIGNATURE_BYTES {
        return Err(refused(format!(
            "`{SIGNATURE}` is {size} bytes, more than the {MAX_DIGEST_SIGNATURE_BYTES} allowed: a format-{FORMAT} signature covers only the manifest's sha256 and size (a few hundred bytes); if this archive is of format 1 (its signature holds the whole manifest), export it again with this skillreg version"
        )));
    }
    let bytes = read_entry(entry, SIGNATURE, size, MAX_DIGEST_SIGNATURE_BYTES, limits)?;
    let envelope = Envelope::from_bytes(&bytes)
        .map_err(|e| refused(format!("manifest.sig is not a signed envelope: {e}")))?;
    // Unverified, but bounded: only to refuse a format-1 archive by name now.
    let payload = envelope
        .payload_bytes()
        .map_err(|e| refused(format!("manifest.sig is not a signed envelope: {e}")))?;
    parse_digest(&payload, "the archive's manifest.sig")?;
    Ok(envelope)
}

/// A blob the manifest names: its size, whether to keep it, whether seen.
struct BlobPlan {
    size: u64,
    stage: bool,
    seen: bool,
}

/// What the entries before the blobs gave: the staged manifest, its
/// signature (not yet verified) and the root walk so far.
struct Head<'a> {
    manifest: Option<StagedManifest>,
    signature: Option<Envelope>,
    chain: RootChain<'a>,
}

/// The verified head of an archive: its manifest, lines, newest trusted
/// root and the plan for its blobs.
struct Settled {
    manifest: Manifest,
    lines: Vec<IndexEntry>,
    root: Root,
    plans: HashMap<String, BlobPlan>,
}

/// At the first blob (or the end): finishes the root walk, verifies the
/// digest signature with the newest root's index key, compares it with the
/// staged manifest, and only then reads and parses the manifest and plans
/// its blobs: those of versions over `max_blob` or `known` (already stored)
/// are checked but not staged.
fn settle(
    head: &Head,
    seen: (u64, &str),
    max_blob: u64,
    known: &dyn Fn(&str, &str) -> bool,
) -> Result<Settled, TransferError> {
    let (Some(staged), Some(signature)) = (&head.manifest, &head.signature) else {
        return Err(refused(
            "the archive must begin with manifest.json and manifest.sig",
        ));
    };
    let root = head.chain.finish(seen)?;
    let digest = verify_digest(signature, &root, SIGNATURE)?;
    check_digest(&digest, &staged.sha256, staged.size, SIGNATURE, MANIFEST)?;
    // Verified: now it may be read, and it is as large as was signed.
    let mut bytes = Vec::with_capacity(staged.size as usize);
    File::open(&staged.path)
        .and_then(|f| f.take(staged.size + 1).read_to_end(&mut bytes))
        .map_err(|e| local(format!("cannot read the staged manifest: {e}")))?;
    if bytes.len() as u64 != staged.size {
        return Err(local("the staged manifest changed size; retry"));
    }
    let (manifest, lines) = check_manifest(&bytes, &root)?;
    drop(bytes);
    let mut plans: HashMap<String, BlobPlan> = HashMap::new();
    for v in &manifest.versions {
        let stage = v.size <= max_blob && !known(&v.name, &v.version);
        let plan = plans.entry(v.cksum.clone()).or_insert(BlobPlan {
            size: v.size,
            stage: false,
            seen: false,
        });
        if plan.size != v.size {
            return Err(refused(format!(
                "manifest.json: blob {} is listed with two sizes",
                v.cksum
            )));
        }
        plan.stage |= stage;
    }
    Ok(Settled {
        manifest,
        lines,
        root,
        plans,
    })
}

/// Streams blob `hex` (entry `path` of `size` bytes) into the staging
/// directory when its plan says so, and refuses it unless it has the signed
/// manifest's size and sha256.
fn stage_blob(
    entry: &mut impl Read,
    path: &str,
    hex: &str,
    size: u64,
    plans: &mut HashMap<String, BlobPlan>,
    staging: &Path,
    limits: &TransferLimits,
) -> Result<(), TransferError> {
    let plan = plans
        .get_mut(hex)
        .ok_or_else(|| refused(format!("`{path}` is not named by the signed manifest")))?;
    if size != plan.size {
        return Err(refused(format!(
            "`{path}` is {size} bytes but the signed manifest says {}",
            plan.size
        )));
    }
    let staged = staging.join(hex);
    let (sha, copied) = copy_hashed(entry, plan.stage.then_some(staged.as_path()), limits)?;
    if copied != plan.size || sha != hex {
        let _ = fs::remove_file(&staged);
        return Err(refused(format!(
            "`{path}` does not match the signed manifest: its sha256 is {sha} ({copied} bytes); the archive was changed or damaged"
        )));
    }
    plan.seen = true;
    Ok(())
}

/// The gzip and tar layers over an archive file.
type ArchiveTar = tar::Archive<Budget<flate2::bufread::GzDecoder<BufReader<Hashing<File>>>>>;

/// Opens an archive: a regular file (never through a symlink) within
/// `limits.max_bytes` that starts as gzip. Its bytes are hashed as they are
/// read, and what comes out of the decompressor is capped (the gzip-bomb
/// guard).
fn open_archive(file: &Path, limits: &TransferLimits) -> Result<ArchiveTar, TransferError> {
    let (handle, _) = open_regular(
        file,
        "a transfer archive (raise --max-bytes if it is genuine)",
        limits.max_bytes,
    )?;
    let mut head = [0u8; 2];
    {
        let mut h = &handle;
        if h.read_exact(&mut head).is_err() || head != [0x1f, 0x8b] {
            return Err(refused(
                "not a gzip file; a transfer archive is the .tar.gz `skillreg export-transfer` writes",
            ));
        }
        io::Seek::seek(&mut h, io::SeekFrom::Start(0)).map_err(local)?;
    }
    let hashing = Hashing::new(handle, limits.max_bytes);
    let gz = flate2::bufread::GzDecoder::new(BufReader::with_capacity(64 * 1024, hashing));
    let budget = Budget {
        inner: gz,
        remaining: limits
            .max_bytes
            .saturating_add(limits.max_entries.saturating_mul(1024))
            .saturating_add(MAX_PADDING),
    };
    Ok(tar::Archive::new(budget))
}

/// What an archive entry is, by its name.
enum Part {
    Manifest,
    Signature,
    Root(u64),
    Blob(String),
}

impl Part {
    fn of(path: &str) -> Result<Part, TransferError> {
        if path == MANIFEST {
            Ok(Part::Manifest)
        } else if path == SIGNATURE {
            Ok(Part::Signature)
        } else if let Some(n) = path
            .strip_prefix("roots/")
            .and_then(|n| n.strip_suffix(".json"))
        {
            root_version_of(n)
                .map(Part::Root)
                .ok_or_else(|| refused(format!("`{path}` is not roots/N.json with N = 1, 2, …")))
        } else if let Some(hex) = path.strip_prefix("blobs/").filter(|h| is_sha256_hex(h)) {
            Ok(Part::Blob(hex.to_string()))
        } else {
            Err(refused(format!(
                "unexpected entry `{path}`: a transfer archive holds only manifest.json, manifest.sig, roots/N.json and blobs/SHA256"
            )))
        }
    }
}

/// The checks every tar entry passes: its count, name, kind, uniqueness
/// and the total unpacked size.
#[derive(Default)]
struct Admission {
    paths: HashSet<String>,
    entries: u64,
    files: u64,
    unpacked: u64,
}

impl Admission {
    /// Admits one entry: its normalized path and position among the files,
    /// or `None` for one to pass over (the `roots`/`blobs` directories, a
    /// pax global header).
    fn admit<R: Read>(
        &mut self,
        entry: &tar::Entry<R>,
        limits: &TransferLimits,
    ) -> Result<Option<(String, u64)>, TransferError> {
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(refused(format!(
                "the archive has more than {} entries; raise --max-entries if it is genuine",
                limits.max_entries
            )));
        }
        let raw = entry.path_bytes();
        let raw = std::str::from_utf8(&raw).map_err(|_| {
            refused(format!(
                "an entry name is not UTF-8: {}",
                String::from_utf8_lossy(&raw)
            ))
        })?;
        let path = normalize_path(raw).map_err(|e| match e {
            crate::bundle::BundleError::UnsafePath { path, reason } => {
                refused(format!("hostile entry name `{path}`: {reason}"))
            }
            other => refused(format!("hostile entry name: {other}")),
        })?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory if path == "roots" || path == "blobs" => return Ok(None),
            tar::EntryType::XGlobalHeader => return Ok(None),
            other => {
                return Err(refused(format!(
                    "`{raw}` is a {other:?} entry; a transfer archive holds regular files only"
                )))
            }
        }
        if !self.paths.insert(path.clone()) {
            return Err(refused(format!("`{path}` appears twice in the archive")));
        }
        self.unpacked = self.unpacked.saturating_add(entry.size());
        if self.unpacked > limits.max_bytes {
            return Err(refused(format!(
                "the archive unpacks to more than {} bytes; raise --max-bytes if it is genuine",
                limits.max_bytes
            )));
        }
        self.files += 1;
        Ok(Some((path, self.files - 1)))
    }
}

/// After the tar end marker: only zero padding, then nothing after the
/// gzip member. Returns the sha256 of the whole file.
fn finish_archive(tar: ArchiveTar, limits: &TransferLimits) -> Result<String, TransferError> {
    let mut rest = tar.into_inner();
    let mut buf = [0u8; 8192];
    let mut padding = 0u64;
    loop {
        let n = rest.read(&mut buf).map_err(|e| read_error(e, limits))?;
        if n == 0 {
            break;
        }
        padding += n as u64;
        if buf[..n].iter().any(|b| *b != 0) || padding > MAX_PADDING {
            return Err(refused("there is data after the end of the tar archive"));
        }
    }
    let mut reader = rest.inner.into_inner();
    if !reader
        .fill_buf()
        .map_err(|e| read_error(e, limits))?
        .is_empty()
    {
        return Err(refused(
            "data follows the gzip stream (a second gzip member or garbage); an archive is one gzip member",
        ));
    }
    Ok(reader.into_inner().hex())
}

/// Reads, verifies and stages an archive, holding in memory only what is
/// small or verified: the manifest is staged on disk and read only once
/// its signed digest matched; `manifest.sig` and each root have small caps;
/// the roots are walked as they arrive; blobs stream to staged files.
/// Blobs of versions `known` (already stored here) are verified but not
/// staged. An archive whose newest root is older than `seen.0` (the newest
/// imported from source `seen.1`) is a rollback: refused before any blob
/// is read.
fn read_archive(
    file: &Path,
    pinned: &PinnedRoot,
    limits: &TransferLimits,
    max_blob: u64,
    staging: &Path,
    known: &dyn Fn(&str, &str) -> bool,
    seen: (u64, &str),
) -> Result<Verified, TransferError> {
    let mut tar = open_archive(file, limits)?;
    let mut admission = Admission::default();
    let mut head = Head {
        manifest: None,
        signature: None,
        chain: RootChain::new(pinned, "the archive"),
    };
    let mut settled: Option<Settled> = None;
    for entry in tar.entries().map_err(|e| read_error(e, limits))? {
        let mut entry = entry.map_err(|e| read_error(e, limits))?;
        let Some((path, position)) = admission.admit(&entry, limits)? else {
            continue;
        };
        let size = entry.size();
        match Part::of(&path)? {
            Part::Manifest if position != 0 => {
                return Err(refused("manifest.json must be the first entry"))
            }
            Part::Manifest => {
                head.manifest = Some(stage_manifest(&mut entry, size, limits, staging)?)
            }
            Part::Signature if position != 1 => {
                return Err(refused("manifest.sig must be the second entry"))
            }
            Part::Signature => head.signature = Some(read_signature(&mut entry, size, limits)?),
            Part::Root(_) if settled.is_some() || position < 2 => {
                return Err(refused(
                    "roots/N.json must follow manifest.sig and precede every blob",
                ))
            }
            Part::Root(_) if size > MAX_ROOT_BYTES => {
                return Err(refused(format!(
                    "`{path}` is {size} bytes, more than the {MAX_ROOT_BYTES} allowed for a root (a registry's root is a few KB): this is not an archive `skillreg export-transfer` wrote; refused"
                )))
            }
            Part::Root(version) => {
                let bytes = read_entry(&mut entry, &path, size, MAX_ROOT_BYTES, limits)?;
                head.chain.push(version, &bytes)?;
            }
            Part::Blob(hex) => {
                let plans = match &mut settled {
                    Some(s) => &mut s.plans,
                    None => &mut settled.insert(settle(&head, seen, max_blob, known)?).plans,
                };
                stage_blob(&mut entry, &path, &hex, size, plans, staging, limits)?;
            }
        }
    }
    let settled = match settled {
        Some(s) => s,
        None => settle(&head, seen, max_blob, known)?,
    };
    if let Some((hex, _)) = settled.plans.iter().find(|(_, p)| !p.seen) {
        return Err(refused(format!(
            "blobs/{hex}, named by the signed manifest, is missing from the archive"
        )));
    }
    let sha256 = finish_archive(tar, limits)?;
    Ok(Verified {
        manifest: settled.manifest,
        lines: settled.lines,
        root: settled.root,
        sha256,
    })
}

/// Adds an import outcome to a run's counts.
fn tally(run: &mut SyncRun, what: &str, outcome: &Imported) {
    super::sync::count(run, what, outcome.clone());
}

/// The newest exporter root imported under `opts.trust` from `opts.source`.
fn seen_root(sink: &dyn TransferSink, opts: &ImportOptions) -> Result<u64, TransferError> {
    Ok(sink
        .state(&opts.source, &opts.trust.state_key())
        .map_err(local)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn staging(sink: &dyn TransferSink) -> Result<Staging, TransferError> {
    Staging::new(sink.data_dir()).map_err(|e| {
        local(format!(
            "cannot create a staging directory in {}: {e}",
            sink.data_dir().display()
        ))
    })
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Verifies `file` against `opts.trust`, stages its blobs and imports every
/// version in one store transaction, adding the outcome to `run`. On error
/// nothing was stored (a blob may have been put in the content-addressed
/// store only when the transaction itself failed).
pub fn import_archive(
    sink: &dyn TransferSink,
    file: &Path,
    opts: &ImportOptions,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let seen = seen_root(sink, opts)?;
    let staging = staging(sink)?;
    let known = |name: &str, version: &str| sink.status(name, version).ok().flatten().is_some();
    let verified = read_archive(
        file,
        &opts.trust,
        &opts.limits,
        sink.config().limits.max_bundle_bytes,
        &staging.dir,
        &known,
        (seen, &opts.source),
    )?;
    let carrier = serde_json::json!({
        "archive": file_name_of(file),
        "archive_sha256": verified.sha256,
    });
    store_verified(sink, opts, &staging, verified, carrier, seen, run)
}

/// Verifies a loose bundle and its signature (`BUNDLE.sig`) against
/// `opts.trust`, then imports the version as [`import_archive`] does.
pub fn import_bundle(
    sink: &dyn TransferSink,
    bundle: &Path,
    opts: &ImportOptions,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let seen = seen_root(sink, opts)?;
    let staging = staging(sink)?;
    let signature = signature_path(bundle);
    let verified = read_bundle(
        bundle,
        &signature,
        &opts.trust,
        sink.config().limits.max_bundle_bytes,
        &staging.dir,
        (seen, &opts.source),
    )?;
    let carrier = serde_json::json!({
        "bundle": file_name_of(bundle),
        "signature": file_name_of(&signature),
        "signature_sha256": verified.sha256,
    });
    store_verified(sink, opts, &staging, verified, carrier, seen, run)
}

/// Opens a file of a drop directory or the command line: never through a
/// symlink, and only a regular file of at most `limit` bytes (else refused).
fn open_regular(path: &Path, what: &str, limit: u64) -> Result<(File, u64), TransferError> {
    let handle = OpenOptions::new()
        .read(true)
        // O_NONBLOCK: a FIFO swapped in must not hang the open.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refused(format!(
                "{} is a symbolic link; {what} must be a regular file",
                path.display()
            )),
            _ => local(format!("cannot open {}: {e}", path.display())),
        })?;
    let meta = handle.metadata().map_err(local)?;
    if !meta.is_file() {
        return Err(refused(format!(
            "{} is not a regular file; {what} must be one",
            path.display()
        )));
    }
    if meta.len() > limit {
        return Err(refused(format!(
            "{} is {} bytes, more than the {limit} allowed for {what}",
            path.display(),
            meta.len()
        )));
    }
    Ok((handle, meta.len()))
}

/// Parses a bundle signature file; a format-1 one (whose `manifest` is an
/// envelope over the whole manifest) gets its own message.
fn parse_bundle_signature(bytes: &[u8], sig_name: &str) -> Result<BundleSignature, TransferError> {
    /// The shape of a format-1 `BUNDLE.sig`, only to name it.
    #[derive(serde::Deserialize)]
    struct Format1 {
        _type: String,
        #[allow(dead_code)]
        manifest: Envelope,
    }
    let detached: BundleSignature = serde_json::from_slice(bytes).map_err(|e| {
        match serde_json::from_slice::<Format1>(bytes) {
            Ok(old) if old._type == BUNDLE_SIGNATURE_TYPE => format_1(sig_name),
            _ => refused(format!(
                "{sig_name} is not a bundle signature ({e}); make one with `skillreg export-transfer --bundles`"
            )),
        }
    })?;
    if detached._type != BUNDLE_SIGNATURE_TYPE {
        return Err(refused(format!(
            "{sig_name} is a `{}` document, not a `{BUNDLE_SIGNATURE_TYPE}`",
            detached._type
        )));
    }
    Ok(detached)
}

/// Reads a bundle signature (at most [`MAX_SIGNATURE_BYTES`]) and verifies
/// it as an archive's head is verified: the roots in version order through
/// the one root walk, the digest signature with the newest root's index
/// key, the manifest against the digest, then the manifest itself, which
/// must name exactly one version. Returns it with the file's sha256.
fn verify_bundle_signature(
    signature: &Path,
    pinned: &PinnedRoot,
    seen: (u64, &str),
) -> Result<(Manifest, Vec<IndexEntry>, Root, String), TransferError> {
    let sig_name = file_name_of(signature);
    let (handle, len) = open_regular(signature, "a bundle signature", MAX_SIGNATURE_BYTES)?;
    let mut sig_bytes = Vec::with_capacity(len as usize);
    handle
        .take(MAX_SIGNATURE_BYTES)
        .read_to_end(&mut sig_bytes)
        .map_err(|e| local(format!("cannot read {}: {e}", signature.display())))?;
    let detached = parse_bundle_signature(&sig_bytes, &sig_name)?;
    // A JSON object is keyed as text ("10" < "2"): walk them by number.
    let mut roots = Vec::with_capacity(detached.roots.len());
    for (n, envelope) in &detached.roots {
        let version = root_version_of(n).ok_or_else(|| {
            refused(format!(
                "{sig_name}: root key `{n}` is not a version 1, 2, …"
            ))
        })?;
        roots.push((version, envelope));
    }
    roots.sort_by_key(|(version, _)| *version);
    let mut chain = RootChain::new(pinned, &sig_name);
    for (version, envelope) in roots {
        chain.push(version, &envelope.to_bytes())?;
    }
    let root = chain.finish(seen)?;
    let digest = verify_digest(&detached.signature, &root, &sig_name)?;
    let manifest_bytes = detached.manifest.as_bytes();
    let sha256 = crate::blobs::Sha256Digest::of(manifest_bytes).to_hex();
    let what = format!("the manifest in {sig_name}");
    check_digest(
        &digest,
        &sha256,
        manifest_bytes.len() as u64,
        &sig_name,
        &what,
    )?;
    let (manifest, lines) = check_manifest(manifest_bytes, &root)?;
    if manifest.versions.len() != 1 {
        return Err(refused(format!(
            "{sig_name} names {} versions; a bundle signature names exactly one",
            manifest.versions.len()
        )));
    }
    let file_sha = crate::blobs::Sha256Digest::of(&sig_bytes).to_hex();
    Ok((manifest, lines, root, file_sha))
}

/// Stages a loose bundle, hashing the bytes it copies (so a file changed
/// meanwhile cannot slip through); refused unless they are `v`'s signed
/// size and sha256.
fn stage_bundle(bundle: &Path, v: &ManifestVersion, staging: &Path) -> Result<(), TransferError> {
    let what = format!("{}@{}", v.name, v.version);
    let (handle, len) = open_regular(bundle, "a bundle", u64::MAX)?;
    if len != v.size {
        return Err(refused(format!(
            "{} is {len} bytes but its signature says {what} is {} bytes; the file was changed or truncated",
            bundle.display(),
            v.size
        )));
    }
    let staged = staging.join(&v.cksum);
    let mut out = BufWriter::new(File::create(&staged).map_err(local)?);
    let mut hashing = Hashing::new(handle.take(v.size + 1), u64::MAX);
    io::copy(&mut hashing, &mut out).map_err(|e| {
        local(format!(
            "cannot stage {} in {}: {e}",
            bundle.display(),
            staging.display()
        ))
    })?;
    out.flush().map_err(local)?;
    let count = hashing.count;
    let sha = hashing.hex();
    if count != v.size || sha != v.cksum {
        let _ = fs::remove_file(&staged);
        return Err(refused(format!(
            "{} does not match its signature: its sha256 is {sha} ({count} bytes), {what} is signed as {} ({} bytes); the file was changed or damaged",
            bundle.display(),
            v.cksum,
            v.size
        )));
    }
    Ok(())
}

/// Reads and verifies a loose bundle's signature, then stages the bundle.
fn read_bundle(
    bundle: &Path,
    signature: &Path,
    pinned: &PinnedRoot,
    max_blob: u64,
    staging: &Path,
    seen: (u64, &str),
) -> Result<Verified, TransferError> {
    let (manifest, lines, root, sha256) = verify_bundle_signature(signature, pinned, seen)?;
    // A bundle too large for this registry is not read: the import skips it.
    if let Some(v) = manifest.versions.first().filter(|v| v.size <= max_blob) {
        stage_bundle(bundle, v, staging)?;
    }
    Ok(Verified {
        manifest,
        lines,
        root,
        sha256,
    })
}

/// Imports the versions of a verified archive or bundle whose blobs are in
/// `staging`, in one store transaction, and remembers the exporter root.
fn store_verified(
    sink: &dyn TransferSink,
    opts: &ImportOptions,
    staging: &Staging,
    verified: Verified,
    carrier: serde_json::Value,
    seen_root: u64,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let max_blob = sink.config().limits.max_bundle_bytes;
    let mut exporter = serde_json::json!({
        "created": verified.manifest.created,
        "root_version": verified.root.version,
        "index_keyids": verified.root.roles.get("index").map(|r| r.keyids.clone()),
    });
    if let (Some(exporter), serde_json::Value::Object(carrier)) =
        (exporter.as_object_mut(), carrier)
    {
        exporter.extend(carrier);
    }
    let mut items = Vec::new();
    let mut outcomes: Vec<(String, Option<Imported>)> = Vec::new();
    for (v, line) in verified.manifest.versions.iter().zip(verified.lines) {
        let what = format!("{}@{}", v.name, v.version);
        run.discovered += 1;
        if v.size > max_blob {
            outcomes.push((
                what.clone(),
                Some(Imported::Skipped(format!(
                    "{what}: its bundle is {} bytes, more than this registry's max_bundle_bytes ({max_blob})",
                    v.size
                ))),
            ));
            continue;
        }
        if line.yanked {
            outcomes.push((
                what.clone(),
                Some(Imported::Skipped(format!(
                    "{what}: yanked upstream, not imported"
                ))),
            ));
            continue;
        }
        items.push(TransferItem {
            kind: v.kind,
            name: v.name.clone(),
            version: v.version.clone(),
            blob: staging.dir.join(&v.cksum),
            line,
            auto_approve: opts.auto_approve && v.status == VersionStatus::Approved,
            upstream: serde_json::json!({
                "transfer": exporter,
                "signature": "verified",
                "upstream_status": v.status,
                "published": v.published,
                "provenance": v.provenance,
            }),
        });
        outcomes.push((what, None));
    }
    let imported = sink.import_batch(&opts.source, &items).map_err(|e| {
        local(format!(
            "storing the archive's versions failed (nothing was stored): {e}"
        ))
    })?;
    let mut imported = imported.into_iter();
    for (what, outcome) in outcomes {
        let outcome = match outcome {
            Some(o) => o,
            None => imported.next().expect("one outcome per item"),
        };
        tally(run, &what, &outcome);
    }
    if verified.root.version > seen_root {
        sink.set_state(
            &opts.source,
            &opts.trust.state_key(),
            &verified.root.version.to_string(),
        )
        .map_err(local)?;
    }
    Ok(())
}

/// `skillreg import`: imports one archive, or one loose bundle (`file` is
/// `BUNDLE` with `BUNDLE.sig` beside it, or `BUNDLE.sig`), and records it as
/// a sync run of `opts.source`. Returns the run.
pub fn import_file(
    sink: &dyn TransferSink,
    file: &Path,
    opts: &ImportOptions,
) -> Result<SyncRun, TransferError> {
    let id = sink.begin_run(&opts.source).map_err(local)?;
    let mut run = SyncRun {
        status: "completed".into(),
        ..Default::default()
    };
    let bundle = match file_name_of(file).strip_suffix(SIGNATURE_SUFFIX) {
        Some(bundle) if !bundle.is_empty() => Some(file.with_file_name(bundle)),
        _ => fs::symlink_metadata(signature_path(file))
            .is_ok()
            .then(|| file.to_path_buf()),
    };
    let result = match &bundle {
        Some(bundle) => import_bundle(sink, bundle, opts, &mut run),
        None => import_archive(sink, file, opts, &mut run).map_err(|e| match e {
            TransferError::Refused(why) if is_bundle_name(&file_name_of(file)) => refused(format!(
                "{why} (if it is a loose bundle, put its signature {} beside it)",
                file_name_of(&signature_path(file))
            )),
            other => other,
        }),
    };
    if let Err(e) = &result {
        run.status = "failed".into();
        run.failed += 1;
        run.error = Some(e.to_string());
        run.detail.push(format!("{}: {e}", file.display()));
    }
    sink.end_run(id, &run).map_err(local)?;
    result.map(|()| run)
}

// ---------------------------------------------------------------- drop sources

/// One lock per source, so a scheduled run and the watcher never import
/// the same file twice.
fn source_lock(name: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone()
}

/// True for a name a drop directory imports as a transfer archive.
pub fn is_archive_name(name: &str) -> bool {
    name.len() > SUFFIX.len() && name.ends_with(SUFFIX) && !name.starts_with('.')
}

/// True for a name a drop directory treats as a loose bundle.
pub fn is_bundle_name(name: &str) -> bool {
    !name.starts_with('.')
        && !is_archive_name(name)
        && BUNDLE_SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// Something in a drop directory ready to import.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Candidate {
    /// A transfer archive.
    Archive(PathBuf),
    /// A loose bundle; its signature is `BUNDLE.sig` beside it.
    Bundle(PathBuf),
}

impl Candidate {
    fn path(&self) -> &Path {
        match self {
            Candidate::Archive(p) | Candidate::Bundle(p) => p,
        }
    }
}

/// What a look at a drop directory found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    /// Ready to import, sorted by name.
    ready: Vec<Candidate>,
    /// Some files were too fresh to take.
    deferred: bool,
    /// Half of a bundle pair (a bundle without its signature, or a signature
    /// without its bundle), left in place, with what it waits for.
    waiting: Vec<String>,
}

/// Looks at a drop directory: the archives and bundle pairs ready there,
/// whether some were too fresh, and the halves of pairs still waiting.
fn candidates(dir: &Path) -> io::Result<Scan> {
    // Regular files only (never symlinks), by name, with whether they settled.
    let mut files: BTreeMap<String, bool> = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        // Renamed or removed since the listing (a writer's `.part` rename).
        let meta = match fs::symlink_metadata(entry.path()) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.file_type().is_file() {
            continue;
        }
        let settled = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age >= SETTLE);
        files.insert(name.to_string(), settled);
    }
    let mut scan = Scan::default();
    let take = |scan: &mut Scan, settled: bool, candidate: Candidate| {
        if settled {
            scan.ready.push(candidate);
        } else {
            scan.deferred = true;
        }
    };
    for (name, settled) in &files {
        let path = dir.join(name);
        if is_archive_name(name) {
            take(&mut scan, *settled, Candidate::Archive(path));
        } else if let Some(bundle) = name
            .strip_suffix(SIGNATURE_SUFFIX)
            .filter(|b| is_bundle_name(b))
        {
            match files.get(bundle) {
                Some(bundle_settled) => take(
                    &mut scan,
                    *settled && *bundle_settled,
                    Candidate::Bundle(dir.join(bundle)),
                ),
                None => scan
                    .waiting
                    .push(format!("{name}: waiting for its bundle {bundle}")),
            }
        } else if is_bundle_name(name) && !files.contains_key(&format!("{name}{SIGNATURE_SUFFIX}"))
        {
            scan.waiting.push(format!(
                "{name}: waiting for its signature {name}{SIGNATURE_SUFFIX} (`skillreg export-transfer --bundles` writes both); an unsigned bundle is never imported"
            ));
        }
    }
    scan.ready.sort_by(|a, b| a.path().cmp(b.path()));
    if scan.waiting.len() > MAX_WAITING_SHOWN {
        let more = scan.waiting.len() - MAX_WAITING_SHOWN;
        scan.waiting.truncate(MAX_WAITING_SHOWN);
        scan.waiting.push(format!(
            "… and {more} more half pairs waiting in {}",
            dir.display()
        ));
    }
    Ok(scan)
}

/// Splits a file name into a stem and the ending a drop directory knows it by.
fn split_known_suffix(name: &str) -> (&str, &str) {
    for suffix in std::iter::once(SUFFIX).chain(BUNDLE_SUFFIXES) {
        if let Some(stem) = name.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            return (stem, suffix);
        }
    }
    (name, "")
}

/// `dir/sub`, created if missing; refused unless it is a real directory
/// (a symlink planted there must not send files elsewhere).
fn own_subdir(dir: &Path, sub: &str) -> io::Result<PathBuf> {
    let target_dir = dir.join(sub);
    match fs::create_dir(&target_dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    if !fs::symlink_metadata(&target_dir)?.file_type().is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory (a symlink?); remove it, skillreg creates it",
            target_dir.display()
        )));
    }
    Ok(target_dir)
}

/// Moves `file` (and, for a bundle, its signature) into `dir/sub/`,
/// keeping its name unless it is taken. A pair is linked into place, made
/// durable, then unlinked from the drop directory (the signature last), so a
/// crash leaves at worst a duplicate or a lone signature, never a bundle
/// that lost its signature.
fn move_into(dir: &Path, sub: &str, candidate: &Candidate) -> io::Result<PathBuf> {
    let file = candidate.path();
    let target_dir = own_subdir(dir, sub)?;
    let name = file_name_of(file);
    let (stem, suffix) = split_known_suffix(&name);
    let taken = |p: &Path| {
        fs::symlink_metadata(p).is_ok() || fs::symlink_metadata(signature_path(p)).is_ok()
    };
    let mut target = target_dir.join(&name);
    let mut n = 1;
    while taken(&target) {
        n += 1;
        target = target_dir.join(format!("{stem}-{n}{suffix}"));
    }
    match candidate {
        Candidate::Archive(_) => {
            fs::rename(file, &target)?;
            fsutil::sync_dir(&target_dir)?;
        }
        Candidate::Bundle(bundle) => {
            fs::hard_link(bundle, &target)?;
            if let Err(e) = fs::hard_link(signature_path(bundle), signature_path(&target)) {
                let _ = fs::remove_file(&target);
                return Err(e);
            }
            fsutil::sync_dir(&target_dir)?;
            fs::remove_file(bundle)?;
            fs::remove_file(signature_path(bundle))?;
        }
    }
    fsutil::sync_dir(dir)?;
    Ok(target)
}

/// Imports what is ready in a drop directory (the caller holds the source's
/// lock): each imported archive or bundle pair moves to `imported/`, each
/// refused one to `rejected/`. Local trouble stops the scan, leaving the
/// file in place.
fn scan_locked(
    sink: &dyn TransferSink,
    source: &SourceConfig,
    ready: Vec<Candidate>,
    run: &mut SyncRun,
) -> Result<(), String> {
    if ready.is_empty() {
        return Ok(());
    }
    let trust = PinnedRoot::load(&source.root_key).map_err(|e| e.to_string())?;
    let opts = ImportOptions {
        source: source.name.clone(),
        trust,
        auto_approve: source.auto_approve,
        limits: TransferLimits::default(),
    };
    for candidate in ready {
        let file = candidate.path();
        let shown = file.display().to_string();
        let (what, result) = match &candidate {
            Candidate::Archive(_) => ("transfer archive", import_archive(sink, file, &opts, run)),
            Candidate::Bundle(_) => ("bundle", import_bundle(sink, file, &opts, run)),
        };
        match result {
            Ok(()) => {
                let to = move_into(&source.path, IMPORTED_DIR, &candidate).map_err(|e| {
                    format!("{shown} was imported, but moving it to {IMPORTED_DIR}/ failed: {e}")
                })?;
                tracing::info!(source = %source.name, file = %to.display(), "{what} imported");
            }
            Err(TransferError::Refused(why)) => {
                run.failed += 1;
                run.detail.push(format!("{shown}: refused: {why}"));
                tracing::warn!(source = %source.name, file = %shown, error = %why, "{what} refused");
                let to = move_into(&source.path, REJECTED_DIR, &candidate).map_err(|e| {
                    format!(
                        "{shown} was refused ({why}), and moving it to {REJECTED_DIR}/ failed: {e}"
                    )
                })?;
                let note = to.with_file_name(format!("{}.error.txt", file_name_of(&to)));
                let fix = match candidate {
                    Candidate::Archive(_) => "drop a new archive (see `skillreg export-transfer`)",
                    Candidate::Bundle(_) => {
                        "drop the bundle and its .sig again (see `skillreg export-transfer --bundles`)"
                    }
                };
                let text = format!(
                    "{} was refused by source `{}` at {}:\n{why}\n\nNothing from it was stored. Fix the cause and {fix}.\n",
                    file_name_of(file),
                    source.name,
                    rfc3339(unix_now())
                );
                fsutil::write_durable(&note, text.as_bytes(), 0o644)
                    .map_err(|e| format!("cannot write {}: {e}", note.display()))?;
            }
            Err(TransferError::Local(why)) => {
                return Err(format!("{shown}: {why}; it stays for the next run"));
            }
        }
    }
    Ok(())
}

/// A run of a `drop` source (scheduled or `POST /admin/v1/sync`): starts
/// the directory watcher if it is not running, then imports every ready
/// archive in `source.path`.
pub fn sync_drop(
    registry: &Arc<Registry>,
    source: &SourceConfig,
    run: &mut SyncRun,
) -> Result<(), String> {
    if !source.path.is_dir() {
        return Err(format!(
            "the drop directory {} does not exist or is not a directory",
            source.path.display()
        ));
    }
    watch(registry, source);
    let lock = source_lock(&source.name);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let scan = candidates(&source.path)
        .map_err(|e| format!("cannot list {}: {e}", source.path.display()))?;
    run.detail.extend(scan.waiting);
    scan_locked(registry.as_ref(), source, scan.ready, run)
}

/// Starts watching every `drop` source of `sources` (idempotent). The mirror
/// also starts a source's watcher at its first run.
pub fn watch_sources(registry: &Arc<Registry>, sources: &[SourceConfig]) {
    for source in sources
        .iter()
        .filter(|s| s.kind == crate::config::SourceKind::Drop)
    {
        watch(registry, source);
    }
}

/// Starts the watcher thread of a drop source unless it runs.
fn watch(registry: &Arc<Registry>, source: &SourceConfig) {
    static WATCHED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let watched = WATCHED.get_or_init(Default::default);
    if !watched
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(source.name.clone())
    {
        return;
    }
    let (registry, source) = (registry.clone(), source.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("drop-{}", source.name))
        .spawn(move || {
            if let Err(e) = watch_loop(&registry, &source) {
                tracing::error!(source = %source.name, error = %e, "cannot watch the drop directory; it is scanned at each scheduled run");
            }
            watched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source.name);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a drop watcher");
    }
}

fn watch_loop(registry: &Arc<Registry>, source: &SourceConfig) -> Result<(), String> {
    use notify::Watcher as _;
    use std::sync::mpsc::RecvTimeoutError;
    let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|e| e.to_string())?;
    watcher
        .watch(&source.path, notify::RecursiveMode::NonRecursive)
        .map_err(|e| format!("{}: {e}", source.path.display()))?;
    tracing::info!(source = %source.name, path = %source.path.display(), "watching the drop directory");
    // Files already there (or too fresh at the last scan) are looked at once.
    let mut retry = Some(Duration::ZERO);
    loop {
        let got = match retry {
            Some(wait) => rx.recv_timeout(wait),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if let Err(RecvTimeoutError::Disconnected) = got {
            return Err("the watcher stopped".into());
        }
        // Let a burst of events (create, write, rename) settle.
        std::thread::sleep(Duration::from_millis(200));
        while rx.try_recv().is_ok() {}
        retry = watched_run(registry, source);
    }
}

/// A watcher-triggered import: recorded as a sync run of the source when
/// there was something to import. Returns when to look again.
fn watched_run(registry: &Registry, source: &SourceConfig) -> Option<Duration> {
    let lock = source_lock(&source.name);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let Scan {
        ready,
        deferred,
        waiting,
    } = match candidates(&source.path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(source = %source.name, error = %e, "cannot list the drop directory");
            return Some(Duration::from_secs(30));
        }
    };
    let again = deferred.then_some(Duration::from_secs(1));
    if ready.is_empty() {
        return again;
    }
    let id = match registry.start_run(&source.name) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(source = %source.name, error = %e, "cannot record a sync run");
            return Some(Duration::from_secs(30));
        }
    };
    let mut run = SyncRun {
        status: "completed".into(),
        detail: waiting,
        ..Default::default()
    };
    let retry_local = match scan_locked(registry, source, ready, &mut run) {
        Ok(()) => false,
        Err(e) => {
            run.error = Some(e);
            true
        }
    };
    if run.error.is_none() && run.failed > 0 {
        run.error = Some(format!(
            "{} file(s) refused; see detail and {}/",
            run.failed, REJECTED_DIR
        ));
    }
    if run.error.is_some() {
        run.status = "failed".into();
    }
    tracing::info!(source = %source.name, run = id, added = run.added, pending = run.pending, failed = run.failed, "drop directory imported");
    if let Err(e) = registry.finish_run(id, &run) {
        tracing::error!(source = %source.name, run = id, error = %e, "cannot record the end of a sync run");
    }
    if retry_local {
        Some(Duration::from_secs(30))
    } else {
        again
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::sign::{PublicKey, RoleKeys};
    use ed25519_dalek::SigningKey;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    /// Root `version` naming `root` and `index` keys, signed by `signers`.
    fn root(
        version: u64,
        root_key: &SigningKey,
        index: &SigningKey,
        signers: &[&SigningKey],
    ) -> Vec<u8> {
        let mut keys = BTreeMap::new();
        let mut roles = BTreeMap::new();
        for (role, k) in [("root", root_key), ("index", index), ("timestamp", index)] {
            let id = key_id(&k.verifying_key());
            keys.insert(id.clone(), PublicKey::of(&k.verifying_key()));
            roles.insert(
                role.to_string(),
                RoleKeys {
                    keyids: vec![id],
                    threshold: 1,
                },
            );
        }
        let doc = Root {
            _type: "root".into(),
            spec_version: "1".into(),
            version,
            expires: rfc3339(unix_now() + 3600),
            keys,
            roles,
        };
        Envelope::sign(types::ROOT, &canonical(&doc), signers).to_bytes()
    }

    fn pinned(bytes: &[u8]) -> PinnedRoot {
        let (root, payload) = self_signed_root(bytes).unwrap();
        PinnedRoot {
            root,
            payload,
            origin: "test".into(),
        }
    }

    fn version(name: &str, vers: &str, blob: &[u8]) -> ManifestVersion {
        let cksum = crate::blobs::Sha256Digest::of(blob).to_hex();
        let entry = IndexEntry {
            name: name.into(),
            vers: vers.into(),
            deps: Vec::new(),
            cksum: cksum.clone(),
            features: Default::default(),
            features2: None,
            yanked: false,
            links: None,
            v: 1,
            rust_version: None,
            pubtime: rfc3339(0),
            kind: Kind::Skill,
            description: None,
            license: None,
            size: Some(blob.len() as u64),
            provenance: None,
        };
        ManifestVersion {
            name: name.into(),
            version: vers.into(),
            kind: Kind::Skill,
            cksum: cksum.clone(),
            size: blob.len() as u64,
            line: crate::index::line(&entry),
            status: VersionStatus::Approved,
            published: rfc3339(0),
            provenance: None,
            blob: format!("blobs/{cksum}"),
        }
    }

    fn manifest(root_version: u64, versions: Vec<ManifestVersion>) -> Vec<u8> {
        canonical(&Manifest {
            _type: "transfer".into(),
            format: FORMAT,
            created: rfc3339(0),
            registry: Exporter {
                root_version,
                keyids: BTreeMap::new(),
            },
            since: None,
            approved_only: false,
            versions,
        })
    }

    /// A format-2 `manifest.sig`: the digest of `manifest`, signed by `by`.
    fn sig(manifest: &[u8], by: &SigningKey) -> Vec<u8> {
        sign_digest(manifest, by).to_bytes()
    }

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            tar.append_data(&mut h, path, *data).unwrap();
        }
        gz(&tar.into_inner().unwrap())
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    struct Fixture {
        dir: tempfile::TempDir,
        root_key: SigningKey,
        index: SigningKey,
        root1: Vec<u8>,
        blob: Vec<u8>,
        manifest: Vec<u8>,
    }

    fn fixture() -> Fixture {
        let (root_key, index) = (key(1), key(2));
        let root1 = root(1, &root_key, &index, &[&root_key]);
        let blob = b"pretend this is a bundle".to_vec();
        let manifest = manifest(1, vec![version("demo", "1.0.0", &blob)]);
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            root_key,
            index,
            root1,
            blob,
            manifest,
        }
    }

    impl Fixture {
        fn blob_path(&self) -> String {
            format!(
                "blobs/{}",
                crate::blobs::Sha256Digest::of(&self.blob).to_hex()
            )
        }

        fn good(&self) -> Vec<(String, Vec<u8>)> {
            vec![
                (MANIFEST.into(), self.manifest.clone()),
                (SIGNATURE.into(), sig(&self.manifest, &self.index)),
                ("roots/1.json".into(), self.root1.clone()),
                (self.blob_path(), self.blob.clone()),
            ]
        }

        fn read(
            &self,
            entries: &[(String, Vec<u8>)],
            pin: &[u8],
        ) -> Result<Verified, TransferError> {
            let refs: Vec<(&str, &[u8])> = entries
                .iter()
                .map(|(p, d)| (p.as_str(), d.as_slice()))
                .collect();
            self.read_bytes(&tar_gz(&refs), pin)
        }

        fn read_bytes(&self, archive: &[u8], pin: &[u8]) -> Result<Verified, TransferError> {
            let file = self.dir.path().join(format!("a{SUFFIX}"));
            fs::write(&file, archive).unwrap();
            let staging = self.dir.path().join("staging");
            let _ = fs::remove_dir_all(&staging);
            fs::create_dir_all(&staging).unwrap();
            read_archive(
                &file,
                &pinned(pin),
                &TransferLimits::default(),
                1 << 20,
                &staging,
                &|_, _| false,
                (0, "test"),
            )
        }

        fn refused(&self, entries: &[(String, Vec<u8>)], want: &str) {
            let m = self.refusal(entries, &self.root1);
            assert!(m.contains(want), "{m:?} lacks {want:?}");
        }

        /// The refusal of `entries` under the pin `pin`.
        fn refusal(&self, entries: &[(String, Vec<u8>)], pin: &[u8]) -> String {
            match self.read(entries, pin) {
                Err(TransferError::Refused(m)) => m,
                Err(e) => panic!("not refused but {e:?}"),
                Ok(_) => panic!("accepted"),
            }
        }
    }

    /// The fixture's one-version manifest in another `format`.
    fn manifest_of_format(format: u32, versions: Vec<ManifestVersion>) -> Vec<u8> {
        let mut m: Manifest = serde_json::from_slice(&manifest(1, versions)).unwrap();
        m.format = format;
        canonical(&m)
    }

    /// `bytes` (JSON) padded with trailing spaces to `len` bytes: still the
    /// same document, only larger.
    fn padded(bytes: &[u8], len: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out.resize(len, b' ');
        out
    }

    #[test]
    fn format_1_archives_are_refused_with_a_request_to_export_again() {
        let f = fixture();
        // Format 1: manifest.sig's payload is the manifest itself, by the right key.
        let m1 = manifest_of_format(1, vec![version("demo", "1.0.0", &f.blob)]);
        let mut e = f.good();
        e[0].1 = m1.clone();
        e[1].1 = Envelope::sign(types::TRANSFER, &m1, &[&f.index]).to_bytes();
        let m = f.refusal(&e, &f.root1);
        assert!(
            m.contains("this is a transfer of format 1") && m.contains("export it again"),
            "{m}"
        );
        // A large one: its signature is as large as its manifest, so it is
        // refused by its size before it is read, still naming format 1.
        let many = (0..400)
            .map(|i| version("demo", &format!("1.0.{i}"), &f.blob))
            .collect();
        let m1 = manifest_of_format(1, many);
        assert!(m1.len() as u64 > MAX_DIGEST_SIGNATURE_BYTES);
        e[0].1 = m1.clone();
        e[1].1 = Envelope::sign(types::TRANSFER, &m1, &[&f.index]).to_bytes();
        let m = f.refusal(&e, &f.root1);
        assert!(
            m.contains("more than the 65536 allowed") && m.contains("format 1"),
            "{m}"
        );
        // A format-2 digest over a manifest that says format 1.
        let mut e = f.good();
        e[0].1 = manifest_of_format(1, vec![version("demo", "1.0.0", &f.blob)]);
        e[1].1 = sig(&e[0].1, &f.index);
        f.refused(&e, "of format 1; this skillreg reads `transfer` format 2");
    }

    #[test]
    fn roots_come_in_order_each_under_its_cap() {
        let f = fixture();
        let (root2_key, index2) = (key(3), key(4));
        let root2 = root(2, &root2_key, &index2, &[&f.root_key, &root2_key]);
        let root3 = root(3, &root2_key, &index2, &[&root2_key]);
        let m = manifest(3, vec![version("demo", "1.0.0", &f.blob)]);
        let with = |roots: Vec<(&str, Vec<u8>)>| {
            let mut e = vec![
                (MANIFEST.to_string(), m.clone()),
                (SIGNATURE.to_string(), sig(&m, &index2)),
            ];
            e.extend(roots.into_iter().map(|(p, b)| (p.to_string(), b)));
            e.push((f.blob_path(), f.blob.clone()));
            e
        };
        let in_order = with(vec![
            ("roots/1.json", f.root1.clone()),
            ("roots/2.json", root2.clone()),
            ("roots/3.json", root3.clone()),
        ]);
        assert_eq!(f.read(&in_order, &f.root1).unwrap().root.version, 3);
        // Pinned at v2: v1 is read and dropped, v2 matched, v3 chained.
        assert_eq!(f.read(&in_order, &root2).unwrap().root.version, 3);
        let swapped = with(vec![
            ("roots/2.json", root2.clone()),
            ("roots/1.json", f.root1.clone()),
            ("roots/3.json", root3.clone()),
        ]);
        let m = f.refusal(&swapped, &f.root1);
        assert!(
            m.contains("does not carry root v1 (the pinned root's version) before root v2")
                && m.contains("ascending version order"),
            "{m}"
        );
        let m = f.refusal(&swapped, &root2);
        assert!(
            m.contains("root v1 in the archive comes after root v2")
                && m.contains("ascending version order"),
            "{m}"
        );
        let gap = with(vec![
            ("roots/1.json", f.root1.clone()),
            ("roots/3.json", root3.clone()),
        ]);
        let m = f.refusal(&gap, &f.root1);
        assert!(
            m.contains("does not chain") && m.contains("root v2 is missing"),
            "{m}"
        );
        // A genuine root padded past the cap: refused by its size.
        let big = padded(&f.root1, MAX_ROOT_BYTES as usize + 1);
        let mut e = f.good();
        e[2].1 = big;
        f.refused(
            &e,
            "`roots/1.json` is 65537 bytes, more than the 65536 allowed",
        );
        // At most MAX_ROOTS roots, even below the pin (where they are not parsed).
        let pin = root(2000, &f.root_key, &f.index, &[&f.root_key]);
        let m = manifest(2000, vec![version("demo", "1.0.0", &f.blob)]);
        let mut e = vec![
            (MANIFEST.to_string(), m.clone()),
            (SIGNATURE.to_string(), sig(&m, &f.index)),
        ];
        for n in 1..=MAX_ROOTS + 1 {
            e.push((format!("roots/{n}.json"), b"{}".to_vec()));
        }
        e.push(("roots/2000.json".into(), pin.clone()));
        e.push((f.blob_path(), f.blob.clone()));
        let m = f.refusal(&e, &pin);
        assert!(m.contains("carries more than 1024 roots"), "{m}");
        e.drain(2..4);
        assert_eq!(f.read(&e, &pin).unwrap().root.version, 2000);
    }

    #[test]
    fn the_signature_has_a_small_cap() {
        let f = fixture();
        let mut e = f.good();
        e[1].1 = padded(&e[1].1, MAX_DIGEST_SIGNATURE_BYTES as usize);
        f.read(&e, &f.root1).unwrap();
        e[1].1.push(b' ');
        f.refused(
            &e,
            "`manifest.sig` is 65537 bytes, more than the 65536 allowed",
        );
    }

    #[test]
    fn the_manifest_must_be_the_one_whose_digest_is_signed() {
        let f = fixture();
        let sign = |digest: &TransferDigest| {
            Envelope::sign(types::TRANSFER, &canonical(digest), &[&f.index]).to_bytes()
        };
        let right = TransferDigest::of(&f.manifest);
        for (label, digest) in [
            (
                "size",
                TransferDigest {
                    manifest_size: right.manifest_size + 1,
                    ..right.clone()
                },
            ),
            (
                "sha256",
                TransferDigest {
                    manifest_sha256: "0".repeat(64),
                    ..right.clone()
                },
            ),
        ] {
            let mut e = f.good();
            e[1].1 = sign(&digest);
            let m = f.refusal(&e, &f.root1);
            assert!(
                m.contains("manifest.sig is signed but over other bytes than manifest.json"),
                "{label}: {m}"
            );
        }
        // The same length, one byte changed.
        let mut e = f.good();
        let i = e[0].1.iter().position(|b| *b == b'd').unwrap();
        e[0].1[i] = b'D';
        f.refused(&e, "over other bytes than manifest.json");
        // The manifest is parsed only once verified: garbage under a foreign
        // key is refused for the key, under the right key for what it is.
        let mut e = f.good();
        e[0].1 = b"not json at all".to_vec();
        e[1].1 = sig(&e[0].1, &key(9));
        f.refused(&e, "signed by unknown key");
        e[1].1 = sig(&e[0].1, &f.index);
        f.refused(&e, "manifest.json is malformed");
        // A digest that is not one.
        let mut e = f.good();
        let other = serde_json::json!({"_type": "transfer-digest", "format": 2, "manifest_sha256": "x", "manifest_size": 1});
        e[1].1 = Envelope::sign(types::TRANSFER, &canonical(&other), &[&f.index]).to_bytes();
        f.refused(&e, "`manifest_sha256` is not 64 lowercase hex digits");
        let extra = serde_json::json!({"_type": "transfer-digest", "format": 2, "manifest_sha256": right.manifest_sha256, "manifest_size": right.manifest_size, "more": 1});
        e[1].1 = Envelope::sign(types::TRANSFER, &canonical(&extra), &[&f.index]).to_bytes();
        f.refused(&e, "does not sign a transfer digest");
    }

    #[test]
    fn an_unsigned_or_foreign_digest_is_refused() {
        let f = fixture();
        let digest = canonical(&TransferDigest::of(&f.manifest));
        let cases: [(Vec<u8>, &str); 4] = [
            (
                Envelope::sign(types::TRANSFER, &digest, &[]).to_bytes(),
                "0 valid signature(s) from trusted index keys",
            ),
            (sig(&f.manifest, &key(9)), "signed by unknown key"),
            (
                sig(&f.manifest, &f.root_key),
                "the manifest signature is refused",
            ),
            (
                Envelope::sign(types::ROOT, &digest, &[&f.index]).to_bytes(),
                "expected a application/vnd.skillreg.transfer+json document",
            ),
        ];
        for (signature, want) in cases {
            let mut e = f.good();
            e[1].1 = signature;
            f.refused(&e, want);
        }
        // A valid signature with its bytes changed.
        let mut env = sign_digest(&f.manifest, &f.index);
        env.signatures[0].sig = sign_digest(b"other", &f.index).signatures[0].sig.clone();
        let mut e = f.good();
        e[1].1 = env.to_bytes();
        f.refused(&e, "the manifest signature is refused");
    }

    #[test]
    fn a_good_archive_is_verified_and_its_blobs_staged() {
        let f = fixture();
        let v = f.read(&f.good(), &f.root1).unwrap();
        assert_eq!(v.manifest.versions.len(), 1);
        assert_eq!(v.root.version, 1);
        let staged = f
            .dir
            .path()
            .join("staging")
            .join(&v.manifest.versions[0].cksum);
        assert_eq!(fs::read(staged).unwrap(), f.blob);
        let file = fs::read(f.dir.path().join(format!("a{SUFFIX}"))).unwrap();
        assert_eq!(v.sha256, crate::blobs::Sha256Digest::of(&file).to_hex());
    }

    #[test]
    fn tampering_is_refused() {
        let f = fixture();
        let mut e = f.good();
        let last = e[3].1.len() - 1;
        e[3].1[last] ^= 1;
        f.refused(&e, "does not match the signed manifest");

        let mut e = f.good();
        e[0].1 = manifest(1, vec![version("demo", "1.0.1", &f.blob)]);
        f.refused(&e, "over other bytes than manifest.json");

        let mut e = f.good();
        e[1].1 = sig(&f.manifest, &key(9));
        f.refused(&e, "signed by unknown key");

        // The root key may not sign the manifest: only the index key.
        let mut e = f.good();
        e[1].1 = sig(&f.manifest, &f.root_key);
        f.refused(&e, "the manifest signature is refused");

        let mut e = f.good();
        e[0].1 = manifest(1, vec![]);
        e[1].1 = sig(&e[0].1, &f.index);
        f.refused(&e, "is not named by the signed manifest");

        let mut e = f.good();
        e.pop();
        f.refused(&e, "is missing from the archive");
    }

    #[test]
    fn the_manifest_must_be_consistent() {
        let f = fixture();
        let mut v = version("demo", "1.0.0", &f.blob);
        v.line = v.line.replace("\"demo\"", "\"other\"");
        let m = manifest(1, vec![v]);
        let mut e = f.good();
        e[0].1 = m.clone();
        e[1].1 = sig(&m, &f.index);
        f.refused(&e, "its index line names another");

        let m = manifest(
            1,
            vec![
                version("demo", "1.0.0", &f.blob),
                version("Demo", "1.0.0", &f.blob),
            ],
        );
        let mut e = f.good();
        e[0].1 = m.clone();
        e[1].1 = sig(&m, &f.index);
        f.refused(&e, "listed twice");

        let m = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
        let mut e = f.good();
        e[0].1 = m.clone();
        e[1].1 = sig(&m, &f.index);
        f.refused(&e, "names root v2");
    }

    #[test]
    fn the_shape_is_fixed() {
        let f = fixture();
        let mut e = f.good();
        e.swap(0, 1);
        f.refused(&e, "manifest.sig must be the second entry");
        let mut e = f.good();
        e.swap(1, 2);
        f.refused(&e, "must follow manifest.sig");

        let mut e = f.good();
        e.push(("notes.txt".into(), b"hi".to_vec()));
        f.refused(&e, "unexpected entry `notes.txt`");

        let mut e = f.good();
        e.push((f.blob_path(), f.blob.clone()));
        f.refused(&e, "appears twice");

        let mut e = f.good();
        e.insert(3, ("roots/01.json".into(), f.root1.clone()));
        f.refused(&e, "is not roots/N.json");

        let mut e = f.good();
        let blob = e.pop().unwrap();
        e.insert(2, blob);
        f.refused(&e, "carries no root document");
        let mut e = f.good();
        e.push(("roots/2.json".into(), f.root1.clone()));
        f.refused(&e, "must follow manifest.sig and precede every blob");

        // `..` and links, written with raw headers (tar::Builder refuses them).
        let mut raw = Vec::new();
        for (path, data) in f.good() {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            tar::Builder::new(&mut raw)
                .append_data(&mut h, &path, &data[..])
                .unwrap();
            raw.truncate(raw.len() - 1024);
        }
        let mut hostile = tar::Header::new_old();
        hostile.as_old_mut().name[..9].copy_from_slice(b"../escape");
        hostile.set_size(0);
        hostile.set_mode(0o644);
        hostile.set_cksum();
        let mut with_dotdot = raw.clone();
        with_dotdot.extend_from_slice(hostile.as_bytes());
        with_dotdot.extend_from_slice(&[0u8; 1024]);
        match f.read_bytes(&gz(&with_dotdot), &f.root1) {
            Err(TransferError::Refused(m)) => assert!(m.contains("hostile entry name"), "{m}"),
            other => panic!("{:?}", other.err()),
        }
        let mut link = tar::Header::new_ustar();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_path("roots/2.json").unwrap();
        link.set_link_name("/etc/passwd").unwrap();
        link.set_size(0);
        link.set_cksum();
        let mut with_link = raw.clone();
        with_link.extend_from_slice(link.as_bytes());
        with_link.extend_from_slice(&[0u8; 1024]);
        match f.read_bytes(&gz(&with_link), &f.root1) {
            Err(TransferError::Refused(m)) => assert!(m.contains("regular files only"), "{m}"),
            other => panic!("{:?}", other.err()),
        }

        // Truncated, trailing garbage, a second gzip member, not gzip.
        let good = {
            let e = f.good();
            let refs: Vec<(&str, &[u8])> =
                e.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
            tar_gz(&refs)
        };
        for (bytes, want) in [
            (good[..good.len() - 20].to_vec(), "corrupt or truncated"),
            (
                [good.clone(), gz(b"more")].concat(),
                "data follows the gzip stream",
            ),
            (
                [good.clone(), b"junk".to_vec()].concat(),
                "data follows the gzip stream",
            ),
            (b"PK\x03\x04".to_vec(), "not a gzip file"),
        ] {
            match f.read_bytes(&bytes, &f.root1) {
                Err(TransferError::Refused(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
                other => panic!("{want}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn limits_hold() {
        let f = fixture();
        let e = f.good();
        let refs: Vec<(&str, &[u8])> = e.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
        let file = f.dir.path().join(format!("a{SUFFIX}"));
        fs::write(&file, tar_gz(&refs)).unwrap();
        let staging = f.dir.path().join("s");
        fs::create_dir_all(&staging).unwrap();
        let try_with = |limits: TransferLimits| match read_archive(
            &file,
            &pinned(&f.root1),
            &limits,
            1 << 20,
            &staging,
            &|_, _| false,
            (0, "test"),
        ) {
            Err(TransferError::Refused(m)) => m,
            other => panic!("{:?}", other.err()),
        };
        let small = TransferLimits {
            max_entries: 3,
            ..Default::default()
        };
        assert!(try_with(small).contains("more than 3 entries"));
        let small = TransferLimits {
            max_manifest_bytes: 10,
            ..Default::default()
        };
        assert!(try_with(small).contains("more than the 10 allowed"));
        let small = TransferLimits {
            max_bytes: 100,
            ..Default::default()
        };
        assert!(try_with(small).contains("more than the 100 allowed"));
        // A bomb: small compressed, huge unpacked.
        let zeros = vec![0u8; 8 << 20];
        let bomb = tar_gz(&[(MANIFEST, &zeros)]);
        fs::write(&file, &bomb).unwrap();
        let limits = TransferLimits {
            max_bytes: 1 << 20,
            max_manifest_bytes: 64 << 20,
            ..Default::default()
        };
        let m = try_with(limits);
        assert!(m.contains("unpacks to more than 1048576 bytes"), "{m}");
    }

    #[test]
    fn roots_chain_from_the_pinned_one() {
        let f = fixture();
        let (root2_key, index2) = (key(3), key(4));
        // v2 rotates both keys, signed by the old and the new root key.
        let root2 = root(2, &root2_key, &index2, &[&f.root_key, &root2_key]);
        let m = f.manifest.clone();
        let entries = |sig_by: &SigningKey, roots: Vec<(&str, Vec<u8>)>| {
            let mut e = vec![
                (MANIFEST.to_string(), m.clone()),
                (SIGNATURE.to_string(), sig(&m, sig_by)),
            ];
            e.extend(roots.into_iter().map(|(p, b)| (p.to_string(), b)));
            e.push((f.blob_path(), f.blob.clone()));
            e
        };
        let mut m2 = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
        let with_v2 = |by: &SigningKey, m2: &[u8]| {
            vec![
                (MANIFEST.to_string(), m2.to_vec()),
                (SIGNATURE.to_string(), sig(m2, by)),
                ("roots/1.json".to_string(), f.root1.clone()),
                ("roots/2.json".to_string(), root2.clone()),
                (f.blob_path(), f.blob.clone()),
            ]
        };
        // Pinned v1, archive up to v2, signed by v2's index key: accepted.
        let v = f.read(&with_v2(&index2, &m2), &f.root1).unwrap();
        assert_eq!(v.root.version, 2);
        // Signed by the retired index key: refused.
        match f.read(&with_v2(&f.index, &m2), &f.root1) {
            Err(TransferError::Refused(m)) => assert!(m.contains("newest root v2"), "{m}"),
            other => panic!("{:?}", other.err()),
        }
        // Pinned v2 (a newer pin) also accepts it.
        f.read(&with_v2(&index2, &m2), &root2).unwrap();
        // An archive older than the pin is refused.
        match f.read(
            &entries(&f.index, vec![("roots/1.json", f.root1.clone())]),
            &root2,
        ) {
            Err(TransferError::Refused(m)) => {
                assert!(m.contains("older than the pinned root"), "{m}")
            }
            other => panic!("{:?}", other.err()),
        }
        // v2 signed by the new root key only does not chain.
        let forged = root(2, &root2_key, &index2, &[&root2_key]);
        m2 = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
        let e = vec![
            (MANIFEST.to_string(), m2.clone()),
            (SIGNATURE.to_string(), sig(&m2, &index2)),
            ("roots/1.json".to_string(), f.root1.clone()),
            ("roots/2.json".to_string(), forged),
            (f.blob_path(), f.blob.clone()),
        ];
        f.refused(&e, "does not chain from the pinned root");
        // Another registry's root at the pinned version.
        let foreign = root(1, &key(7), &key(8), &[&key(7)]);
        match f.read(&entries(&key(8), vec![("roots/1.json", foreign)]), &f.root1) {
            Err(TransferError::Refused(m)) => {
                assert!(m.contains("differs from the pinned root"), "{m}")
            }
            other => panic!("{:?}", other.err()),
        }
        // Without the pinned version.
        match f.read(
            &with_v2(&index2, &m2)[..]
                .iter()
                .filter(|(p, _)| p != "roots/1.json")
                .cloned()
                .collect::<Vec<_>>(),
            &f.root1,
        ) {
            Err(TransferError::Refused(m)) => assert!(m.contains("does not carry root v1"), "{m}"),
            other => panic!("{:?}", other.err()),
        }
    }

    fn skill(dir: &Path, name: &str, vers: &str) -> Vec<u8> {
        let d = dir.join(format!("{name}-{vers}"));
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("SKILL.md"),
            format!("---\nname: {name}\ndescription: A test skill.\nmetadata:\n  version: \"{vers}\"\n---\n# {name}\n"),
        )
        .unwrap();
        crate::bundle::pack::pack_dir(&d).unwrap()
    }

    #[test]
    fn a_batch_is_checked_like_mirrored_versions_and_stored_once() {
        use crate::registry::OfflineRegistry;
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config {
            data_dir: dir.path().join("data"),
            ..Default::default()
        };
        let sink = OfflineRegistry::open(&config, true).unwrap();
        let item = |name: &str, vers: &str, bytes: &[u8], approved: bool| {
            let blob = dir.path().join(format!("{name}-{vers}.blob"));
            fs::write(&blob, bytes).unwrap();
            let v = version(name, vers, bytes);
            TransferItem {
                kind: Kind::Skill,
                name: name.into(),
                version: vers.into(),
                blob,
                line: serde_json::from_str(&v.line).unwrap(),
                auto_approve: approved,
                upstream: serde_json::json!({}),
            }
        };
        let items = vec![
            item(
                "batch-one",
                "1.0.0",
                &skill(dir.path(), "batch-one", "1.0.0"),
                true,
            ),
            item(
                "batch-one",
                "1.1.0",
                &skill(dir.path(), "batch-one", "1.1.0"),
                false,
            ),
            // Differs only in build metadata from the first: clashes inside the batch.
            item(
                "batch-one",
                "1.0.0+b",
                &skill(dir.path(), "batch-one", "1.0.0+b"),
                false,
            ),
            item("batch-two", "0.1.0", b"not a bundle", false),
        ];
        let outcomes = sink.import_batch("airgap", &items).unwrap();
        assert_eq!(
            outcomes[0],
            Imported::Added(VersionStatus::Pending),
            "the CLI never approves"
        );
        assert_eq!(outcomes[1], Imported::Added(VersionStatus::Pending));
        assert!(
            matches!(&outcomes[2], Imported::Skipped(w) if w.contains("twice")),
            "{outcomes:?}"
        );
        assert!(
            matches!(&outcomes[3], Imported::Skipped(w) if w.contains("fails validation")),
            "{outcomes:?}"
        );
        let store = Store::open(&config.data_dir).unwrap();
        let published = store.published().unwrap();
        assert_eq!(published.len(), 2);
        // Owned by the source's mirror login; a second source may not add to it.
        assert_eq!(store.owners_of("batch-one").unwrap(), ["mirror:airgap"]);
        let more = vec![item(
            "batch-one",
            "2.0.0",
            &skill(dir.path(), "batch-one", "2.0.0"),
            false,
        )];
        let outcomes = sink.import_batch("other", &more).unwrap();
        assert!(
            matches!(&outcomes[0], Imported::Skipped(w) if w.contains("not by source `other`")),
            "{outcomes:?}"
        );
        // Again: unchanged, and nothing is read or stored.
        let outcomes = sink.import_batch("airgap", &items[..2]).unwrap();
        assert_eq!(outcomes, [Imported::Unchanged, Imported::Unchanged]);
        assert_eq!(store.published().unwrap(), published);
    }

    #[test]
    fn since_and_names() {
        assert_eq!(parse_since("1970-01-02T00:00:00Z", 0).unwrap(), 86400);
        assert_eq!(parse_since("1970-01-02", 0).unwrap(), 86400);
        assert_eq!(parse_since("7d", 10 * 86400).unwrap(), 3 * 86400);
        assert_eq!(parse_since("12h", 86400).unwrap(), 43200);
        assert!(parse_since("last tuesday", 0)
            .unwrap_err()
            .contains("neither"));
        assert!(is_archive_name("2025-01-31.skillreg-transfer.tar.gz"));
        assert!(!is_archive_name(".x.skillreg-transfer.tar.gz"));
        assert!(!is_archive_name("x.skillreg-transfer.tar.gz.part"));
        assert!(!is_archive_name(SUFFIX));
        assert!(!is_archive_name("bundle.tar.gz"));
    }

    fn age(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(60);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn drop_directories_defer_fresh_files_and_move_what_they_handle() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join(format!("a{SUFFIX}"));
        fs::write(&a, b"x").unwrap();
        fs::write(dir.path().join("b.part"), b"x").unwrap();
        let scan = candidates(dir.path()).unwrap();
        assert!(scan.ready.is_empty() && scan.deferred, "a fresh file waits");
        age(&a);
        let scan = candidates(dir.path()).unwrap();
        assert_eq!(
            scan,
            Scan {
                ready: vec![Candidate::Archive(a.clone())],
                ..Default::default()
            }
        );
        let moved = move_into(dir.path(), IMPORTED_DIR, &Candidate::Archive(a.clone())).unwrap();
        assert_eq!(
            moved,
            dir.path().join(IMPORTED_DIR).join(format!("a{SUFFIX}"))
        );
        fs::write(&a, b"y").unwrap();
        let again = move_into(dir.path(), IMPORTED_DIR, &Candidate::Archive(a.clone())).unwrap();
        assert_eq!(
            again,
            dir.path().join(IMPORTED_DIR).join(format!("a-2{SUFFIX}"))
        );
        // Symlinks are never taken.
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join(format!("l{SUFFIX}"))).unwrap();
        assert!(candidates(dir.path()).unwrap().ready.is_empty());
    }

    #[test]
    fn drop_directories_pair_bundles_with_their_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("demo-1.0.0.tar.gz");
        let sig = signature_path(&bundle);
        fs::write(&bundle, b"b").unwrap();
        age(&bundle);
        let scan = candidates(dir.path()).unwrap();
        assert!(scan.ready.is_empty() && !scan.deferred);
        assert!(scan.waiting[0].contains("waiting for its signature demo-1.0.0.tar.gz.sig"));
        fs::write(&sig, b"s").unwrap();
        let scan = candidates(dir.path()).unwrap();
        assert!(
            scan.ready.is_empty() && scan.deferred,
            "a fresh signature waits"
        );
        age(&sig);
        let scan = candidates(dir.path()).unwrap();
        assert_eq!(scan.ready, vec![Candidate::Bundle(bundle.clone())]);
        assert!(scan.waiting.is_empty());
        // A signature alone waits for its bundle; other files are left alone.
        let lone = dir.path().join("other-2.0.0.crate.sig");
        fs::write(&lone, b"s").unwrap();
        fs::write(dir.path().join("README.txt"), b"r").unwrap();
        let scan = candidates(dir.path()).unwrap();
        assert_eq!(scan.ready.len(), 1);
        assert_eq!(
            scan.waiting,
            vec!["other-2.0.0.crate.sig: waiting for its bundle other-2.0.0.crate".to_string()]
        );
        // The pair moves together, and a taken name gets a number.
        let first =
            move_into(dir.path(), REJECTED_DIR, &Candidate::Bundle(bundle.clone())).unwrap();
        assert_eq!(
            first,
            dir.path().join(REJECTED_DIR).join("demo-1.0.0.tar.gz")
        );
        assert!(signature_path(&first).is_file() && !sig.exists() && !bundle.exists());
        fs::write(&bundle, b"b").unwrap();
        fs::write(&sig, b"s").unwrap();
        let second = move_into(dir.path(), REJECTED_DIR, &Candidate::Bundle(bundle)).unwrap();
        assert_eq!(
            second,
            dir.path().join(REJECTED_DIR).join("demo-1.0.0-2.tar.gz")
        );
        assert_eq!(fs::read(signature_path(&second)).unwrap(), b"s");
        // Only bundle-like names pair: no other file is ever moved.
        let other = dir.path().join("authorized_keys");
        fs::write(&other, b"k").unwrap();
        fs::write(signature_path(&other), b"s").unwrap();
        let archive = dir.path().join(format!("a{SUFFIX}"));
        fs::write(&archive, b"a").unwrap();
        fs::write(signature_path(&archive), b"s").unwrap();
        for p in [&other, &archive] {
            age(p);
            age(&signature_path(p));
        }
        let scan = candidates(dir.path()).unwrap();
        assert_eq!(scan.ready, vec![Candidate::Archive(archive.clone())]);
        // A planted symlink in place of rejected/ or imported/ is refused.
        let elsewhere = tempfile::tempdir().unwrap();
        fs::remove_dir_all(dir.path().join(REJECTED_DIR)).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(REJECTED_DIR)).unwrap();
        let err = move_into(
            dir.path(),
            REJECTED_DIR,
            &Candidate::Archive(archive.clone()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is not a directory"), "{err}");
        assert!(archive.exists());
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
        assert!(is_bundle_name("x-1.0.0.crate") && is_bundle_name("x.tgz"));
        assert!(!is_bundle_name(&format!("x{SUFFIX}")) && !is_bundle_name(".x.tar.gz"));
    }

    /// A bundle and its signature by `by` under `roots`, in the fixture's dir.
    fn signed_bundle(
        f: &Fixture,
        roots: &[(u64, &[u8])],
        manifest: &[u8],
        by: &SigningKey,
    ) -> (PathBuf, PathBuf) {
        let bundle = f.dir.path().join("demo-1.0.0.tar.gz");
        fs::write(&bundle, &f.blob).unwrap();
        let signature = BundleSignature {
            _type: BUNDLE_SIGNATURE_TYPE.into(),
            manifest: String::from_utf8(manifest.to_vec()).unwrap(),
            signature: sign_digest(manifest, by),
            roots: roots
                .iter()
                .map(|(n, bytes)| (n.to_string(), Envelope::from_bytes(bytes).unwrap()))
                .collect(),
        };
        let sig = signature_path(&bundle);
        fs::write(&sig, canonical(&signature)).unwrap();
        (bundle, sig)
    }

    fn read_signed(
        f: &Fixture,
        bundle: &Path,
        sig: &Path,
        seen: u64,
    ) -> Result<Verified, TransferError> {
        let staging = f.dir.path().join("staging");
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).unwrap();
        read_bundle(
            bundle,
            sig,
            &pinned(&f.root1),
            1 << 20,
            &staging,
            (seen, "test"),
        )
    }

    fn refused_with(r: Result<Verified, TransferError>, want: &str) {
        match r {
            Err(TransferError::Refused(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
            other => panic!(
                "wanted a refusal with {want:?}, got {:?}",
                other.map(|v| v.manifest)
            ),
        }
    }

    #[test]
    fn bundle_signatures_are_small_detached_and_of_format_2() {
        let f = fixture();
        let roots = [(1, f.root1.as_slice())];
        // The manifest changed after its digest was signed.
        let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
        let mut s: BundleSignature = serde_json::from_slice(&fs::read(&sig).unwrap()).unwrap();
        s.manifest = s.manifest.replacen("00:00:00Z", "00:00:01Z", 1);
        fs::write(&sig, canonical(&s)).unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "demo-1.0.0.tar.gz.sig is signed but over other bytes than the manifest in demo-1.0.0.tar.gz.sig",
        );
        // At most 1 MiB: a genuine signature padded past it is refused.
        let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
        let full = padded(&fs::read(&sig).unwrap(), MAX_SIGNATURE_BYTES as usize);
        fs::write(&sig, &full).unwrap();
        read_signed(&f, &bundle, &sig, 0).unwrap();
        fs::write(&sig, [&full[..], b" "].concat()).unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "is 1048577 bytes, more than the 1048576 allowed for a bundle signature",
        );
        // Each root under the per-root cap: the pinned root with junk
        // signatures beside its own still verifies, but is too large.
        let mut big = Envelope::from_bytes(&f.root1).unwrap();
        for _ in 0..600 {
            big.signatures.push(sign::EnvelopeSignature {
                keyid: "0".repeat(64),
                sig: "A".repeat(88),
            });
        }
        let big = big.to_bytes();
        assert!(big.len() as u64 > MAX_ROOT_BYTES);
        let (bundle, sig) = signed_bundle(&f, &[(1, big.as_slice())], &f.manifest, &f.index);
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "more than the 65536 a root may have",
        );
        // Roots are walked by number, not in the text order of their keys
        // ("10" < "2"): eleven chained roots verify.
        let mut chain = vec![(1, f.root1.clone())];
        let mut previous = f.root_key.clone();
        for n in 2..=11u8 {
            let next = key(20 + n);
            chain.push((
                n as u64,
                root(n as u64, &next, &f.index, &[&previous, &next]),
            ));
            previous = next;
        }
        let refs: Vec<(u64, &[u8])> = chain.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        let m11 = manifest(11, vec![version("demo", "1.0.0", &f.blob)]);
        let (bundle, sig) = signed_bundle(&f, &refs, &m11, &f.index);
        assert_eq!(read_signed(&f, &bundle, &sig, 0).unwrap().root.version, 11);
        // A format-1 bundle signature: an envelope over the whole manifest.
        let old = serde_json::json!({
            "_type": BUNDLE_SIGNATURE_TYPE,
            "manifest": Envelope::sign(types::TRANSFER, &f.manifest, &[&f.index]),
            "roots": {"1": Envelope::from_bytes(&f.root1).unwrap()},
        });
        fs::write(&sig, canonical(&old)).unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "demo-1.0.0.tar.gz.sig signs a whole manifest: this is a transfer of format 1",
        );
    }

    #[test]
    fn loose_bundles_are_verified_like_archives() {
        let f = fixture();
        let roots = [(1, f.root1.as_slice())];
        let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
        let v = read_signed(&f, &bundle, &sig, 0).unwrap();
        assert_eq!(v.manifest.versions[0].name, "demo");
        let staged = f
            .dir
            .path()
            .join("staging")
            .join(&v.manifest.versions[0].cksum);
        assert_eq!(fs::read(staged).unwrap(), f.blob);

        // The bundle changed after signing (same length, then another length).
        let mut changed = f.blob.clone();
        changed[0] ^= 1;
        fs::write(&bundle, &changed).unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "does not match its signature",
        );
        fs::write(&bundle, b"short").unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "was changed or truncated",
        );
        // Signed by a key the pinned root does not name for `index`.
        let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.root_key);
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "manifest signature is refused",
        );
        // Another registry's roots.
        let other = root(1, &key(7), &key(8), &[&key(7)]);
        let (bundle, sig) = signed_bundle(&f, &[(1, other.as_slice())], &f.manifest, &key(8));
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "differs from the pinned root",
        );
        // Two versions in one bundle signature.
        let two = manifest(
            1,
            vec![
                version("demo", "1.0.0", &f.blob),
                version("demo", "1.0.1", &f.blob),
            ],
        );
        let (bundle, sig) = signed_bundle(&f, &roots, &two, &f.index);
        refused_with(read_signed(&f, &bundle, &sig, 0), "names exactly one");
        // Rollback: an import under a newer root was made before.
        let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
        refused_with(
            read_signed(&f, &bundle, &sig, 2),
            "a retired key may have signed it",
        );
        // Not a signature, and a signature that is a symlink.
        fs::write(&sig, b"{}").unwrap();
        refused_with(
            read_signed(&f, &bundle, &sig, 0),
            "is not a bundle signature",
        );
        fs::remove_file(&sig).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &sig).unwrap();
        refused_with(read_signed(&f, &bundle, &sig, 0), "symbolic link");
    }
}
