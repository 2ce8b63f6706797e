//! The admin's pages (`index-spec/web-pages.md` §4): the review queue and
//! its decisions, the sources with *Sync now*, the sync history and the
//! audit log. Every page needs an admin (a session or a header); every
//! change is a POST with the session's CSRF token, and goes through the
//! same registry and mirror calls as the admin API, so it is signed and
//! audited the same way.
//!
//! ```text
//! GET  /admin/pending[?all=1]                        the queue
//! POST /admin/pending                                select=NAME@VERSION…, action, reason|note
//! GET  /admin/pending/{name}/{version}               one version under review
//! GET  /admin/pending/{name}/{version}/files/{path}  one file, with its diff
//! GET  /admin/sources        POST /admin/sources/sync (source)
//! GET  /admin/runs
//! GET  /admin/audit?actor&action&package&from&to     GET /admin/audit.csv?…
//! ```

use std::collections::{BTreeSet, HashMap};

use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response, StatusCode};

use super::body::{self, Body};
use super::error::ApiError;
use super::page_request::{form, private_html as html, see_other, Visitor};
use super::request::blocking;
use super::Shared;
use crate::registry::PendingVersion;
use crate::token::{Identity, Role};
use crate::web::layout::{self, Viewer};
use crate::web::operations::{self, AuditFilter, SourceRow};
use crate::web::review;

/// Routes `/admin/{rest}` for an admin; anyone else gets the sign-in page
/// (no token) or a refusal (a weaker one).
pub(super) async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: &Visitor,
    rest: &[&str],
) -> Result<Response<Body>, ApiError> {
    let viewer = visitor.viewer();
    let who = match &visitor.who {
        Some(who) if who.has(Role::Admin) => who.clone(),
        Some(who) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "You are signed in as `{}` ({}); the admin pages need an admin token.",
                    who.login, who.role
                ),
            ))
        }
        None => {
            return Ok(html(
                StatusCode::UNAUTHORIZED,
                layout::sign_in(&viewer, Some("The admin pages need an admin token.")),
            ))
        }
    };
    let params = query(&req);
    // What the last form did: kept in the session, so no link can forge it.
    let notice = visitor
        .session
        .as_ref()
        .and_then(|(id, _)| shared.sessions.take_notice(id));
    let notice = notice.as_deref();
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    let post = req.method() == Method::POST;
    match rest {
        ["pending"] if get => {
            let pending = pending(shared, &who).await?;
            // "Select all" carries the session's CSRF token, so a link from
            // elsewhere cannot open the queue with every box checked.
            let all = match (params.get("all"), &visitor.session) {
                (Some(sent), Some((_, s))) => super::session::csrf_matches(s, sent),
                _ => false,
            };
            let checked = if all {
                pending.iter().map(review::selection).collect()
            } else {
                BTreeSet::new()
            };
            Ok(html(
                StatusCode::OK,
                review::queue(&pending, &checked, notice, &viewer),
            ))
        }
        ["pending"] if post => decide(req, shared, visitor, who).await,
        ["pending", name, version] if get => {
            let p = one_pending(shared, &who, name, version).await?;
            Ok(html(StatusCode::OK, review::item(&p, &viewer)))
        }
        ["pending", name, version, "files", path @ ..] if get && !path.is_empty() => {
            let p = one_pending(shared, &who, name, version).await?;
            let path = path.join("/");
            let registry = shared.registry.clone();
            let (n, v, read_path, reader) = (
                name.to_string(),
                version.to_string(),
                path.clone(),
                who.clone(),
            );
            let file =
                blocking(move || Ok(registry.review_file(&reader, &n, &v, &read_path))).await??;
            Ok(html(
                StatusCode::OK,
                review::file(&p, &path, &file, &viewer),
            ))
        }
        ["sources"] if get => sources(shared, &who, notice, &viewer).await,
        ["sources", "sync"] if post => sync_now(req, shared, visitor).await,
        ["runs"] if get => {
            let registry = shared.registry.clone();
            let runs = blocking(move || registry.runs(200)).await?;
            Ok(html(StatusCode::OK, operations::runs(&runs, &viewer)))
        }
        ["audit"] | ["audit.csv"] if get => audit(shared, &who, rest[0], &params, &viewer).await,
        ["pending"]
        | ["pending", ..]
        | ["sources"]
        | ["sources", "sync"]
        | ["runs"]
        | ["audit"]
        | ["audit.csv"] => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on this page", req.method()),
        )),
        _ => Err(ApiError::not_found("There is no such admin page.")),
    }
}

/// The query string's fields (the last value of each).
fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Every version waiting for review.
async fn pending(shared: &Shared, who: &Identity) -> Result<Vec<PendingVersion>, ApiError> {
    let (registry, who) = (shared.registry.clone(), who.clone());
    blocking(move || registry.pending(&who)).await
}

/// One version waiting for review, or 404.
async fn one_pending(
    shared: &Shared,
    who: &Identity,
    name: &str,
    version: &str,
) -> Result<PendingVersion, ApiError> {
    pending(shared, who)
        .await?
        .into_iter()
        .find(|p| p.name == name && p.version == version)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "`{name}@{version}` is not waiting for review (it may have been decided already)."
            ))
        })
}

/// `POST /admin/pending`: approve or reject the selected versions, each
/// on its own; back to the queue with what happened.
async fn decide(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: &Visitor,
    who: Identity,
) -> Result<Response<Body>, ApiError> {
    let (fields, selected) = form(req, shared, Some(visitor)).await?;
    let approve = match fields.get("action").map(String::as_str) {
        Some("approve") => true,
        Some("reject") => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Choose Approve or Reject. Nothing was changed.",
            ))
        }
    };
    if selected.is_empty() {
        return Ok(back_with(
            shared,
            visitor,
            "/admin/pending",
            "Nothing was selected; nothing was changed.".into(),
        ));
    }
    let note = fields
        .get("reason")
        .filter(|r| !r.trim().is_empty())
        .or(fields.get("note"))
        .cloned()
        .unwrap_or_default();
    if !approve && note.trim().is_empty() {
        // Back to the queue as it was, the boxes still checked.
        let waiting = pending(shared, &who).await?;
        let checked: BTreeSet<String> = selected.into_iter().collect();
        return Ok(html(
            StatusCode::BAD_REQUEST,
            review::queue(
                &waiting,
                &checked,
                Some("A rejection needs a reason: write one in the Reason field. Nothing was changed."),
                &visitor.viewer(),
            ),
        ));
    }
    let registry = shared.registry.clone();
    let outcomes = blocking(move || {
        Ok(selected
            .iter()
            .map(|s| {
                let (name, version) = s.rsplit_once('@').unwrap_or((s.as_str(), ""));
                (
                    s.clone(),
                    registry.decide(&who, name, version, approve, &note),
                )
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let done = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    let mut summary = format!(
        "{} {done} of {}.",
        if approve { "Approved" } else { "Rejected" },
        outcomes.len()
    );
    for (what, outcome) in &outcomes {
        if let Err(e) = outcome {
            summary.push_str(&format!(" {what}: {e}."));
        }
    }
    Ok(back_with(shared, visitor, "/admin/pending", summary))
}

/// `303` to `page`, which shows `notice` once.
fn back_with(shared: &Shared, visitor: &Visitor, page: &str, notice: String) -> Response<Body> {
    if let Some((id, _)) = &visitor.session {
        shared.sessions.set_notice(id, notice);
    }
    see_other(page)
}

/// `GET /admin/sources`.
async fn sources(
    shared: &Shared,
    who: &Identity,
    notice: Option<&str>,
    viewer: &Viewer,
) -> Result<Response<Body>, ApiError> {
    let statuses = shared.mirror.status()?;
    let waiting = pending(shared, who).await?;
    let registry = shared.registry.clone();
    let runs = blocking(move || registry.runs(500)).await?;
    let rows: Vec<SourceRow> = statuses
        .iter()
        .map(|status| SourceRow {
            status,
            last: runs.iter().find(|r| r.source == status.name),
            pending: waiting
                .iter()
                .filter(|p| p.source.as_deref() == Some(status.name.as_str()))
                .count(),
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        operations::sources(&rows, notice, viewer),
    ))
}

/// `POST /admin/sources/sync`: starts a run of one source now.
async fn sync_now(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: &Visitor,
) -> Result<Response<Body>, ApiError> {
    let (fields, _) = form(req, shared, Some(visitor)).await?;
    let source = fields.get("source").cloned().unwrap_or_default();
    if source.is_empty() || source == "all" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Name the source to sync. Nothing was started.",
        ));
    }
    let started = shared.mirror.trigger(&source)?;
    let ids: Vec<String> = started.iter().map(|(_, id)| id.to_string()).collect();
    let notice = format!("Started run {} of {source}.", ids.join(", "));
    Ok(back_with(shared, visitor, "/admin/sources", notice))
}

/// `GET /admin/audit` and its CSV.
async fn audit(
    shared: &Shared,
    who: &Identity,
    page: &str,
    params: &HashMap<String, String>,
    viewer: &Viewer,
) -> Result<Response<Body>, ApiError> {
    let field = |k: &str| params.get(k).cloned().unwrap_or_default();
    let filter = AuditFilter {
        actor: field("actor"),
        action: field("action"),
        package: field("package"),
        from: field("from"),
        to: field("to"),
    };
    let (registry, reader) = (shared.registry.clone(), who.clone());
    let log = blocking(move || registry.audit(&reader)).await?;
    let kept: Vec<_> = log.iter().filter(|r| filter.keeps(r)).collect();
    if page == "audit.csv" {
        let csv = operations::audit_csv(&kept);
        return Ok(Response::builder()
            .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"skillreg-audit.csv\"",
            )
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::CONTENT_LENGTH, csv.len())
            .body(body::full(csv))
            .expect("valid response"));
    }
    Ok(html(
        StatusCode::OK,
        operations::audit(&kept, &filter, viewer),
    ))
}
