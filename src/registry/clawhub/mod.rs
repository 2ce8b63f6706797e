//! The bodies of ClawHub's REST API (`index-spec/clawhub.md`), built from
//! the catalog: once per request by the daemon's routes
//! (`server::clawhub`), and once per change into a static tree ([`tree`]),
//! so that both answer the `clawhub` CLI with the same shapes.
//!
//! Everything here is a function of catalog facts and counts handed in:
//! which package a request names, its parameters and its token are the
//! routes' business.

mod shapes;
pub(super) mod tree;

use crate::feeds::clawhub::{
    FileInfo, InstallArchive, InstallResolve, ResolveResponse, SearchResponse, SkillListResponse,
    SkillRef, SkillResponse, TagInfo, TagsResponse, VersionDetail, VersionListResponse,
    VersionOnly, VersionResponse,
};
use crate::package::Kind;

use super::{CatalogError, CatalogFile, CatalogHit, CatalogPackage, CatalogVersion, TagCount};

/// `GET /api/v1/skills/{slug}`: ClawHub's skill and skillreg's metadata,
/// with each version's downloads and the package's downloads per day.
pub fn detail(
    package: &CatalogPackage,
    downloads_of: impl Fn(i64) -> u64,
    by_day: Vec<(String, u64)>,
) -> SkillResponse {
    let info = shapes::package_info(package, downloads_of, by_day);
    SkillResponse {
        skill: shapes::skill(package, info.downloads),
        latest_version: package.latest().map(shapes::latest_version),
        owner: shapes::owner(),
        package: info,
    }
}

/// `GET /api/v1/skills/{slug}/versions`: the page of `limit` versions from
/// `offset`, highest first.
pub fn versions(
    package: &CatalogPackage,
    offset: usize,
    limit: usize,
    downloads_of: impl Fn(i64) -> u64,
) -> VersionListResponse {
    let items: Vec<_> = package
        .versions
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| shapes::version_item(v, downloads_of(v.id)))
        .collect();
    let next = offset + items.len();
    VersionListResponse {
        next_cursor: (next < package.versions.len()).then(|| next.to_string()),
        items,
    }
}

/// `GET /api/v1/skills/{slug}/versions/{version}`, with its files.
pub fn version(
    package: &CatalogPackage,
    version: &CatalogVersion,
    files: Vec<CatalogFile>,
    downloads: u64,
) -> VersionResponse {
    VersionResponse {
        version: VersionDetail {
            version: version.version.clone(),
            created_at: shapes::ms(version.published_at),
            changelog: shapes::changelog(version),
            license: shapes::latest_version(version).license,
            files: files
                .into_iter()
                .map(|f| FileInfo {
                    path: f.path,
                    size: f.size,
                    sha256: f.sha256,
                })
                .collect(),
            package: shapes::version_info(version, downloads),
        },
        skill: SkillRef {
            slug: package.name.clone(),
            display_name: package.name.clone(),
        },
    }
}

/// Where the zip of `version` of `slug` is downloaded from, below `base_url`.
pub fn download_url(base_url: &str, slug: &str, version: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("slug", slug)
        .append_pair("version", version)
        .finish();
    format!("{base_url}/api/v1/download?{query}")
}

/// `GET /api/v1/skills/{slug}/install` (the CLI asks only when
/// `latestVersion` is null): the latest version's download, or why there
/// is none. A refusal carries its HTTP status in `status`.
pub fn install(package: &CatalogPackage, base_url: &str) -> InstallResolve {
    let refusal = |status: u16, reason: CatalogError| InstallResolve {
        ok: false,
        slug: package.name.clone(),
        install_kind: None,
        archive: None,
        reason: Some("archive_version_missing".into()),
        message: Some(reason.to_string()),
        status: Some(status),
    };
    let name = package.name.clone();
    match (package.kind, package.latest()) {
        (Kind::Skill, Some(latest)) => InstallResolve {
            ok: true,
            slug: name,
            install_kind: Some("archive".into()),
            archive: Some(InstallArchive {
                version: latest.version.clone(),
                download_url: download_url(base_url, &package.name, &latest.version),
            }),
            reason: None,
            message: None,
            status: None,
        },
        (Kind::Skill, None) => refusal(410, CatalogError::AllYanked(name)),
        (kind, _) => refusal(409, CatalogError::NotASkill { name, kind }),
    }
}

/// `GET /api/v1/resolve`: skillreg does not compute ClawHub's fingerprint,
/// so `match` is null and the CLI trusts its own `origin.json`.
pub fn resolve(package: &CatalogPackage) -> ResolveResponse {
    ResolveResponse {
        matched: None,
        latest_version: package.latest().map(|v| VersionOnly {
            version: v.version.clone(),
        }),
    }
}

/// `GET /api/v1/search`: the hits, best match first.
pub fn search(hits: &[CatalogHit]) -> SearchResponse {
    SearchResponse {
        results: hits.iter().map(shapes::search_result).collect(),
    }
}

/// `GET /api/v1/skills`: one page of `total` matches that starts at
/// `offset`.
pub fn list(hits: &[CatalogHit], offset: usize, total: usize) -> SkillListResponse {
    let next = offset + hits.len();
    SkillListResponse {
        items: hits.iter().map(shapes::list_item).collect(),
        next_cursor: (next < total).then(|| next.to_string()),
        total,
    }
}

/// `GET /api/v1/tags`: keywords with how many packages list each.
pub fn tags(tags: Vec<TagCount>) -> TagsResponse {
    TagsResponse {
        tags: tags
            .into_iter()
            .map(|t| TagInfo {
                tag: t.tag,
                count: t.count,
            })
            .collect(),
    }
}
