//! Checks of signed metadata: an envelope signed by a role of the trusted
//! root, its `_type`, its expiry (freeze), and bytes that must match what a
//! signed document lists (mix-and-match).

use std::time::{SystemTime, UNIX_EPOCH};

use super::TrustError;
use crate::blobs::Sha256Digest;
use crate::index::sign::{self, Envelope, FileMeta, Root};

pub(super) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) fn check_expiry(
    document: &'static str,
    url: &str,
    expires: &str,
) -> Result<(), TrustError> {
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

fn role<'a>(
    root: &'a Root,
    name: &str,
    url: &str,
) -> Result<&'a sign::RoleKeys, TrustError> {
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
