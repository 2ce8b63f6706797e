//! Reading a Claude Code marketplace checkout into packages.
//!
//! [`read_catalog`] takes a local checkout of a repository with
//! `.claude-plugin/marketplace.json` and turns every plugin entry into a
//! `plugin` package and every skill inside it into a `skill` package, each
//! packed deterministically with [`pack_dir`]. It touches no network and no
//! store: fetching the checkout and storing what comes back is the caller's
//! job.
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
//!   when the marketplace sets one. Absolute paths, `..` and symlinks that
//!   lead out of the checkout are skipped.
//! - `github`, `url`, `git-subdir`, `npm` and `archive` sources are skipped:
//!   fetching pinned remote sources is future work.
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

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value};

use crate::bundle::{self, pack::pack_dir, plugin::PLUGIN_JSON, ArchiveLimits};
use crate::package::{normalize, parse_version, Kind, PackageName};

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
    /// The deterministic tar.gz from [`pack_dir`].
    pub bundle: Vec<u8>,
    /// Hex sha256 of `bundle`.
    pub content_sha256: String,
    /// The packed directory relative to the checkout (`.` for the root),
    /// with symlinks resolved and `/` as separator.
    pub source_path: String,
    /// For skills: the marketplace entry name of the plugin they came from.
    pub plugin: Option<String>,
    /// Spec problems found but tolerated, and `strict validation: …` when
    /// [`bundle::validate`] with default limits refuses the bundle.
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
    /// Reading the checkout or the catalog failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
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

/// plugin.json keys Claude Code knows (anything else is noted).
const PLUGIN_KEYS: &[&str] = &[
    "$schema",
    "name",
    "version",
    "description",
    "author",
    "homepage",
    "repository",
    "license",
    "keywords",
    "commands",
    "agents",
    "skills",
    "hooks",
    "mcpServers",
    "outputStyles",
    "lspServers",
    "dependencies",
    "userConfig",
    "channels",
    "settings",
];

/// Keys a marketplace entry may carry besides the plugin.json keys.
const ENTRY_ONLY_KEYS: &[&str] = &["source", "category", "tags", "strict"];

/// The frontmatter keys of the Agent Skills spec.
const SKILL_SPEC_KEYS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

/// Reads the marketplace in `checkout`. `commit` is the upstream commit the
/// checkout is at, quoted in fallback-version notes; `versions` supplies
/// versions for packages without one.
pub fn read_catalog(
    checkout: &Path,
    commit: Option<&str>,
    versions: &dyn VersionHistory,
) -> Result<Catalog, MarketplaceError> {
    let root = checkout
        .canonicalize()
        .map_err(|source| MarketplaceError::Io {
            path: checkout.display().to_string(),
            source,
        })?;
    let catalog_path = root.join(MARKETPLACE_JSON);
    let shown = catalog_path.display().to_string();
    let invalid = |reason: String| MarketplaceError::Invalid {
        path: shown.clone(),
        reason,
    };
    match fs::symlink_metadata(&catalog_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(MarketplaceError::Missing { path: shown })
        }
        Err(source) => {
            return Err(MarketplaceError::Io {
                path: shown,
                source,
            })
        }
        Ok(_) => {}
    }
    match catalog_path.canonicalize() {
        Ok(real) if real.starts_with(&root) => {}
        Ok(_) => {
            return Err(invalid(
                "is a symlink that leads out of the checkout".into(),
            ))
        }
        Err(source) => {
            return Err(MarketplaceError::Io {
                path: shown,
                source,
            })
        }
    }
    let bytes = fs::read(&catalog_path).map_err(|source| MarketplaceError::Io {
        path: shown.clone(),
        source,
    })?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("is not valid JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(invalid("must be a JSON object".into()));
    };
    let name = match top.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(invalid("has no `name`".into()))
        }
        Some(_) => return Err(invalid("has a `name` that is not a string".into())),
    };
    let Some(Value::Array(entries)) = top.get("plugins") else {
        return Err(invalid("has no `plugins` list".into()));
    };

    let mut notes = Vec::new();
    if let Err(e) = PackageName::parse(Kind::Plugin, &name) {
        notes.push(format!(
            "the marketplace name `{name}` is not kebab-case as Claude Code requires: {e}"
        ));
    }
    let marketplace = if RESERVED_MARKETPLACE_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        let renamed = format!("{name}-mirror");
        notes.push(format!(
            "renamed: `{name}` is a marketplace name Claude Code reserves for Anthropic's own repositories, so the mirror serves it as `{renamed}`"
        ));
        renamed
    } else {
        name
    };
    let plugin_root = match top.get("metadata").and_then(|m| m.get("pluginRoot")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            notes.push("`metadata.pluginRoot` is not a string; ignored".into());
            None
        }
    };

    let ctx = Ctx {
        root,
        plugin_root,
        commit: commit.map(str::to_string),
        versions,
        limits: default_limits(),
    };
    let mut plugins = Vec::new();
    let mut skills = Vec::new();
    let mut skipped = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let out = ctx.plugin_entry(index, entry);
        plugins.extend(out.plugin);
        skills.extend(out.skills);
        skipped.extend(out.skipped);
    }

    // Names are unique across kinds: plugins claim theirs first, then skills,
    // each in marketplace order.
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut items = Vec::new();
    for item in plugins.into_iter().chain(skills) {
        let key = normalize(&item.name);
        if let Some(owner) = taken.get(&key) {
            skipped.push(Skipped {
                kind: item.kind,
                name: item.name.clone(),
                reason: format!(
                    "{} `{}` from `{}`: the name is already taken in this catalog by {owner}; registry names are unique across kinds",
                    item.kind, item.name, item.source_path
                ),
            });
            continue;
        }
        let owner = match &item.plugin {
            Some(p) => format!("the skill `{}` of plugin `{p}`", item.name),
            None => format!("the {} `{}` ({})", item.kind, item.name, item.source_path),
        };
        taken.insert(key, owner);
        items.push(item);
    }
    items.sort_by(|a, b| (a.kind.as_str(), &a.name).cmp(&(b.kind.as_str(), &b.name)));
    skipped.sort_by(|a, b| {
        (a.kind.as_str(), &a.name, &a.reason).cmp(&(b.kind.as_str(), &b.name, &b.reason))
    });
    Ok(Catalog {
        marketplace,
        notes,
        items,
        skipped,
    })
}

/// The default archive limits, the ones the registry starts with.
fn default_limits() -> ArchiveLimits {
    let limits = crate::config::Limits::default();
    ArchiveLimits {
        max_compressed: limits.max_bundle_bytes,
        max_unpacked: limits.max_unpacked_bytes,
        max_entries: limits.max_entries,
    }
}

struct Ctx<'a> {
    /// The canonical checkout root.
    root: PathBuf,
    plugin_root: Option<String>,
    commit: Option<String>,
    versions: &'a dyn VersionHistory,
    limits: ArchiveLimits,
}

/// What one marketplace entry gave.
#[derive(Default)]
struct EntryOutcome {
    plugin: Option<CatalogItem>,
    skills: Vec<CatalogItem>,
    skipped: Vec<Skipped>,
}

/// Where an entry's source points.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// A directory in the checkout: canonical path.
    Local(PathBuf),
    /// Not mirrored; the reason.
    Skip(String),
}

/// The versions a plugin offers its skills, already checked as semver.
#[derive(Clone, Default)]
struct PluginVersions {
    manifest: Option<String>,
    entry: Option<String>,
}

impl Ctx<'_> {
    fn plugin_entry(&self, index: usize, entry: &Value) -> EntryOutcome {
        let mut out = EntryOutcome::default();
        let label = format!("plugins[{index}]");
        let skip = |name: &str, reason: String| Skipped {
            kind: Kind::Plugin,
            name: name.to_string(),
            reason,
        };
        let Value::Object(entry) = entry else {
            out.skipped.push(skip(
                &label,
                format!("{label} in {MARKETPLACE_JSON} is not an object"),
            ));
            return out;
        };
        let name = match entry.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                out.skipped.push(skip(
                    &label,
                    format!("{label} in {MARKETPLACE_JSON} has no string `name`"),
                ));
                return out;
            }
        };
        let dir = match self.resolve_source(entry.get("source")) {
            Source::Local(dir) => dir,
            Source::Skip(reason) => {
                out.skipped.push(skip(&name, reason));
                return out;
            }
        };
        let source_path = self.relative(&dir);
        let name_ok = PackageName::parse(Kind::Plugin, &name);
        let mut notes = Vec::new();
        for key in entry.keys() {
            if !PLUGIN_KEYS.contains(&key.as_str()) && !ENTRY_ONLY_KEYS.contains(&key.as_str()) {
                notes.push(format!(
                    "the marketplace entry has the key `{key}`, which Claude Code does not know; ignored"
                ));
            }
        }

        // plugin.json, read leniently: Claude Code loads plugins whose
        // manifests the strict validator refuses.
        let manifest_path = dir.join(PLUGIN_JSON);
        let manifest = if fs::symlink_metadata(&manifest_path).is_ok() {
            match self.read_plugin_json(&dir, &manifest_path) {
                Ok(m) => Some(m),
                Err(reason) => {
                    out.skipped.push(skip(
                        &name,
                        format!("{PLUGIN_JSON} in `{source_path}` {reason}"),
                    ));
                    return out;
                }
            }
        } else {
            None
        };
        let mut versions = PluginVersions::default();
        match entry.get("version") {
            None | Some(Value::Null) => {}
            Some(v) => match semver_string(v) {
                Ok(v) => versions.entry = Some(v),
                Err(e) => notes.push(format!(
                    "the marketplace entry's `version` is unusable ({e}); ignored"
                )),
            },
        }
        let mut skill_paths = Vec::new();
        match &manifest {
            Some(m) => {
                match m.get("name") {
                    Some(Value::String(n)) if *n == name => {}
                    Some(Value::String(n)) => notes.push(format!(
                        "{PLUGIN_JSON} names the plugin `{n}` but the marketplace lists it as `{name}`; mirrored as `{name}`, the name users install it by"
                    )),
                    _ => notes.push(format!("{PLUGIN_JSON} has no string `name`")),
                }
                for key in m.keys() {
                    if !PLUGIN_KEYS.contains(&key.as_str()) {
                        notes.push(format!(
                            "{PLUGIN_JSON} has the key `{key}`, which Claude Code does not know; kept as is"
                        ));
                    }
                }
                match m.get("version") {
                    None | Some(Value::Null) => {}
                    Some(v) => match semver_string(v) {
                        Ok(v) => versions.manifest = Some(v),
                        Err(e) => notes.push(format!(
                            "{PLUGIN_JSON} has an unusable `version` ({e}); ignored"
                        )),
                    },
                }
                skill_paths.extend(path_list(m.get("skills")));
            }
            None => notes.push(format!(
                "no {PLUGIN_JSON}: synthesized one from the marketplace entry"
            )),
        }
        skill_paths.extend(path_list(entry.get("skills")));
        if let (Some(m), Some(e)) = (&versions.manifest, &versions.entry) {
            if m != e {
                notes.push(format!(
                    "{PLUGIN_JSON} says version {m} and the marketplace entry {e}; {m} is used (plugin.json comes first)"
                ));
            }
        }

        match &name_ok {
            Err(e) => out.skipped.push(skip(
                &name,
                format!(
                    "the marketplace entry name `{name}` (from `{source_path}`) is not a valid plugin name: {e}"
                ),
            )),
            Ok(_) => {
                let packed = if manifest.is_some() {
                    pack_dir(&dir).map_err(|e| e.to_string())
                } else {
                    self.pack_synthesized(&dir, &name, entry)
                };
                match packed.and_then(|b| self.inspect(b)) {
                    Err(e) => out.skipped.push(skip(
                        &name,
                        format!("the plugin at `{source_path}` cannot be mirrored: {e}"),
                    )),
                    Ok(bundle) => {
                        let sha = sha256_hex(&bundle);
                        let version = match versions.manifest.clone().or(versions.entry.clone())
                        {
                            Some(v) => v,
                            None => self.fallback(
                                Kind::Plugin,
                                &name,
                                &sha,
                                "plugin.json or the marketplace entry",
                                &mut notes,
                            ),
                        };
                        self.strict(Kind::Plugin, &name, &version, &bundle, &mut notes);
                        out.plugin = Some(CatalogItem {
                            kind: Kind::Plugin,
                            name: name.clone(),
                            version,
                            bundle,
                            content_sha256: sha,
                            source_path: source_path.clone(),
                            plugin: None,
                            notes,
                        });
                    }
                }
            }
        }

        // Skills are packages of their own, mirrored even when their plugin
        // could not be.
        let mut plugin_notes = Vec::new();
        let dirs = self.skill_dirs(&dir, &skill_paths, &mut plugin_notes);
        if let Some(p) = out.plugin.as_mut() {
            p.notes.extend(plugin_notes);
        }
        for found in dirs {
            match self.skill(&name, &dir, &versions, found) {
                Ok(item) => out.skills.push(item),
                Err(s) => out.skipped.push(s),
            }
        }
        out
    }

    /// Reads plugin.json as a JSON object, refusing a link out of the plugin.
    fn read_plugin_json(&self, dir: &Path, path: &Path) -> Result<Map<String, Value>, String> {
        match path.canonicalize() {
            Ok(real) if real.starts_with(dir) => {}
            Ok(_) => return Err("is a symlink that leads out of the plugin".into()),
            Err(e) => return Err(format!("cannot be read: {e}")),
        }
        let bytes = fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("is not a JSON object".into()),
            Err(e) => Err(format!("is not valid JSON: {e}")),
        }
    }

    /// Resolves an entry's `source`.
    fn resolve_source(&self, source: Option<&Value>) -> Source {
        match source {
            Some(Value::String(s)) => {
                if s.contains("://") || s.starts_with("git@") {
                    return Source::Skip(remote_reason("url", s, None));
                }
                self.resolve_local(s)
            }
            Some(Value::Object(obj)) => {
                let field = |k: &str| obj.get(k).and_then(Value::as_str);
                let pin = field("sha").or(field("ref"));
                match field("source") {
                    Some("github") => {
                        Source::Skip(remote_reason("github", field("repo").unwrap_or("?"), pin))
                    }
                    Some("url") => {
                        Source::Skip(remote_reason("url", field("url").unwrap_or("?"), pin))
                    }
                    Some("git-subdir") => {
                        let what = format!(
                            "{} path {}",
                            field("url").or(field("repo")).unwrap_or("?"),
                            field("path").unwrap_or("?")
                        );
                        Source::Skip(remote_reason("git-subdir", &what, pin))
                    }
                    Some("npm") => {
                        let package = field("package").or(field("name")).unwrap_or("?");
                        let version = field("version");
                        let what = match field("registry") {
                            Some(r) => format!("{package} from {r}"),
                            None => package.to_string(),
                        };
                        Source::Skip(remote_reason("npm", &what, version))
                    }
                    Some("archive") => {
                        let url = field("url").unwrap_or("?");
                        let what = match field("sha256") {
                            Some(h) => format!("{url}, sha256 {h}"),
                            None => url.to_string(),
                        };
                        Source::Skip(remote_reason("archive", &what, None))
                    }
                    Some(other) => Source::Skip(format!(
                        "the source kind `{other}` is unknown; Claude Code knows relative paths, github, url, git-subdir, npm and archive"
                    )),
                    None => Source::Skip("the source object has no string `source` kind".into()),
                }
            }
            None | Some(Value::Null) => {
                Source::Skip("the marketplace entry has no `source`".into())
            }
            Some(other) => Source::Skip(format!(
                "the source {other} is neither a relative path nor a source object"
            )),
        }
    }

    /// Resolves a relative source against the checkout (and pluginRoot).
    fn resolve_local(&self, source: &str) -> Source {
        if let Err(e) = check_relative(source) {
            return Source::Skip(format!("the relative source `{source}` {e}"));
        }
        let mut base = self.root.clone();
        if let Some(pr) = &self.plugin_root {
            if let Err(e) = check_relative(pr) {
                return Source::Skip(format!("`metadata.pluginRoot` `{pr}` {e}"));
            }
            let under_root = base.join(pr).join(source);
            // A source that already spells out the plugin root (or that
            // exists only without it) is read as written.
            if under_root.exists() || !self.root.join(source).exists() {
                base = base.join(pr);
            }
        }
        let joined = base.join(source);
        let real = match joined.canonicalize() {
            Ok(r) => r,
            Err(e) => {
                return Source::Skip(format!(
                    "the relative source `{source}` does not resolve in the checkout: {e}"
                ))
            }
        };
        if !real.starts_with(&self.root) {
            return Source::Skip(format!(
                "the relative source `{source}` leads out of the checkout through a symlink"
            ));
        }
        if !real.is_dir() {
            return Source::Skip(format!("the relative source `{source}` is not a directory"));
        }
        Source::Local(real)
    }

    /// `path` (canonical, inside the root) relative to the root.
    fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        }
    }

    /// Packs a copy of `dir` with a plugin.json made from the entry.
    fn pack_synthesized(
        &self,
        dir: &Path,
        name: &str,
        entry: &Map<String, Value>,
    ) -> Result<Vec<u8>, String> {
        let tmp = TempDir::new().map_err(|e| format!("cannot make a temp dir: {e}"))?;
        let copy = tmp.path().join("plugin");
        copy_tree(dir, &copy).map_err(|e| format!("cannot copy the plugin: {e}"))?;
        let json = synthesize_manifest(name, entry);
        let target = copy.join(PLUGIN_JSON);
        let write = || -> std::io::Result<()> {
            fs::create_dir_all(target.parent().expect("has a parent"))?;
            fs::write(&target, json)
        };
        write().map_err(|e| format!("cannot write the synthesized {PLUGIN_JSON}: {e}"))?;
        pack_dir(&copy).map_err(|e| e.to_string())
    }

    /// Checks packed bytes as hostile input; returns them when they pass.
    fn inspect(&self, bundle: Vec<u8>) -> Result<Vec<u8>, String> {
        bundle::inspect(&bundle, &self.limits, |_| false).map_err(|e| e.to_string())?;
        Ok(bundle)
    }

    fn fallback(
        &self,
        kind: Kind,
        name: &str,
        sha: &str,
        looked: &str,
        notes: &mut Vec<String>,
    ) -> String {
        let version = self.versions.fallback(kind, name, sha);
        let commit = match &self.commit {
            Some(c) => format!(" (upstream commit {c})"),
            None => String::new(),
        };
        notes.push(format!(
            "no version in {looked}; fallback version {version} for content sha256 {sha}{commit}"
        ));
        version
    }

    /// Runs the registry's strict validator and notes its refusal.
    fn strict(
        &self,
        kind: Kind,
        name: &str,
        version: &str,
        bundle: &[u8],
        notes: &mut Vec<String>,
    ) {
        let result = PackageName::parse(kind, name)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                let v = parse_version(version).map_err(|e| e.to_string())?;
                bundle::validate(kind, &n, &v, bundle, &self.limits)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            notes.push(format!("strict validation: {e}"));
        }
    }

    /// Every skill folder of the plugin at `dir`: `skills/*/SKILL.md`, plus
    /// the custom `skills` paths of plugin.json and the entry.
    fn skill_dirs(
        &self,
        dir: &Path,
        custom: &[String],
        notes: &mut Vec<String>,
    ) -> Vec<FoundSkill> {
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        let mut add = |logical: PathBuf, found: &mut Vec<FoundSkill>| {
            if seen.insert(logical.clone()) {
                found.push(FoundSkill { logical });
            }
        };
        let default = dir.join("skills");
        if default.is_dir() {
            for sub in sorted_subdirs(&default) {
                add(sub, &mut found);
            }
        }
        for p in custom {
            if let Err(e) = check_relative(p) {
                notes.push(format!("the `skills` path `{p}` {e}; ignored"));
                continue;
            }
            let path = dir.join(p);
            match path.canonicalize() {
                Ok(real) if !real.starts_with(dir) => {
                    notes.push(format!(
                        "the `skills` path `{p}` leads out of the plugin through a symlink; ignored"
                    ));
                    continue;
                }
                Ok(real) if real.is_dir() => {}
                Ok(_) => {
                    notes.push(format!(
                        "the `skills` path `{p}` is not a directory; ignored"
                    ));
                    continue;
                }
                Err(e) => {
                    notes.push(format!(
                        "the `skills` path `{p}` does not resolve: {e}; ignored"
                    ));
                    continue;
                }
            }
            let logical = normalize_lexically(&path);
            if logical.join("SKILL.md").is_file() {
                add(logical, &mut found);
            } else {
                for sub in sorted_subdirs(&logical) {
                    add(sub, &mut found);
                }
            }
        }
        found
    }

    /// Reads, packs and checks one skill folder.
    fn skill(
        &self,
        plugin: &str,
        plugin_dir: &Path,
        versions: &PluginVersions,
        found: FoundSkill,
    ) -> Result<CatalogItem, Skipped> {
        let folder = found
            .logical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let skip = |reason: String| Skipped {
            kind: Kind::Skill,
            name: folder.clone(),
            reason,
        };
        let real = found
            .logical
            .canonicalize()
            .map_err(|e| skip(format!("the skill folder cannot be read: {e}")))?;
        if !real.starts_with(plugin_dir) {
            return Err(skip(format!(
                "the skill folder `{}` of plugin `{plugin}` leads out of the plugin through a symlink (to `{}`)",
                folder,
                self.relative(&real)
            )));
        }
        let source_path = self.relative(&real);
        let file = format!("{source_path}/SKILL.md");
        let bundle = pack_dir(&real)
            .map_err(|e| e.to_string())
            .and_then(|b| self.inspect(b))
            .map_err(|e| {
                skip(format!(
                    "the skill at `{source_path}` cannot be mirrored: {e}"
                ))
            })?;
        let text = fs::read(real.join("SKILL.md"))
            .map_err(|e| skip(format!("`{file}` cannot be read: {e}")))?;
        let meta = read_skill_meta(&file, &text).map_err(&skip)?;
        let mut notes = meta.notes;
        let name = match &meta.name {
            Some(n) if PackageName::parse(Kind::Skill, n).is_ok() => {
                if *n != folder {
                    notes.push(format!(
                        "`{file}` names the skill `{n}` but its folder is `{folder}`; mirrored as `{n}`"
                    ));
                }
                n.clone()
            }
            declared => {
                let why = match declared {
                    Some(n) => format!("the name `{n}` in `{file}` is not a valid skill name"),
                    None => format!("`{file}` has no string `name`"),
                };
                if let Err(e) = PackageName::parse(Kind::Skill, &folder) {
                    return Err(skip(format!("{why}, and neither is its folder name: {e}")));
                }
                notes.push(format!("{why}; mirrored under its folder name `{folder}`"));
                folder.clone()
            }
        };
        let sha = sha256_hex(&bundle);
        let own = match &meta.version {
            Some(v) => match parse_version(v) {
                Ok(p) => Some(p.to_string()),
                Err(e) => {
                    notes.push(format!(
                        "`{file}` has an unusable metadata.version: {e}; ignored"
                    ));
                    None
                }
            },
            None => None,
        };
        let version = match versions.manifest.clone().or(versions.entry.clone()) {
            Some(v) => {
                if let Some(own) = own.as_ref().filter(|own| **own != v) {
                    notes.push(format!(
                        "`{file}` says metadata.version {own}, but the plugin's version {v} comes first"
                    ));
                }
                v
            }
            None => match own {
                Some(v) => v,
                None => self.fallback(
                    Kind::Skill,
                    &name,
                    &sha,
                    "plugin.json, the marketplace entry or SKILL.md metadata.version",
                    &mut notes,
                ),
            },
        };
        self.strict(Kind::Skill, &name, &version, &bundle, &mut notes);
        Ok(CatalogItem {
            kind: Kind::Skill,
            name,
            version,
            bundle,
            content_sha256: sha,
            source_path,
            plugin: Some(plugin.to_string()),
            notes,
        })
    }
}

/// A skill folder as found (not canonicalized: its name is the folder name).
struct FoundSkill {
    logical: PathBuf,
}

/// The reason a remote source is skipped.
fn remote_reason(kind: &str, what: &str, pin: Option<&str>) -> String {
    let pin = pin.unwrap_or("default branch, unpinned");
    format!(
        "remote source {kind} ({what}@{pin}) is not fetched: skillreg mirrors only plugins inside the marketplace checkout; fetching pinned remote sources is future work"
    )
}

/// A relative path that stays below its base: no root, no `..`.
fn check_relative(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("is empty");
    }
    if p.contains('\\') {
        return Err("contains `\\`; use `/`");
    }
    for c in Path::new(p).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return Err("is absolute"),
            Component::ParentDir => return Err("uses `..` and could leave its directory"),
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    Ok(())
}

/// Drops `.` components (the path has no `..`).
fn normalize_lexically(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Sub-directories (or links to directories) of `dir` that hold a SKILL.md,
/// sorted by name; `.git` is never one.
fn sorted_subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != ".git")
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("SKILL.md").is_file())
        .collect();
    out.sort();
    out
}

/// A path value (`"./x"` or `["./x", …]`) as a list.
fn path_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// A JSON version value as a canonical semver string.
fn semver_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => parse_version(s)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string()),
        other => Err(format!("{other} is not a string")),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A plugin.json from a marketplace entry: its name and the plugin.json
/// fields it carries, in a fixed order.
fn synthesize_manifest(name: &str, entry: &Map<String, Value>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_string()));
    for key in PLUGIN_KEYS {
        if *key == "name" || *key == "$schema" {
            continue;
        }
        if let Some(v) = entry.get(*key).filter(|v| !v.is_null()) {
            m.insert((*key).to_string(), v.clone());
        }
    }
    let mut out = serde_json::to_vec_pretty(&Value::Object(m)).expect("JSON values serialize");
    out.push(b'\n');
    out
}

/// What the reader needs from a SKILL.md, read leniently.
#[derive(Debug, Default, PartialEq, Eq)]
struct SkillMeta {
    /// `name` as written, when it is a string.
    name: Option<String>,
    /// `metadata.version`, when it is a string.
    version: Option<String>,
    /// Tolerated problems.
    notes: Vec<String>,
}

/// Reads a SKILL.md. Spec-valid files give the strict parser's warnings as
/// notes; others are read as far as Claude Code would load them. Only a
/// missing frontmatter or YAML that does not parse to a mapping is an error.
fn read_skill_meta(file: &str, text: &[u8]) -> Result<SkillMeta, String> {
    let strict_err = match bundle::skill::parse(file, text) {
        Ok(m) => {
            return Ok(SkillMeta {
                version: m.version().map(str::to_string),
                name: Some(m.name),
                notes: m.warnings,
            })
        }
        Err(e) => e.to_string(),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return Err(strict_err);
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(yaml) = frontmatter(text) else {
        return Err(strict_err);
    };
    let map = match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml) {
        Ok(serde_yaml_ng::Value::Mapping(m)) => m,
        _ => return Err(strict_err),
    };
    use serde_yaml_ng::Value as Y;
    let mut meta = SkillMeta::default();
    let mut fields = BTreeMap::new();
    for (k, v) in map {
        match k {
            Y::String(k) => {
                fields.insert(k, v);
            }
            other => meta.notes.push(format!(
                "{file}: frontmatter key {} is not a string; ignored",
                serde_yaml_ng::to_string(&other).unwrap_or_default().trim()
            )),
        }
    }
    for k in fields.keys() {
        if !SKILL_SPEC_KEYS.contains(&k.as_str()) {
            meta.notes.push(format!(
                "{file}: frontmatter key `{k}` is not in the Agent Skills spec; kept as is"
            ));
        }
    }
    meta.name = match fields.get("name") {
        Some(Y::String(s)) => Some(s.clone()),
        _ => None,
    };
    match fields.get("description") {
        Some(Y::String(d)) => {
            let len = d.chars().count();
            if len > bundle::skill::MAX_DESCRIPTION {
                meta.notes.push(format!(
                    "{file}: the description is {len} characters, over the spec's {}; mirrored as upstream, not truncated",
                    bundle::skill::MAX_DESCRIPTION
                ));
            } else if d.trim().is_empty() {
                meta.notes.push(format!("{file}: the description is empty"));
            }
        }
        None | Some(Y::Null) => meta.notes.push(format!("{file}: no `description`")),
        Some(_) => meta
            .notes
            .push(format!("{file}: the `description` is not a string")),
    }
    if let Some(Y::String(c)) = fields.get("compatibility") {
        let len = c.chars().count();
        if len > bundle::skill::MAX_COMPATIBILITY {
            meta.notes.push(format!(
                "{file}: `compatibility` is {len} characters, over the spec's {}",
                bundle::skill::MAX_COMPATIBILITY
            ));
        }
    }
    match fields.get("metadata") {
        None | Some(Y::Null) => {}
        Some(Y::Mapping(m)) => match m.get("version") {
            None | Some(Y::Null) => {}
            Some(Y::String(v)) => meta.version = Some(v.clone()),
            Some(other) => meta.notes.push(format!(
                "{file}: metadata.version `{}` is not a string; ignored (quote it)",
                serde_yaml_ng::to_string(other).unwrap_or_default().trim()
            )),
        },
        Some(_) => meta
            .notes
            .push(format!("{file}: `metadata` is not a mapping; ignored")),
    }
    Ok(meta)
}

/// The YAML between the opening `---` line and the next `---` line.
fn frontmatter(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\r', '\n']) == "---" {
            return Some(&rest[..offset]);
        }
        offset += line.len();
    }
    None
}

/// Copies `from` to `to` (which must not exist): directories, files with
/// their execute bit, and symlinks as symlinks; `.git` is left out.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir(to)?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755))?;
    let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            let exec = entry.metadata()?.permissions().mode() & 0o111 != 0;
            fs::copy(&src, &dst)?;
            fs::set_permissions(
                &dst,
                fs::Permissions::from_mode(if exec { 0o755 } else { 0o644 }),
            )?;
        } else {
            return Err(std::io::Error::other(format!(
                "{} is a special file (socket, device or FIFO)",
                src.display()
            )));
        }
    }
    Ok(())
}

/// A private temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..16 {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
            let path = base.join(format!(
                "skillreg-marketplace-{}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                hex::encode(random)
            ));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temp dir name")))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_history_uses_the_hash_prefix() {
        let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            NoHistory.fallback(Kind::Skill, "x", sha),
            "0.0.0-0123456789ab"
        );
        assert!(parse_version(&NoHistory.fallback(Kind::Skill, "x", sha)).is_ok());
    }

    #[test]
    fn relative_paths_stay_below_their_base() {
        for ok in [".", "./", "./plugins/a", "plugins/a", "./a/./b"] {
            assert!(check_relative(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("../escape", ".."),
            ("./a/../../b", ".."),
            ("/etc", "absolute"),
            ("", "empty"),
            ("a\\b", "\\"),
        ] {
            assert!(check_relative(bad).unwrap_err().contains(why), "{bad}");
        }
    }

    #[test]
    fn remote_reasons_name_the_source_and_pin() {
        let r = remote_reason("github", "o/r", Some("abc"));
        assert!(
            r.starts_with("remote source github (o/r@abc) is not fetched: "),
            "{r}"
        );
        assert!(r.contains("future work"), "{r}");
        let r = remote_reason("url", "https://x/y.git", None);
        assert!(
            r.contains("(https://x/y.git@default branch, unpinned)"),
            "{r}"
        );
    }

    #[test]
    fn skill_meta_is_lenient_where_claude_code_is() {
        let m = read_skill_meta(
            "s/SKILL.md",
            b"---\nname: ok\ndescription: d\nwhen_to_use: x\nmetadata:\n  version: \"1.2.3\"\n---\n",
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("ok"));
        assert_eq!(m.version.as_deref(), Some("1.2.3"));
        assert_eq!(m.notes.len(), 1);
        assert!(m.notes[0].contains("when_to_use"));

        let long = format!("---\nname: ok\ndescription: {}\n---\n", "x".repeat(1500));
        let m = read_skill_meta("s/SKILL.md", long.as_bytes()).unwrap();
        assert_eq!(m.name.as_deref(), Some("ok"));
        assert!(
            m.notes.iter().any(|n| n.contains("1500 characters")),
            "{:?}",
            m.notes
        );

        let m = read_skill_meta(
            "s/SKILL.md",
            b"---\nname: Bad_Name\ndescription: d\nmetadata:\n  version: 1.0\n---\n",
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("Bad_Name"));
        assert_eq!(m.version, None);
        assert!(
            m.notes.iter().any(|n| n.contains("quote it")),
            "{:?}",
            m.notes
        );

        for bad in [
            &b"# no frontmatter"[..],
            b"---\nname: [\n---\n",
            b"---\n- a\n---\n",
        ] {
            let e = read_skill_meta("s/SKILL.md", bad).unwrap_err();
            assert!(e.contains("s/SKILL.md"), "{e}");
        }
    }

    #[test]
    fn synthesized_manifest_carries_plugin_fields_only() {
        let entry: Map<String, Value> = serde_json::from_str(
            r#"{"name":"Entry","source":"./x","version":"1.0.0","description":"d","category":"c","tags":["t"],"strict":false,"keywords":["k"]}"#,
        )
        .unwrap();
        let json: Value = serde_json::from_slice(&synthesize_manifest("kit", &entry)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name":"kit","version":"1.0.0","description":"d","keywords":["k"]})
        );
    }

    #[test]
    fn reserved_names_include_protocols_list() {
        for n in [
            "claude-plugins-official",
            "anthropic-agent-skills",
            "agent-skills",
            "claude-code-plugins",
            "anthropic-plugins",
        ] {
            assert!(RESERVED_MARKETPLACE_NAMES.contains(&n), "{n}");
        }
    }
}
