//! Reading a Claude Code marketplace checkout into packages.
//!
//! [`Marketplace::open`] reads `.claude-plugin/marketplace.json` from a
//! checkout; [`Marketplace::read`] turns every plugin entry into a `plugin`
//! package and every skill inside it into a `skill` package, each packed
//! deterministically with [`pack_tree`](crate::bundle::pack::pack_tree). It
//! touches no network and no store: fetching the checkout and the remote
//! plugins ([`Marketplace::remote_sources`]), and storing what comes back,
//! is the caller's job.
//!
//! Everything in a checkout is an upstream's, so it is read only through
//! [`crate::safe_fs`]: no symbolic link is ever followed. A link inside a
//! plugin or skill is packed as a link and judged by the bundle rules; a
//! source, skill folder or manifest reached through a link is skipped with
//! the reason; FIFOs and devices refuse what holds them.
//!
//! Real catalogs break the spec in small ways. The reader mirrors what Claude
//! Code would load and records every tolerated problem in
//! [`CatalogItem::notes`]; what cannot be mirrored at all goes to
//! [`Catalog::skipped`] with a reason. Only a catalog that cannot be read at
//! all (no or invalid `marketplace.json`) is an error.
//!
//! ## Sources
//!
//! - `"./relative"` (also `"."` and `"./"`: the checkout root is the plugin),
//!   resolved against the checkout root, or against `metadata.pluginRoot`
//!   when the marketplace sets one. Absolute paths, `..` and paths through a
//!   symbolic link are skipped.
//! - `github`, `url` and `git-subdir` sources are read from the trees the
//!   caller fetched for them ([`Fetched`]), or skipped with the caller's
//!   reason; `npm` and `archive` sources are skipped.
//!
//! ## Names
//!
//! A plugin package takes the marketplace entry's name (the name users
//! install it by); an entry name that is not kebab-case is skipped. A skill
//! package takes the `name` in its `SKILL.md` when that is a valid skill
//! name, else its folder's name; a mismatch is noted. Names are unique
//! across kinds, so within one catalog plugins claim their names first, then
//! skills in marketplace order; a later package whose name is taken is
//! skipped.
//!
//! ## Versions
//!
//! Claude Code's order: `plugin.json` `version`, then the marketplace entry's
//! `version`, then (for skills only) `SKILL.md` `metadata.version`. A value
//! that is not semver is noted and the next one is tried. Where Claude Code
//! would fall back to the git commit, which is not a semver version, the
//! reader asks a [`VersionHistory`] for a fallback that grows with each
//! upstream change.
//!
//! ## Order
//!
//! Items are sorted by kind (`plugin` before `skill`) and then name; skipped
//! entries likewise. The same checkout gives byte-identical bundles.

mod entry;
mod manifest;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::bundle::ArchiveLimits;
use crate::package::{normalize, Kind, PackageName};
use crate::safe_fs::{Dir, SafeFsError};

/// Where a marketplace keeps its catalog, relative to the checkout root.
pub const MARKETPLACE_JSON: &str = ".claude-plugin/marketplace.json";

/// Marketplace names Claude Code accepts only from Anthropic's own
/// repositories; a mirror serves them as `<name>-mirror`. The first five are
/// the ones protocols.md §5 names; the rest are from Claude Code's
/// marketplace reference (official, community and plugin-directory names).
pub const RESERVED_MARKETPLACE_NAMES: &[&str] = &[
    "claude-plugins-official",
    "anthropic-agent-skills",
    "agent-skills",
    "claude-code-plugins",
    "anthropic-plugins",
    "claude-code-marketplace",
    "anthropic-marketplace",
    "life-sciences",
    "knowledge-work-plugins",
    "claude-for-legal",
    "claude-for-financial-services",
    "financial-services-plugins",
    "first-party-plugins",
    "claude-tag-plugins",
    "claude-community",
    "claude-plugins-community",
    "healthcare",
    "anthropic-plugin-directory",
    "claude-plugin-directory",
];

/// What was read from one marketplace checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The marketplace's name, or `<name>-mirror` for a reserved name.
    pub marketplace: String,
    /// Catalog-level notes (a `renamed` note for a reserved name, a name
    /// that is not kebab-case, and the like).
    pub notes: Vec<String>,
    /// Every package that could be mirrored, sorted by (kind, name).
    pub items: Vec<CatalogItem>,
    /// Every entry that could not be, sorted by (kind, name).
    pub skipped: Vec<Skipped>,
}

/// One package to mirror.
#[derive(Clone, PartialEq, Eq)]
pub struct CatalogItem {
    /// `Plugin` or `Skill`.
    pub kind: Kind,
    /// The package name (valid for `kind`).
    pub name: String,
    /// The version (semver, unless a [`VersionHistory`] returned otherwise).
    pub version: String,
    /// The deterministic tar.gz.
    pub bundle: Vec<u8>,
    /// Hex sha256 of `bundle`.
    pub content_sha256: String,
    /// The packed directory relative to the checkout (`.` for the root,
    /// `/` as separator), or the fetched remote source it came from.
    pub source_path: String,
    /// For skills: the marketplace entry name of the plugin they came from.
    pub plugin: Option<String>,
    /// Spec problems found but tolerated, and `strict validation: …` when
    /// [`crate::bundle::validate`] with default limits refuses the bundle.
    pub notes: Vec<String>,
}

impl fmt::Debug for CatalogItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CatalogItem")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("bundle", &format_args!("<{} bytes>", self.bundle.len()))
            .field("content_sha256", &self.content_sha256)
            .field("source_path", &self.source_path)
            .field("plugin", &self.plugin)
            .field("notes", &self.notes)
            .finish()
    }
}

/// An entry that could not be mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What it would have been.
    pub kind: Kind,
    /// Its name as far as known: the entry name for plugins (`plugins[N]`
    /// when it has none), the folder name for skills.
    pub name: String,
    /// Why, with the path or source it came from.
    pub reason: String,
}

/// A catalog that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum MarketplaceError {
    /// The checkout has no `.claude-plugin/marketplace.json`.
    #[error("{path} does not exist; a marketplace keeps its catalog in {MARKETPLACE_JSON}")]
    Missing {
        /// The path looked at.
        path: String,
    },
    /// Reading the checkout or the catalog failed (a link, a FIFO, an
    /// unreadable file).
    #[error("cannot read the marketplace: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: SafeFsError,
    },
    /// `marketplace.json` is not a catalog.
    #[error("{path} {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Versions for packages whose upstream declares none.
///
/// Claude Code falls back to the git commit, which is not semver. The mirror
/// instead keeps, per package name, the content hashes it has seen, and
/// answers `0.0.N` where N starts at 1 and grows by one with each distinct
/// content hash seen for that name; see the report's doc text.
pub trait VersionHistory {
    /// The version for `name` (of `kind`) whose bundle hashes to
    /// `content_sha256` (lowercase hex).
    fn fallback(&self, kind: Kind, name: &str, content_sha256: &str) -> String;
}

/// No history: `0.0.0-<first 12 hex of content_sha256>`. For tests and
/// one-off reads; it does not grow with upstream changes.
///
/// If the 12 characters happen to be all digits with a leading `0`, the
/// result is not valid semver (numeric pre-release identifiers may not have
/// leading zeros); the strict-validation note then says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl VersionHistory for NoHistory {
    fn fallback(&self, _kind: Kind, _name: &str, content_sha256: &str) -> String {
        let prefix: String = content_sha256.chars().take(12).collect();
        format!("0.0.0-{prefix}")
    }
}

/// A plugin entry whose source is a git repository outside the checkout
/// (`github`, `url`, `git-subdir`), as the entry gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSource {
    /// The entry's position in `plugins`.
    pub index: usize,
    /// The entry's name (a valid plugin name).
    pub name: String,
    /// The repository URL, as written (`github` repos as their https URL).
    pub url: String,
    /// The pinned commit (`sha`) or else ref (`ref`); none: the default branch.
    pub pin: Option<String>,
    /// For `git-subdir`: the plugin's directory inside the repository.
    pub path: Option<String>,
}

/// A remote plugin the caller fetched: its tree (the repository's
/// checkout, or the `git-subdir` directory in it) and how to name it.
#[derive(Debug)]
pub struct FetchedPlugin {
    /// The plugin's directory.
    pub dir: Dir,
    /// What `source_path` shows: the URL, the commit and the sub-directory.
    pub label: String,
}

/// What the caller did with each [`RemoteSource`], by entry index: the
/// fetched tree, or why it was not fetched (quoted as the skip reason).
pub type Fetched = BTreeMap<usize, Result<FetchedPlugin, String>>;

/// Largest `marketplace.json` read.
const MAX_CATALOG_BYTES: u64 = 4 * 1024 * 1024;
/// Most JSON values (objects, arrays, members, elements) a catalog may hold.
const MAX_CATALOG_VALUES: usize = 250_000;
/// Most plugin entries a catalog may list (each costs a skip line at least).
const MAX_CATALOG_ENTRIES: usize = 10_000;
/// Largest `plugin.json` or `SKILL.md` read.
const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// An opened marketplace: its checkout and its parsed catalog.
#[derive(Debug)]
pub struct Marketplace {
    root: Dir,
    name: String,
    top: serde_json::Map<String, Value>,
    entries: Vec<Value>,
}

impl Marketplace {
    /// Reads and checks `.claude-plugin/marketplace.json` below `root`.
    pub fn open(root: Dir) -> Result<Marketplace, MarketplaceError> {
        let shown = root.path().join(MARKETPLACE_JSON).display().to_string();
        let invalid = |reason: String| MarketplaceError::Invalid {
            path: shown.clone(),
            reason,
        };
        let bytes = match root.read(MARKETPLACE_JSON, MAX_CATALOG_BYTES) {
            Ok(b) => b,
            Err(SafeFsError::NotFound { .. }) => {
                return Err(MarketplaceError::Missing { path: shown })
            }
            Err(source) => {
                return Err(MarketplaceError::Io {
                    path: shown,
                    source,
                })
            }
        };
        // Parsed JSON costs tens of bytes a value: a small file of `0,0,0,…`
        // would take gigabytes, so values are counted before parsing.
        let values = json_values(&bytes);
        if values > MAX_CATALOG_VALUES {
            return Err(invalid(format!(
                "holds about {values} JSON values; a catalog may hold at most {MAX_CATALOG_VALUES}"
            )));
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("is not valid JSON: {e}")))?;
        let Value::Object(mut top) = value else {
            return Err(invalid("must be a JSON object".into()));
        };
        let name = match top.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(invalid("has no `name`".into()))
            }
            Some(_) => return Err(invalid("has a `name` that is not a string".into())),
        };
        let Some(Value::Array(entries)) = top.remove("plugins") else {
            return Err(invalid("has no `plugins` list".into()));
        };
        if entries.len() > MAX_CATALOG_ENTRIES {
            return Err(invalid(format!(
                "lists {} plugins; a catalog may list at most {MAX_CATALOG_ENTRIES}",
                entries.len()
            )));
        }
        Ok(Marketplace {
            root,
            name,
            top,
            entries,
        })
    }

    /// The entries whose source is a git repository, for the caller to
    /// fetch (or refuse) before [`Marketplace::read`]. Entries without a
    /// valid plugin name are left out: the reader skips them by name.
    pub fn remote_sources(&self) -> Vec<RemoteSource> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| {
                let name = entry.get("name")?.as_str()?;
                PackageName::parse(Kind::Plugin, name).ok()?;
                let src = entry.get("source")?.as_object()?;
                let field = |k: &str| src.get(k).and_then(Value::as_str).map(str::to_string);
                let github = |repo: String| format!("https://github.com/{repo}.git");
                let (url, path) = match src.get("source")?.as_str()? {
                    "github" => (github(field("repo")?), None),
                    "url" => (field("url")?, None),
                    "git-subdir" => (
                        field("url").or_else(|| field("repo").map(github))?,
                        Some(field("path")?),
                    ),
                    _ => return None,
                };
                Some(RemoteSource {
                    index,
                    name: name.to_string(),
                    url,
                    pin: field("sha").or_else(|| field("ref")),
                    path,
                })
            })
            .collect()
    }

    /// Reads every entry, handing each package to `offer` as soon as it is
    /// final, so a large catalog holds one package's bundle at a time.
    /// Plugins come first (each entry's, in marketplace order, claiming its
    /// name), then skills (likewise): names are unique across kinds, and a
    /// later package whose name is taken is skipped. `fetched` holds the
    /// remote plugins the caller fetched; `commit` is the upstream commit the
    /// checkout is at, quoted in fallback-version notes; `versions` supplies
    /// versions for packages without one. Returns the catalog without its
    /// items.
    pub fn read_each(
        &self,
        fetched: &Fetched,
        commit: Option<&str>,
        versions: &dyn VersionHistory,
        offer: &mut dyn FnMut(CatalogItem),
    ) -> Catalog {
        let mut notes = Vec::new();
        let marketplace = self.served_name(&mut notes);
        let plugin_root = match self.top.get("metadata").and_then(|m| m.get("pluginRoot")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                notes.push("`metadata.pluginRoot` is not a string; ignored".into());
                None
            }
        };
        let ctx = entry::Ctx {
            root: &self.root,
            plugin_root,
            commit: commit.map(str::to_string),
            versions,
            limits: ArchiveLimits::default(),
            fetched,
        };
        let mut claims = Claims::default();
        let mut skipped = Vec::new();
        for part in [entry::Part::Plugin, entry::Part::Skills] {
            for (index, entry) in self.entries.iter().enumerate() {
                let out = ctx.plugin_entry(index, entry, part);
                skipped.extend(out.skipped);
                for item in out.plugin.into_iter().chain(out.skills) {
                    match claims.claim(&item) {
                        Ok(()) => offer(item),
                        Err(s) => skipped.push(s),
                    }
                }
            }
        }
        skipped.sort_by(|a, b| {
            (a.kind.as_str(), &a.name, &a.reason).cmp(&(b.kind.as_str(), &b.name, &b.reason))
        });
        Catalog {
            marketplace,
            notes,
            items: Vec::new(),
            skipped,
        }
    }

    /// Reads every entry into a [`Catalog`] whose items are sorted by (kind,
    /// name). Holds every bundle at once: for tests and small catalogs; the
    /// mirror uses [`Marketplace::read_each`].
    pub fn read(
        &self,
        fetched: &Fetched,
        commit: Option<&str>,
        versions: &dyn VersionHistory,
    ) -> Catalog {
        let mut items = Vec::new();
        let mut catalog = self.read_each(fetched, commit, versions, &mut |item| items.push(item));
        items.sort_by(|a, b| (a.kind.as_str(), &a.name).cmp(&(b.kind.as_str(), &b.name)));
        catalog.items = items;
        catalog
    }

    /// The name the mirror serves the marketplace as (`<name>-mirror` for a
    /// reserved one).
    pub fn served_as(&self) -> String {
        self.served_name(&mut Vec::new())
    }

    /// [`Marketplace::served_as`], noting what is wrong with the name.
    fn served_name(&self, notes: &mut Vec<String>) -> String {
        let name = self.name.clone();
        if let Err(e) = PackageName::parse(Kind::Plugin, &name) {
            notes.push(format!(
                "the marketplace name `{name}` is not kebab-case as Claude Code requires: {e}"
            ));
        }
        if RESERVED_MARKETPLACE_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            let renamed = format!("{name}-mirror");
            notes.push(format!(
                "renamed: `{name}` is a marketplace name Claude Code reserves for Anthropic's own repositories, so the mirror serves it as `{renamed}`"
            ));
            renamed
        } else {
            name
        }
    }
}

/// Reads the marketplace in the directory `checkout` with no remote plugin
/// fetched (each is skipped with a reason). See [`Marketplace`].
pub fn read_catalog(
    checkout: &Path,
    commit: Option<&str>,
    versions: &dyn VersionHistory,
) -> Result<Catalog, MarketplaceError> {
    let root = Dir::open(checkout).map_err(|source| MarketplaceError::Io {
        path: checkout.display().to_string(),
        source,
    })?;
    Ok(Marketplace::open(root)?.read(&Fetched::new(), commit, versions))
}

/// The names a catalog's packages took so far (normalized → who took it).
#[derive(Default)]
struct Claims {
    taken: BTreeMap<String, String>,
}

impl Claims {
    /// Claims `item`'s name, or says who holds it already.
    fn claim(&mut self, item: &CatalogItem) -> Result<(), Skipped> {
        let key = normalize(&item.name);
        if let Some(owner) = self.taken.get(&key) {
            return Err(Skipped {
                kind: item.kind,
                name: item.name.clone(),
                reason: format!(
                    "{} `{}` from `{}`: the name is already taken in this catalog by {owner}; registry names are unique across kinds",
                    item.kind, item.name, item.source_path
                ),
            });
        }
        let owner = match &item.plugin {
            Some(p) => format!("the skill `{}` of plugin `{p}`", item.name),
            None => format!("the {} `{}` ({})", item.kind, item.name, item.source_path),
        };
        self.taken.insert(key, owner);
        Ok(())
    }
}

/// Roughly how many values a JSON text holds: each `,`, `[` and `{`
/// outside strings starts one (more than the parser makes, never fewer
/// than about half as many).
fn json_values(bytes: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (1usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' | b':' => count += 1,
                _ => {}
            }
        }
    }
    count
}

/// Checks packed bytes as hostile input; returns them when they pass.
fn inspected(bundle: Vec<u8>, limits: &ArchiveLimits) -> Result<Vec<u8>, String> {
    crate::bundle::inspect(&bundle, limits, |_| false).map_err(|e| e.to_string())?;
    Ok(bundle)
}
