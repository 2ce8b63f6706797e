//! The web API's wire formats, shared by the server and the client: cargo's
//! publish framing and the JSON bodies of each endpoint. The ClawHub REST
//! API's bodies are documents an agent tool reads, in
//! [`feeds::clawhub`](crate::feeds::clawhub).

use serde::{Deserialize, Serialize};

use crate::package::Kind;

/// The JSON part of a publish (the registry's own type, as cargo sends it).
pub use crate::registry::{PublishDep, PublishMetadata};

/// The body of `PUT /api/v1/me/keys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegisterKey {
    /// Hex of the 32-byte ed25519 public key.
    pub public_key: String,
}

/// A registered publisher key (the store's row, as the wire carries it).
pub use crate::store::PublisherKey;

/// `GET /api/v1/me/keys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublisherKeys {
    /// The caller's keys.
    pub keys: Vec<PublisherKey>,
}

/// A publish body whose framing cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Fewer bytes than a length prefix says.
    #[error("the publish body is truncated: {0}")]
    Truncated(&'static str),
    /// Bytes left after the tarball.
    #[error("the publish body has {0} bytes after the tarball; its length prefixes are wrong")]
    TrailingBytes(usize),
    /// A part larger than its limit.
    #[error("the publish {part} is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Which part.
        part: &'static str,
        /// Its claimed size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// Encodes cargo's publish framing: u32 LE length, JSON, u32 LE length, tarball.
pub fn encode_publish(metadata: &[u8], tarball: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + metadata.len() + tarball.len());
    out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    out.extend_from_slice(metadata);
    out.extend_from_slice(&(tarball.len() as u32).to_le_bytes());
    out.extend_from_slice(tarball);
    out
}

/// Splits a publish body into (JSON, tarball), checking every length exactly.
pub fn decode_publish(
    body: &[u8],
    max_metadata: u64,
    max_tarball: u64,
) -> Result<(&[u8], &[u8]), FramingError> {
    let (json, rest) = take_part(body, "metadata", max_metadata)?;
    let (tarball, rest) = take_part(rest, "tarball", max_tarball)?;
    if !rest.is_empty() {
        return Err(FramingError::TrailingBytes(rest.len()));
    }
    Ok((json, tarball))
}

fn take_part<'a>(
    body: &'a [u8],
    part: &'static str,
    limit: u64,
) -> Result<(&'a [u8], &'a [u8]), FramingError> {
    let Some((len, rest)) = body.split_first_chunk::<4>() else {
        return Err(FramingError::Truncated(if part == "metadata" {
            "no metadata length"
        } else {
            "no tarball length"
        }));
    };
    let len = u32::from_le_bytes(*len) as u64;
    if len > limit {
        return Err(FramingError::TooLarge {
            part,
            size: len,
            limit,
        });
    }
    if (rest.len() as u64) < len {
        return Err(FramingError::Truncated(if part == "metadata" {
            "the metadata is shorter than its length prefix"
        } else {
            "the tarball is shorter than its length prefix"
        }));
    }
    Ok(rest.split_at(len as usize))
}

/// The success body of a publish, in cargo's shape.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishResponse {
    /// Warnings cargo prints.
    #[serde(default)]
    pub warnings: PublishWarnings,
}

/// Warnings in a publish response.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublishWarnings {
    /// Always empty: skillreg has no category list.
    pub invalid_categories: Vec<String>,
    /// Always empty.
    pub invalid_badges: Vec<String>,
    /// Everything else (e.g. unknown SKILL.md keys).
    pub other: Vec<String>,
}

/// `{"ok":true}` plus cargo's optional message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OkResponse {
    /// Always true on success.
    pub ok: bool,
    /// A message (required by cargo for owner changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

/// The search response, in cargo's shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Matching packages.
    pub crates: Vec<SearchCrate>,
    /// Totals.
    pub meta: SearchMeta,
}

/// One search result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchCrate {
    /// Name.
    pub name: String,
    /// Highest non-yanked version.
    pub max_version: String,
    /// Description.
    pub description: String,
    /// skillreg: the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
}

/// Search totals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchMeta {
    /// All matches, not just this page.
    pub total: usize,
}

/// Owner list, in cargo's shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnersResponse {
    /// The owners.
    pub users: Vec<OwnerUser>,
}

/// One owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnerUser {
    /// A stable number derived from the login (cargo reads it as u32).
    pub id: u32,
    /// The login.
    pub login: String,
    /// Display name (the login).
    pub name: Option<String>,
}

/// The body of owner add/remove: `{"users":["login",…]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnersChange {
    /// Logins.
    pub users: Vec<String>,
}

/// One version awaiting review and its diff (the registry's own types).
pub use crate::registry::{FileDiff, PendingVersion};

/// `{"pending": […]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingResponse {
    /// Oldest first.
    pub pending: Vec<PendingVersion>,
}

/// The optional body of approve (`note`) and the body of reject (`reason`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DecisionRequest {
    /// Why it is approved.
    #[serde(default)]
    pub note: Option<String>,
    /// Why it is rejected (required to reject).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One version in a bulk decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionRef {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
}

/// `POST /admin/v1/bulk`: decide many versions at once: those listed, and
/// with `source` and `run`, every pending version that run resolved (a
/// lockfile's whole closure).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BulkDecision {
    /// `approve` or `reject`.
    pub action: String,
    /// The versions.
    #[serde(default)]
    pub versions: Vec<VersionRef>,
    /// With `run`: the source whose run it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// With `source`: a sync run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    /// Note (approve) or reason (reject).
    #[serde(default)]
    pub note: Option<String>,
    /// Reason (reject); `note` is accepted too.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The outcome of each version in a bulk decision.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BulkResult {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Whether it was decided.
    pub ok: bool,
    /// Why not, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `{"results": […]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BulkResponse {
    /// One per requested version, in order.
    pub results: Vec<BulkResult>,
}

/// `POST /admin/v1/sources/{name}/lockfile`: mirror what a `Cargo.lock`
/// locks through a `sparse` source, in a run of its own.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LockfileRequest {
    /// Where the lockfile comes from (a path), for the run's detail.
    #[serde(default)]
    pub origin: String,
    /// The lockfile's text.
    pub lockfile: String,
}

/// `POST /admin/v1/sync`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    /// A source name, or `all`.
    pub source: String,
}

/// The runs a sync request started (or found running).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncStarted {
    /// The first run's id (the only one unless `all`).
    pub run: i64,
    /// Every (source, run id).
    pub runs: Vec<SyncStartedRun>,
}

/// One started run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncStartedRun {
    /// Source name.
    pub source: String,
    /// Run id.
    pub id: i64,
}

/// One run in `GET /admin/v1/sync-runs`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncRunInfo {
    /// Run id.
    pub id: i64,
    /// Source name.
    pub source: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, when finished.
    pub finished_at: Option<String>,
    /// Status, counts, error and detail (flattened into this object).
    #[serde(flatten)]
    pub run: crate::store::SyncRun,
}

/// `{"runs": […]}`, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncRunsResponse {
    /// The runs.
    pub runs: Vec<SyncRunInfo>,
}

/// `{"sources": […]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourcesResponse {
    /// The configured sources.
    pub sources: Vec<SourceInfo>,
}

/// One source in `GET /admin/v1/sources`: its schedule and current run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Source name.
    pub name: String,
    /// Source kind.
    pub kind: crate::config::SourceKind,
    /// `running` or `idle`.
    pub status: String,
    /// The run in progress or the last one.
    pub last_run: Option<i64>,
    /// Unix seconds of the next scheduled run; none for manual-only.
    pub next_run: Option<i64>,
    /// Seconds between runs; none for manual-only.
    pub interval_secs: Option<u64>,
    /// Approves without review.
    pub auto_approve: bool,
}

/// `GET /admin/v1/feeds`: what the agent-tool feeds cannot serve.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedsResponse {
    /// Latest versions left out of a feed, with the reason.
    pub left_out: Vec<FeedLeftOut>,
}

/// One latest version a feed leaves out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedLeftOut {
    /// The package.
    pub name: String,
    /// Its latest approved version.
    pub version: String,
    /// `skills` (the Agent Skills index and ClawHub) or `claude` (the marketplace).
    pub feed: String,
    /// Why it cannot be served there.
    pub reason: String,
}

/// `{"audit": […]}`, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditResponse {
    /// The entries.
    pub audit: Vec<crate::store::AuditRecord>,
}

/// The error body every endpoint uses: `{"errors":[{"detail":…}]}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One or more errors.
    pub errors: Vec<ErrorDetail>,
}

/// One error.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// What went wrong and what to do.
    pub detail: String,
}

#[cfg(test)]
mod tests;
