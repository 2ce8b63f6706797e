//! The feeds the agents' own tools read (`index-spec/agent-feeds.md`):
//!
//! ```text
//! [/~TOKEN][/SCOPE]/.well-known/agent-skills/index.json   the skills CLI
//! [/~TOKEN][/SCOPE]/.well-known/agent-skills/files/SHA.zip
//! /claude/marketplace.json                                Claude Code
//! /claude/files/SHA.zip
//! ```
//!
//! Documents are prepared bytes and zips are blob files, both looked up in
//! memory: no SQL on any of these routes.
//!
//! The `skills` CLI never sends credentials, so on a registry with
//! `auth_required` its URL carries a reader token as a path segment,
//! `/~TOKEN/`: checked like a header token (constant time, revocable), and
//! never logged (the access log shows `/~…/`).

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::body::Body;
use super::error::ApiError;
use super::request::reader;
use super::response::{blob_bytes, blob_file, prepared_as};
use super::{AuthError, Shared};
use crate::feeds::archive::Shape;
use crate::feeds::wellknown::INDEX_PATH;
use crate::registry::MARKETPLACE_PATH;
use crate::token::Role;

/// Where in a path the well-known folder starts.
const WELL_KNOWN: [&str; 2] = [".well-known", "agent-skills"];

/// Whether `segs` is a feed route; `None` leaves it to the other routes.
pub(super) fn is_feed(segs: &[&str]) -> bool {
    segs.first().is_some_and(|s| s.starts_with('~'))
        || segs.windows(2).any(|w| w == WELL_KNOWN)
        || segs.first() == Some(&"claude")
}

/// Brings stale feed documents up to date before one is served, so that a
/// publisher who reads the feed right after publishing sees the change.
/// They are rendered off the publish path (see
/// [`crate::registry::Registry::flush_feeds`]), most often before anyone
/// asks; a failed render is logged and the documents served stay as they
/// were.
pub(super) async fn settle(shared: &Shared) {
    if !shared.registry.feeds_stale() {
        return;
    }
    let registry = shared.registry.clone();
    match tokio::task::spawn_blocking(move || registry.flush_feeds()).await {
        Ok(Err(e)) => tracing::error!(error = %e, "rendering the feed documents failed"),
        Err(e) => tracing::error!(error = %e, "feed render task failed"),
        Ok(Ok(_)) => {}
    }
}

/// Serves one feed request (GET or HEAD).
pub(super) async fn handle(
    req: &Request<Incoming>,
    shared: &Shared,
    segs: &[&str],
) -> Result<Response<Body>, ApiError> {
    let (token, rest) = match segs.split_first() {
        Some((first, rest)) if first.starts_with('~') => (Some(&first[1..]), rest),
        _ => (None, segs),
    };
    match rest {
        ["claude", "marketplace.json"] if token.is_none() => {
            reader(req, shared)?;
            document(req, shared, MARKETPLACE_PATH).await
        }
        ["claude", "files", file] if token.is_none() => {
            reader(req, shared)?;
            zip(req, shared, file, Shape::Plugin).await
        }
        _ => {
            let at = rest
                .windows(2)
                .position(|w| w == WELL_KNOWN)
                .ok_or_else(|| not_found(rest))?;
            let (scope, tail) = (&rest[..at], &rest[at + 2..]);
            match token {
                Some(token) => feed_token(shared, token)?,
                None => reader(req, shared)?,
            }
            match tail {
                ["index.json"] => {
                    let path = if scope.is_empty() {
                        INDEX_PATH.to_string()
                    } else {
                        format!("{}/{INDEX_PATH}", scope.join("/"))
                    };
                    document(req, shared, &path).await
                }
                ["files", file] => zip(req, shared, file, Shape::Skill).await,
                _ => Err(not_found(rest)),
            }
        }
    }
}

/// A feed request that names no feed; the path is shown without a token.
fn not_found(rest: &[&str]) -> ApiError {
    ApiError::not_found(format!("no such feed: /{}", rest.join("/")))
}

/// How an admin makes a token for a feed URL.
const READER_TOKEN_HINT: &str =
    "ask an admin for a reader token (`skillreg token create --data DATA_DIR --role reader --name LOGIN`)";

/// Checks a token from the path: a live reader token. A feed URL is
/// copied into lock files (the skills CLI writes it into
/// `skills-lock.json`), shell history and proxy logs, so a token that can
/// also publish or administer is refused there rather than spread.
fn feed_token(shared: &Shared, token: &str) -> Result<(), ApiError> {
    match shared.auth.authenticate(token) {
        Ok(who) if who.has(Role::Publisher) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the token in this feed URL has the role {}; feed URLs take a reader token only, since they end up in lock files and logs: {READER_TOKEN_HINT}",
                who.role
            ),
        )),
        Ok(who) => shared
            .limits
            .check_token(who.token_id)
            .map_err(|wait| ApiError::rate_limited(wait, "token")),
        Err(AuthError::Invalid) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the token in this feed URL is invalid or revoked; {READER_TOKEN_HINT}"),
        )),
        Err(AuthError::Store(e)) => Err(ApiError::tokens_unavailable(&e)),
    }
}

async fn document(
    req: &Request<Incoming>,
    shared: &Shared,
    path: &str,
) -> Result<Response<Body>, ApiError> {
    settle(shared).await;
    match shared.registry.feed_document(path) {
        Some(file) => Ok(prepared_as(req, &file, "application/json")),
        None => Err(ApiError::not_found(format!(
            "no feed at /{path}: scopes are configured in [[feeds.scopes]]"
        ))),
    }
}

/// Streams a zip of an approved, non-yanked version that a document names
/// or named, counting the download (a HEAD fetches nothing, so it is not
/// one).
async fn zip(
    req: &Request<Incoming>,
    shared: &Shared,
    file: &str,
    shape: Shape,
) -> Result<Response<Body>, ApiError> {
    let missing = || ApiError::not_found(format!("no such archive: {file}"));
    let sha256 = file.strip_suffix(".zip").ok_or_else(missing)?;
    let (zip, path) = shared
        .registry
        .feed_zip(sha256)
        .filter(|(zip, _)| zip.shape == shape)
        .ok_or_else(missing)?;
    let response = match &zip.bytes {
        Some(bytes) => blob_bytes(
            bytes.clone(),
            sha256,
            "application/zip",
            shared.config.auth_required,
        ),
        None => {
            blob_file(
                &path,
                zip.size,
                sha256,
                "application/zip",
                shared.config.auth_required,
            )
            .await?
        }
    };
    if req.method() == hyper::Method::GET {
        shared.registry.count_download(zip.version_id);
    }
    Ok(response)
}
