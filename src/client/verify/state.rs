//! Where a registry's verified state lives and how it is read and written:
//! the state home (`$XDG_STATE_HOME/skillreg`), one directory per registry
//! URL, and the files in it (see the module documentation of
//! [`super`]). What is saved was verified before it was written; what is
//! read back is verified again before it is used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::local;
use super::roots::{root_problem, TrustedRoot};
use super::TrustError;
use crate::blobs::Sha256Digest;
use crate::index::sign::{self, Root};

/// The verified root, in the state directory.
pub const TRUSTED_ROOT_FILE: &str = "trusted-root.json";
/// Versions seen, in the state directory.
pub const STATE_FILE: &str = "state.json";
/// The last verified timestamp envelope, in the state directory.
pub(super) const TIMESTAMP_FILE: &str = "timestamp.json";
/// The last verified snapshot envelope, in the state directory.
pub(super) const SNAPSHOT_FILE: &str = "snapshot.json";
/// Verified index files, below the state directory.
pub(super) const INDEX_CACHE_DIR: &str = "index";

/// `$var/skillreg` when `var` is an absolute path, else
/// `$HOME/fallback/skillreg`.
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
pub(super) struct SavedState {
    /// The registry's base URL (normalized): a state directory holds one.
    pub(super) registry: String,
    /// The newest verified root's version.
    pub(super) root_version: u64,
    /// The last verified timestamp's version (rollback below it is refused).
    pub(super) timestamp_version: u64,
    /// The last verified snapshot's version (rollback below it is refused).
    pub(super) snapshot_version: u64,
}

impl SavedState {
    /// The versions still binding after the chain walk went from root
    /// `before` to root `after`: a rotated timestamp or index key starts
    /// its versions afresh (TUF's fast-forward recovery), because what a
    /// retired (maybe stolen) key signed must not block the new one.
    pub(super) fn after_rotation(mut self, before: &Root, after: &Root) -> SavedState {
        let keys = |root: &Root, role: &str| root.roles.get(role).map(|r| r.keyids.clone());
        if keys(after, "timestamp") != keys(before, "timestamp") {
            self.timestamp_version = 0;
        }
        if keys(after, "index") != keys(before, "index") {
            self.snapshot_version = 0;
        }
        self
    }
}

/// Reads a file from the state directory; `None` when it does not exist.
pub(super) fn read_state_file(path: &Path) -> Result<Option<Vec<u8>>, TrustError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(local("read", path)(e)),
    }
}

/// The saved state and root of a registry, if any.
pub(super) fn load_saved(
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

/// Writes `bytes` to `rel` in the state directory, durably.
fn write_state_file(state_dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), TrustError> {
    let path = state_dir.join(rel);
    if let Some(parent) = path.parent() {
        crate::fsutil::create_private_dir(parent).map_err(local("create", parent))?;
    }
    crate::fsutil::write_durable(&path, bytes, 0o600).map_err(local("write", &path))
}

/// Remembers what was just verified: the newest root, the timestamp and
/// snapshot envelopes, then `state` (root first, state last, so that the
/// state never names versions whose documents are not saved).
pub(super) fn save(
    state_dir: &Path,
    root_envelope: &[u8],
    timestamp: &[u8],
    snapshot: &[u8],
    state: &SavedState,
) -> Result<(), TrustError> {
    write_state_file(state_dir, TRUSTED_ROOT_FILE, root_envelope)?;
    write_state_file(state_dir, TIMESTAMP_FILE, timestamp)?;
    write_state_file(state_dir, SNAPSHOT_FILE, snapshot)?;
    write_state_file(
        state_dir,
        STATE_FILE,
        &serde_json::to_vec_pretty(state).expect("state serializes"),
    )
}

/// Keeps a verified index file for later runs and `--offline`.
pub(super) fn cache_index_file(
    state_dir: &Path,
    path: &str,
    bytes: &[u8],
) -> Result<(), TrustError> {
    // A cache: every use checks it against the signed snapshot again,
    // so it is replaced atomically but not fsynced.
    let cache_file = state_dir.join(INDEX_CACHE_DIR).join(path);
    if let Some(parent) = cache_file.parent() {
        crate::fsutil::create_private_dir(parent).map_err(local("create", parent))?;
    }
    crate::fsutil::write_replace(&cache_file, bytes, 0o600).map_err(local("write", &cache_file))
}

/// True when `bytes` are exactly the `length` and lowercase hex `sha256`
/// a verified document lists: a saved or cached copy that is as good as a
/// fresh one (the document authenticates it).
pub(super) fn is_listed(bytes: &[u8], length: u64, sha256: &str) -> bool {
    bytes.len() as u64 == length && Sha256Digest::of(bytes).to_hex() == sha256
}
