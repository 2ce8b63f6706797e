//! Feeds: the documents the agents' own tools read, rendered from what the
//! registry approved (see `index-spec/agent-feeds.md`).
//!
//! - the Agent Skills well-known index (the `skills` CLI), at the root and
//!   under each configured scope ([`wellknown`]);
//! - the Claude Code marketplace ([`marketplace`]);
//! - the zips they download ([`archive`]);
//! - the bodies of ClawHub's REST API ([`clawhub`]), which the registry
//!   fills from its catalog.
//!
//! Everything here is a pure function of [`FeedItem`]s: the registry reads
//! the store, renders the zips once per bundle, and hands the items in on
//! every change; the documents it gets back are prepared, signed into the
//! snapshot and served as bytes.

pub mod archive;
pub mod clawhub;
pub mod marketplace;
pub mod wellknown;

use crate::config;
use crate::package::{glob_matches, Kind};

/// A zip stored as a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredZip {
    /// Hex sha256 of its bytes.
    pub sha256: String,
    /// Its size.
    pub size: u64,
}

/// The latest approved, non-yanked version of a skill or plugin, as the
/// feeds show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedItem {
    /// Package name.
    pub name: String,
    /// Skill or plugin.
    pub kind: Kind,
    /// The version.
    pub version: String,
    /// Its description.
    pub description: String,
    /// The `[[sources]]` it was mirrored from; `None` when published here.
    pub source: Option<String>,
    /// The zip with `SKILL.md` at its root, or why there is none.
    pub skill_zip: Result<StoredZip, String>,
    /// The zip with a plugin at its root, or why there is none.
    pub plugin_zip: Result<StoredZip, String>,
}

/// Text from a publisher as the agent tools show it in a terminal: every
/// control character (escape sequences that move the cursor, rewrite the
/// screen or forge hyperlinks, and line breaks in a one-line field) becomes
/// a space.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// The source name scopes use for versions published here.
pub const LOCAL_SOURCE: &str = "local";

/// Whether `item` belongs in `scope`.
pub fn in_scope(scope: &config::Scope, item: &FeedItem) -> bool {
    let source = item.source.as_deref().unwrap_or(LOCAL_SOURCE);
    let source_ok = scope.sources.is_empty() || scope.sources.iter().any(|s| s == source);
    let kind_ok = scope.kinds.is_empty() || scope.kinds.contains(&item.kind);
    let name_ok = (scope.include.is_empty() && scope.packages.is_empty())
        || scope.include.iter().any(|g| glob_matches(g, &item.name))
        || scope
            .packages
            .iter()
            .any(|p| crate::package::normalize(p) == crate::package::normalize(&item.name));
    source_ok && kind_ok && name_ok
}

/// The URL path (below the daemon's root, without a leading `/`) of a zip
/// the well-known indexes link to, relative to the index file: so the same
/// document works at any scope, behind a feed token, and in a static tree.
pub fn wellknown_zip_path(sha256: &str) -> String {
    format!("files/{sha256}.zip")
}

/// Where the Claude Code marketplace's zips are served, below the base URL.
pub fn marketplace_zip_path(sha256: &str) -> String {
    format!("claude/files/{sha256}.zip")
}

#[cfg(test)]
mod tests;
