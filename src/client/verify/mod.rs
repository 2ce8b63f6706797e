//! The verifying side of the signed index: a registry trusted only as far as
//! its signed metadata goes.
//!
//! [`TrustedRegistry::open`] starts from a pinned root document (the output
//! of `skillreg key export-root`), follows the registry's root chain, and
//! verifies the timestamp and the snapshot it names. Every index file read
//! through [`TrustedRegistry::fetch_index_file`] must then match the
//! snapshot's entry for it (found by walking the snapshot's hash tree from
//! the signed top to the file's bin, each node pinned by its parent) byte
//! for byte and carry a valid statement signed by the index
//! key. What was verified is kept in a per-registry state directory:
//!
//! ```text
//! $XDG_STATE_HOME/skillreg/registries/<first 16 hex of sha256(base URL)>/
//!     trusted-root.json   newest verified root envelope
//!     state.json          {registry, root_version, timestamp_version, snapshot_version}
//!     timestamp.json      the last verified timestamp envelope
//!     snapshot.json       the last verified snapshot envelope (the tree's signed top)
//!     tree/<prefix>.json  verified snapshot-tree nodes, reused while their hash is pinned
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
//! each key under its own key id ([`sign::self_signed_root`](crate::index::sign::self_signed_root)); root N+1
//! must verify with N's root keys and its own ([`sign::next_root`](crate::index::sign::next_root), the
//! rule the transfer importer follows too). When the chain walk changes the
//! timestamp or index key, the last seen versions of what that key signs
//! start again from 0 (TUF's fast-forward recovery): what a retired key
//! signed must not block its successor.
//!
//! In `--offline` mode nothing is fetched: the saved timestamp and snapshot
//! are re-verified against the saved root and the cached index files against
//! the snapshot. Expiry is not checked offline, because offline use means
//! asking for the last verified view on purpose.
//!
//! # Layout
//!
//! One file per idea: `roots` chooses the root to start from (pinned,
//! saved, or trusted on first use), refuses a foreign root and walks the
//! chain; `metadata` verifies the timestamp and the snapshot; `index`
//! checks names and index paths, fetches index files with their statements
//! and reads their lines; `state` is the state directory; `offline` is
//! `--offline`; `fetch` reads responses under caps; `error` is
//! [`TrustError`]. This file holds [`TrustedRegistry`], which runs those
//! steps in order.

mod error;
mod expiry;
mod fetch;
mod index;
mod metadata;
mod offline;
mod roots;
mod state;
#[cfg(test)]
mod tests;
mod tree;

pub use error::TrustError;
pub use fetch::read_limited;
pub use index::{download_url, normalized_name, parse_index_lines, validate_name, IndexLine};
pub use roots::role_key_ids;
pub use state::{
    default_cache_home, default_state_home, normalize_url, state_dir_for, STATE_FILE,
    TRUSTED_ROOT_FILE,
};

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::index::sign::{Root, Snapshot};
use fetch::Http;
use index::safe_index_path;
use roots::load_pinned;
use state::{is_listed, load_saved, read_state_file, SavedState, INDEX_CACHE_DIR};

/// Cap on a root, timestamp or statement response.
pub const MAX_METADATA_BYTES: u64 = 1024 * 1024;
/// Cap on a bundle whose index line states no `size`.
pub const MAX_BUNDLE_BYTES: u64 = 50 * 1024 * 1024;

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

/// A registry whose current signed metadata has been verified.
pub struct TrustedRegistry {
    base: String,
    state_dir: PathBuf,
    http: Option<Http>,
    root: Root,
    snapshot: Snapshot,
    timestamp_version: u64,
    /// Snapshot-tree nodes verified so far.
    nodes: tree::Nodes,
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
        let (seen, saved_root) = match saved {
            Some((state, root)) => (state, Some(root)),
            None => (SavedState::default(), None),
        };

        let (start, provenance) = roots::starting_root(
            &http,
            &state_dir,
            pinned,
            saved_root,
            opts.trust_on_first_use,
        )?;
        let verified = (|| {
            let trusted = roots::walk_chain(&http, start.clone())?;
            let root = trusted.root.clone();
            let seen = seen.after_rotation(&start.root, &root);
            let (timestamp, timestamp_bytes) =
                metadata::verify_timestamp(&http, &root, &seen, &state_dir)?;
            let (snapshot, snapshot_bytes) =
                metadata::verify_snapshot(&http, &root, &timestamp.snapshot, &seen, &state_dir)?;
            Ok((
                trusted,
                root,
                timestamp,
                timestamp_bytes,
                snapshot,
                snapshot_bytes,
            ))
        })();
        let (trusted, root, timestamp, timestamp_bytes, snapshot, snapshot_bytes) = verified
            .map_err(|e| roots::explain_failure(&http, &state_dir, &start, provenance, e))?;

        // Everything verified: remember it.
        let state = SavedState {
            registry: base.clone(),
            root_version: root.version,
            timestamp_version: timestamp.version,
            snapshot_version: snapshot.version,
        };
        state::save(
            &state_dir,
            &trusted.envelope,
            &timestamp_bytes,
            &snapshot_bytes,
            &state,
        )?;
        Ok(TrustedRegistry {
            base,
            state_dir,
            http: Some(http),
            root,
            snapshot,
            timestamp_version: timestamp.version,
            nodes: tree::Nodes::default(),
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
        let Some(meta) = self.file_meta(path)? else {
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
            return offline::cached_index_file(&cache_path, path, &meta, self.snapshot.version);
        };
        // A cached copy with exactly the bytes the verified snapshot lists
        // is as good as a fresh one (the snapshot authenticates it).
        if let Some(bytes) = read_state_file(&cache_path)? {
            if is_listed(&bytes, meta.length, &meta.sha256) {
                return Ok(bytes);
            }
        }
        let bytes = index::fetch_verified(http, &self.root, path, &meta)?;
        state::cache_index_file(&self.state_dir, path, &bytes)?;
        Ok(bytes)
    }

    /// Every version of `name` the index lists.
    pub fn entries(&self, name: &str) -> Result<Vec<IndexLine>, TrustError> {
        validate_name(name)?;
        let path = crate::index::path_for(name);
        if self.file_meta(&path)?.is_none() {
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
