//! Building responses: JSON and text bodies, prepared index files with
//! revalidation and gzip, and the one error shape
//! `{"errors":[{"detail":…}]}` with its headers.

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::body::{self, Body};
use super::error::ApiError;
use crate::api::{ErrorBody, ErrorDetail};
use crate::index::Prepared;

/// Serves a prepared file with ETag/Last-Modified revalidation and gzip.
pub(super) fn prepared(req: &Request<Incoming>, file: &Prepared) -> Response<Body> {
    prepared_as(req, file, "text/plain; charset=utf-8")
}

/// Serves a prepared file as [`prepared`] does, with its content type.
pub(super) fn prepared_as(
    req: &Request<Incoming>,
    file: &Prepared,
    content_type: &'static str,
) -> Response<Body> {
    let headers = req.headers();
    let not_modified = if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        inm.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == file.etag || t == file.gzip_etag)
    } else if let Some(ims) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let ims = ims
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        file.modified_unix <= ims
    } else {
        false
    };
    let gzip = file
        .gzip
        .as_ref()
        .filter(|_| accepts_gzip(headers.get(header::ACCEPT_ENCODING)));
    let etag = if gzip.is_some() {
        &file.gzip_etag
    } else {
        &file.etag
    };
    let mut builder = Response::builder()
        .header(header::ETAG, etag.clone())
        .header(header::LAST_MODIFIED, file.last_modified.clone())
        .header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))
        .header(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if not_modified {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(body::full(Bytes::new()))
            .expect("valid response");
    }
    builder = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type);
    match gzip {
        Some(gz) => builder
            .header(header::CONTENT_ENCODING, "gzip")
            .header(header::CONTENT_LENGTH, gz.len())
            .body(body::full(gz.clone())),
        None => builder
            .header(header::CONTENT_LENGTH, file.body.len())
            .body(body::full(file.body.clone())),
    }
    .expect("valid response")
}

/// The `Cache-Control` of an immutable blob: a year, privately when reads
/// need a token (so a shared cache never hands it to clients without one).
fn immutable(auth_required: bool) -> &'static str {
    if auth_required {
        "private, max-age=31536000, immutable"
    } else {
        "public, max-age=31536000, immutable"
    }
}

/// An immutable blob held in memory, answered like [`blob_file`].
pub(super) fn blob_bytes(
    bytes: Bytes,
    sha256: &str,
    content_type: &'static str,
    auth_required: bool,
) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .header(header::ETAG, format!("\"{sha256}\""))
        .header(header::CACHE_CONTROL, immutable(auth_required))
        .body(body::full(bytes))
        .expect("valid response")
}

/// An immutable blob file (a bundle or a feed zip), opened and streamed:
/// its strong ETag is its sha256, and it may be cached for a year (privately
/// when reads need a token). A file the store names but the disk lost is a
/// 500 for an operator, logged with the path.
pub(super) async fn blob_file(
    path: &std::path::Path,
    size: u64,
    sha256: &str,
    content_type: &'static str,
    auth_required: bool,
) -> Result<Response<Body>, ApiError> {
    let handle = tokio::fs::File::open(path).await.map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "a stored blob is missing");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the file is missing from storage; an operator should check the daemon log",
        )
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, size)
        .header(header::ETAG, format!("\"{sha256}\""))
        .header(header::CACHE_CONTROL, immutable(auth_required))
        .body(body::file(handle, size))
        .expect("valid response"))
}

/// True when Accept-Encoding lists gzip with a non-zero q.
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let coding = params.next().unwrap_or("");
        (coding.eq_ignore_ascii_case("gzip") || coding == "*")
            && params
                .filter_map(|p| p.strip_prefix("q="))
                .all(|q| q.parse::<f32>().map(|q| q > 0.0).unwrap_or(false))
    })
}

pub(super) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("responses serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(body::full(bytes))
        .expect("valid response")
}

/// A `200` JSON answer with a strong ETag of its bytes, or `304` when
/// `if_none_match` (the request's header) names it: mirrors revalidate
/// answers built per request as cheaply as prepared files.
pub(super) fn json_revalidated<T: serde::Serialize>(
    if_none_match: Option<&str>,
    value: &T,
) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("responses serialize");
    let etag = format!(
        "\"{}\"",
        &crate::blobs::Sha256Digest::of(&bytes).to_hex()[..32]
    );
    let matches = if_none_match.is_some_and(|inm| {
        inm.split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag)
    });
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if matches {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(body::full(Bytes::new()))
            .expect("valid response");
    }
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(body::full(bytes))
        .expect("valid response")
}

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let body = body.into();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONTENT_LENGTH, body.len())
        .body(body::full(body))
        .expect("valid response")
}

pub(super) fn error_response(e: ApiError, base_url: &str) -> Response<Body> {
    let mut response = json(
        e.status,
        &ErrorBody {
            errors: vec![ErrorDetail { detail: e.detail }],
        },
    );
    let headers = response.headers_mut();
    if let Some(secs) = e.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if e.challenge {
        if let Ok(v) = HeaderValue::from_str(&format!("Cargo login_url=\"{base_url}/me\"")) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests;
