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

mod error;
mod fetch;
mod index;
mod metadata;
mod offline;
mod roots;
mod state;
#[cfg(test)]
mod tests;

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

use crate::blobs::Sha256Digest;
use crate::index::sign::{
    self, paths, types, ChainError, Envelope, FileMeta, IndexFileStatement, Root, Snapshot,
    Timestamp,
};
use error::local;
use fetch::Http;
use index::safe_index_path;
use metadata::{check_bytes, check_expiry, check_type, verify_doc};
use roots::{load_pinned, root_problem, TrustedRoot, MAX_ROOT_STEPS};
use state::{
    load_saved, read_state_file, write_state_file, SavedState, INDEX_CACHE_DIR, SNAPSHOT_FILE,
    TIMESTAMP_FILE,
};

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
        let path = crate::index::path_for(name);
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
