//! Routing and request handling: the web API and the sparse index.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::body::{self, Body};
use super::error::ApiError;
use super::{AuthError, Shared};
use crate::api::{
    self, ErrorBody, ErrorDetail, OkResponse, OwnerUser, OwnersChange, OwnersResponse,
};
use crate::index::Prepared;
use crate::token::Identity;

/// Handles one request; never fails (errors become JSON responses).
pub(crate) async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    peer: SocketAddr,
) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = route(req, &shared, peer).await;
    let response = result.unwrap_or_else(|e| error_response(e, &shared.base_url));
    tracing::debug!(%peer, %method, %path, status = response.status().as_u16(), "request");
    response
}

async fn route(
    req: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    shared
        .limits
        .check_ip(peer.ip())
        .map_err(|wait| ApiError::rate_limited(wait, "address"))?;
    let path = req.uri().path().to_string();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match segs.as_slice() {
        ["healthz"] if read => {
            let packages = shared
                .registry
                .public_package_count()
                .map_err(ApiError::from)?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({"status": "ok", "packages": packages}),
            ))
        }
        ["me"] if read => Ok(text(StatusCode::OK, login_help(&shared.base_url))),
        ["index", "config.json"] if read => {
            reader(&req, shared)?;
            Ok(prepared(&req, &shared.registry.config_json()))
        }
        ["index", rest @ ..] if read && !rest.is_empty() => {
            reader(&req, shared)?;
            let key = rest.join("/").to_ascii_lowercase();
            match shared.registry.index_file(&key) {
                Some(file) => Ok(prepared(&req, &file)),
                None => Err(index_not_found(&key)),
            }
        }
        ["api", "v1", "crates", "new"] if method == Method::PUT => publish(req, shared, peer).await,
        ["api", "v1", "crates"] if read => search(&req, shared).await,
        ["api", "v1", "crates", name, version, "download"] if read => {
            let who = reader_identity(&req, shared)?;
            download(shared, who, name, version).await
        }
        ["api", "v1", "crates", name, version, "yank"] if method == Method::DELETE => {
            yank(req, shared, name, version, true).await
        }
        ["api", "v1", "crates", name, version, "unyank"] if method == Method::PUT => {
            yank(req, shared, name, version, false).await
        }
        ["api", "v1", "crates", name, "owners"] => owners(req, shared, name).await,
        ["admin", "v1", rest @ ..] => super::admin::handle(req, shared, rest).await,
        ["api", "v1", "me", "keys"] if read || method == Method::PUT => {
            publisher_keys(req, shared).await
        }
        ["healthz"]
        | ["me"]
        | ["index", _, ..]
        | ["api", "v1", "crates"]
        | ["api", "v1", "crates", "new"]
        | ["api", "v1", "me", "keys"]
        | ["api", "v1", "crates", _, _, "download" | "yank" | "unyank"] => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err(ApiError::not_found(format!("no such endpoint: {path}"))),
    }
}

fn index_not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("no package has the index file `{path}`"))
}

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
        Err(AuthError::Store(e)) => {
            tracing::error!(error = %e, "token check failed");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot check tokens right now; retry shortly",
            ));
        }
    };
    shared
        .limits
        .check_token(who.token_id)
        .map_err(|wait| ApiError::rate_limited(wait, "token"))?;
    Ok(Some(who))
}

/// Reads (index, downloads, search) need a token only when `auth_required`.
fn reader(req: &Request<Incoming>, shared: &Shared) -> Result<(), ApiError> {
    if !shared.config.auth_required {
        return Ok(());
    }
    reader_identity(req, shared).map(|_| ())
}

/// Like [`reader`], also returning who sent a valid token, so a read can
/// show an admin what waits for review. Without `auth_required` the header
/// only has to be recognised: an invalid token reads as no token, as it
/// does on every other read, and no token rate is charged (web-api.md §5.1).
fn reader_identity(req: &Request<Incoming>, shared: &Shared) -> Result<Option<Identity>, ApiError> {
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
fn writer(req: &Request<Incoming>, shared: &Shared) -> Result<Identity, ApiError> {
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

async fn publish(
    req: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let who = writer(&req, shared)?;
    // Refuse a reader before accepting megabytes from it.
    if !who.has(crate::token::Role::Publisher) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the token for `{}` has the role {}; publishing needs a publisher or admin token",
                who.login, who.role
            ),
        ));
    }
    // A slot under the upload caps, before a byte of the body is read, so
    // slow bodies cannot pile up; it is freed however the request ends.
    let slot = shared.uploads.acquire(who.token_id, peer.ip())?;
    let limits = &shared.config.limits;
    let limit = limits.max_bundle_bytes + limits.max_metadata_bytes + 8;
    let body = read_body(
        req,
        limit,
        "limits.max_bundle_bytes + limits.max_metadata_bytes",
        Duration::from_secs(limits.body_read_timeout_secs),
    )
    .await?;
    let registry = shared.registry.clone();
    // The slot moves into the work, so a client that hangs up while its
    // publish is stored does not free the slot before the work is done.
    let published = blocking(move || {
        let _slot = slot;
        registry.publish(&who, &body)
    })
    .await?;
    let response = api::PublishResponse {
        warnings: api::PublishWarnings {
            other: published.warnings,
            ..Default::default()
        },
    };
    Ok(json(StatusCode::OK, &response))
}

async fn yank(
    req: Request<Incoming>,
    shared: &Shared,
    name: &str,
    version: &str,
    yanked: bool,
) -> Result<Response<Body>, ApiError> {
    let who = writer(&req, shared)?;
    let registry = shared.registry.clone();
    let (name, version) = (name.to_string(), version.to_string());
    blocking(move || registry.set_yanked(&who, &name, &version, yanked)).await?;
    Ok(json(
        StatusCode::OK,
        &OkResponse {
            ok: true,
            msg: None,
        },
    ))
}

async fn search(req: &Request<Incoming>, shared: &Shared) -> Result<Response<Body>, ApiError> {
    reader(req, shared)?;
    let mut query = String::new();
    let mut per_page = 10usize;
    let mut page = 1usize;
    for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "q" => query = v.into_owned(),
            "per_page" => per_page = v.parse().unwrap_or(10).clamp(1, 100),
            "page" => page = v.parse().unwrap_or(1).max(1),
            _ => {}
        }
    }
    let registry = shared.registry.clone();
    let (hits, total) = blocking(move || registry.search(&query, page, per_page)).await?;
    let response = api::SearchResponse {
        crates: hits
            .into_iter()
            .map(|h| api::SearchCrate {
                name: h.name,
                max_version: h.max_version,
                description: h.description,
                kind: Some(h.kind),
            })
            .collect(),
        meta: api::SearchMeta { total },
    };
    Ok(json(StatusCode::OK, &response))
}

async fn download(
    shared: &Shared,
    who: Option<Identity>,
    name: &str,
    version: &str,
) -> Result<Response<Body>, ApiError> {
    let registry = shared.registry.clone();
    let (n, v) = (name.to_string(), version.to_string());
    let (path, size, cksum) = blocking(move || registry.download(who.as_ref(), &n, &v)).await?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "blob missing");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the bundle is missing from storage; an operator should check the daemon log",
        )
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/gzip")
        .header(header::CONTENT_LENGTH, size)
        .header(header::ETAG, format!("\"{cksum}\""))
        .header(
            header::CACHE_CONTROL,
            if shared.config.auth_required {
                "private, max-age=31536000, immutable"
            } else {
                "public, max-age=31536000, immutable"
            },
        )
        .body(body::file(file, size))
        .expect("valid response"))
}

async fn owners(
    req: Request<Incoming>,
    shared: &Shared,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().clone();
    let registry = shared.registry.clone();
    let name = name.to_string();
    if method == Method::GET || method == Method::HEAD {
        let who = reader_identity(&req, shared)?;
        let logins = blocking(move || registry.owners(who.as_ref(), &name)).await?;
        let users = logins
            .into_iter()
            .map(|login| OwnerUser {
                id: login_id(&login),
                name: Some(login.clone()),
                login,
            })
            .collect();
        return Ok(json(StatusCode::OK, &OwnersResponse { users }));
    }
    let add = match method {
        Method::PUT => true,
        Method::DELETE => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed on owners"),
            ))
        }
    };
    let who = writer(&req, shared)?;
    let body = read_body(
        req,
        64 * 1024,
        "the owners body limit",
        Duration::from_secs(shared.config.limits.body_read_timeout_secs),
    )
    .await?;
    let change: OwnersChange = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"users\":[\"login\"]}}: {e}"),
        )
    })?;
    let logins = change.users.clone();
    let pkg = name.clone();
    blocking(move || registry.change_owners(&who, &pkg, &logins, add)).await?;
    let msg = format!(
        "{} {} as owner(s) of `{name}`",
        change.users.join(", "),
        if add { "added" } else { "removed" }
    );
    Ok(json(
        StatusCode::OK,
        &OkResponse {
            ok: true,
            msg: Some(msg),
        },
    ))
}

/// `GET /api/v1/me/keys` lists the caller's publisher keys; `PUT` registers one.
async fn publisher_keys(
    req: Request<Incoming>,
    shared: &Shared,
) -> Result<Response<Body>, ApiError> {
    let who = writer(&req, shared)?;
    let registry = shared.registry.clone();
    if req.method() != Method::PUT {
        let keys = blocking(move || registry.publisher_keys(&who)).await?;
        return Ok(json(StatusCode::OK, &api::PublisherKeys { keys }));
    }
    let body = read_body(
        req,
        64 * 1024,
        "the key body limit",
        Duration::from_secs(shared.config.limits.body_read_timeout_secs),
    )
    .await?;
    let key: api::RegisterKey = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"public_key\":\"<64 hex digits>\"}}: {e}"),
        )
    })?;
    let login = who.login.clone();
    let keyid = blocking(move || registry.register_publisher_key(&who, &key.public_key)).await?;
    Ok(json(
        StatusCode::OK,
        &OkResponse {
            ok: true,
            msg: Some(format!("registered key {keyid} for {login}")),
        },
    ))
}

/// A stable small number for a login (cargo reads owner ids as u32).
fn login_id(login: &str) -> u32 {
    let d = crate::blobs::Sha256Digest::of(login.as_bytes());
    u32::from_be_bytes([d.0[0], d.0[1], d.0[2], d.0[3]])
}

fn login_help(base_url: &str) -> String {
    format!(
        "skillreg at {base_url}\n\nTokens are issued by an administrator of this registry:\n\n    skillreg token create --data DATA_DIR --role reader --name YOUR_LOGIN\n\nThen give it to cargo:\n\n    cargo login --registry NAME\n"
    )
}

/// Serves a prepared file with ETag/Last-Modified revalidation and gzip.
fn prepared(req: &Request<Incoming>, file: &Prepared) -> Response<Body> {
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
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
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
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(body::full(bytes))
        .expect("valid response")
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let body = body.into();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CONTENT_LENGTH, body.len())
        .body(body::full(body))
        .expect("valid response")
}

fn error_response(e: ApiError, base_url: &str) -> Response<Body> {
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
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let h = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(accepts_gzip(h("deflate, gzip").as_ref()));
        assert!(accepts_gzip(h("gzip;q=0.5").as_ref()));
        assert!(!accepts_gzip(h("gzip;q=0").as_ref()));
        assert!(!accepts_gzip(h("br").as_ref()));
        assert!(!accepts_gzip(None));
    }
}
