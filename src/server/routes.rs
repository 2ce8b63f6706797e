//! Routing and request handling: the web API, the sparse index, and the
//! rooms that answer the agent tools and the web pages.

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::body::Body;
use super::error::ApiError;
use super::request::{blocking, read_body, reader, reader_identity, writer};
use super::response::{blob_file, error_response, json, prepared, text};
use super::Shared;
use crate::api::{self, OkResponse, OwnerUser, OwnersChange, OwnersResponse};
use crate::metrics::RouteGroup;
use crate::token::Identity;

/// Handles one request; never fails (errors become JSON responses). Each
/// answer is counted for `/metrics` by its route group and status.
pub(crate) async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    peer: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = redacted(req.uri().path());
    let segments = decoded_segments(req.uri().path());
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let group = route_group(&segs, &method);
    let result = route(req, &shared, peer, &segs).await;
    let response = result.unwrap_or_else(|e| error_response(e, &shared.base_url));
    let status = response.status().as_u16();
    let bytes = (method != Method::HEAD)
        .then(|| hyper::body::Body::size_hint(response.body()).exact())
        .flatten();
    shared
        .metrics
        .observe_request(group, status, started.elapsed(), bytes);
    tracing::debug!(%peer, %method, %path, status, "request");
    response
}

/// The path's segments, percent-decoded, as the router matches them.
fn decoded_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// The group a request is counted in, by the same tests [`route`] matches
/// with, in the same order.
fn route_group(segs: &[&str], method: &Method) -> RouteGroup {
    let read = method == Method::GET || method == Method::HEAD;
    match segs {
        ["healthz"] => RouteGroup::Health,
        ["metrics"] => RouteGroup::Metrics,
        ["index", ..] => RouteGroup::Index,
        segs if read && super::feeds::is_feed(segs) => RouteGroup::Feeds,
        segs if super::clawhub::is_clawhub(segs) => RouteGroup::Clawhub,
        segs if super::pages::is_page(segs) => RouteGroup::Pages,
        ["api", "v1", "crates", "new"] => RouteGroup::Publish,
        ["api", "v1", "crates"] => RouteGroup::Search,
        ["api", "v1", "crates", _, _, "download"] => RouteGroup::Download,
        ["api", ..] | ["me"] => RouteGroup::Api,
        ["admin", ..] => RouteGroup::Admin,
        _ => RouteGroup::Other,
    }
}

/// The path as it may be logged: a feed token (`/~TOKEN/…`) never is, in
/// any spelling the router would take for one (extra slashes, `%7E`).
fn redacted(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            if decoded.starts_with('~') {
                "~…"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn route(
    req: Request<Incoming>,
    shared: &Arc<Shared>,
    peer: SocketAddr,
    segs: &[&str],
) -> Result<Response<Body>, ApiError> {
    shared
        .limits
        .check_ip(peer.ip())
        .map_err(|wait| ApiError::rate_limited(wait, "address"))?;
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match segs {
        ["metrics"] if read && shared.config.metrics_listen.is_none() => {
            super::metrics::handle(&req, shared).await
        }
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
            let file = shared.registry.index_file(&key);
            shared.metrics.index_lookup(file.is_some());
            match file {
                Some(file) => Ok(prepared(&req, &file)),
                None => Err(index_not_found(&key)),
            }
        }
        segs if read && super::feeds::is_feed(segs) => {
            super::feeds::handle(&req, shared, segs).await
        }
        segs if super::clawhub::is_clawhub(segs) => {
            super::clawhub::handle(&req, shared, segs).await
        }
        segs if super::pages::is_page(segs) => Ok(super::pages::handle(req, shared, segs).await),
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

/// A publish, counted for `/metrics` as accepted (by kind) or refused (by
/// the reason its status names).
async fn publish(
    req: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<Response<Body>, ApiError> {
    let result = store_publish(req, shared, peer).await;
    match &result {
        Ok((kind, _)) => shared.metrics.publish_accepted(*kind),
        Err(e) => shared.metrics.publish_refused(e.status.as_u16()),
    }
    result.map(|(_, response)| response)
}

async fn store_publish(
    req: Request<Incoming>,
    shared: &Shared,
    peer: SocketAddr,
) -> Result<(crate::package::Kind, Response<Body>), ApiError> {
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
    // cargo's framing, then the metadata JSON: the wire format is read
    // here, the registry gets what it says.
    let (meta, tarball) = decode_publish(&body, limits)?;
    let registry = shared.registry.clone();
    // The slot moves into the work, so a client that hangs up while its
    // publish is stored does not free the slot before the work is done.
    let published = blocking(move || {
        let _slot = slot;
        registry.publish(&who, &meta, &tarball)
    })
    .await?;
    let response = api::PublishResponse {
        warnings: api::PublishWarnings {
            other: published.warnings,
            ..Default::default()
        },
    };
    Ok((published.package.kind, json(StatusCode::OK, &response)))
}

/// The metadata and the tarball of a publish body in cargo's framing
/// (the tarball as a view into `body`, not a copy).
fn decode_publish(
    body: &bytes::Bytes,
    limits: &crate::config::Limits,
) -> Result<(api::PublishMetadata, bytes::Bytes), ApiError> {
    let (json, tarball) =
        api::decode_publish(body, limits.max_metadata_bytes, limits.max_bundle_bytes)?;
    let meta = serde_json::from_slice(json).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the publish metadata is not valid JSON: {e}"),
        )
    })?;
    let start = tarball.as_ptr() as usize - body.as_ptr() as usize;
    Ok((meta, body.slice(start..start + tarball.len())))
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
    blob_file(
        &path,
        size,
        &cksum,
        "application/gzip",
        shared.config.auth_required,
    )
    .await
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

#[cfg(test)]
mod tests;
