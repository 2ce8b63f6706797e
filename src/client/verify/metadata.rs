//! Signed metadata below the root: the timestamp and the snapshot it
//! names, each signed by its role of the newest root, not older than what
//! was seen (rollback), not expired (freeze), and with exactly the bytes a
//! signed document lists (mix-and-match); and the checks they are made of.

use std::path::Path;

use super::expiry::check_expiry;
use super::fetch::Http;
use super::state::{is_listed, read_state_file, SavedState, SNAPSHOT_FILE};
use super::{TrustError, MAX_METADATA_BYTES};
use crate::blobs::Sha256Digest;
use crate::index::sign::{
    self, paths, types, Envelope, FileMeta, Root, Snapshot, SnapshotMeta, Timestamp,
};
use crate::index::snapshot_tree;

/// Fetches and verifies the registry's timestamp: signed by the timestamp
/// role of `root`, naming a timestamp and a snapshot not older than `seen`,
/// not expired. Returns it with its envelope bytes.
pub(super) fn verify_timestamp(
    http: &Http,
    root: &Root,
    seen: &SavedState,
    state_dir: &Path,
) -> Result<(Timestamp, Vec<u8>), TrustError> {
    let url = http.index_url(paths::TIMESTAMP);
    let bytes = http.need(
        &url,
        MAX_METADATA_BYTES,
        "the registry serves no timestamp; is it a skillreg daemon with signed metadata?",
    )?;
    let timestamp: Timestamp = verify_doc(
        &bytes,
        types::TIMESTAMP,
        "timestamp",
        root,
        "timestamp",
        &url,
    )?;
    check_type(&timestamp._type, "timestamp", "timestamp", &url)?;
    if timestamp.version < seen.timestamp_version {
        return Err(TrustError::Rollback {
            document: "timestamp",
            url,
            got: timestamp.version,
            seen: seen.timestamp_version,
            state_dir: state_dir.display().to_string(),
        });
    }
    if timestamp.snapshot.version < seen.snapshot_version {
        return Err(TrustError::Rollback {
            document: "snapshot",
            url,
            got: timestamp.snapshot.version,
            seen: seen.snapshot_version,
            state_dir: state_dir.display().to_string(),
        });
    }
    check_expiry("timestamp", &url, &timestamp.expires)?;
    Ok((timestamp, bytes))
}

/// Verifies the snapshot the (verified) timestamp names in `meta`: exactly
/// those bytes, signed by the index role of `root`, of that version, not
/// older than `seen`, not expired, and signed under `root`. Returns it with
/// its envelope bytes.
pub(super) fn verify_snapshot(
    http: &Http,
    root: &Root,
    meta: &SnapshotMeta,
    seen: &SavedState,
    state_dir: &Path,
) -> Result<(Snapshot, Vec<u8>), TrustError> {
    let url = http.index_url(&paths::snapshot(meta.version));
    // The snapshot verified last time is reused when the timestamp names
    // exactly its bytes: a quiet registry costs no snapshot download.
    // Every check below still runs on those bytes.
    let saved = read_state_file(&state_dir.join(SNAPSHOT_FILE))?
        .filter(|b| is_listed(b, meta.length, &meta.sha256));
    let bytes = match saved {
        Some(bytes) => bytes,
        None => http.need(
            &url,
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
        &url,
        "timestamp",
    )?;
    let snapshot: Snapshot = verify_doc(&bytes, types::SNAPSHOT, "snapshot", root, "index", &url)?;
    check_type(&snapshot._type, "snapshot", "snapshot", &url)?;
    if snapshot.version != meta.version {
        return Err(TrustError::Inconsistent {
            url,
            detail: format!(
                "the timestamp names snapshot v{} but the snapshot says v{}",
                meta.version, snapshot.version
            ),
        });
    }
    if snapshot.version < seen.snapshot_version {
        return Err(TrustError::Rollback {
            document: "snapshot",
            url,
            got: snapshot.version,
            seen: seen.snapshot_version,
            state_dir: state_dir.display().to_string(),
        });
    }
    check_expiry("snapshot", &url, &snapshot.expires)?;
    check_top(&snapshot, &url)?;
    if snapshot.root_version != root.version {
        return Err(TrustError::Inconsistent {
            url,
            detail: format!(
                "the snapshot was signed under root v{} but the newest root is v{}; if the registry's keys were rotated just now, retry in a few seconds",
                snapshot.root_version, root.version
            ),
        });
    }
    Ok((snapshot, bytes))
}

/// Refuses a signed top of another tree shape than this client walks.
pub(super) fn check_top(snapshot: &Snapshot, url: &str) -> Result<(), TrustError> {
    let malformed = |detail: String| TrustError::Malformed {
        document: "snapshot".into(),
        url: url.into(),
        detail,
    };
    if snapshot.depth != snapshot_tree::DEPTH as u64 {
        return Err(malformed(format!(
            "its tree is {} levels deep; this client reads {}",
            snapshot.depth,
            snapshot_tree::DEPTH
        )));
    }
    snapshot_tree::check_children(&snapshot.children).map_err(malformed)
}

/// The keys of role `name` in `root`; a root without it is malformed.
fn role<'a>(root: &'a Root, name: &str, url: &str) -> Result<&'a sign::RoleKeys, TrustError> {
    root.roles.get(name).ok_or_else(|| TrustError::Malformed {
        document: format!("root v{}", root.version),
        url: url.into(),
        detail: format!("it names no `{name}` role"),
    })
}

/// Verifies an envelope's signature by `role_name` of `root` and parses it.
pub(super) fn verify_doc<T: serde::de::DeserializeOwned>(
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

/// Refuses a verified document whose `_type` is `found`, not `want`: a
/// document signed for one purpose must not be taken for another.
pub(super) fn check_type(
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

/// Refuses `bytes` (`what`, from `url`) unless they are exactly what the
/// signed document `by` lists in `meta` (mix-and-match).
pub(super) fn check_bytes(
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
