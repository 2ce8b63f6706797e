//! The ClawHub REST API (`index-spec/clawhub.md`), which the `clawhub` CLI
//! installs, searches, inspects and updates from, and which is also the
//! registry's JSON metadata API for any client:
//!
//! ```text
//! /.well-known/clawhub.json                 {"apiBase": BASE}, no token needed
//! /api/v1/whoami                            the token's login
//! /api/v1/skills?q&prefix&kind&sort&limit&offset|cursor
//! /api/v1/skills/{slug}                     ClawHub's skill + skillreg's metadata
//! /api/v1/skills/{slug}/versions[?limit&cursor]
//! /api/v1/skills/{slug}/versions/{version}  with its files
//! /api/v1/skills/{slug}/file?path&version|tag
//! /api/v1/skills/{slug}/install             the latest version, or why none
//! /api/v1/download?slug&version             the zip, SKILL.md at its root
//! /api/v1/search?q&limit&mode&kind
//! /api/v1/resolve?slug&hash                 match is always null
//! /api/v1/tags[?kind]                       keywords with counts
//! ```
//!
//! Everything is read from the registry's in-memory catalog of approved
//! versions; only a version's file list and a file's text are read from the
//! store and the blobs (`inspect --files`, `inspect --file`). Reads need a
//! token exactly when `auth_required`; the CLI sends it as `Bearer`.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::body::Body;
use super::error::ApiError;
use super::request::{blocking, identity, reader};
use super::response::{blob_file, json, json_revalidated, text};
use super::Shared;
use crate::feeds::clawhub::{WellKnown, WhoamiResponse, WhoamiUser, OWNER_HANDLE};
use crate::package::Kind;
use crate::registry::clawhub;
use crate::registry::{CatalogError, CatalogPackage, CatalogQuery, Sort};
use crate::store::{MAX_QUERY_CHARS, MAX_QUERY_WORDS};
use crate::token::Role;

/// The routes below `/api/v1/` this module answers.
const API_ROUTES: [&str; 6] = ["whoami", "search", "resolve", "download", "tags", "skills"];

/// Page size when none is asked for (the CLI's own default).
const DEFAULT_LIMIT: usize = 25;

/// The largest page (the CLI clamps to the same).
const MAX_LIMIT: usize = 200;

/// Whether `segs` is a ClawHub route.
pub(super) fn is_clawhub(segs: &[&str]) -> bool {
    matches!(segs, [".well-known", "clawhub.json" | "clawdhub.json"])
        || matches!(segs, ["api", "v1", route, ..] if API_ROUTES.contains(route))
}

/// Serves one ClawHub request.
pub(super) async fn handle(
    req: &Request<Incoming>,
    shared: &Shared,
    segs: &[&str],
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} is not allowed on {}: skillreg's ClawHub API is read-only; publish with cargo or `skillreg publish`",
                req.method(),
                req.uri().path()
            ),
        ));
    }
    let params = Params::of(req);
    match segs {
        // Discovery names only the base URL the caller already used.
        [".well-known", _] => Ok(json(
            StatusCode::OK,
            &WellKnown {
                api_base: shared.base_url.clone(),
            },
        )),
        ["api", "v1", "whoami"] => whoami(req, shared),
        [_, _, rest @ ..] => {
            read_access(req, shared)?;
            route(shared, rest, &params, req.method() == Method::HEAD).await
        }
        _ => Err(ApiError::not_found("no such endpoint")),
    }
}

/// The routes that read the catalog, below `/api/v1/`.
async fn route(
    shared: &Shared,
    rest: &[&str],
    params: &Params,
    head: bool,
) -> Result<Response<Body>, ApiError> {
    match rest {
        ["search"] => search(shared, params).await,
        ["skills"] => list(shared, params).await,
        ["tags"] => tags(shared, params),
        ["resolve"] => resolve(shared, params),
        ["download"] => download(shared, params, head).await,
        ["skills", slug] => detail(shared, slug, params),
        ["skills", slug, "versions"] => versions(shared, slug, params),
        ["skills", slug, "versions", v] => one_version(shared, slug, v, params).await,
        ["skills", slug, "file"] => file(shared, slug, params).await,
        ["skills", slug, "install"] => install(shared, slug, params),
        _ => Err(ApiError::not_found(format!(
            "no such endpoint: /api/v1/{}",
            rest.join("/")
        ))),
    }
}

/// Reads need a token when `auth_required`; the refusal says how the
/// ClawHub CLI carries one.
fn read_access(req: &Request<Incoming>, shared: &Shared) -> Result<(), ApiError> {
    reader(req, shared).map_err(|e| {
        if e.status == StatusCode::UNAUTHORIZED && !req.headers().contains_key(header::AUTHORIZATION)
        {
            ApiError::unauthorized(format!(
                "this registry requires a token to read: run `clawhub --registry {} login --token TOKEN` with a reader token from an admin, or write {{\"registry\":\"{}\",\"token\":\"TOKEN\"}} to $CLAWHUB_CONFIG_PATH (default ~/.config/clawhub/config.json)",
                shared.base_url, shared.base_url
            ))
        } else {
            e
        }
    })
}

/// `GET /api/v1/whoami`: the login of the token sent (any role).
fn whoami(req: &Request<Incoming>, shared: &Shared) -> Result<Response<Body>, ApiError> {
    let who = match identity(req, shared) {
        Ok(Some(who)) => who,
        Ok(None) => {
            return Err(ApiError::unauthorized(
                "whoami needs a token: `clawhub login --token TOKEN` sends one (a reader token is enough)",
            ))
        }
        Err(e) if e.status == StatusCode::FORBIDDEN => return Err(ApiError::unauthorized(e.detail)),
        Err(e) => return Err(e),
    };
    let role = if who.has(Role::Admin) {
        "admin"
    } else {
        "user"
    };
    Ok(json(
        StatusCode::OK,
        &WhoamiResponse {
            user: WhoamiUser {
                handle: who.login.clone(),
                display_name: who.login,
                role: role.into(),
            },
        },
    ))
}

/// The package `slug` as the request names it. An `ownerHandle` other than
/// [`OWNER_HANDLE`] names a skill of another registry: not found here.
fn package(shared: &Shared, slug: &str, params: &Params) -> Result<Arc<CatalogPackage>, ApiError> {
    if let Some(owner) = params.get("ownerHandle") {
        let owner = owner.trim().trim_start_matches('@').to_ascii_lowercase();
        if !owner.is_empty() && owner != OWNER_HANDLE {
            return Err(CatalogError::NotFound(slug.to_string()).into());
        }
    }
    Ok(shared.registry.catalog_package(slug)?)
}

/// A query parameter every route of its kind needs.
fn required<'a>(params: &'a Params, key: &str) -> Result<&'a str, ApiError> {
    params.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the query parameter `{key}` is required"),
        )
    })
}

/// `GET /api/v1/skills/{slug}`.
fn detail(shared: &Shared, slug: &str, params: &Params) -> Result<Response<Body>, ApiError> {
    let p = package(shared, slug, params)?;
    let ids: Vec<i64> = p.versions.iter().map(|v| v.id).collect();
    let body = clawhub::detail(
        &p,
        |id| shared.registry.downloads_of(id),
        shared.registry.daily_downloads(&ids, DOWNLOAD_DAYS),
    );
    Ok(params.answer(&body))
}

/// `GET /api/v1/skills/{slug}/versions`: highest first.
fn versions(shared: &Shared, slug: &str, params: &Params) -> Result<Response<Body>, ApiError> {
    let p = package(shared, slug, params)?;
    let body = clawhub::versions(&p, params.offset()?, params.limit(), |id| {
        shared.registry.downloads_of(id)
    });
    Ok(params.answer(&body))
}

/// `GET /api/v1/skills/{slug}/versions/{version}`, with its files.
async fn one_version(
    shared: &Shared,
    slug: &str,
    version: &str,
    params: &Params,
) -> Result<Response<Body>, ApiError> {
    let p = package(shared, slug, params)?;
    let v = p
        .version(version)
        .ok_or_else(|| CatalogError::NoVersion {
            name: slug.to_string(),
            version: version.to_string(),
        })?
        .clone();
    let registry = shared.registry.clone();
    let read = v.clone();
    let files = blocking(move || Ok(registry.version_files(&read))).await??;
    let downloads = shared.registry.downloads_of(v.id);
    Ok(params.answer(&clawhub::version(&p, &v, files, downloads)))
}

/// The version a request names by `version` or `tag` (only `latest`), or
/// the latest.
fn chosen_version(p: &CatalogPackage, slug: &str, params: &Params) -> Result<String, ApiError> {
    match (params.get("version"), params.get("tag")) {
        (Some(v), _) if !v.is_empty() => Ok(v.to_string()),
        (_, Some(tag)) if !tag.is_empty() && tag != "latest" => Err(ApiError::not_found(format!(
            "`{slug}` has no tag `{tag}`; skillreg tags only `latest`"
        ))),
        _ => p
            .latest()
            .map(|v| v.version.clone())
            .ok_or_else(|| CatalogError::AllYanked(p.name.clone()).into()),
    }
}

/// `GET /api/v1/skills/{slug}/file?path=…`: one text file of a version.
async fn file(shared: &Shared, slug: &str, params: &Params) -> Result<Response<Body>, ApiError> {
    let path = required(params, "path")?.to_string();
    let p = package(shared, slug, params)?;
    let version = chosen_version(&p, slug, params)?;
    if p.version(&version).is_none() {
        return Err(CatalogError::NoVersion {
            name: slug.to_string(),
            version,
        }
        .into());
    }
    // The stored file list answers for paths that are not files, and for
    // files too large to show, without opening the bundle.
    let registry = shared.registry.clone();
    let (p, version, path) = blocking(move || {
        let v = p.version(&version).expect("looked up above");
        let listed = match registry.version_files(v) {
            Ok(files) => files.into_iter().find(|f| f.path == path),
            Err(e) => return Ok(Err(e)),
        };
        Ok(match listed {
            None => Err(CatalogError::NoFile {
                name: p.name.clone(),
                version: version.clone(),
                path,
            }),
            Some(f) if f.size > crate::registry::MAX_FILE_BYTES => {
                Err(CatalogError::FileTooLarge {
                    name: p.name.clone(),
                    version: version.clone(),
                    path,
                    size: f.size,
                })
            }
            Some(_) => Ok((p, version, path)),
        })
    })
    .await??;
    let Ok(_permit) = shared.file_reads.try_acquire() else {
        return Err(ApiError::busy_reading());
    };
    let registry = shared.registry.clone();
    let content = blocking(move || {
        let v = p.version(&version).expect("looked up above");
        Ok(registry.version_file(&p, v, &path))
    })
    .await??;
    let mut response = text(StatusCode::OK, terminal_safe(&content));
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// A text file as a terminal may print it (`clawhub inspect --file` does,
/// raw): escape and the other control characters but tab and line breaks
/// become U+FFFD, so a file cannot move the cursor, rewrite the screen or
/// forge a hyperlink.
fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// `GET /api/v1/skills/{slug}/install`: the latest version, or why none
/// (with the status the refusal names).
fn install(shared: &Shared, slug: &str, params: &Params) -> Result<Response<Body>, ApiError> {
    let p = package(shared, slug, params)?;
    let body = clawhub::install(&p, &shared.base_url);
    let status = body
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    Ok(json(status, &body))
}

/// `GET /api/v1/resolve`.
fn resolve(shared: &Shared, params: &Params) -> Result<Response<Body>, ApiError> {
    let slug = required(params, "slug")?;
    let p = package(shared, slug, params)?;
    Ok(params.answer(&clawhub::resolve(&p)))
}

/// `GET /api/v1/download?slug=…&version=…`: the version's zip with
/// `SKILL.md` at its root, streamed from its blob; counted as a download
/// (a `HEAD` is not one).
async fn download(
    shared: &Shared,
    params: &Params,
    head: bool,
) -> Result<Response<Body>, ApiError> {
    let slug = required(params, "slug")?;
    package(shared, slug, params)?;
    let version = params.get("version").filter(|v| !v.is_empty());
    let zip = shared.registry.skill_zip(slug, version)?;
    let mut response = blob_file(
        &zip.path,
        zip.size,
        &zip.sha256,
        "application/zip",
        shared.config.auth_required,
    )
    .await?;
    if !head {
        shared.registry.count_download(zip.version_id);
    }
    let filename = format!(
        "{}-{}.zip",
        slug.replace(['"', '\\', '/'], "_"),
        zip.version
    );
    if let Ok(value) =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// How many days of daily downloads the metadata API shows.
const DOWNLOAD_DAYS: i64 = 90;

/// The `q` parameter, refused when longer than a search needs.
fn search_text(params: &Params) -> Result<String, ApiError> {
    let text = params.get("q").unwrap_or("");
    if text.chars().count() > MAX_QUERY_CHARS || text.split_whitespace().count() > MAX_QUERY_WORDS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the search text is longer than {MAX_QUERY_CHARS} characters or {MAX_QUERY_WORDS} words; search for fewer words"
            ),
        ));
    }
    Ok(text.to_string())
}

/// `GET /api/v1/search`: ClawHub's search, skills only unless `kind` says
/// otherwise, best match first.
async fn search(shared: &Shared, params: &Params) -> Result<Response<Body>, ApiError> {
    let query = CatalogQuery {
        text: search_text(params)?,
        exact: params.get("mode") == Some("exact"),
        prefix: String::new(),
        kinds: kinds(params, &[Kind::Skill])?,
        source: None,
        sort: Sort::Relevance,
        offset: 0,
        limit: params.limit(),
    };
    let registry = shared.registry.clone();
    let page = blocking(move || registry.catalog_query(&query)).await?;
    Ok(params.answer(&clawhub::search(&page.hits)))
}

/// `GET /api/v1/skills`: every kind unless `kind` says otherwise.
async fn list(shared: &Shared, params: &Params) -> Result<Response<Body>, ApiError> {
    let offset = params.offset()?;
    let query = CatalogQuery {
        text: search_text(params)?,
        exact: false,
        prefix: params.get("prefix").unwrap_or("").to_string(),
        kinds: kinds(params, &[])?,
        source: None,
        sort: sort(params.get("sort"))?,
        offset,
        limit: params.limit(),
    };
    let registry = shared.registry.clone();
    let page = blocking(move || registry.catalog_query(&query)).await?;
    Ok(params.answer(&clawhub::list(&page.hits, offset, page.total)))
}

/// `GET /api/v1/tags`: keywords with how many packages list each.
fn tags(shared: &Shared, params: &Params) -> Result<Response<Body>, ApiError> {
    let kind = match kinds(params, &[])?.as_slice() {
        [] => None,
        [kind] => Some(*kind),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "`kind` takes one of skill, plugin, crate or all here",
            ))
        }
    };
    Ok(params.answer(&clawhub::tags(shared.registry.catalog_tags(kind))))
}

/// The kinds `kind=` names (comma-separated, or `all`), else `default`.
fn kinds(params: &Params, default: &[Kind]) -> Result<Vec<Kind>, ApiError> {
    match params.get("kind").map(str::trim) {
        None | Some("") => Ok(default.to_vec()),
        Some("all") => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(|k| {
                Kind::parse(k.trim()).map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("`kind` takes skill, plugin, crate or all, not `{k}`"),
                    )
                })
            })
            .collect(),
    }
}

/// The order `sort=` names; ClawHub's own words are understood too.
fn sort(value: Option<&str>) -> Result<Sort, ApiError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "recent" | "updated") => Ok(Sort::Recent),
        Some("downloads" | "installs" | "trending") => Ok(Sort::Downloads),
        Some("created" | "createdat" | "newest") => Ok(Sort::Created),
        Some("name") => Ok(Sort::Name),
        Some("relevance") => Ok(Sort::Relevance),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("skillreg sorts by downloads, recent, created, name or relevance, not `{other}` (it keeps no stars or ratings)"),
        )),
    }
}

/// The decoded query string (`+` is a space), the last value of each key,
/// and the request's `If-None-Match` (every JSON answer revalidates).
struct Params(HashMap<String, String>, Option<String>);

impl Params {
    fn of(req: &Request<Incoming>) -> Params {
        Params(
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
            req.headers()
                .get(hyper::header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A `200` JSON answer with its ETag, or `304` for a matching revalidation.
    fn answer<T: serde::Serialize>(&self, value: &T) -> Response<Body> {
        json_revalidated(self.1.as_deref(), value)
    }

    /// `limit`, 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when absent or not a number.
    fn limit(&self) -> usize {
        self.get("limit")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, MAX_LIMIT)
    }

    /// `offset`, or the `cursor` a previous page gave (the same number).
    fn offset(&self) -> Result<usize, ApiError> {
        match self.get("offset").or(self.get("cursor")).map(str::trim) {
            None | Some("") => Ok(0),
            Some(v) => v.parse().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("`{v}` is not an offset or a cursor this registry gave"),
                )
            }),
        }
    }
}
