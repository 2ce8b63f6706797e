//! The JSON bodies of the ClawHub REST API (`index-spec/clawhub.md`): the
//! shapes the `clawhub` CLI validates (camelCase, times in epoch
//! milliseconds, `license` only `"MIT-0"` or null), and skillreg's own
//! metadata beside them (`package`, snake_case, RFC 3339 times, like the
//! rest of skillreg's web API). The CLI ignores keys it does not declare.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::package::Kind;

/// The owner handle of every package: skillreg has no ClawHub publishers,
/// so one constant handle keeps lock files and `ownerHandle` stable.
pub const OWNER_HANDLE: &str = "skillreg";

/// `GET /.well-known/clawhub.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WellKnown {
    /// The base the CLI joins `api/v1/…` to.
    pub api_base: String,
}

/// `GET /api/v1/skills/{slug}`: ClawHub's skill response plus `package`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillResponse {
    /// The skill.
    pub skill: Skill,
    /// Its latest version; null when every version is yanked.
    pub latest_version: Option<LatestVersion>,
    /// Always [`OWNER_HANDLE`].
    pub owner: Owner,
    /// skillreg's metadata: every approved version with its facts.
    pub package: PackageInfo,
}

/// ClawHub's `skill` object.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Skill {
    /// The package name as published.
    pub slug: String,
    /// The package name.
    pub display_name: String,
    /// The current version's description.
    pub summary: Option<String>,
    /// Its keywords.
    pub topics: Vec<String>,
    /// Version tags: `latest` → the latest version, when there is one.
    pub tags: BTreeMap<String, String>,
    /// Counts.
    pub stats: Stats,
    /// Epoch ms of the first approved version.
    pub created_at: i64,
    /// Epoch ms of the newest approved version.
    pub updated_at: i64,
    /// skillreg: the package kind.
    pub kind: Kind,
}

/// ClawHub's `stats` (any object to the CLI).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stats {
    /// Downloads of every version, every way they were fetched.
    pub downloads: u64,
    /// Approved versions, yanked ones included.
    pub versions: usize,
}

/// ClawHub's `latestVersion`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatestVersion {
    /// The version.
    pub version: String,
    /// Epoch ms of its publish.
    pub created_at: i64,
    /// skillreg keeps no changelogs: empty, or `yanked`.
    pub changelog: String,
    /// `MIT-0` when that is the licence, else null (the CLI takes no other
    /// value; the real licence is in `package`).
    pub license: Option<String>,
}

/// ClawHub's `owner`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// [`OWNER_HANDLE`].
    pub handle: String,
    /// [`OWNER_HANDLE`] too (where a package comes from is `package.source`).
    pub display_name: String,
}

/// skillreg's metadata of one package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackageInfo {
    /// Name as first published.
    pub name: String,
    /// `skill`, `plugin` or `crate`.
    pub kind: Kind,
    /// The current version's description.
    pub description: String,
    /// The current version's keywords.
    pub keywords: Vec<String>,
    /// The current version's licence expression.
    pub license: Option<String>,
    /// The `[[sources]]` name of a mirrored current version.
    pub source: Option<String>,
    /// The latest version (highest non-yanked release, else pre-release).
    pub latest: Option<String>,
    /// Downloads of every version.
    pub downloads: u64,
    /// Downloads of every version per UTC day over the last 90 days,
    /// oldest first; days without any are left out.
    pub downloads_by_day: Vec<DayCount>,
    /// RFC 3339 time of the first approved version.
    pub created_at: String,
    /// RFC 3339 time of the newest approved version.
    pub updated_at: String,
    /// Every approved version, highest first.
    pub versions: Vec<VersionInfo>,
}

/// Downloads on one day.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Downloads that day.
    pub count: u64,
}

/// skillreg's metadata of one approved version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Exact version.
    pub version: String,
    /// RFC 3339 time of the publish (or import).
    pub published_at: String,
    /// Yanked now.
    pub yanked: bool,
    /// Hex sha256 of the bundle (the index's `cksum`).
    pub checksum: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// Hex sha256 of the zip `GET /api/v1/download` serves (skills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_sha256: Option<String>,
    /// Its downloads.
    pub downloads: u64,
    /// Its description.
    pub description: String,
    /// Its keywords.
    pub keywords: Vec<String>,
    /// Its licence expression.
    pub license: Option<String>,
    /// Its dependencies.
    pub dependencies: Vec<DependencyInfo>,
    /// The `[[sources]]` name, when mirrored.
    pub source: Option<String>,
}

/// One dependency, as the index line gives it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DependencyInfo {
    /// The package depended on (its real name when renamed).
    pub name: String,
    /// Version requirement.
    pub req: String,
    /// `normal`, `dev` or `build`.
    pub kind: String,
    /// Optional dependency.
    pub optional: bool,
    /// Platform cfg, when target-specific.
    pub target: Option<String>,
    /// Index URL of another registry; absent for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// `GET /api/v1/search`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Best match first.
    pub results: Vec<SearchResult>,
}

/// One search result.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// The package name.
    pub slug: String,
    /// The package name.
    pub display_name: String,
    /// The current version's description.
    pub summary: Option<String>,
    /// The latest version.
    pub version: Option<String>,
    /// [`OWNER_HANDLE`].
    pub owner_handle: String,
    /// How well it matches, 0 to 1.
    pub score: f64,
    /// Downloads of every version.
    pub downloads: u64,
    /// Epoch ms of the newest approved version.
    pub updated_at: i64,
    /// skillreg: the package kind.
    pub kind: Kind,
}

/// `GET /api/v1/skills`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillListResponse {
    /// This page.
    pub items: Vec<SkillListItem>,
    /// The `cursor` of the next page (an offset), null on the last.
    pub next_cursor: Option<String>,
    /// skillreg: all matches, not just this page.
    pub total: usize,
}

/// One listed package.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillListItem {
    /// ClawHub's skill fields.
    #[serde(flatten)]
    pub skill: Skill,
    /// The latest version, when there is one (absent, not null: the CLI
    /// takes no null here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<LatestVersion>,
    /// skillreg: downloads of every version.
    pub downloads: u64,
    /// skillreg: the current version's licence expression.
    pub license: Option<String>,
}

/// `GET /api/v1/skills/{slug}/versions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionListResponse {
    /// Highest version first.
    pub items: Vec<VersionListItem>,
    /// The `cursor` of the next page (an offset), null on the last.
    pub next_cursor: Option<String>,
}

/// One version in a list.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionListItem {
    /// The version.
    pub version: String,
    /// Epoch ms of its publish.
    pub created_at: i64,
    /// Empty, or `yanked` (what `inspect --versions` prints beside it).
    pub changelog: String,
    /// skillreg: yanked now.
    pub yanked: bool,
    /// skillreg: its downloads.
    pub downloads: u64,
}

/// `GET /api/v1/skills/{slug}/versions/{version}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionResponse {
    /// The version.
    pub version: VersionDetail,
    /// Which skill.
    pub skill: SkillRef,
}

/// One version in detail.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionDetail {
    /// The version.
    pub version: String,
    /// Epoch ms of its publish.
    pub created_at: i64,
    /// Empty, or `yanked`.
    pub changelog: String,
    /// `MIT-0` or null, as in [`LatestVersion`].
    pub license: Option<String>,
    /// Its regular files.
    pub files: Vec<FileInfo>,
    /// skillreg: the version's metadata.
    pub package: VersionInfo,
}

/// One file of a version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileInfo {
    /// Relative path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256 of the content.
    pub sha256: String,
}

/// The skill a version belongs to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillRef {
    /// The package name.
    pub slug: String,
    /// The package name.
    pub display_name: String,
}

/// `GET /api/v1/resolve`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolveResponse {
    /// The version whose files have the fingerprint asked about: always
    /// null (skillreg does not compute ClawHub's fingerprint).
    #[serde(rename = "match")]
    pub matched: Option<VersionOnly>,
    /// The latest version; null when every version is yanked.
    pub latest_version: Option<VersionOnly>,
}

/// `{"version": …}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionOnly {
    /// The version.
    pub version: String,
}

/// `GET /api/v1/skills/{slug}/install`: where the latest version is, or why
/// there is none.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallResolve {
    /// Whether there is a version to install.
    pub ok: bool,
    /// The package name.
    pub slug: String,
    /// `archive` when ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_kind: Option<String>,
    /// The version and its download URL, when ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<InstallArchive>,
    /// `archive_version_missing` when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the CLI prints when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status, when not ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

/// The archive to install.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallArchive {
    /// The version.
    pub version: String,
    /// `GET /api/v1/download?…` for it.
    pub download_url: String,
}

/// `GET /api/v1/whoami`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WhoamiResponse {
    /// Who the token acts for.
    pub user: WhoamiUser,
}

/// The token's login.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoamiUser {
    /// The login.
    pub handle: String,
    /// The login.
    pub display_name: String,
    /// `admin` for an admin token, else `user`.
    pub role: String,
}

/// `GET /api/v1/tags`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TagsResponse {
    /// Most used first.
    pub tags: Vec<TagInfo>,
}

/// A keyword and how many packages list it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TagInfo {
    /// The keyword.
    pub tag: String,
    /// How many packages' current versions list it.
    pub count: usize,
}
