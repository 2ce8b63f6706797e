//! `--offline`: trust in the last verified view, with nothing fetched. The
//! saved timestamp and snapshot are verified again against the saved root,
//! and cached index files against the snapshot; expiry is not checked,
//! because offline use means asking for the last verified view on purpose.

use std::path::{Path, PathBuf};

use super::metadata::{check_bytes, verify_doc};
use super::roots::TrustedRoot;
use super::state::{
    is_listed, read_state_file, SavedState, SNAPSHOT_FILE, STATE_FILE, TIMESTAMP_FILE,
};
use super::{TrustError, TrustedRegistry};
use crate::index::sign::{types, FileMeta, Root, Snapshot, Timestamp};

impl TrustedRegistry {
    /// The last verified view of the registry at `base`: its `saved` state
    /// and root, checked against `pinned` (`--trust-root`) when given.
    pub(super) fn open_offline(
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
            check_pin(&base, &state_dir, &pinned, &trusted)?;
        }
        let root = trusted.root;
        let (timestamp, snapshot) = saved_metadata(&state_dir, &root)?;
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
            nodes: Default::default(),
        })
    }
}

/// Offline, the pinned root cannot be followed to a newer one: it must not
/// be newer than the saved root, and at the same version it must be it.
fn check_pin(
    base: &str,
    state_dir: &Path,
    pinned: &TrustedRoot,
    saved: &TrustedRoot,
) -> Result<(), TrustError> {
    if pinned.root.version > saved.root.version {
        return Err(TrustError::Offline {
            what: format!(
                "root v{} (the version of --trust-root; only v{} was verified)",
                pinned.root.version, saved.root.version
            ),
            path: state_dir.display().to_string(),
        });
    }
    if pinned.root.version == saved.root.version && pinned.payload != saved.payload {
        return Err(TrustError::ForeignRoot {
            url: base.to_string(),
            pinned: pinned.origin.clone(),
            detail: format!(
                "the root v{} verified before differs from the trust root",
                saved.root.version
            ),
            state_dir: state_dir.display().to_string(),
        });
    }
    Ok(())
}

/// The saved timestamp and snapshot, verified again with `root`'s keys and
/// the snapshot against the timestamp.
fn saved_metadata(state_dir: &Path, root: &Root) -> Result<(Timestamp, Snapshot), TrustError> {
    let (ts_bytes, ts_path) = read_saved(state_dir, TIMESTAMP_FILE)?;
    let timestamp: Timestamp = verify_doc(
        &ts_bytes,
        types::TIMESTAMP,
        "timestamp",
        root,
        "timestamp",
        &ts_path,
    )?;
    let (snap_bytes, snap_path) = read_saved(state_dir, SNAPSHOT_FILE)?;
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
        root,
        "index",
        &snap_path,
    )?;
    super::metadata::check_top(&snapshot, &snap_path)?;
    Ok((timestamp, snapshot))
}

/// The saved file `name` and its path (for messages); missing is an
/// [`TrustError::Offline`] error.
fn read_saved(state_dir: &Path, name: &str) -> Result<(Vec<u8>, String), TrustError> {
    let path = state_dir.join(name);
    match read_state_file(&path)? {
        Some(bytes) => Ok((bytes, path.display().to_string())),
        None => Err(TrustError::Offline {
            what: format!("the verified {name}"),
            path: path.display().to_string(),
        }),
    }
}

/// The cached copy of the index file at `path`, which snapshot
/// `snapshot_version` lists as `meta`; a missing copy, or one with other
/// bytes, is not in the cache.
pub(super) fn cached_index_file(
    cache_path: &Path,
    path: &str,
    meta: &FileMeta,
    snapshot_version: u64,
) -> Result<Vec<u8>, TrustError> {
    let missing = || TrustError::Offline {
        what: format!("the index file `{path}` of snapshot v{snapshot_version}"),
        path: cache_path.display().to_string(),
    };
    let bytes = read_state_file(cache_path)?.ok_or_else(missing)?;
    if !is_listed(&bytes, meta.length, &meta.sha256) {
        return Err(missing());
    }
    Ok(bytes)
}
