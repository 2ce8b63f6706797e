//! The verifying side of the signed index: a registry trusted only as far as
//! its signed metadata goes.
//!
//! [`TrustedRegistry::open`] starts from a pinned root document (the output
//! of `skillreg key export-root`), follows the registry's root chain, and
//! verifies the timestamp and the snapshot it names. Every index file read
//! through [`TrustedRegistry::fetch_index_file`] must then match the
//! snapshot byte for byte and carry a valid statement signed by the index
//! key. What was verified is kept in a per-registry state directory:
//!
//! ```text
//! $XDG_STATE_HOME/skillreg/registries/<first 16 hex of sha256(base URL)>/
//!     trusted-root.json   newest verified root envelope
//!     state.json          {registry, root_version, timestamp_version, snapshot_version}
//!     timestamp.json      the last verified timestamp envelope
//!     snapshot.json       the last verified snapshot envelope
//!     index/<path>        verified index files (and config.json), for --offline
//! ```
//!
//! (`$HOME/.local/state` when `XDG_STATE_HOME` is unset or not absolute.)
//!
//! The attacks this refuses, each with its own error: a signature that does
//! not verify or comes from a key the root does not name; a root that does
//! not chain to the pinned one (a foreign root); a timestamp or snapshot
//! older than one already seen (rollback); an expired timestamp, snapshot or
//! root (freeze); an index file the snapshot does not list with exactly those
//! bytes (mix-and-match); and responses larger than the signed length or the
//! fixed caps (endless data). Every response is read with a hard byte limit;
//! `Content-Length` is never trusted.
//!
//! Every trusted root must be self-signed, have `spec_version` `1`, and list
//! each key under its own key id. When the chain walk changes the timestamp
//! or index key, the last seen versions of what that key signs start again
//! from 0 (TUF's fast-forward recovery): what a retired key signed must not
//! block its successor.
//!
//! In `--offline` mode nothing is fetched: the saved timestamp and snapshot
//! are re-verified against the saved root and the cached index files against
//! the snapshot. Expiry is not checked offline, because offline use means
//! asking for the last verified view on purpose.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::http::CaCertError;
use crate::blobs::Sha256Digest;
use crate::index::sign::{
    self, paths, types, ChainError, Envelope, FileMeta, IndexFileStatement, Root, RootError,
    RootFileError, Snapshot, Timestamp,
};
use crate::index::{self, IndexEntry};

/// Cap on a root, timestamp or statement response.
pub const MAX_METADATA_BYTES: u64 = 1024 * 1024;
/// Cap on a bundle whose index line states no `size`.
pub const MAX_BUNDLE_BYTES: u64 = 50 * 1024 * 1024;
/// Most root versions walked in one refresh (a registry rotating more often
/// than this between two installs is misbehaving).
const MAX_ROOT_STEPS: u64 = 1024;

/// The verified root, in the state directory.
pub const TRUSTED_ROOT_FILE: &str = "trusted-root.json";
/// Versions seen, in the state directory.
pub const STATE_FILE: &str = "state.json";
const TIMESTAMP_FILE: &str = "timestamp.json";
const SNAPSHOT_FILE: &str = "snapshot.json";
const INDEX_CACHE_DIR: &str = "index";

/// Why the registry's metadata was not trusted. Each message says what
/// happened and what to do; nothing is installed after any of them.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The registry URL is not usable.
    #[error("`{url}` is not a registry URL: use http://HOST:PORT or https://HOST (no path after the host other than the registry's own prefix)")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The connection failed.
    #[error("cannot reach {url}: {message}; check --registry and that the registry is running (or use --offline to install from what was verified before)")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// An unexpected HTTP status.
    #[error("{url} answered HTTP {status}{detail}{}", status_advice(*status))]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Explanation and advice, starting with `: `.
        detail: String,
    },
    /// A response longer than allowed.
    #[error("{url} sent more than {limit} bytes (endless data), more than its signed length or the fixed cap allows; refused. The registry, or something between you and it, is misbehaving")]
    EndlessData {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Neither a trust root nor trust on first use.
    #[error("no trust root for {url}: pass --trust-root FILE (the output of `skillreg key export-root` on the registry host), or --trust-on-first-use to pin whatever root the registry serves now")]
    NoTrustRoot {
        /// The registry.
        url: String,
    },
    /// The pinned root cannot be read.
    #[error("cannot read the trust root {path}: {message}")]
    TrustRootUnreadable {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The pinned root is not a self-signed root document.
    #[error("the trust root {path} is not a valid self-signed root document: {source}; export it again with `skillreg key export-root --data DATA` on the registry host")]
    TrustRootInvalid {
        /// The file.
        path: String,
        /// Why.
        source: sign::VerifyError,
    },
    /// The registry's roots are not the pinned ones.
    #[error("foreign root: {detail}. The registry at {url} is not the one the trusted root ({pinned}) belongs to, or its keys were replaced without a rotation. Check --registry and --trust-root; if the registry was deliberately re-created, pin its new root and delete {state_dir}")]
    ForeignRoot {
        /// The registry.
        url: String,
        /// Where the trusted root came from.
        pinned: String,
        /// What differs.
        detail: String,
        /// The state directory.
        state_dir: String,
    },
    /// A root version does not continue the chain.
    #[error("root v{version} from {url} does not continue the chain of trust: {detail}. Its keys cannot be trusted; nothing was installed. Ask the registry's operator whether the keys were rotated with `skillreg key rotate`")]
    RootChain {
        /// The URL.
        url: String,
        /// The version that failed.
        version: u64,
        /// Why.
        detail: String,
    },
    /// A signature that does not verify.
    #[error("the {document} from {url} failed verification: {source}. The metadata may have been tampered with; nothing was installed")]
    Signature {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Why.
        source: sign::VerifyError,
    },
    /// Older metadata than already seen.
    #[error("rollback: {url} served {document} version {got}, older than version {seen} already verified from this registry. Someone may be replaying old metadata to hide updates; nothing was installed. If the registry was deliberately restored from a backup, delete {state_dir} to forget what was seen")]
    Rollback {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Version served.
        got: u64,
        /// Version seen before.
        seen: u64,
        /// The state directory.
        state_dir: String,
    },
    /// Expired metadata.
    #[error("freeze: the {document} from {url} expired at {expires} (it is now {now}). The registry is serving stale metadata (a freeze attack, or its daemon stopped re-signing); nothing was installed. Ask the registry's operator, or use --offline to install from what was verified before")]
    Expired {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Its expiry.
        expires: String,
        /// Now.
        now: String,
    },
    /// Bytes that differ from what the signed metadata lists.
    #[error("mix-and-match: {what} is {got}, but the signed {by} lists {want}. The registry is serving files that do not belong together; nothing was installed. If a publish happened just now, retry")]
    Mismatch {
        /// Which file, and its URL.
        what: String,
        /// Which document lists it.
        by: &'static str,
        /// Length and hash received.
        got: String,
        /// Length and hash listed.
        want: String,
    },
    /// Signed documents that contradict each other.
    #[error("inconsistent signed metadata from {url}: {detail}")]
    Inconsistent {
        /// The URL.
        url: String,
        /// What contradicts what, and what to do.
        detail: String,
    },
    /// Not the document it should be.
    #[error("malformed {document} from {url}: {detail}")]
    Malformed {
        /// Which document.
        document: String,
        /// The URL (or file).
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The snapshot does not list the package.
    #[error("no package named `{name}` in the registry {url} (its signed snapshot does not list `{path}`); check the spelling")]
    NotFound {
        /// The package.
        name: String,
        /// The registry.
        url: String,
        /// The index path.
        path: String,
    },
    /// A name that cannot be a package.
    #[error("`{name}` is not a valid package name: use 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter or digit")]
    BadName {
        /// The name.
        name: String,
    },
    /// Something `--offline` needs is not cached.
    #[error("offline: {what} is not in the local cache ({path}); run the same command once without --offline to fetch and verify it")]
    Offline {
        /// What is missing.
        what: String,
        /// Where it was looked for.
        path: String,
    },
    /// A local file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Local {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What the install client tells its user to do about an HTTP status.
fn status_advice(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            " (this registry needs a token with read access: pass --token or set SKILLREG_TOKEN)"
        }
        _ => "",
    }
}

impl TrustError {
    /// The message for a mirror run reading this registry as an upstream:
    /// the same facts, with advice for the admin of the mirroring registry
    /// (the source's `url`, `root_key`, `token`; nothing was stored) instead
    /// of the install client's flags.
    pub fn for_mirror(&self) -> String {
        match self {
            TrustError::Transport { url, message } => format!(
                "cannot reach {url}: {message}; check the source's `url` and that the upstream is running; the next run tries again"
            ),
            TrustError::Status {
                url,
                status: status @ (401 | 403),
                detail,
            } => format!(
                "{url} answered HTTP {status}{detail} (the upstream needs a token with read access: set `token` in the source)"
            ),
            TrustError::ForeignRoot {
                url,
                pinned,
                detail,
                state_dir,
            } => format!(
                "foreign root: {detail}. The upstream at {url} is not the registry the source's `root_key` ({pinned}) belongs to, or its keys were replaced without a rotation. Nothing was stored. If the upstream was deliberately re-created, set `root_key` to its new root (`skillreg key export-root` there) and delete {state_dir}"
            ),
            TrustError::RootChain {
                url,
                version,
                detail,
            } => format!(
                "root v{version} from {url} does not continue the chain of trust: {detail}. Its keys cannot be trusted; nothing was stored. Ask the upstream's operator whether the keys were rotated with `skillreg key rotate`"
            ),
            TrustError::Signature {
                document,
                url,
                source,
            } => format!(
                "the {document} from {url} failed verification: {source}. The upstream's metadata may have been tampered with; nothing from it was stored"
            ),
            TrustError::Rollback {
                document,
                url,
                got,
                seen,
                state_dir,
            } => format!(
                "rollback: {url} served {document} version {got}, older than version {seen} already verified from this upstream. Someone may be replaying old metadata to hide updates; nothing was stored. If the upstream was deliberately restored from a backup, delete {state_dir} to forget what was seen"
            ),
            TrustError::Expired {
                document,
                url,
                expires,
                now,
            } => format!(
                "freeze: the {document} from {url} expired at {expires} (it is now {now}). The upstream is serving stale metadata (a freeze attack, or its daemon stopped re-signing); nothing was stored. Ask the upstream's operator"
            ),
            TrustError::Mismatch {
                what,
                by,
                got,
                want,
            } => format!(
                "mix-and-match: {what} is {got}, but the signed {by} lists {want}. The upstream is serving files that do not belong together; not stored. If it published just now, the next run tries again"
            ),
            other => other.to_string(),
        }
    }

    /// True for failures that may pass on retry: the connection, or a 5xx
    /// or 429 from the server. Verification failures are never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            TrustError::Transport { .. } => true,
            TrustError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// How to reach and trust a registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// The registry's base URL, e.g. `http://127.0.0.1:8970`.
    pub url: String,
    /// A pinned root envelope file (`skillreg key export-root`).
    pub trust_root: Option<PathBuf>,
    /// Pin the registry's current root when nothing is pinned yet.
    pub trust_on_first_use: bool,
    /// Use only what was verified and cached before.
    pub offline: bool,
    /// API token, sent to URLs below the registry's base URL.
    pub token: Option<String>,
    /// PEM CA certificate to trust for an HTTPS registry.
    pub ca_cert: Option<PathBuf>,
    /// `$XDG_STATE_HOME/skillreg` (see [`default_state_home`]).
    pub state_home: PathBuf,
}

impl RegistryOptions {
    /// Options for `url` with the state home from the environment.
    pub fn new(url: &str) -> Result<RegistryOptions, TrustError> {
        Ok(RegistryOptions {
            url: url.to_string(),
            trust_root: None,
            trust_on_first_use: false,
            offline: false,
            token: None,
            ca_cert: None,
            state_home: default_state_home()?,
        })
    }
}

fn xdg_dir(var: &str, fallback: &str) -> Result<PathBuf, TrustError> {
    if let Some(dir) = std::env::var_os(var).map(PathBuf::from) {
        if dir.is_absolute() {
            return Ok(dir.join("skillreg"));
        }
    }
    match std::env::var_os("HOME").map(PathBuf::from) {
        Some(home) if home.is_absolute() => Ok(home.join(fallback).join("skillreg")),
        _ => Err(TrustError::Local {
            action: "find",
            path: format!("${var} or $HOME"),
            source: std::io::Error::other("neither is set to an absolute path; set one of them"),
        }),
    }
}

/// `$XDG_STATE_HOME/skillreg`, else `$HOME/.local/state/skillreg`.
pub fn default_state_home() -> Result<PathBuf, TrustError> {
    xdg_dir("XDG_STATE_HOME", ".local/state")
}

/// `$XDG_CACHE_HOME/skillreg`, else `$HOME/.cache/skillreg`.
pub fn default_cache_home() -> Result<PathBuf, TrustError> {
    xdg_dir("XDG_CACHE_HOME", ".cache")
}

/// The registry URL as used for state and requests: no trailing `/`.
pub fn normalize_url(url: &str) -> Result<String, TrustError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(TrustError::BadUrl {
            url: url.to_string(),
        }),
    }
}

/// The state directory of the registry at `base` (normalized).
pub fn state_dir_for(state_home: &Path, base: &str) -> PathBuf {
    let digest = Sha256Digest::of(base.as_bytes()).to_hex();
    state_home.join("registries").join(&digest[..16])
}

/// What was last verified, per registry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SavedState {
    registry: String,
    root_version: u64,
    timestamp_version: u64,
    snapshot_version: u64,
}

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
}

/// Parses the lines of `name`'s index file; lines that do not parse, or
/// belong to another name, are skipped (as cargo does).
pub fn parse_index_lines(name: &str, bytes: &[u8]) -> Vec<IndexLine> {
    let want = normalized_name(name);
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .filter_map(|l| {
            let entry: IndexEntry = serde_json::from_slice(l).ok()?;
            if normalized_name(&entry.name) != want {
                return None;
            }
            let version = semver::Version::parse(&entry.vers).ok()?;
            Some(IndexLine {
                size: entry.size,
                entry,
                version,
            })
        })
        .collect()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn check_expiry(document: &'static str, url: &str, expires: &str) -> Result<(), TrustError> {
    let at = humantime::parse_rfc3339(expires).map_err(|e| TrustError::Malformed {
        document: document.into(),
        url: url.into(),
        detail: format!("`expires` is not an RFC 3339 time ({e})"),
    })?;
    let now = SystemTime::now();
    if at <= now {
        return Err(TrustError::Expired {
            document,
            url: url.into(),
            expires: expires.into(),
            now: crate::fsutil::rfc3339(now_unix() as i64),
        });
    }
    Ok(())
}

/// Reads at most `limit` bytes; more is [`TrustError::EndlessData`].
pub fn read_limited(reader: &mut dyn Read, limit: u64, url: &str) -> Result<Vec<u8>, TrustError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| TrustError::Transport {
            url: url.into(),
            message: format!("the response broke off: {e}"),
        })?;
    if out.len() as u64 > limit {
        return Err(TrustError::EndlessData {
            url: url.into(),
            limit,
        });
    }
    Ok(out)
}

/// The HTTP side: one agent, the token for the registry's own URLs.
struct Http {
    agent: ureq::Agent,
    token: Option<String>,
    base: String,
}

impl Http {
    fn new(
        opts: &RegistryOptions,
        base: &str,
        stall_timeout: Option<Duration>,
    ) -> Result<Http, TrustError> {
        let agent = super::http::agent(opts.ca_cert.as_deref(), stall_timeout).map_err(|e| {
            let (path, message) = match e {
                CaCertError::Unreadable { path, source } => (path, source.to_string()),
                CaCertError::NoCertificate { path } => (path, "it holds no PEM certificate".into()),
            };
            TrustError::Local {
                action: "use the CA certificate",
                path: path.display().to_string(),
                source: std::io::Error::other(message),
            }
        })?;
        Ok(Http {
            agent,
            token: opts.token.clone(),
            base: base.to_string(),
        })
    }

    /// GETs `url`, reading at most `limit` bytes; `None` on 404.
    fn get(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, TrustError> {
        let mut req = self.agent.get(url);
        if let Some(token) = &self.token {
            if url.starts_with(&format!("{}/", self.base)) {
                req = req.header("Authorization", token);
            }
        }
        let mut response = req.call().map_err(|e| TrustError::Transport {
            url: url.into(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let mut reader = response.body_mut().as_reader();
        if !(200..300).contains(&status) {
            let text = read_limited(&mut reader, 4096, url).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let detail = serde_json::from_str::<crate::api::ErrorBody>(&text)
                .ok()
                .and_then(|b| b.errors.into_iter().next().map(|e| e.detail))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(TrustError::Status {
                url: url.into(),
                status,
                detail: format!(": {}", detail.trim()),
            });
        }
        read_limited(&mut reader, limit, url).map(Some)
    }

    /// Like [`Http::get`], with a 404 as an error saying what was missing.
    fn need(&self, url: &str, limit: u64, what: &str) -> Result<Vec<u8>, TrustError> {
        self.get(url, limit)?.ok_or_else(|| TrustError::Status {
            url: url.into(),
            status: 404,
            detail: format!(": {what}"),
        })
    }
}

fn role<'a>(root: &'a Root, name: &str, url: &str) -> Result<&'a sign::RoleKeys, TrustError> {
    root.roles.get(name).ok_or_else(|| TrustError::Malformed {
        document: format!("root v{}", root.version),
        url: url.into(),
        detail: format!("it names no `{name}` role"),
    })
}

/// Verifies an envelope's signature by `role_name` of `root` and parses it.
fn verify_doc<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    payload_type: &'static str,
    document: &'static str,
    root: &Root,
    role_name: &str,
    url: &str,
) -> Result<T, TrustError> {
    let envelope = Envelope::from_bytes(bytes).map_err(|e| TrustError::Signature {
        document,
        url: url.into(),
        source: e,
    })?;
    let payload = envelope
        .verify(
            payload_type,
            role_name,
            role(root, role_name, url)?,
            &root.keys,
        )
        .map_err(|e| TrustError::Signature {
            document,
            url: url.into(),
            source: e,
        })?;
    sign::parse(&payload).map_err(|e| TrustError::Malformed {
        document: document.into(),
        url: url.into(),
        detail: e.to_string(),
    })
}

fn check_type(
    found: &str,
    want: &str,
    document: &'static str,
    url: &str,
) -> Result<(), TrustError> {
    if found == want {
        Ok(())
    } else {
        Err(TrustError::Malformed {
            document: document.into(),
            url: url.into(),
            detail: format!("`_type` is `{found}`, not `{want}`"),
        })
    }
}

/// What is wrong with a root that is not a sound self-signed root
/// ([`sign::self_signed_root`]), in the client's words.
fn root_problem(e: RootError) -> sign::VerifyError {
    match e {
        RootError::Verify(e) => e,
        RootError::NotVersion1 { doc_type, .. } if doc_type != "root" => {
            sign::VerifyError::Malformed(format!("`_type` is `{doc_type}`, not `root`"))
        }
        RootError::NotVersion1 { spec_version, .. } => sign::VerifyError::Malformed(format!(
            "`spec_version` is `{spec_version}`; this skillreg understands only `1`"
        )),
    }
}

/// The key ids of each role of a root.
pub fn role_key_ids(root: &Root) -> BTreeMap<String, Vec<String>> {
    root.roles
        .iter()
        .map(|(name, r)| (name.clone(), r.keyids.clone()))
        .collect()
}

/// A trusted root: the document, its envelope bytes, its payload bytes.
struct TrustedRoot {
    root: Root,
    envelope: Vec<u8>,
    payload: Vec<u8>,
    origin: String,
}

fn load_pinned(path: &Path) -> Result<TrustedRoot, TrustError> {
    let file = sign::load_root_file(path, MAX_METADATA_BYTES).map_err(|e| match e {
        RootFileError::Unreadable(e) => TrustError::TrustRootUnreadable {
            path: path.display().to_string(),
            message: e.to_string(),
        },
        RootFileError::TooLarge { limit } => TrustError::TrustRootUnreadable {
            path: path.display().to_string(),
            message: format!("it is larger than {limit} bytes"),
        },
        RootFileError::Invalid(e) => TrustError::TrustRootInvalid {
            path: path.display().to_string(),
            source: root_problem(e),
        },
    })?;
    Ok(TrustedRoot {
        root: file.root,
        envelope: file.envelope,
        payload: file.payload,
        origin: path.display().to_string(),
    })
}

fn local<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> TrustError + 'a {
    move |source| TrustError::Local {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// Reads a file from the state directory; `None` when it does not exist.
fn read_state_file(path: &Path) -> Result<Option<Vec<u8>>, TrustError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(local("read", path)(e)),
    }
}

/// The saved state and root of a registry, if any.
fn load_saved(
    state_dir: &Path,
    base: &str,
) -> Result<Option<(SavedState, TrustedRoot)>, TrustError> {
    let state_path = state_dir.join(STATE_FILE);
    let root_path = state_dir.join(TRUSTED_ROOT_FILE);
    let (Some(state), Some(root_bytes)) =
        (read_state_file(&state_path)?, read_state_file(&root_path)?)
    else {
        return Ok(None);
    };
    let corrupt = |path: &Path, detail: String| TrustError::Malformed {
        document: "saved state".into(),
        url: path.display().to_string(),
        detail: format!("{detail}; delete {} to start over", state_dir.display()),
    };
    let state: SavedState =
        serde_json::from_slice(&state).map_err(|e| corrupt(&state_path, e.to_string()))?;
    if state.registry != base {
        return Err(corrupt(
            &state_path,
            format!("it belongs to the registry {}, not {base}", state.registry),
        ));
    }
    let (root, payload) = sign::self_signed_root(&root_bytes)
        .map_err(|e| corrupt(&root_path, root_problem(e).to_string()))?;
    Ok(Some((
        state,
        TrustedRoot {
            root,
            envelope: root_bytes,
            payload,
            origin: root_path.display().to_string(),
        },
    )))
}

fn write_state_file(state_dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), TrustError> {
    let path = state_dir.join(rel);
    if let Some(parent) = path.parent() {
        crate::fsutil::create_private_dir(parent).map_err(local("create", parent))?;
    }
    crate::fsutil::write_durable(&path, bytes, 0o600).map_err(local("write", &path))
}

/// An index path as it may be used below the state directory.
fn safe_index_path(path: &str) -> bool {
    // Signed documents live below `_skillreg/`; no index path starts with `_`.
    !path.is_empty()
        && !path.starts_with(['/', '_'])
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'))
}

/// A registry whose current signed metadata has been verified.
pub struct TrustedRegistry {
    base: String,
    state_dir: PathBuf,
    http: Option<Http>,
    root: Root,
    snapshot: Snapshot,
    timestamp_version: u64,
}

impl std::fmt::Debug for TrustedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRegistry")
            .field("base", &self.base)
            .field("root_version", &self.root.version)
            .field("snapshot_version", &self.snapshot.version)
            .field("offline", &self.http.is_none())
            .finish()
    }
}

impl TrustedRegistry {
    /// Establishes trust in the registry's current metadata (see the module
    /// documentation), or, offline, in the last metadata verified.
    pub fn open(opts: &RegistryOptions) -> Result<TrustedRegistry, TrustError> {
        Self::open_with_stall_timeout(opts, None)
    }

    /// Like [`TrustedRegistry::open`], but every request of this registry
    /// (now and later) also fails, as a transport error, when the server
    /// sends nothing for `stall_timeout`, not only after a request's 300 s.
    pub fn open_with_stall_timeout(
        opts: &RegistryOptions,
        stall_timeout: Option<Duration>,
    ) -> Result<TrustedRegistry, TrustError> {
        let base = normalize_url(&opts.url)?;
        let state_dir = state_dir_for(&opts.state_home, &base);
        let saved = load_saved(&state_dir, &base)?;
        let pinned = opts.trust_root.as_deref().map(load_pinned).transpose()?;
        if opts.offline {
            return Self::open_offline(base, state_dir, saved, pinned);
        }
        let http = Http::new(opts, &base, stall_timeout)?;
        let index_url = |rel: &str| format!("{base}/index/{rel}");
        let state_dir_text = state_dir.display().to_string();

        let (seen, saved_root) = match saved {
            Some((state, root)) => (state, Some(root)),
            None => (SavedState::default(), None),
        };
        // The pinned root and the saved one must both be what the registry
        // serves at their versions: anything else is another registry.
        let foreign = |trusted: &TrustedRoot| -> Result<(), TrustError> {
            let url = index_url(&paths::root(trusted.root.version));
            let fail = |detail: String| TrustError::ForeignRoot {
                url: base.clone(),
                pinned: trusted.origin.clone(),
                detail,
                state_dir: state_dir_text.clone(),
            };
            let Some(bytes) = http.get(&url, MAX_METADATA_BYTES)? else {
                return Err(fail(format!(
                    "the registry serves no root v{} (your trusted root's version)",
                    trusted.root.version
                )));
            };
            let served = Envelope::from_bytes(&bytes)
                .and_then(|e| e.payload_bytes())
                .map_err(|e| TrustError::Malformed {
                    document: format!("root v{}", trusted.root.version),
                    url: url.clone(),
                    detail: e.to_string(),
                })?;
            if served != trusted.payload {
                let ids = |r: &Root| {
                    r.roles
                        .get("root")
                        .map(|r| r.keyids.join(", "))
                        .unwrap_or_default()
                };
                let served_ids = sign::parse::<Root>(&served)
                    .map(|r| ids(&r))
                    .unwrap_or_else(|_| "(unreadable)".into());
                return Err(fail(format!(
                    "the registry's root v{} names root key(s) {served_ids}, but the trusted root v{} names {}",
                    trusted.root.version,
                    trusted.root.version,
                    ids(&trusted.root)
                )));
            }
            Ok(())
        };

        let mut first_use = false;
        let mut trusted = match (pinned, saved_root) {
            (Some(pinned), Some(saved)) => {
                foreign(&pinned)?;
                if saved.root.version > pinned.root.version {
                    foreign(&saved)?;
                    saved
                } else {
                    pinned
                }
            }
            (Some(pinned), None) => {
                foreign(&pinned)?;
                pinned
            }
            (None, Some(saved)) => {
                foreign(&saved)?;
                saved
            }
            (None, None) if opts.trust_on_first_use => {
                let url = index_url(paths::ROOT);
                let bytes = http.need(
                    &url,
                    MAX_METADATA_BYTES,
                    "the registry serves no root document; is it a skillreg daemon with signed metadata?",
                )?;
                let (root, payload) =
                    sign::self_signed_root(&bytes).map_err(|e| TrustError::Signature {
                        document: "root",
                        url: url.clone(),
                        source: root_problem(e),
                    })?;
                first_use = true;
                TrustedRoot {
                    root,
                    envelope: bytes,
                    payload,
                    origin: format!("{url}, trusted on first use"),
                }
            }
            (None, None) => return Err(TrustError::NoTrustRoot { url: base }),
        };
        if first_use {
            let keys = role_key_ids(&trusted.root)
                .into_iter()
                .map(|(role, ids)| format!("{role} {}", ids.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            eprintln!(
                "warning: TRUST ON FIRST USE: pinning root v{} of {base} without checking it against anything.\n\
                 warning: its keys: {keys}\n\
                 warning: whoever answered this request could have served their own keys. Compare these ids with\n\
                 warning: `skillreg key show` on the registry host, or pass --trust-root with the output of `skillreg key export-root`.",
                trusted.root.version
            );
        }

        // Walk the root chain: N+1 must verify with N's root keys and its own.
        let role_keys = |root: &Root, name: &str| root.roles.get(name).map(|r| r.keyids.clone());
        let (timestamp_keys, index_keys) = (
            role_keys(&trusted.root, "timestamp"),
            role_keys(&trusted.root, "index"),
        );
        for _ in 0..MAX_ROOT_STEPS {
            let next = trusted.root.version + 1;
            let url = index_url(&paths::root(next));
            let Some(bytes) = http.get(&url, MAX_METADATA_BYTES)? else {
                break;
            };
            let chain = |detail: String| TrustError::RootChain {
                url: url.clone(),
                version: next,
                detail,
            };
            let (root, payload) = sign::next_root(&trusted.root, &bytes).map_err(|e| match e {
                ChainError::Malformed(e) => chain(e.to_string()),
                ChainError::NoRootRole { trusted } => TrustError::Malformed {
                    document: format!("root v{trusted}"),
                    url: url.clone(),
                    detail: "it names no `root` role".into(),
                },
                ChainError::NotSignedByTrusted { trusted, source } => chain(format!(
                    "it is not signed by the root keys of the trusted root v{trusted}: {source}"
                )),
                ChainError::NotSelfSigned(e) => chain(format!(
                    "it is not signed by its own root keys: {}",
                    root_problem(e)
                )),
                ChainError::WrongVersion { expected, found } => chain(format!(
                    "it is served as version {expected} but says version {found}"
                )),
            })?;
            trusted = TrustedRoot {
                root,
                envelope: bytes,
                payload,
                origin: url,
            };
        }
        check_expiry(
            "root",
            &index_url(&paths::root(trusted.root.version)),
            &trusted.root.expires,
        )?;
        let root = trusted.root.clone();
        // A rotated timestamp or index key starts its versions afresh: what
        // a retired (maybe stolen) key signed must not block the new one.
        let mut seen = seen;
        if role_keys(&root, "timestamp") != timestamp_keys {
            seen.timestamp_version = 0;
        }
        if role_keys(&root, "index") != index_keys {
            seen.snapshot_version = 0;
        }

        // Timestamp: signed by the timestamp role, not older, not expired.
        let ts_url = index_url(paths::TIMESTAMP);
        let bytes = http.need(
            &ts_url,
            MAX_METADATA_BYTES,
            "the registry serves no timestamp; is it a skillreg daemon with signed metadata?",
        )?;
        let timestamp: Timestamp = verify_doc(
            &bytes,
            types::TIMESTAMP,
            "timestamp",
            &root,
            "timestamp",
            &ts_url,
        )?;
        check_type(&timestamp._type, "timestamp", "timestamp", &ts_url)?;
        if timestamp.version < seen.timestamp_version {
            return Err(TrustError::Rollback {
                document: "timestamp",
                url: ts_url,
                got: timestamp.version,
                seen: seen.timestamp_version,
                state_dir: state_dir_text,
            });
        }
        if timestamp.snapshot.version < seen.snapshot_version {
            return Err(TrustError::Rollback {
                document: "snapshot",
                url: ts_url,
                got: timestamp.snapshot.version,
                seen: seen.snapshot_version,
                state_dir: state_dir_text,
            });
        }
        check_expiry("timestamp", &ts_url, &timestamp.expires)?;
        let timestamp_bytes = bytes;

        // Snapshot: exactly the bytes the timestamp names, signed by the index role.
        let meta = &timestamp.snapshot;
        let snap_url = index_url(&paths::snapshot(meta.version));
        // The snapshot verified last time is reused when the (just verified)
        // timestamp names exactly its bytes: a quiet registry costs no
        // snapshot download. Every check below still runs on those bytes.
        let saved_snapshot = read_state_file(&state_dir.join(SNAPSHOT_FILE))?.filter(|b| {
            b.len() as u64 == meta.length && Sha256Digest::of(b).to_hex() == meta.sha256
        });
        let bytes = match saved_snapshot {
            Some(bytes) => bytes,
            None => http.need(
                &snap_url,
                meta.length,
                "the snapshot the timestamp names is not served; if a publish happened just now, retry",
            )?,
        };
        check_bytes(
            &bytes,
            &FileMeta {
                length: meta.length,
                sha256: meta.sha256.clone(),
            },
            &format!("snapshot v{}", meta.version),
            &snap_url,
            "timestamp",
        )?;
        let snapshot: Snapshot = verify_doc(
            &bytes,
            types::SNAPSHOT,
            "snapshot",
            &root,
            "index",
            &snap_url,
        )?;
        check_type(&snapshot._type, "snapshot", "snapshot", &snap_url)?;
        if snapshot.version != meta.version {
            return Err(TrustError::Inconsistent {
                url: snap_url,
                detail: format!(
                    "the timestamp names snapshot v{} but the snapshot says v{}",
                    meta.version, snapshot.version
                ),
            });
        }
        if snapshot.version < seen.snapshot_version {
            return Err(TrustError::Rollback {
                document: "snapshot",
                url: snap_url,
                got: snapshot.version,
                seen: seen.snapshot_version,
                state_dir: state_dir_text,
            });
        }
        check_expiry("snapshot", &snap_url, &snapshot.expires)?;
        if snapshot.root_version != root.version {
            return Err(TrustError::Inconsistent {
                url: snap_url,
                detail: format!(
                    "the snapshot was signed under root v{} but the newest root is v{}; if the registry's keys were rotated just now, retry in a few seconds",
                    snapshot.root_version, root.version
                ),
            });
        }

        // Everything verified: remember it (root first, state last).
        write_state_file(&state_dir, TRUSTED_ROOT_FILE, &trusted.envelope)?;
        write_state_file(&state_dir, TIMESTAMP_FILE, &timestamp_bytes)?;
        write_state_file(&state_dir, SNAPSHOT_FILE, &bytes)?;
        let state = SavedState {
            registry: base.clone(),
            root_version: root.version,
            timestamp_version: timestamp.version,
            snapshot_version: snapshot.version,
        };
        write_state_file(
            &state_dir,
            STATE_FILE,
            &serde_json::to_vec_pretty(&state).expect("state serializes"),
        )?;
        Ok(TrustedRegistry {
            base,
            state_dir,
            http: Some(http),
            root,
            snapshot,
            timestamp_version: timestamp.version,
        })
    }

    fn open_offline(
        base: String,
        state_dir: PathBuf,
        saved: Option<(SavedState, TrustedRoot)>,
        pinned: Option<TrustedRoot>,
    ) -> Result<TrustedRegistry, TrustError> {
        let Some((state, trusted)) = saved else {
            return Err(TrustError::Offline {
                what: format!("verified metadata for {base}"),
                path: state_dir.display().to_string(),
            });
        };
        if let Some(pinned) = pinned {
            if pinned.root.version > trusted.root.version {
                return Err(TrustError::Offline {
                    what: format!(
                        "root v{} (the version of --trust-root; only v{} was verified)",
                        pinned.root.version, trusted.root.version
                    ),
                    path: state_dir.display().to_string(),
                });
            }
            if pinned.root.version == trusted.root.version && pinned.payload != trusted.payload {
                return Err(TrustError::ForeignRoot {
                    url: base,
                    pinned: pinned.origin,
                    detail: format!(
                        "the root v{} verified before differs from the trust root",
                        trusted.root.version
                    ),
                    state_dir: state_dir.display().to_string(),
                });
            }
        }
        let root = trusted.root;
        let read = |name: &str| -> Result<(Vec<u8>, String), TrustError> {
            let path = state_dir.join(name);
            match read_state_file(&path)? {
                Some(bytes) => Ok((bytes, path.display().to_string())),
                None => Err(TrustError::Offline {
                    what: format!("the verified {name}"),
                    path: path.display().to_string(),
                }),
            }
        };
        let (ts_bytes, ts_path) = read(TIMESTAMP_FILE)?;
        let timestamp: Timestamp = verify_doc(
            &ts_bytes,
            types::TIMESTAMP,
            "timestamp",
            &root,
            "timestamp",
            &ts_path,
        )?;
        let (snap_bytes, snap_path) = read(SNAPSHOT_FILE)?;
        check_bytes(
            &snap_bytes,
            &FileMeta {
                length: timestamp.snapshot.length,
                sha256: timestamp.snapshot.sha256.clone(),
            },
            "the saved snapshot",
            &snap_path,
            "timestamp",
        )?;
        let snapshot: Snapshot = verify_doc(
            &snap_bytes,
            types::SNAPSHOT,
            "snapshot",
            &root,
            "index",
            &snap_path,
        )?;
        if timestamp.version != state.timestamp_version
            || snapshot.version != state.snapshot_version
            || snapshot.root_version != root.version
        {
            return Err(TrustError::Inconsistent {
                url: state_dir.display().to_string(),
                detail: format!(
                    "the saved metadata does not match {STATE_FILE}; run once without --offline to refresh it"
                ),
            });
        }
        Ok(TrustedRegistry {
            base,
            state_dir,
            http: None,
            root,
            snapshot,
            timestamp_version: timestamp.version,
        })
    }

    /// The registry's base URL (normalized).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// True when nothing may be fetched.
    pub fn is_offline(&self) -> bool {
        self.http.is_none()
    }

    /// The verified root.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The verified snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The verified timestamp's version.
    pub fn timestamp_version(&self) -> u64 {
        self.timestamp_version
    }

    /// This registry's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The bytes of the index file at `path` (below `/index/`, e.g.
    /// `he/ll/hello` or `config.json`), exactly as the snapshot lists them
    /// and with a verified statement.
    pub fn fetch_index_file(&self, path: &str) -> Result<Vec<u8>, TrustError> {
        let url = format!("{}/index/{path}", self.base);
        let Some(meta) = self.snapshot.files.get(path) else {
            return Err(TrustError::Inconsistent {
                url,
                detail: format!(
                    "the signed snapshot v{} does not list `{path}`",
                    self.snapshot.version
                ),
            });
        };
        if !safe_index_path(path) {
            return Err(TrustError::Malformed {
                document: "snapshot".into(),
                url,
                detail: format!("it lists the unsafe path `{path}`"),
            });
        }
        let cache_path = self.state_dir.join(INDEX_CACHE_DIR).join(path);
        let Some(http) = &self.http else {
            let missing = || TrustError::Offline {
                what: format!(
                    "the index file `{path}` of snapshot v{}",
                    self.snapshot.version
                ),
                path: cache_path.display().to_string(),
            };
            let bytes = read_state_file(&cache_path)?.ok_or_else(missing)?;
            if bytes.len() as u64 != meta.length || Sha256Digest::of(&bytes).to_hex() != meta.sha256
            {
                return Err(missing());
            }
            return Ok(bytes);
        };
        // A cached copy with exactly the bytes the verified snapshot lists
        // is as good as a fresh one (the snapshot authenticates it).
        if let Some(bytes) = read_state_file(&cache_path)? {
            if bytes.len() as u64 == meta.length && Sha256Digest::of(&bytes).to_hex() == meta.sha256
            {
                return Ok(bytes);
            }
        }
        let bytes = http.need(
            &url,
            meta.length,
            "the snapshot lists this file but the registry does not serve it; if a publish happened just now, retry",
        )?;
        check_bytes(
            &bytes,
            meta,
            &format!("the index file `{path}`"),
            &url,
            "snapshot",
        )?;
        let statement_url = format!("{}/index/{}", self.base, paths::statement(path));
        let statement_bytes = http.need(
            &statement_url,
            MAX_METADATA_BYTES,
            "the index file has no signed statement",
        )?;
        let statement: IndexFileStatement = verify_doc(
            &statement_bytes,
            types::INDEX_FILE,
            "index-file statement",
            &self.root,
            "index",
            &statement_url,
        )?;
        check_type(
            &statement._type,
            "index-file",
            "index-file statement",
            &statement_url,
        )?;
        if statement.path != path {
            return Err(TrustError::Inconsistent {
                url: statement_url,
                detail: format!(
                    "the statement is about `{}`, not `{path}` (a statement moved from another file)",
                    statement.path
                ),
            });
        }
        check_bytes(
            &bytes,
            &FileMeta {
                length: statement.length,
                sha256: statement.sha256,
            },
            &format!("the index file `{path}`"),
            &url,
            "statement",
        )?;
        // A cache: every use checks it against the signed snapshot again,
        // so it is replaced atomically but not fsynced.
        let cache_file = self.state_dir.join(INDEX_CACHE_DIR).join(path);
        if let Some(parent) = cache_file.parent() {
            crate::fsutil::create_private_dir(parent).map_err(local("create", parent))?;
        }
        crate::fsutil::write_replace(&cache_file, &bytes, 0o600)
            .map_err(local("write", &cache_file))?;
        Ok(bytes)
    }

    /// Every version of `name` the index lists.
    pub fn entries(&self, name: &str) -> Result<Vec<IndexLine>, TrustError> {
        validate_name(name)?;
        let path = index::path_for(name);
        if !self.snapshot.files.contains_key(&path) {
            return Err(TrustError::NotFound {
                name: name.into(),
                url: self.base.clone(),
                path,
            });
        }
        let bytes = self.fetch_index_file(&path)?;
        Ok(parse_index_lines(name, &bytes))
    }

    /// config.json's `dl`, verified like any index file.
    pub fn dl(&self) -> Result<String, TrustError> {
        let bytes = self.fetch_index_file("config.json")?;
        let url = format!("{}/index/config.json", self.base);
        let malformed = |detail: String| TrustError::Malformed {
            document: "config.json".into(),
            url: url.clone(),
            detail,
        };
        let config: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
        let dl = config
            .get("dl")
            .and_then(|v| v.as_str())
            .ok_or_else(|| malformed("it has no string `dl`".into()))?;
        if !(dl.starts_with("http://") || dl.starts_with("https://")) {
            return Err(malformed(format!("`dl` is `{dl}`, not an http(s) URL")));
        }
        Ok(dl.to_string())
    }

    /// Fetches `url` (a bundle) with at most `limit` bytes. Online only.
    pub fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, TrustError> {
        let Some(http) = &self.http else {
            return Err(TrustError::Offline {
                what: url.to_string(),
                path: "(network)".into(),
            });
        };
        http.need(url, limit, "the registry does not serve this download")
    }
}

fn check_bytes(
    bytes: &[u8],
    meta: &FileMeta,
    what: &str,
    url: &str,
    by: &'static str,
) -> Result<(), TrustError> {
    let sha = Sha256Digest::of(bytes).to_hex();
    if bytes.len() as u64 != meta.length || !sha.eq_ignore_ascii_case(&meta.sha256) {
        return Err(TrustError::Mismatch {
            what: format!("{what} from {url}"),
            by,
            got: format!("{} bytes with sha256 {sha}", bytes.len()),
            want: format!("{} bytes with sha256 {}", meta.length, meta.sha256),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::sign::self_signed_root;

    #[test]
    fn mirror_messages_advise_the_mirroring_admin() {
        let status = TrustError::Status {
            url: "http://up/index/config.json".into(),
            status: 401,
            detail: ": a token is required".into(),
        };
        assert!(status.to_string().contains("pass --token"));
        let mirrored = status.for_mirror();
        assert!(
            mirrored.contains("a token is required")
                && mirrored.contains("set `token` in the source")
        );
        assert!(!mirrored.contains("--token"), "{mirrored}");
        let transport = TrustError::Transport {
            url: "http://up".into(),
            message: "connection refused".into(),
        };
        assert!(transport.to_string().contains("--offline"));
        let mirrored = transport.for_mirror();
        assert!(mirrored.contains("connection refused") && mirrored.contains("the source's `url`"));
        assert!(!mirrored.contains("--registry") && !mirrored.contains("--offline"));
    }

    #[test]
    fn dl_without_markers_appends_the_cargo_path() {
        assert_eq!(
            download_url("http://h/api/v1/crates", "hello", "1.0.0", "ab"),
            "http://h/api/v1/crates/hello/1.0.0/download"
        );
    }

    #[test]
    fn dl_markers_are_replaced() {
        let dl = "http://h/{prefix}/{lowerprefix}/{crate}/{version}/{sha256-checksum}";
        assert_eq!(
            download_url(dl, "HeLLo", "1.0.0+b", "ff"),
            "http://h/He/LL/he/ll/HeLLo/1.0.0+b/ff"
        );
        assert_eq!(
            download_url(dl, "a", "1.0.0", "ff"),
            "http://h/1/1/a/1.0.0/ff"
        );
        assert_eq!(
            download_url(dl, "ab", "1.0.0", "ff"),
            "http://h/2/2/ab/1.0.0/ff"
        );
        assert_eq!(
            download_url(dl, "Abc", "1.0.0", "ff"),
            "http://h/3/A/3/a/Abc/1.0.0/ff"
        );
        assert_eq!(
            download_url("http://h/blobs/{sha256-checksum}", "x", "1", "ff"),
            "http://h/blobs/ff"
        );
    }

    #[test]
    fn names_are_checked_before_they_become_paths() {
        assert!(validate_name("base-skill").is_ok());
        assert!(validate_name("Serde_Json").is_ok());
        for bad in ["", "../x", "a/b", "-a", "é", ".hidden", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(safe_index_path("he/ll/hello"));
        assert!(safe_index_path("config.json"));
        assert!(!safe_index_path("../x"));
        assert!(!safe_index_path("_skillreg/root.json"));
        assert!(!safe_index_path("/etc/passwd"));
        assert!(safe_index_path("ab/_c/ab_c"));
    }

    #[test]
    fn limited_reads_refuse_endless_data() {
        let data = [7u8; 100];
        assert_eq!(read_limited(&mut &data[..], 100, "u").unwrap().len(), 100);
        let err = read_limited(&mut std::io::repeat(1), 1000, "u").unwrap_err();
        assert!(err.to_string().contains("endless data"), "{err}");
    }

    #[test]
    fn urls_and_state_dirs() {
        assert_eq!(normalize_url("http://h:1/").unwrap(), "http://h:1");
        assert!(normalize_url("ftp://h").is_err());
        assert!(normalize_url("http://").is_err());
        let a = state_dir_for(Path::new("/s"), "http://h:1");
        assert_eq!(a.parent().unwrap(), Path::new("/s/registries"));
        assert_eq!(a.file_name().unwrap().len(), 16);
        assert_ne!(a, state_dir_for(Path::new("/s"), "http://h:2"));
    }

    #[test]
    fn index_lines_skip_garbage_and_other_names() {
        let line = |name: &str, vers: &str| {
            format!(
                r#"{{"name":"{name}","vers":"{vers}","deps":[],"cksum":"00","features":{{}},"yanked":false,"links":null,"v":1,"rust_version":null,"pubtime":"2026-01-01T00:00:00Z","kind":"skill","description":null,"license":null,"size":12}}"#
            )
        };
        let body = format!(
            "{}\nnot json\n{}\n{}\n",
            line("hello", "1.0.0"),
            line("other", "1.0.0"),
            line("hello", "1.1.0")
        );
        let lines = parse_index_lines("hello", body.as_bytes());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].version, semver::Version::new(1, 1, 0));
        assert_eq!(lines[0].size, Some(12));
    }

    #[test]
    fn pinned_roots_must_be_sound() {
        use ed25519_dalek::SigningKey;
        let key = SigningKey::from_bytes(&[3u8; 32]);
        let id = sign::key_id(&key.verifying_key());
        let root = |spec: &str, listed_id: &str| {
            let root = Root {
                _type: "root".into(),
                spec_version: spec.into(),
                version: 1,
                expires: "2999-01-01T00:00:00Z".into(),
                keys: [(
                    listed_id.to_string(),
                    sign::PublicKey::of(&key.verifying_key()),
                )]
                .into(),
                roles: [(
                    "root".to_string(),
                    sign::RoleKeys {
                        keyids: vec![listed_id.to_string()],
                        threshold: 1,
                    },
                )]
                .into(),
            };
            Envelope::sign(types::ROOT, &sign::canonical(&root), &[&key]).to_bytes()
        };
        assert!(self_signed_root(&root("1", &id)).is_ok());
        let err = self_signed_root(&root("2", &id)).unwrap_err();
        assert!(err.to_string().contains("spec_version"), "{err}");
        let worded = root_problem(err).to_string();
        assert!(worded.contains("understands only `1`"), "{worded}");
        // Listed under another id: the signature's key id is unknown.
        assert!(self_signed_root(&root("1", &"0".repeat(64))).is_err());
    }

    #[test]
    fn expiry_is_checked() {
        assert!(check_expiry("timestamp", "u", "2000-01-01T00:00:00Z").is_err());
        assert!(check_expiry("timestamp", "u", "2999-01-01T00:00:00Z").is_ok());
        assert!(check_expiry("timestamp", "u", "soon").is_err());
    }
}
