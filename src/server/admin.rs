//! `/admin/v1/…`: review of mirrored versions and the audit log. Every route
//! needs an admin token (401 without a token, 403 with a weaker one).

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::time::Duration;

use super::body::Body;
use super::error::ApiError;
use super::request::{blocking, identity, read_body};
use super::response::json;
use super::Shared;
use crate::api::{
    AuditResponse, BulkDecision, BulkResponse, BulkResult, DecisionRequest, PendingResponse,
};
use crate::token::{Identity, Role};

/// Largest admin request body.
const MAX_ADMIN_BODY: u64 = 1024 * 1024;
/// Largest lockfile request body (the biggest real `Cargo.lock` files are
/// a few MB).
const MAX_LOCKFILE_BODY: u64 = 16 * 1024 * 1024;

pub(super) fn admin(req: &Request<Incoming>, shared: &Shared) -> Result<Identity, ApiError> {
    let who = identity(req, shared)?
        .ok_or_else(|| ApiError::unauthorized("the admin API needs an admin token"))?;
    if !who.has(Role::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the token for `{}` has the role {}; the admin API needs an admin token",
                who.login, who.role
            ),
        ));
    }
    Ok(who)
}

async fn body_json<T: serde::de::DeserializeOwned + Default>(
    req: Request<Incoming>,
    shared: &Shared,
    shape: &str,
) -> Result<T, ApiError> {
    body_json_limited(req, shared, shape, MAX_ADMIN_BODY).await
}

async fn body_json_limited<T: serde::de::DeserializeOwned + Default>(
    req: Request<Incoming>,
    shared: &Shared,
    shape: &str,
    limit: u64,
) -> Result<T, ApiError> {
    let timeout = Duration::from_secs(shared.config.limits.body_read_timeout_secs);
    let body = read_body(req, limit, "the admin body limit", timeout).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("expected {shape}: {e}")))
}

/// Routes `/admin/v1/{rest}`.
pub(super) async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let who = admin(&req, shared)?;
    let method = req.method().clone();
    let registry = shared.registry.clone();
    match (&method, rest) {
        (&Method::GET, ["pending"]) => {
            let pending = blocking(move || registry.pending(&who)).await?;
            Ok(json(StatusCode::OK, &PendingResponse { pending }))
        }
        (&Method::POST, ["packages", name, version, action @ ("approve" | "reject")]) => {
            let request: DecisionRequest =
                body_json(req, shared, "{\"note\": …} or {\"reason\": …}").await?;
            decide(shared, who, name, version, *action == "approve", request).await
        }
        (&Method::GET, ["packages", name, version, "decision"]) => {
            let (n, v) = (name.to_string(), version.to_string());
            match blocking(move || registry.decision_statement(&n, &v)).await? {
                Some(statement) => Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(super::body::full(statement))
                    .expect("valid response")),
                None => Err(ApiError::not_found(format!(
                    "no decision was made on {name}@{version}"
                ))),
            }
        }
        (&Method::POST, ["bulk"]) => {
            let request: BulkDecision = body_json(
                req,
                shared,
                "{\"action\":\"approve\"|\"reject\",\"versions\":[{\"name\",\"version\"}]}",
            )
            .await?;
            bulk(shared, who, request).await
        }
        (&Method::POST, ["sync"]) => {
            let request: crate::api::SyncRequest =
                body_json(req, shared, "{\"source\": NAME | \"all\"}").await?;
            sync(shared, request)
        }
        (&Method::POST, ["sources", name, "lockfile"]) => {
            let request: crate::api::LockfileRequest = body_json_limited(
                req,
                shared,
                "{\"origin\": PATH, \"lockfile\": TEXT}",
                MAX_LOCKFILE_BODY,
            )
            .await?;
            let origin = match request.origin.trim() {
                "" => "the lockfile sent",
                origin => origin,
            };
            let id = shared
                .mirror
                .trigger_lockfile(name, origin, &request.lockfile)?;
            let runs = vec![crate::api::SyncStartedRun {
                source: name.to_string(),
                id,
            }];
            Ok(json(
                StatusCode::ACCEPTED,
                &crate::api::SyncStarted { run: id, runs },
            ))
        }
        (&Method::GET, ["sync-runs"]) => sync_runs(shared).await,
        (&Method::GET, ["sources"]) => {
            let sources = shared.mirror.status()?;
            let sources = sources.into_iter().map(source_info).collect();
            Ok(json(
                StatusCode::OK,
                &crate::api::SourcesResponse { sources },
            ))
        }
        (&Method::GET, ["feeds"]) => {
            let left_out = registry
                .feed_left_out()
                .into_iter()
                .map(|l| crate::api::FeedLeftOut {
                    name: l.name,
                    version: l.version,
                    feed: l.feed.to_string(),
                    reason: l.reason,
                })
                .collect();
            Ok(json(
                StatusCode::OK,
                &crate::api::FeedsResponse { left_out },
            ))
        }
        (&Method::GET, ["audit"]) => {
            let audit = blocking(move || registry.audit(&who)).await?;
            Ok(json(StatusCode::OK, &AuditResponse { audit }))
        }
        (
            _,
            ["pending"]
            | ["bulk"]
            | ["audit"]
            | ["sync"]
            | ["sync-runs"]
            | ["sources"]
            | ["sources", _, "lockfile"]
            | ["feeds"]
            | ["packages", _, _, "approve" | "reject" | "decision"],
        ) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed here"),
        )),
        _ => Err(ApiError::not_found(format!(
            "no such admin endpoint: /admin/v1/{}",
            rest.join("/")
        ))),
    }
}

/// Approves or rejects one version; a rejection's reason is `reason`
/// (else `note`), an approval's note `note` (else `reason`).
async fn decide(
    shared: &Shared,
    who: Identity,
    name: &str,
    version: &str,
    approve: bool,
    request: DecisionRequest,
) -> Result<Response<Body>, ApiError> {
    let note = if approve {
        request.note.or(request.reason)
    } else {
        request.reason.or(request.note)
    }
    .unwrap_or_default();
    let registry = shared.registry.clone();
    let (name, version) = (name.to_string(), version.to_string());
    blocking(move || registry.decide(&who, &name, &version, approve, &note)).await?;
    Ok(json(
        StatusCode::OK,
        &crate::api::OkResponse {
            ok: true,
            msg: None,
        },
    ))
}

/// One decision for many versions, each reported on its own.
async fn bulk(
    shared: &Shared,
    who: Identity,
    request: BulkDecision,
) -> Result<Response<Body>, ApiError> {
    let approve = match request.action.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown action `{other}`: use approve or reject"),
            ))
        }
    };
    let note = request
        .reason
        .clone()
        .or(request.note.clone())
        .unwrap_or_default();
    let registry = shared.registry.clone();
    let results = blocking(move || {
        let mut versions = request.versions.clone();
        match (&request.source, request.run) {
            (Some(source), Some(run)) => versions.extend(
                registry
                    .pending_of_run(source, run)?
                    .into_iter()
                    .map(|(name, version)| crate::api::VersionRef { name, version }),
            ),
            (None, None) => {}
            _ => {
                return Err(crate::registry::RegistryError::BadRequest(
                    "`source` and `run` go together: the run's pending versions are decided".into(),
                ))
            }
        }
        Ok(versions
            .iter()
            .map(|v| {
                let outcome = registry.decide(&who, &v.name, &v.version, approve, &note);
                BulkResult {
                    name: v.name.clone(),
                    version: v.version.clone(),
                    ok: outcome.is_ok(),
                    error: outcome.err().map(|e| e.to_string()),
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(json(StatusCode::OK, &BulkResponse { results }))
}

/// Starts runs of a source (or `all`) now.
fn sync(shared: &Shared, request: crate::api::SyncRequest) -> Result<Response<Body>, ApiError> {
    let which = if request.source.is_empty() {
        "all".to_string()
    } else {
        request.source
    };
    let runs: Vec<crate::api::SyncStartedRun> = shared
        .mirror
        .trigger(&which)?
        .into_iter()
        .map(|(source, id)| crate::api::SyncStartedRun { source, id })
        .collect();
    let first = runs.first().map_or(0, |r| r.id);
    Ok(json(
        StatusCode::ACCEPTED,
        &crate::api::SyncStarted { run: first, runs },
    ))
}

/// The newest runs, with their times as RFC 3339.
async fn sync_runs(shared: &Shared) -> Result<Response<Body>, ApiError> {
    let registry = shared.registry.clone();
    let runs = blocking(move || registry.runs(200)).await?;
    let runs = runs
        .into_iter()
        .map(|r| crate::api::SyncRunInfo {
            id: r.id,
            source: r.source,
            started_at: crate::fsutil::rfc3339(r.started_at),
            finished_at: r.finished_at.map(crate::fsutil::rfc3339),
            run: r.run,
        })
        .collect();
    Ok(json(StatusCode::OK, &crate::api::SyncRunsResponse { runs }))
}

/// The wire form of what the mirror knows of a source.
fn source_info(s: crate::mirror::SourceStatus) -> crate::api::SourceInfo {
    crate::api::SourceInfo {
        status: if s.running { "running" } else { "idle" }.into(),
        interval_secs: s.interval.map(|d| d.as_secs()),
        name: s.name,
        kind: s.kind,
        last_run: s.last_run,
        next_run: s.next_run,
        auto_approve: s.auto_approve,
    }
}
