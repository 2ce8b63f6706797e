//! The web pages' routes (`index-spec/web-pages.md`): requests in, the
//! catalog's facts handed to [`crate::web`], HTML out with the headers that
//! keep hostile content inert.
//!
//! ```text
//! /                                          browse: ?q&kind&source&sort&page
//! /packages/{name}[/{version}]               a package, at its latest or one version
//! /packages/{name}/{version}/files/{path}    one text file, escaped
//! /static/skillreg-1.css                     the style sheet
//! ```
//!
//! `/login` (a form; a POST trades a token for a session), `/logout`
//! (POST) and `/admin/…` (`admin_pages`) are pages too; what every page
//! takes from a request and how it answers is in `page_request`.
//!
//! Reads need a token exactly when `auth_required`, as for the API: a
//! session's (`session`) or an `Authorization` header's. Every POST needs a
//! same-origin `Origin`, and all but the sign-in a session and its CSRF
//! token; nothing changes on a GET.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::{self, Body};
use super::error::ApiError;
use super::page_request::{form, html, problem, see_other, visitor, Visitor};
use super::request::blocking;
use super::session;
use super::{AuthError, Shared};
use crate::package::Kind;
use crate::registry::{CatalogError, CatalogPackage, CatalogQuery, CatalogVersion};
use crate::store::MAX_QUERY_CHARS;
use crate::token::Role;
use crate::web::browse::{self, BrowseQuery, BrowseView, PAGE_SIZE};
use crate::web::layout::{self, Viewer};
use crate::web::package::{self, Endpoints, PackageView, Readme, CHART_DAYS};

/// Whether `segs` is a page.
pub(super) fn is_page(segs: &[&str]) -> bool {
    matches!(
        segs,
        [""] | ["packages", ..] | ["static", _] | ["login"] | ["logout"]
    ) || matches!(segs, ["admin", first, ..] if *first != "v1")
}

/// Serves one page request; errors become HTML pages with their status.
pub(super) async fn handle(
    req: Request<Incoming>,
    shared: &Shared,
    segs: &[&str],
) -> Response<Body> {
    if let ["static", file] = segs {
        return static_file(file);
    }
    let visitor = match visitor(&req, shared) {
        Ok(visitor) => visitor,
        Err(e) => return problem(e, &Viewer::default()),
    };
    let viewer = visitor.viewer();
    let read = req.method() == Method::GET || req.method() == Method::HEAD;
    let result = match segs {
        ["login"] if read => Ok(html(StatusCode::OK, layout::sign_in(&viewer, None))),
        ["login"] if req.method() == Method::POST => sign_in(req, shared, &visitor).await,
        ["logout"] if req.method() == Method::POST => sign_out(req, shared, &visitor).await,
        ["admin", rest @ ..] => super::admin_pages::handle(req, shared, &visitor, rest).await,
        _ if !read => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on this page", req.method()),
        )),
        _ if shared.config.auth_required && visitor.who.is_none() => Ok(html(
            StatusCode::UNAUTHORIZED,
            layout::sign_in(&viewer, Some("This registry needs a token to read.")),
        )),
        [""] => browse_page(&req, shared, &viewer).await,
        ["packages", name] => package_page(shared, name, None, &viewer).await,
        ["packages", name, version] => package_page(shared, name, Some(version), &viewer).await,
        ["packages", name, version, "files", path @ ..] if !path.is_empty() => {
            file_page(shared, name, version, &path.join("/"), &viewer).await
        }
        _ => Err(ApiError::not_found("There is no such page.")),
    };
    result.unwrap_or_else(|e| problem(e, &viewer))
}

/// Whether the session cookie gets `Secure`.
fn secure(shared: &Shared) -> bool {
    shared.config.tls_enabled() || shared.base_url.starts_with("https://")
}

/// `POST /login`: a valid token becomes a session (and ends the one the
/// browser had, if any).
async fn sign_in(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: &Visitor,
) -> Result<Response<Body>, ApiError> {
    let (fields, _) = form(req, shared, None).await?;
    let token = fields.get("token").map(|t| t.trim()).unwrap_or("");
    let who = match shared.auth.authenticate(token) {
        Ok(who) => who,
        Err(AuthError::Invalid) => {
            return Ok(html(
                StatusCode::UNAUTHORIZED,
                layout::sign_in(
                    &Viewer::default(),
                    Some("That token is not valid (or was revoked). Check it, or ask an admin for a new one."),
                ),
            ))
        }
        Err(AuthError::Store(e)) => return Err(ApiError::tokens_unavailable(&e)),
    };
    shared
        .limits
        .check_token(who.token_id)
        .map_err(|wait| ApiError::rate_limited(wait, "token"))?;
    if let Some((old, _)) = &visitor.session {
        shared.sessions.end(old);
    }
    let id = shared.sessions.create(token);
    let next = if who.has(Role::Admin) {
        "/admin/pending"
    } else {
        "/"
    };
    let mut response = see_other(next);
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(&id, secure(shared))) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /logout`: ends the session.
async fn sign_out(
    req: Request<Incoming>,
    shared: &Shared,
    visitor: &Visitor,
) -> Result<Response<Body>, ApiError> {
    form(req, shared, Some(visitor)).await?;
    if let Some((id, _)) = &visitor.session {
        shared.sessions.end(id);
    }
    let mut response = see_other("/");
    if let Ok(cookie) = HeaderValue::from_str(&session::clear_cookie(secure(shared))) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `/`: the catalog.
async fn browse_page(
    req: &Request<Incoming>,
    shared: &Shared,
    viewer: &Viewer,
) -> Result<Response<Body>, ApiError> {
    let key = format!("/?{}", req.uri().query().unwrap_or(""));
    let catalog = shared.registry.catalog();
    if let Some(content) = shared.page_cache.get(&key, &catalog) {
        return Ok(framed(browse::TITLE, viewer, &content));
    }
    let params: HashMap<String, String> =
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let text = params.get("q").cloned().unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The search is longer than {MAX_QUERY_CHARS} characters; search for fewer words."
            ),
        ));
    }
    let query = BrowseQuery {
        text,
        kind: params
            .get("kind")
            .filter(|k| !k.is_empty())
            .and_then(|k| Kind::parse(k).ok()),
        source: match params.get("source").map(String::as_str) {
            None | Some("*") => None,
            Some(source) => Some(source.to_string()),
        },
        sort: params.get("sort").and_then(|s| browse::parse_sort(s)),
        page: params
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1usize)
            .clamp(1, 1_000_000),
    };
    let catalog_query = CatalogQuery {
        text: query.text.clone(),
        exact: false,
        prefix: String::new(),
        kinds: query.kind.into_iter().collect(),
        source: query.source.clone(),
        sort: browse::default_sort(&query),
        offset: (query.page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    };
    let registry = shared.registry.clone();
    let found = blocking(move || registry.catalog_query(&catalog_query)).await?;
    let sources: Vec<String> = shared
        .config
        .sources
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let view = BrowseView {
        query: &query,
        hits: &found.hits,
        total: found.total,
        sources: &sources,
    };
    let content = Arc::new(browse::render(&view).into_string());
    shared.page_cache.put(key, catalog, content.clone());
    Ok(framed(browse::TITLE, viewer, &content))
}

/// The package and the version a page names (the latest, else the
/// highest, when none is named).
fn package_and_version(
    shared: &Shared,
    name: &str,
    version: Option<&str>,
) -> Result<(Arc<CatalogPackage>, CatalogVersion), ApiError> {
    let p = shared.registry.catalog_package(name)?;
    let v = match version {
        Some(v) => p.version(v).ok_or_else(|| CatalogError::NoVersion {
            name: p.name.clone(),
            version: v.to_string(),
        })?,
        None => p.latest().unwrap_or_else(|| p.current()),
    }
    .clone();
    Ok((p, v))
}

/// `/packages/{name}[/{version}]`.
async fn package_page(
    shared: &Shared,
    name: &str,
    version: Option<&str>,
    viewer: &Viewer,
) -> Result<Response<Body>, ApiError> {
    let key = format!("/packages/{name}/{}", version.unwrap_or(""));
    let catalog = shared.registry.catalog();
    let (p, v) = package_and_version(shared, name, version)?;
    if let Some(content) = shared.page_cache.get(&key, &catalog) {
        return Ok(framed(&p.name, viewer, &content));
    }
    // The README is read out of the bundle, which unpacks it: as many at
    // once as file views, the others wait a little, then are told to retry.
    let permit = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        shared.file_reads.acquire(),
    )
    .await;
    let Ok(Ok(_permit)) = permit else {
        return Err(ApiError::busy_reading());
    };
    let registry = shared.registry.clone();
    let (read_p, read_v) = (p.clone(), v.clone());
    let (files, readme) = blocking(move || {
        Ok(registry.version_files(&read_v).map(|files| {
            let readme = readme_of(&registry, &read_p, &read_v, &files);
            (files, readme)
        }))
    })
    .await??;
    let downloads: Vec<u64> = p
        .versions
        .iter()
        .map(|v| shared.registry.downloads_of(v.id))
        .collect();
    let ids: Vec<i64> = p.versions.iter().map(|v| v.id).collect();
    let by_day = shared.registry.daily_downloads(&ids, CHART_DAYS as i64);
    let dependents = dependents_of(&shared.registry.catalog(), &p.name);
    let feeds = &shared.config.feeds;
    let view = PackageView {
        package: &p,
        version: &v,
        readme,
        files: &files,
        downloads: &downloads,
        by_day: &by_day,
        dependents: &dependents,
        endpoints: Endpoints {
            base_url: &shared.base_url,
            marketplace: &feeds.marketplace.name,
            skills_as_plugins: feeds.skills_as_plugins,
        },
    };
    let content = Arc::new(package::render(&view).into_string());
    shared.page_cache.put(key, catalog, content.clone());
    Ok(framed(&p.name, viewer, &content))
}

/// The SKILL.md of a skill, else a README, rendered and sanitized.
fn readme_of(
    registry: &crate::registry::Registry,
    p: &CatalogPackage,
    v: &CatalogVersion,
    files: &[crate::registry::CatalogFile],
) -> Readme {
    let candidates: &[&str] = match p.kind {
        Kind::Skill => &["SKILL.md", "README.md"],
        _ => &["README.md", "readme.md", "README"],
    };
    let Some(file) = candidates
        .iter()
        .find_map(|c| files.iter().find(|f| f.path == *c))
    else {
        return Readme::Missing;
    };
    match registry.version_file(p, v, &file.path) {
        Ok(text) => Readme::Rendered {
            path: file.path.clone(),
            html: crate::web::markdown::to_safe_html(&text),
            bytes: file.size,
        },
        Err(e) => Readme::Unreadable(e.to_string()),
    }
}

/// Packages whose current version depends on `name`, by name.
fn dependents_of(catalog: &crate::registry::Catalogue, name: &str) -> Vec<String> {
    let wanted = crate::package::normalize(name);
    catalog
        .values()
        .filter(|p| {
            p.current().dependencies.iter().any(|d| {
                crate::package::normalize(d.package.as_deref().unwrap_or(&d.name)) == wanted
            })
        })
        .map(|p| p.name.clone())
        .collect()
}

/// `/packages/{name}/{version}/files/{path}`: the text, escaped.
async fn file_page(
    shared: &Shared,
    name: &str,
    version: &str,
    path: &str,
    viewer: &Viewer,
) -> Result<Response<Body>, ApiError> {
    let (p, v) = package_and_version(shared, name, Some(version))?;
    let Ok(_permit) = shared.file_reads.try_acquire() else {
        return Err(ApiError::busy_reading());
    };
    let registry = shared.registry.clone();
    let (read_p, read_v, read_path) = (p.clone(), v.clone(), path.to_string());
    let text = blocking(move || {
        let listed = match registry.version_files(&read_v) {
            Ok(files) => files.into_iter().any(|f| f.path == read_path),
            Err(e) => return Ok(Err(e)),
        };
        if !listed {
            return Ok(Err(CatalogError::NoFile {
                name: read_p.name.clone(),
                version: read_v.version.clone(),
                path: read_path,
            }));
        }
        Ok(registry.version_file(&read_p, &read_v, &read_path))
    })
    .await??;
    Ok(html(
        StatusCode::OK,
        package::file_page(&p, &v, path, &text, viewer),
    ))
}

/// The style sheet, cached for good (its path names its version).
fn static_file(file: &str) -> Response<Body> {
    if format!("/static/{file}") != crate::web::CSS_PATH {
        return problem(
            ApiError::not_found("There is no such file."),
            &Viewer::default(),
        );
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_LENGTH, crate::web::CSS.len())
        .body(body::full(crate::web::CSS))
        .expect("valid response")
}

/// Content (of [`browse::render`] or [`package::render`]) in the frame
/// for `viewer`, as a `200` page.
fn framed(title: &str, viewer: &Viewer, content: &str) -> Response<Body> {
    html(
        StatusCode::OK,
        layout::page(title, viewer, maud::PreEscaped(content.to_string())),
    )
}
