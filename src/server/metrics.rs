//! `GET /metrics`: who may scrape, the scrape itself, the separate metrics
//! listener (`metrics_listen`) and the background fsck that feeds it.

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use super::body::{self, Body};
use super::error::ApiError;
use super::response::error_response;
use super::Shared;
use crate::metrics::{Facts, CONTENT_TYPE};

/// The first background check waits at most this long after start, so a
/// daemon restarted daily still reports a check.
const FIRST_FSCK_AFTER: Duration = Duration::from_secs(600);

/// Answers a scrape: the metrics token or an admin token, then the text.
pub(super) async fn handle(
    req: &Request<Incoming>,
    shared: &Arc<Shared>,
) -> Result<Response<Body>, ApiError> {
    authorize(req, shared)?;
    // The database's counts are read off the async threads.
    let for_facts = shared.clone();
    let facts = tokio::task::spawn_blocking(move || facts(&for_facts))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "metrics task failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics are unavailable; retry",
            )
        })?
        .map_err(|e| {
            tracing::error!(error = %e, "reading the database's counts failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot read the database's counts right now; retry shortly",
            )
        })?;
    let text = shared.metrics.render(&facts);
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::CONTENT_LENGTH, text.len())
        .body(body::full(text))
        .expect("valid response"))
}

/// The metrics token (constant-time), else an admin token.
fn authorize(req: &Request<Incoming>, shared: &Shared) -> Result<(), ApiError> {
    let expected = shared.config.metrics_token.as_bytes();
    if !expected.is_empty() {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().as_bytes());
        if let Some(presented) = presented {
            if subtle::ConstantTimeEq::ct_eq(presented, expected).into() {
                return Ok(());
            }
        }
    }
    super::admin::admin(req, shared).map(|_| ())
}

fn facts(shared: &Shared) -> Result<Facts, crate::store::StoreError> {
    let (by_address, by_token) = shared.limits.refused();
    Ok(Facts {
        store: shared.store_facts.read()?,
        sources: shared
            .config
            .sources
            .iter()
            .map(|s| s.name.clone())
            .collect(),
        expiries: shared.registry.expiries(),
        now: crate::fsutil::unix_now(),
        rate_limited: vec![
            ("address", by_address),
            ("token", by_token),
            ("uploads", shared.uploads.refused()),
        ],
        fsck: shared.fsck.outcome(),
        export_behind: shared.registry.export_behind(),
    })
}

/// Serves `/metrics` alone on `listener` until the task is aborted.
pub(super) async fn serve_listener(shared: Arc<Shared>, listener: TcpListener) {
    let limits = &shared.config.limits;
    let header_timeout = Duration::from_secs(limits.header_read_timeout_secs);
    // The same head limits as the public listener (`serve`): whoever can
    // reach this address must not send more than the configured head.
    let max_head = limits.max_header_bytes.max(8192);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(req, &shared).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(max_head)
                .max_headers(100)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "metrics connection ended with an error");
            }
        });
    }
}

/// The metrics listener's one route.
async fn answer(req: Request<Incoming>, shared: &Arc<Shared>) -> Response<Body> {
    let started = std::time::Instant::now();
    let result = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => handle(&req, shared).await,
        _ => Err(ApiError::not_found(
            "this listener (metrics_listen) serves only GET /metrics",
        )),
    };
    let response = result.unwrap_or_else(|e| error_response(e, &shared.base_url));
    let bytes = hyper::body::Body::size_hint(response.body()).exact();
    shared.metrics.observe_request(
        crate::metrics::RouteGroup::Metrics,
        response.status().as_u16(),
        started.elapsed(),
        bytes,
    );
    response
}

/// Runs fsck's check every `fsck_interval` (the first after at most
/// [`FIRST_FSCK_AFTER`]); `None` when it is off.
pub(super) fn spawn_background_fsck(shared: Arc<Shared>) -> Option<tokio::task::JoinHandle<()>> {
    let interval = shared.config.fsck_interval().ok().flatten()?;
    Some(tokio::spawn(async move {
        let mut wait = interval.min(FIRST_FSCK_AFTER);
        loop {
            tokio::time::sleep(wait).await;
            wait = interval;
            let shared = shared.clone();
            let data = shared.registry.data_dir().to_path_buf();
            // The static tree the daemon keeps is checked with the data.
            let export = &shared.config.export;
            let options = crate::fsck::Options {
                export: (!export.dir.as_os_str().is_empty()).then(|| export.dir.clone()),
                base_url: None,
            };
            let check = move || shared.fsck.run(&data, &options);
            if let Err(e) = tokio::task::spawn_blocking(check).await {
                tracing::error!(error = %e, "background fsck task failed");
            }
        }
    }))
}
