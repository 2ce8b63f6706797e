//! The one mapping from library errors to HTTP: a status and
//! `{"errors":[{"detail":…}]}`, where the detail says what to fix.

use hyper::StatusCode;

use super::limits::{UploadCapError, UPLOAD_RETRY_AFTER};
use crate::api::FramingError;
use crate::bundle::BundleError;
use crate::registry::{CatalogError, RegistryError};
use crate::store::StoreError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The `detail` text.
    pub detail: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
    /// Add `www-authenticate: Cargo login_url=…` (401).
    pub challenge: bool,
}

impl ApiError {
    /// An error with a status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            retry_after: None,
            challenge: false,
        }
    }

    /// 401 with cargo's login challenge.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError {
            challenge: true,
            ..ApiError::new(StatusCode::UNAUTHORIZED, detail)
        }
    }

    /// 429 with Retry-After; cargo does not retry, so the detail says when to.
    pub fn rate_limited(wait: std::time::Duration, what: &str) -> ApiError {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests from this {what}; retry in {secs} s"),
            )
        }
    }

    /// 404 with a detail.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    /// 503: the token store could not be read (the cause is logged here,
    /// not sent).
    pub fn tokens_unavailable(e: &impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "token check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot check tokens right now; retry shortly",
        )
    }

    /// 503 with `Retry-After: 1`: as many bundles are being read as may be.
    pub fn busy_reading() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the registry is reading other bundles right now; retry in a second",
            )
        }
    }
}

impl From<UploadCapError> for ApiError {
    /// 429 with Retry-After, like a rate limit; the detail names the cap and
    /// the key that raises it.
    fn from(e: UploadCapError) -> ApiError {
        ApiError {
            retry_after: Some(UPLOAD_RETRY_AFTER.as_secs()),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
        }
    }
}

impl From<FramingError> for ApiError {
    /// A part over its limit is 413; any other framing problem is 400.
    fn from(e: FramingError) -> ApiError {
        let status = match e {
            FramingError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<crate::mirror::sync::MirrorError> for ApiError {
    /// An unknown source is 404, a busy one 409, a lockfile that cannot be
    /// used 400; the store's trouble maps as the registry's.
    fn from(e: crate::mirror::sync::MirrorError) -> ApiError {
        use crate::mirror::sync::MirrorError;
        match e {
            MirrorError::UnknownSource(_) => ApiError::not_found(e.to_string()),
            MirrorError::Busy(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            MirrorError::NotSparse(_) | MirrorError::Lockfile(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
            }
            MirrorError::Registry(e) => ApiError::from(e),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        let status = match &e {
            RegistryError::BadRequest(_) | RegistryError::Name(_) => StatusCode::BAD_REQUEST,
            RegistryError::Bundle(BundleError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            RegistryError::Bundle(BundleError::Io { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
            RegistryError::Bundle(_) => StatusCode::BAD_REQUEST,
            // A conflict names what is stored and what to do (a decision
            // made already, e.g. an approval retried after a crash).
            RegistryError::Store(
                StoreError::NameTaken { .. }
                | StoreError::VersionExists { .. }
                | StoreError::Conflict(_),
            )
            | RegistryError::NameInReview(_) => StatusCode::CONFLICT,
            RegistryError::Store(StoreError::NotFound(_)) => StatusCode::NOT_FOUND,
            RegistryError::Store(StoreError::Quarantined { .. }) => StatusCode::GONE,
            RegistryError::Store(StoreError::Owners(_)) => StatusCode::BAD_REQUEST,
            RegistryError::Forbidden(_) => StatusCode::FORBIDDEN,
            RegistryError::Store(_) | RegistryError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e, "internal error");
            return ApiError::new(
                status,
                "the registry failed to store or read data; nothing was changed. An operator should check the daemon log",
            );
        }
        ApiError::new(status, e.to_string())
    }
}

impl From<CatalogError> for ApiError {
    /// What is not there is 404, every version yanked 410, what exists but
    /// cannot be served in the shape asked for 409; the store's trouble maps
    /// as the registry's.
    fn from(e: CatalogError) -> ApiError {
        let status = match e {
            CatalogError::Registry(e) => return ApiError::from(e),
            CatalogError::NotFound(_)
            | CatalogError::NoVersion { .. }
            | CatalogError::NoFile { .. }
            | CatalogError::NotASkill { .. } => StatusCode::NOT_FOUND,
            CatalogError::AllYanked(_) => StatusCode::GONE,
            CatalogError::NotRenderedYet { .. } => StatusCode::SERVICE_UNAVAILABLE,
            CatalogError::NotServable { .. }
            | CatalogError::FileTooLarge { .. }
            | CatalogError::NotText { .. } => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.to_string())
    }
}
