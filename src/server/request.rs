//! What every handler takes from a request: who sent it (and whether
//! they may read or write), its body within limits and a timeout, and a way
//! to run registry work off the async threads.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, StatusCode};
use std::time::Duration;

use super::error::ApiError;
use super::{AuthError, Shared};
use crate::token::Identity;

/// The identity behind the request's token, if it sent one.
pub(super) fn identity(
    req: &Request<Incoming>,
    shared: &Shared,
) -> Result<Option<Identity>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
    let who = match shared.auth.authenticate(value) {
        Ok(who) => who,
        Err(AuthError::Invalid) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                AuthError::Invalid.to_string(),
            ))
        }
        Err(AuthError::Store(e)) => return Err(ApiError::tokens_unavailable(&e)),
    };
    shared
        .limits
        .check_token(who.token_id)
        .map_err(|wait| ApiError::rate_limited(wait, "token"))?;
    Ok(Some(who))
}

/// Reads (index, downloads, search) need a token only when `auth_required`.
pub(super) fn reader(req: &Request<Incoming>, shared: &Shared) -> Result<(), ApiError> {
    if !shared.config.auth_required {
        return Ok(());
    }
    reader_identity(req, shared).map(|_| ())
}

/// Like [`reader`], also returning who sent a valid token, so a read can
/// show an admin what waits for review. Without `auth_required` the header
/// only has to be recognised: an invalid token reads as no token, as it
/// does on every other read, and no token rate is charged (web-api.md §5.1).
pub(super) fn reader_identity(
    req: &Request<Incoming>,
    shared: &Shared,
) -> Result<Option<Identity>, ApiError> {
    if !shared.config.auth_required {
        return Ok(req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| shared.auth.authenticate(v).ok()));
    }
    match identity(req, shared) {
        Ok(Some(who)) => Ok(Some(who)),
        Ok(None) => Err(ApiError::unauthorized(
            "this registry requires a token to read; configure cargo with credential-provider = [\"cargo:token\"] and a reader token",
        )),
        Err(e) if e.status == StatusCode::FORBIDDEN => Err(ApiError::unauthorized(e.detail)),
        Err(e) => Err(e),
    }
}

/// Writes need a token, always.
pub(super) fn writer(req: &Request<Incoming>, shared: &Shared) -> Result<Identity, ApiError> {
    identity(req, shared)?.ok_or_else(|| {
        ApiError::unauthorized("this needs a publisher token in the Authorization header (cargo: `cargo login --registry NAME`)")
    })
}

/// Reads a whole body within `limit` bytes (`what` names the limit in the
/// error) and the configured body timeout.
pub(super) async fn read_body(
    req: Request<Incoming>,
    limit: u64,
    what: &str,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes ({what})"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    let body = Limited::new(req.into_body(), limit as usize);
    match tokio::time::timeout(timeout, body.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs()
            ),
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("could not read the request body: {e}"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Runs registry work on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::registry::RegistryError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "registry task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; nothing was changed",
            ))
        }
    }
}
