//! ClawHub's API as the files of a static tree (`index-spec/export.md` §8):
//! one file per answer the `clawhub` CLI's `install`, `inspect`, `update`
//! and `search` need, at paths `nginx/clawhub.conf` maps its requests onto
//! (a query string cannot name a file by itself).
//!
//! ```text
//! .well-known/clawhub.json                      {"apiBase": BASE}
//! api/v1/skills/index.json                      the catalog, every kind, newest first
//! api/v1/search/index.json                      every skill, most downloaded first
//! api/v1/tags/index.json                        keywords with counts
//! api/v1/skills/{name}/index.json               the package and its metadata
//! api/v1/skills/{name}/versions/index.json      its versions, one page
//! api/v1/skills/{name}/versions/{version}       one version with its files
//! api/v1/skills/{name}/install                  the latest version, or why none
//! api/v1/resolve/{name}.json                    match null, the latest
//! api/v1/download/{name}/{version}.zip          a skill's zip, SKILL.md at its root
//! ```
//!
//! Download counts are those written to the store when the files were.

use std::collections::HashMap;

use super::super::catalog::stored_files;
use super::super::downloads::Downloads;
use super::super::{CatalogPackage, CatalogQuery, Catalogue, RegistryError, Sort};
use crate::blobs::Sha256Digest;
use crate::feeds::clawhub::WellKnown;
use crate::package::Kind;
use crate::store::Store;

/// How many days of daily downloads a package's file shows (as the daemon).
const DOWNLOAD_DAYS: i64 = 90;

/// A file of the tree: its path below the tree and its bytes.
pub(in crate::registry) type TreeFile = (String, Vec<u8>);

/// The longest name or version that becomes a path segment: with a
/// `.zip` and the exporter's temporary-file affixes it stays far below the
/// 255 bytes a file name may have, and `nginx/clawhub.conf` takes no
/// longer version.
const MAX_SEGMENT: usize = 128;

/// Whether `segment` can be a path segment of the tree as it is: names and
/// versions are checked when published, and this keeps any that slipped
/// through from naming another place. A version SemVer allows but too long
/// for a file name gets no files (its package's other versions do).
fn plain(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= MAX_SEGMENT
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
}

/// The package's own files: its detail, versions, each version, install
/// and resolve. A package whose name cannot be a path has none.
pub(in crate::registry) fn package_files(
    store: &Store,
    downloads: &Downloads,
    package: &CatalogPackage,
    base_url: &str,
) -> Result<Vec<TreeFile>, RegistryError> {
    let name = &package.name;
    if !plain(name) {
        return Ok(Vec::new());
    }
    let dir = format!("api/v1/skills/{name}");
    let downloads_of = |id| downloads.total(id);
    let ids: Vec<i64> = package.versions.iter().map(|v| v.id).collect();
    let mut files = vec![
        (
            format!("{dir}/index.json"),
            body(&super::detail(
                package,
                downloads_of,
                downloads.by_day(&ids, DOWNLOAD_DAYS),
            )),
        ),
        (
            format!("{dir}/versions/index.json"),
            body(&super::versions(
                package,
                0,
                package.versions.len(),
                downloads_of,
            )),
        ),
        (
            format!("{dir}/install"),
            body(&super::install(package, base_url)),
        ),
        (
            format!("api/v1/resolve/{name}.json"),
            body(&super::resolve(package)),
        ),
    ];
    for version in package.versions.iter().filter(|v| plain(&v.version)) {
        let detail = super::version(
            package,
            version,
            stored_files(store, version)?,
            downloads.total(version.id),
        );
        files.push((format!("{dir}/versions/{}", version.version), body(&detail)));
    }
    Ok(files)
}

/// The zips of a skill's approved versions (yanked ones too, which the
/// daemon serves by exact version), with the blob each is a copy of.
pub(in crate::registry) fn package_zips(package: &CatalogPackage) -> Vec<(String, Sha256Digest)> {
    if package.kind != Kind::Skill || !plain(&package.name) {
        return Vec::new();
    }
    package
        .versions
        .iter()
        .filter(|v| plain(&v.version))
        .filter_map(|v| {
            let zip = v.skill_zip.as_ref()?.as_ref().ok()?;
            let digest = Sha256Digest::from_hex(&zip.sha256)?;
            Some((
                format!("api/v1/download/{}/{}.zip", package.name, v.version),
                digest,
            ))
        })
        .collect()
}

/// The files about the whole catalog: discovery, the catalog list, search
/// (a tree cannot search, so it answers every query with every skill) and
/// tags.
pub(in crate::registry) fn catalog_files(
    catalogue: &Catalogue,
    totals: &HashMap<i64, u64>,
    base_url: &str,
) -> Vec<TreeFile> {
    let everything = |kinds: Vec<Kind>, sort: Sort| CatalogQuery {
        text: String::new(),
        exact: false,
        prefix: String::new(),
        kinds,
        source: None,
        sort,
        offset: 0,
        limit: usize::MAX,
    };
    let listed = everything(Vec::new(), Sort::Recent).run(catalogue, totals);
    let skills = everything(vec![Kind::Skill], Sort::Downloads).run(catalogue, totals);
    let discovery = WellKnown {
        api_base: base_url.to_string(),
    };
    vec![
        (".well-known/clawhub.json".into(), body(&discovery)),
        (
            "api/v1/skills/index.json".into(),
            body(&super::list(&listed.hits, 0, listed.total)),
        ),
        (
            "api/v1/search/index.json".into(),
            body(&super::search(&skills.hits)),
        ),
        (
            "api/v1/tags/index.json".into(),
            body(&super::tags(super::super::catalog::tags(catalogue, None))),
        ),
    ]
}

/// A body as the daemon sends it.
fn body(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("ClawHub bodies serialize")
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn only_plain_segments_become_paths() {
        for ok in ["pdf-fill", "pdf_fill", "1.0.0", "1.0.0-rc.1+build.5"] {
            assert!(plain(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a\\b", "a b", "é", "a%2fb"] {
            assert!(!plain(bad), "{bad}");
        }
        assert!(plain(&"a".repeat(128)));
        assert!(!plain(&"a".repeat(129)), "longer than a file name can hold");
    }
}
