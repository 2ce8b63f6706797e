//! A `clawhub` source: a ClawHub registry (clawhub.ai, another skillreg,
//! or a static tree with `nginx/clawhub.conf`) read through the REST API
//! the `clawhub` CLI uses (index-spec/clawhub.md). ClawHub cannot be
//! listed in full, so a run mirrors the configured `slugs` and the results
//! of `GET /api/v1/search?q=<search>`.
//!
//! Per slug: `GET /api/v1/skills/{slug}`, its versions
//! (`GET /api/v1/skills/{slug}/versions`, every page), and for each version
//! not stored yet its file list (`GET /api/v1/skills/{slug}/versions/{v}`)
//! and its zip (`GET /api/v1/download?slug&version`). Nothing is signed:
//! trust is TLS to the upstream, the zip's sha256 against the
//! `package.versions[].zip_sha256` skillreg upstreams give, and every
//! unpacked file's size and sha256 against the version's file list. What
//! an upstream does not offer is not checked, and each version's upstream
//! facts say which checks ran. ClawHub versions are immutable, so a
//! stored version is never downloaded again.

use std::path::Path;

use serde::Deserialize;

use super::progress::{follow_upstream_yank, Progress};
use super::skill_offer::{self, note, segment, SkillArchiveError, UpstreamSkill};
use super::upstream_http::{FetchError, UpstreamHttp};
use crate::blobs::Sha256Digest;
use crate::bundle::unpack::Files;
use crate::config::SourceConfig;
use crate::package::{Kind, PackageName};
use crate::registry::Registry;
use crate::store::{SyncRun, VersionStatus};

/// Largest JSON document read (a skill, a page of versions, a search).
const MAX_DOC_BYTES: u64 = 4 * 1024 * 1024;
/// The most slugs one run mirrors (configured and found).
const MAX_SLUGS: usize = 1_000;
/// The most versions read for one slug.
const MAX_VERSIONS: usize = 1_000;
/// The most pages of versions read for one slug.
const MAX_PAGES: usize = 50;
/// The page size asked for (ClawHub's and skillreg's largest).
const PAGE: &str = "200";

/// Why a clawhub source's run stopped (a slug or version that cannot be
/// mirrored is not an error: it is counted and named in the run's detail).
#[derive(Debug, thiserror::Error)]
pub enum ClawhubError {
    /// The HTTP client cannot be set up.
    #[error("{0}")]
    Http(FetchError),
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// Why a slug, or one version of it, was not mirrored.
/// [`ItemError::failed`] ones fail the run; the rest are skipped.
#[derive(Debug, thiserror::Error)]
enum ItemError {
    /// A request failed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// A document is not the JSON the API answers.
    #[error("{url} is not the ClawHub API's answer: {source}")]
    Json {
        /// Its URL.
        url: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A slug or version that is not valid here.
    #[error("{0}")]
    Invalid(String),
    /// The zip is not the one the upstream's metadata names.
    #[error("the zip at {url} has sha256 {actual}, but the upstream's metadata says {expected}; not stored")]
    ZipDigest {
        /// Its URL.
        url: String,
        /// What the metadata says.
        expected: String,
        /// What came.
        actual: String,
    },
    /// The zip's files are not the version's file list.
    #[error("the zip at {url} does not hold the files the upstream lists for this version ({reason}); not stored")]
    Files {
        /// The zip's URL.
        url: String,
        /// The first difference.
        reason: String,
    },
    /// The zip is not a skill skillreg can take.
    #[error("{0}")]
    Skill(#[from] SkillArchiveError),
}

impl skill_offer::ItemTrouble for ItemError {
    fn failed(&self) -> bool {
        matches!(
            self,
            ItemError::Fetch(_)
                | ItemError::Json { .. }
                | ItemError::ZipDigest { .. }
                | ItemError::Files { .. }
        )
    }
}

/// `GET /api/v1/search`: only what is used, the rest ignored.
#[derive(Deserialize)]
struct Search {
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct SearchResult {
    slug: Option<String>,
}

/// `GET /api/v1/skills/{slug}`: ClawHub's `skill` (null when there is
/// none) and skillreg's `package`, when the upstream is a skillreg.
#[derive(Deserialize)]
struct Detail {
    skill: Option<serde_json::Value>,
    #[serde(default)]
    package: Option<PackageFacts>,
}

#[derive(Deserialize)]
struct PackageFacts {
    #[serde(default)]
    versions: Vec<PackageVersion>,
}

#[derive(Deserialize)]
struct PackageVersion {
    version: String,
    #[serde(default)]
    zip_sha256: Option<String>,
}

/// `GET /api/v1/skills/{slug}/versions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionPage {
    items: Vec<VersionItem>,
    #[serde(default)]
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct VersionItem {
    version: String,
    #[serde(default)]
    yanked: bool,
}

/// `GET /api/v1/skills/{slug}/versions/{version}`.
#[derive(Deserialize)]
struct OneVersion {
    version: Option<VersionFiles>,
}

#[derive(Deserialize)]
struct VersionFiles {
    #[serde(default)]
    files: Option<serde_json::Value>,
}

/// One listed file of a version.
#[derive(Deserialize)]
struct ListedFile {
    path: String,
    size: u64,
    sha256: String,
}

/// One run of a clawhub source.
struct ClawhubSync<'a> {
    registry: &'a Registry,
    source: &'a SourceConfig,
    http: UpstreamHttp,
    base: String,
    seen: Vec<(String, String)>,
}

/// Syncs `source` into `registry` (run `run_id`); `state` is the source's
/// own state directory (its HTTP cache).
pub(super) fn sync(
    registry: &Registry,
    state: &Path,
    source: &SourceConfig,
    run_id: i64,
    run: &mut SyncRun,
    progress: &mut Progress<'_>,
) -> Result<(), ClawhubError> {
    let base = format!("{}/", source.url.trim_end_matches('/'));
    // The CLI's form; a token that names its scheme is sent as it is.
    let token = source.token.clone().map(|t| {
        let t = if t.contains(' ') {
            t
        } else {
            format!("Bearer {t}")
        };
        (base.clone(), t)
    });
    let http = UpstreamHttp::new(state, source.ca_cert.as_deref(), token, &base)
        .map_err(ClawhubError::Http)?;
    let mut sync = ClawhubSync {
        registry,
        source,
        http,
        base,
        seen: Vec::new(),
    };
    let result = sync.run(run, progress);
    // Failed or not, the run names its requests and the cache keeps only
    // what it read.
    sync.http.end_run(run);
    result?;
    registry.record_run_versions(run_id, &sync.seen)?;
    Ok(())
}

impl ClawhubSync<'_> {
    fn run(&mut self, run: &mut SyncRun, progress: &mut Progress<'_>) -> Result<(), ClawhubError> {
        let mut slugs: Vec<String> = self.source.slugs.clone();
        if !self.source.search.trim().is_empty() {
            match self.search() {
                Ok(found) => slugs.extend(found),
                Err(e) => {
                    run.failed += 1;
                    run.detail
                        .push(format!("search {:?}: {e}", self.source.search));
                }
            }
        }
        let mut done = std::collections::BTreeSet::new();
        for slug in slugs {
            if !done.insert(crate::package::normalize(&slug)) {
                continue;
            }
            if done.len() > MAX_SLUGS {
                run.detail.push(format!(
                    "more than {MAX_SLUGS} slugs; the rest are not read (narrow `search` or split the source)"
                ));
                break;
            }
            match self.slug(&slug, run) {
                Ok(()) => {}
                Err(Outcome::Item(e)) => note(run, &format!("skill {slug}"), &e),
                Err(Outcome::Stop(e)) => return Err(e),
            }
            progress.tick(run);
        }
        Ok(())
    }

    /// The slugs `search` finds (skills only, which is what the API
    /// searches by default).
    fn search(&self) -> Result<Vec<String>, ItemError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", self.source.search.trim())
            .append_pair("limit", PAGE)
            .finish();
        let url = format!("{}api/v1/search?{query}", self.base);
        let found: Search = self.json(&url)?;
        Ok(found.results.into_iter().filter_map(|r| r.slug).collect())
    }

    /// A revalidated JSON document.
    fn json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ItemError> {
        let doc = self.http.get_document(url, MAX_DOC_BYTES)?;
        serde_json::from_slice(&doc.body).map_err(|source| ItemError::Json {
            url: url.to_string(),
            source,
        })
    }

    /// One slug: its metadata and versions, each new version mirrored.
    fn slug(&mut self, slug: &str, run: &mut SyncRun) -> Result<(), Outcome> {
        if !crate::package::is_kebab(slug) || PackageName::parse(Kind::Skill, slug).is_err() {
            return Err(ItemError::Invalid(format!(
                "{slug:?} is not a skill name (a-z, 0-9 and single `-`, at most 64); skipped"
            ))
            .into());
        }
        if !super::registry_source::wanted(self.source, slug) {
            return Ok(());
        }
        let skill_url = format!("{}api/v1/skills/{}", self.base, segment(slug));
        let detail: Detail = match self.json(&skill_url) {
            Err(ItemError::Fetch(FetchError::NotFound { .. })) => {
                return Err(ItemError::Invalid(format!(
                    "the upstream has no skill `{slug}` ({skill_url} is 404); skipped"
                ))
                .into())
            }
            other => other?,
        };
        let kind = detail.skill.as_ref().and_then(|s| s.get("kind"));
        if detail.skill.is_none() || kind.is_some_and(|k| k != "skill") {
            return Err(ItemError::Invalid(format!(
                "the upstream's `{slug}` is not a skill; skipped"
            ))
            .into());
        }
        let digests = detail.package.map(|p| p.versions).unwrap_or_default();
        for item in self.versions(slug, &skill_url, run)? {
            run.discovered += 1;
            let what = format!("skill {slug}@{}", item.version);
            match self.version(slug, &item, &digests, run) {
                Ok(()) => {}
                Err(Outcome::Item(e)) => note(run, &what, &e),
                Err(stop) => return Err(stop),
            }
        }
        Ok(())
    }

    /// Every version the upstream lists, page by page, within
    /// [`MAX_PAGES`] and [`MAX_VERSIONS`].
    fn versions(
        &self,
        slug: &str,
        skill_url: &str,
        run: &mut SyncRun,
    ) -> Result<Vec<VersionItem>, ItemError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", PAGE);
            if let Some(c) = &cursor {
                query.append_pair("cursor", c);
            }
            let url = format!("{skill_url}/versions?{}", query.finish());
            let page: VersionPage = self.json(&url)?;
            items.extend(page.items);
            if items.len() > MAX_VERSIONS {
                run.detail.push(format!(
                    "skill {slug}: more than {MAX_VERSIONS} versions; only the first {MAX_VERSIONS} listed are read"
                ));
                items.truncate(MAX_VERSIONS);
                return Ok(items);
            }
            match page.next_cursor {
                Some(next) if !next.is_empty() && cursor.as_deref() != Some(next.as_str()) => {
                    cursor = Some(next)
                }
                _ => return Ok(items),
            }
        }
        run.detail.push(format!(
            "skill {slug}: more than {MAX_PAGES} pages of versions; the rest are not read"
        ));
        Ok(items)
    }

    /// One version: counted if stored (its upstream yank followed),
    /// skipped if yanked, else fetched, checked and offered.
    fn version(
        &mut self,
        slug: &str,
        item: &VersionItem,
        digests: &[PackageVersion],
        run: &mut SyncRun,
    ) -> Result<(), Outcome> {
        let version = match crate::package::parse_version(&item.version) {
            Ok(v) if v.to_string() == item.version => item.version.clone(),
            _ => {
                return Err(ItemError::Invalid(format!(
                    "`{}` is not a semver version; skipped",
                    item.version
                ))
                .into())
            }
        };
        let status = self
            .registry
            .version_status(slug, &version)
            .map_err(Outcome::stop)?;
        match status {
            Some(VersionStatus::Rejected) => {
                run.rejected += 1;
                return Ok(());
            }
            Some(_) => {
                run.unchanged += 1;
                if item.yanked {
                    follow_upstream_yank(self.registry, &self.source.name, slug, &version, run)
                        .map_err(Outcome::stop)?;
                }
                self.seen.push((slug.to_string(), version));
                return Ok(());
            }
            None if item.yanked => {
                run.skipped += 1;
                run.detail.push(format!(
                    "skill {slug}@{version}: yanked upstream, not mirrored"
                ));
                return Ok(());
            }
            None => {}
        }
        let expected = digests
            .iter()
            .find(|d| d.version == version)
            .and_then(|d| d.zip_sha256.clone());
        let (skill, facts) = self.fetch(slug, &version, expected)?;
        if skill.name != slug {
            return Err(ItemError::Invalid(format!(
                "its SKILL.md names the skill `{}`; a skill is mirrored only under the name it declares; skipped",
                skill.name
            ))
            .into());
        }
        if let Some(declared) = skill.declared_version.as_ref().filter(|d| **d != version) {
            return Err(ItemError::Invalid(format!(
                "its SKILL.md says metadata.version {declared}; skipped"
            ))
            .into());
        }
        let stored = skill_offer::offer(self.registry, self.source, &skill, &version, facts, run)
            .map_err(Outcome::stop)?;
        if stored {
            self.seen.push((slug.to_string(), version));
        }
        Ok(())
    }

    /// Downloads a version's zip and checks it against what the upstream
    /// says of it; returns it packed, with the facts a reviewer sees.
    fn fetch(
        &self,
        slug: &str,
        version: &str,
        expected: Option<String>,
    ) -> Result<(UpstreamSkill, serde_json::Value), ItemError> {
        let limits = skill_offer::limits(self.registry);
        let listed = self.listed_files(slug, version)?;
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("slug", slug)
            .append_pair("version", version)
            .finish();
        let url = format!("{}api/v1/download?{query}", self.base);
        let zip = self.http.get(&url, limits.max_compressed)?;
        let actual = Sha256Digest::of(&zip).to_hex();
        if let Some(expected) = &expected {
            if !expected.eq_ignore_ascii_case(&actual) {
                return Err(ItemError::ZipDigest {
                    url,
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        let files = crate::bundle::unpack::upstream_files(&zip, &limits)
            .map_err(SkillArchiveError::Archive)?;
        if let Some(listed) = &listed {
            compare(&files, listed).map_err(|reason| ItemError::Files {
                url: url.clone(),
                reason,
            })?;
        }
        let skill = skill_offer::from_files(files, &limits)?;
        let facts = serde_json::json!({
            "url": self.base,
            "slug": slug,
            "download": url,
            "zip_sha256": actual,
            "zip_sha256_checked": expected.is_some(),
            "files_checked": listed.is_some(),
            "signature": "none (ClawHub API: TLS to the upstream, the zip's sha256 and the files' sha256 where the upstream lists them)",
        });
        Ok((skill, facts))
    }

    /// The version's files as the upstream lists them, when it lists them
    /// all with sizes and hashes (else nothing is compared).
    fn listed_files(
        &self,
        slug: &str,
        version: &str,
    ) -> Result<Option<Vec<ListedFile>>, ItemError> {
        let url = format!(
            "{}api/v1/skills/{}/versions/{}",
            self.base,
            segment(slug),
            segment(version)
        );
        let one: OneVersion = self.json(&url)?;
        let Some(files) = one.version.and_then(|v| v.files) else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<Vec<ListedFile>>(files)
            .ok()
            .filter(|f| !f.is_empty()))
    }
}

/// The first difference between the unpacked files and the listed ones.
fn compare(files: &Files, listed: &[ListedFile]) -> Result<(), String> {
    for file in listed {
        let Some((_, content)) = files.get(&file.path) else {
            return Err(format!("`{}` is listed but not in the zip", file.path));
        };
        let sha256 = Sha256Digest::of(content).to_hex();
        if content.len() as u64 != file.size || !sha256.eq_ignore_ascii_case(&file.sha256) {
            return Err(format!(
                "`{}` is {} bytes with sha256 {sha256}, listed as {} bytes with sha256 {}",
                file.path,
                content.len(),
                file.size,
                file.sha256
            ));
        }
    }
    if let Some(extra) = files.keys().find(|p| !listed.iter().any(|l| l.path == **p)) {
        return Err(format!("`{extra}` is in the zip but not listed"));
    }
    Ok(())
}

/// What stops one item: its own trouble, or the run's.
type Outcome = skill_offer::Outcome<ItemError, ClawhubError>;
