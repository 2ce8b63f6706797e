//! What every page handler takes from a request and how it answers
//! (`index-spec/web-pages.md` §2, §3): who the visitor is (a session or a
//! token), a posted form after its origin and CSRF checks, and the HTML
//! response with the headers that keep hostile content inert. Used by the
//! reader's pages (`pages`) and the admin's (`admin_pages`).

use std::collections::HashMap;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::body::{self, Body};
use super::error::ApiError;
use super::request::{identity, read_body};
use super::session::{self, Session};
use super::{AuthError, Shared};
use crate::token::{Identity, Role};
use crate::web::layout::{self, Viewer};

/// The policy every page is sent with: nothing runs, nothing is fetched
/// but the style sheet, nothing frames the page, forms post only here.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body.
const MAX_FORM: u64 = 64 * 1024;

/// Who sent a page request: the session's identity (its token checked
/// again), else the `Authorization` header's, else nobody.
pub(super) struct Visitor {
    /// The identity, if any.
    pub who: Option<Identity>,
    /// The session id and session, when signed in through the form.
    pub session: Option<(String, Session)>,
}

impl Visitor {
    /// What the navigation shows.
    pub(super) fn viewer(&self) -> Viewer {
        Viewer {
            login: self.who.as_ref().map(|w| w.login.clone()),
            admin: self.who.as_ref().is_some_and(|w| w.has(Role::Admin)),
            csrf: self.session.as_ref().map(|(_, s)| s.csrf.clone()),
        }
    }
}

/// The visitor of `req`. A session whose token was revoked is ended.
pub(super) fn visitor(req: &Request<Incoming>, shared: &Shared) -> Result<Visitor, ApiError> {
    if let Some((id, s)) = shared.sessions.of(req) {
        match shared.auth.authenticate(&s.token) {
            Ok(who) => {
                shared
                    .limits
                    .check_token(who.token_id)
                    .map_err(|wait| ApiError::rate_limited(wait, "token"))?;
                return Ok(Visitor {
                    who: Some(who),
                    session: Some((id, s)),
                });
            }
            Err(AuthError::Invalid) => shared.sessions.end(&id),
            Err(AuthError::Store(e)) => return Err(ApiError::tokens_unavailable(&e)),
        }
    }
    Ok(Visitor {
        who: identity(req, shared)?,
        session: None,
    })
}

/// The fields of a posted form (the last value of each key, and every
/// value of `select`), after the checks every post passes: a same-origin
/// `Origin`, and, for a `visitor` (every post but the sign-in), a session
/// and its CSRF token.
pub(super) async fn form(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: Option<&Visitor>,
) -> Result<(HashMap<String, String>, Vec<String>), ApiError> {
    if !session::same_origin(&req, &shared.base_url) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "This form was not sent from this registry's own page; nothing was changed.",
        ));
    }
    let timeout = std::time::Duration::from_secs(shared.config.limits.body_read_timeout_secs);
    let body = read_body(req, MAX_FORM, "the form limit", timeout).await?;
    let mut fields = HashMap::new();
    let mut selected = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        if key == "select" {
            selected.push(value.into_owned());
        } else {
            fields.insert(key.into_owned(), value.into_owned());
        }
    }
    if let Some(visitor) = visitor {
        let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
        match &visitor.session {
            Some((_, s)) if session::csrf_matches(s, sent) => {}
            Some(_) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "This form has expired or was not sent from this session; reload the page and try again. Nothing was changed.",
                ))
            }
            None => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Sign in first: forms need a session. Nothing was changed.",
                ))
            }
        }
    }
    Ok((fields, selected))
}

/// `303 See Other` to `location` (a path of this registry).
pub(super) fn see_other(location: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::CONTENT_LENGTH, 0)
        .body(body::full(""))
        .expect("valid response")
}

/// An error as a page with its status.
pub(super) fn problem(e: ApiError, viewer: &Viewer) -> Response<Body> {
    let title = e
        .status
        .canonical_reason()
        .unwrap_or("Something went wrong");
    let mut response = html(e.status, layout::problem(title, viewer, &e.detail));
    if let Some(secs) = e.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// An admin page: a page that no cache keeps.
pub(super) fn private_html(status: StatusCode, markup: maud::Markup) -> Response<Body> {
    let mut response = html(status, markup);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    response
}

/// A page with the headers every page gets.
pub(super) fn html(status: StatusCode, markup: maud::Markup) -> Response<Body> {
    let body = markup.into_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CONTENT_SECURITY_POLICY, CSP)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::REFERRER_POLICY, "same-origin")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONTENT_LENGTH, body.len())
        .body(body::full(body))
        .expect("valid response")
}
