//! Expiry: signed metadata whose `expires` is past is a freeze attack (or
//! a registry whose daemon stopped re-signing), refused with the times.

use std::time::{SystemTime, UNIX_EPOCH};

use super::TrustError;

/// Seconds since the epoch (0 if the clock is before it), for messages.
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Refuses a `document` whose `expires` is past (a freeze) or unreadable.
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
