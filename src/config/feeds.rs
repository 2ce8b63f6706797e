//! `[feeds]`: the documents the agent tools read (see
//! `index-spec/agent-feeds.md`): the Claude Code marketplace's own facts and
//! the named subsets (scopes) of the Agent Skills index.

use serde::Deserialize;

use super::ConfigError;
use crate::package::Kind;

/// `[feeds]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Feeds {
    /// Approved skills also appear in the Claude Code marketplace, each as
    /// a plugin of one skill.
    pub skills_as_plugins: bool,
    /// The Claude Code marketplace's name, owner and description.
    pub marketplace: Marketplace,
    /// Named subsets of the Agent Skills index (`[[feeds.scopes]]`).
    pub scopes: Vec<Scope>,
}

/// `[feeds.marketplace]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Marketplace {
    /// Its name (kebab-case; users type `plugin@NAME`).
    pub name: String,
    /// Who runs it.
    pub owner: String,
    /// One line shown by Claude Code.
    pub description: String,
}

/// `[[feeds.scopes]]`: a skill is in the scope when its source and kind
/// pass their filters and its name matches one of `include` or is listed in
/// `packages` (an empty filter passes all; both name filters empty: any
/// name).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The URL path the scope is served under, e.g. `teams/data`.
    pub path: String,
    /// Only versions mirrored from these `[[sources]]` (`local` means
    /// published here).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Only these kinds (the index lists skills, so `skill`).
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Only names matching one of these globs.
    #[serde(default)]
    pub include: Vec<String>,
    /// Only these names.
    #[serde(default)]
    pub packages: Vec<String>,
}

/// Marketplace names Claude Code keeps for Anthropic's own.
pub const RESERVED_MARKETPLACE_NAMES: &[&str] = &[
    "claude-plugins-official",
    "claude-code-marketplace",
    "claude-code-plugins",
    "anthropic-plugins",
    "anthropic-marketplace",
    "agent-skills",
    "life-sciences",
];

/// First path segments the daemon serves itself, which a scope cannot take.
const ROUTED: &[&str] = &[
    "api",
    "index",
    "admin",
    "healthz",
    "me",
    "claude",
    "blobs",
    "feeds",
    ".well-known",
];

impl Default for Feeds {
    fn default() -> Self {
        Feeds {
            skills_as_plugins: true,
            marketplace: Marketplace::default(),
            scopes: Vec::new(),
        }
    }
}

impl Default for Marketplace {
    fn default() -> Self {
        Marketplace {
            name: "skillreg".into(),
            owner: "skillreg".into(),
            description: "Agent skills and Claude Code plugins approved in this registry".into(),
        }
    }
}

impl Feeds {
    /// Checks names and scope paths.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let name = &self.marketplace.name;
        if !crate::package::is_kebab(name) || RESERVED_MARKETPLACE_NAMES.contains(&name.as_str()) {
            return Err(ConfigError::Invalid {
                key: "feeds.marketplace.name",
                reason: format!(
                    "`{name}` must be kebab-case (a-z, 0-9, single `-`) and not one of Claude Code's reserved names ({})",
                    RESERVED_MARKETPLACE_NAMES.join(", ")
                ),
            });
        }
        if self.marketplace.owner.trim().is_empty()
            || self.marketplace.description.trim().is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "feeds.marketplace",
                reason: "`owner` and `description` must not be empty (`claude plugin validate --strict` needs a description)".into(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for scope in &self.scopes {
            let segments: Vec<&str> = scope.path.split('/').collect();
            let ok = segments.iter().all(|s| crate::package::is_kebab(s))
                && !ROUTED.contains(&segments[0])
                && segments.len() <= 4;
            if !ok {
                return Err(ConfigError::Invalid {
                    key: "feeds.scopes.path",
                    reason: format!(
                        "`{}` must be 1 to 4 segments of a-z, 0-9 and single `-` (like `teams/data`), not starting with one of {}",
                        scope.path,
                        ROUTED.join(", ")
                    ),
                });
            }
            if !seen.insert(scope.path.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "feeds.scopes.path",
                    reason: format!("two scopes have the path `{}`", scope.path),
                });
            }
        }
        Ok(())
    }
}
