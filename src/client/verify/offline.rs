//! `--offline`: trust in the last verified view, with nothing fetched. The
//! saved timestamp and snapshot are verified again against the saved root;
//! expiry is not checked, because offline use means asking for the last
//! verified view on purpose.

use std::path::PathBuf;

use super::metadata::{check_bytes, verify_doc};
use super::roots::TrustedRoot;
use super::state::{read_state_file, SavedState, SNAPSHOT_FILE, STATE_FILE, TIMESTAMP_FILE};
use super::{TrustError, TrustedRegistry};
use crate::index::sign::{types, FileMeta, Snapshot, Timestamp};

impl TrustedRegistry {
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
}
