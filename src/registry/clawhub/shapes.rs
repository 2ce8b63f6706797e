//! The catalog as the parts of ClawHub's bodies: registry facts in, wire
//! types out. Times become epoch milliseconds for ClawHub's fields and
//! RFC 3339 for skillreg's own.

use crate::feeds::clawhub::{
    DependencyInfo, LatestVersion, Owner, PackageInfo, SearchResult, Skill, SkillListItem, Stats,
    VersionInfo, VersionListItem, OWNER_HANDLE,
};
use crate::feeds::one_line;
use crate::fsutil::rfc3339;
use crate::registry::{CatalogHit, CatalogPackage, CatalogVersion};

/// The only licence value the CLI's schema takes.
const CLAWHUB_LICENSE: &str = "MIT-0";

/// Unix seconds as epoch milliseconds.
pub(super) fn ms(secs: i64) -> i64 {
    secs.saturating_mul(1000)
}

/// `MIT-0` when that is the licence, else null: the CLI refuses any other
/// value (and prints `MIT-0` for null; `index-spec/clawhub.md` §5).
fn clawhub_license(license: Option<&str>) -> Option<String> {
    (license == Some(CLAWHUB_LICENSE)).then(|| CLAWHUB_LICENSE.to_string())
}

/// What the CLI prints as a version's changelog: skillreg keeps none, so it
/// says whether the version is yanked.
pub(super) fn changelog(version: &CatalogVersion) -> String {
    if version.yanked {
        "yanked".into()
    } else {
        String::new()
    }
}

/// The owner every package has.
pub(super) fn owner() -> Owner {
    Owner {
        handle: OWNER_HANDLE.into(),
        display_name: OWNER_HANDLE.into(),
    }
}

/// ClawHub's `skill` object.
pub(super) fn skill(package: &CatalogPackage, downloads: u64) -> Skill {
    let current = package.current();
    Skill {
        slug: package.name.clone(),
        display_name: package.name.clone(),
        summary: Some(one_line(&current.description).into_owned()).filter(|d| !d.is_empty()),
        topics: current.keywords.clone(),
        tags: package
            .latest()
            .map(|v| [("latest".to_string(), v.version.clone())].into())
            .unwrap_or_default(),
        stats: Stats {
            downloads,
            versions: package.versions.len(),
        },
        created_at: ms(package.created_at()),
        updated_at: ms(package.updated_at()),
        kind: package.kind,
    }
}

/// ClawHub's `latestVersion`.
pub(super) fn latest_version(version: &CatalogVersion) -> LatestVersion {
    LatestVersion {
        version: version.version.clone(),
        created_at: ms(version.published_at),
        changelog: changelog(version),
        license: clawhub_license(version.license.as_deref()),
    }
}

/// skillreg's metadata of a package, with each version's downloads.
pub(super) fn package_info(
    package: &CatalogPackage,
    downloads_of: impl Fn(i64) -> u64,
    by_day: Vec<(String, u64)>,
) -> PackageInfo {
    let current = package.current();
    let versions: Vec<VersionInfo> = package
        .versions
        .iter()
        .map(|v| version_info(v, downloads_of(v.id)))
        .collect();
    PackageInfo {
        name: package.name.clone(),
        kind: package.kind,
        description: one_line(&current.description).into_owned(),
        keywords: current.keywords.clone(),
        license: current.license.clone(),
        source: current.source.clone(),
        latest: package.latest().map(|v| v.version.clone()),
        downloads: versions.iter().map(|v| v.downloads).sum(),
        downloads_by_day: by_day
            .into_iter()
            .map(|(day, count)| crate::feeds::clawhub::DayCount { day, count })
            .collect(),
        created_at: rfc3339(package.created_at()),
        updated_at: rfc3339(package.updated_at()),
        versions,
    }
}

/// skillreg's metadata of one version.
pub(super) fn version_info(version: &CatalogVersion, downloads: u64) -> VersionInfo {
    VersionInfo {
        version: version.version.clone(),
        published_at: rfc3339(version.published_at),
        yanked: version.yanked,
        checksum: version.cksum.clone(),
        size: version.size,
        zip_sha256: match &version.skill_zip {
            Some(Ok(zip)) => Some(zip.sha256.clone()),
            _ => None,
        },
        downloads,
        description: one_line(&version.description).into_owned(),
        keywords: version.keywords.clone(),
        license: version.license.clone(),
        dependencies: version
            .dependencies
            .iter()
            .map(|d| DependencyInfo {
                name: d.package.clone().unwrap_or_else(|| d.name.clone()),
                req: d.req.clone(),
                kind: d.kind.clone(),
                optional: d.optional,
                target: d.target.clone(),
                registry: d.registry.clone(),
            })
            .collect(),
        source: version.source.clone(),
    }
}

/// One row of `GET /api/v1/skills`.
pub(super) fn list_item(hit: &CatalogHit) -> SkillListItem {
    let package = &hit.package;
    SkillListItem {
        skill: skill(package, hit.downloads),
        latest_version: package.latest().map(latest_version),
        downloads: hit.downloads,
        license: package.current().license.clone(),
    }
}

/// One row of `GET /api/v1/search`.
pub(super) fn search_result(hit: &CatalogHit) -> SearchResult {
    let package = &hit.package;
    let current = package.current();
    SearchResult {
        slug: package.name.clone(),
        display_name: package.name.clone(),
        summary: Some(one_line(&current.description).into_owned()).filter(|d| !d.is_empty()),
        version: package.latest().map(|v| v.version.clone()),
        owner_handle: OWNER_HANDLE.into(),
        score: hit.score,
        downloads: hit.downloads,
        updated_at: ms(package.updated_at()),
        kind: package.kind,
    }
}

/// One row of `GET /api/v1/skills/{slug}/versions`.
pub(super) fn version_item(version: &CatalogVersion, downloads: u64) -> VersionListItem {
    VersionListItem {
        version: version.version.clone(),
        created_at: ms(version.published_at),
        changelog: changelog(version),
        yanked: version.yanked,
        downloads,
    }
}
