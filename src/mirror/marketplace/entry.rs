//! One marketplace entry: where its plugin lives, its plugin package and the
//! skill packages inside it. Every path is resolved beneath the checkout's
//! (or the fetched tree's) directory handle, never through a link.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::manifest::{
    path_list, read_skill_meta, semver_string, synthesize_manifest, ENTRY_ONLY_KEYS,
};
use super::{
    inspected, CatalogItem, Fetched, Skipped, VersionHistory, MARKETPLACE_JSON, MAX_MANIFEST_BYTES,
};
use crate::blobs::Sha256Digest;
use crate::bundle::{self, pack::pack_tree, plugin::PLUGIN_JSON, ArchiveLimits};
use crate::package::{parse_version, Kind, PackageName};
use crate::safe_fs::{self, Dir, EntryKind, SafeFsError};

/// What reading entries needs.
pub(super) struct Ctx<'a> {
    /// The checkout.
    pub(super) root: &'a Dir,
    /// `metadata.pluginRoot`, if the catalog sets one.
    pub(super) plugin_root: Option<String>,
    /// The upstream commit, for fallback-version notes.
    pub(super) commit: Option<String>,
    /// Versions for packages without one.
    pub(super) versions: &'a dyn VersionHistory,
    /// What a bundle may hold.
    pub(super) limits: ArchiveLimits,
    /// The remote plugins the caller fetched.
    pub(super) fetched: &'a Fetched,
}

/// Which packages of an entry a pass reads: the reader takes every
/// entry's plugin first, then every entry's skills, so a package can be
/// offered as soon as its name is claimed and no bundle waits for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// The plugin (and every reason the entry itself is skipped).
    Plugin,
    /// The skills inside it.
    Skills,
}

/// What one marketplace entry gave.
#[derive(Default)]
pub(super) struct EntryOutcome {
    pub(super) plugin: Option<CatalogItem>,
    pub(super) skills: Vec<CatalogItem>,
    pub(super) skipped: Vec<Skipped>,
}

/// Where an entry's source points.
enum Source {
    /// A directory: its handle and the path shown for it.
    Local { dir: Dir, shown: String },
    /// Not mirrored; the reason.
    Skip(String),
}

/// The versions a plugin offers its skills, already checked as semver.
#[derive(Clone, Default)]
struct PluginVersions {
    manifest: Option<String>,
    entry: Option<String>,
}

/// A skill folder of a plugin: its path below the plugin, and the target
/// if it is a link (never followed, so it is skipped).
struct FoundSkill {
    rel: String,
    link: Option<String>,
}

/// The reason a path from a checkout could not be used, without the path.
fn why(e: &SafeFsError) -> String {
    e.reason()
}

/// `base/rel` as shown, where `.` is the checkout root.
fn joined(base: &str, rel: &str) -> String {
    match (base, rel) {
        (".", r) => r.to_string(),
        (b, "") => b.to_string(),
        (b, r) => format!("{b}/{r}"),
    }
}

/// A relative path from the catalog, normalized (`./a//b` → `a/b`, `.` → ``),
/// or why it could leave its base.
pub(super) fn normalized(p: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("is empty".into());
    }
    let parts = safe_fs::components(p).map_err(|e| why(&e))?;
    if let Some(git) = parts.iter().find(|c| bundle::archive::is_git_dir_name(c)) {
        return Err(format!(
            "names `{git}`, a git repository's directory, which is never mirrored"
        ));
    }
    Ok(parts.join("/"))
}

impl Ctx<'_> {
    /// The `part` of entry `index`: its plugin and the reasons the entry is
    /// skipped, or its skills (the entry's own trouble was reported by the
    /// plugin pass, so it is not reported again).
    pub(super) fn plugin_entry(&self, index: usize, entry: &Value, part: Part) -> EntryOutcome {
        let mut out = EntryOutcome::default();
        let label = format!("plugins[{index}]");
        let skip = |name: &str, reason: String| Skipped {
            kind: Kind::Plugin,
            name: name.to_string(),
            reason,
        };
        let report = |out: &mut EntryOutcome, s: Skipped| {
            if part == Part::Plugin {
                out.skipped.push(s);
            }
        };
        let Value::Object(entry) = entry else {
            report(
                &mut out,
                skip(
                    &label,
                    format!("{label} in {MARKETPLACE_JSON} is not an object"),
                ),
            );
            return out;
        };
        let name = match entry.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                report(
                    &mut out,
                    skip(
                        &label,
                        format!("{label} in {MARKETPLACE_JSON} has no string `name`"),
                    ),
                );
                return out;
            }
        };
        let (dir, source_path) = match self.resolve_source(index, entry.get("source")) {
            Source::Local { dir, shown } => (dir, shown),
            Source::Skip(reason) => {
                report(&mut out, skip(&name, reason));
                return out;
            }
        };
        let mut notes = Vec::new();
        for key in entry.keys() {
            if !bundle::plugin::KNOWN_KEYS.contains(&key.as_str())
                && !ENTRY_ONLY_KEYS.contains(&key.as_str())
            {
                notes.push(format!(
                    "the marketplace entry has the key `{key}`, which Claude Code does not know; ignored"
                ));
            }
        }
        // plugin.json, read leniently: Claude Code loads plugins whose
        // manifests the strict validator refuses.
        let manifest = match dir.kind(PLUGIN_JSON) {
            Ok(None) => None,
            Ok(Some(_)) | Err(_) => match read_plugin_json(&dir) {
                Ok(m) => Some(m),
                Err(reason) => {
                    report(
                        &mut out,
                        skip(&name, format!("{PLUGIN_JSON} in `{source_path}` {reason}")),
                    );
                    return out;
                }
            },
        };
        let (versions, skill_paths) = plugin_facts(&name, entry, manifest.as_ref(), &mut notes);
        let mut plugin_notes = Vec::new();
        let found = skill_dirs(&dir, &skill_paths, &mut plugin_notes);
        if part == Part::Skills {
            // Skills are packages of their own, mirrored even when their
            // plugin could not be.
            for skill in found {
                match self.skill(&name, &dir, &source_path, &versions, skill) {
                    Ok(item) => out.skills.push(item),
                    Err(s) => out.skipped.push(s),
                }
            }
            return out;
        }
        match PackageName::parse(Kind::Plugin, &name) {
            Err(e) => out.skipped.push(skip(
                &name,
                format!(
                    "the marketplace entry name `{name}` (from `{source_path}`) is not a valid plugin name: {e}"
                ),
            )),
            Ok(_) => {
                let mut extra = BTreeMap::new();
                if manifest.is_none() {
                    extra.insert(PLUGIN_JSON.to_string(), synthesize_manifest(&name, entry));
                }
                match self.pack(&dir, &extra) {
                    Err(e) => out.skipped.push(skip(
                        &name,
                        format!("the plugin at `{source_path}` cannot be mirrored: {e}"),
                    )),
                    Ok(bundle) => {
                        let item = self.plugin_item(&name, bundle, &versions, source_path.clone(), notes);
                        out.plugin = Some(item);
                    }
                }
            }
        }
        if let Some(p) = out.plugin.as_mut() {
            p.notes.extend(plugin_notes);
        }
        out
    }

    /// Packs `dir` (with `extra` generated files) and checks the bundle.
    fn pack(&self, dir: &Dir, extra: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
        pack_tree(dir, extra, &self.limits)
            .map_err(|e| e.to_string())
            .and_then(|b| inspected(b, &self.limits))
    }

    /// The plugin package of an entry whose bundle packed and passed.
    fn plugin_item(
        &self,
        name: &str,
        bundle: Vec<u8>,
        versions: &PluginVersions,
        source_path: String,
        mut notes: Vec<String>,
    ) -> CatalogItem {
        let sha = Sha256Digest::of(&bundle).to_hex();
        let version = match versions.manifest.clone().or(versions.entry.clone()) {
            Some(v) => v,
            None => self.fallback(
                Kind::Plugin,
                name,
                &sha,
                "plugin.json or the marketplace entry",
                &mut notes,
            ),
        };
        self.strict(Kind::Plugin, name, &version, &bundle, &mut notes);
        CatalogItem {
            kind: Kind::Plugin,
            name: name.to_string(),
            version,
            bundle,
            content_sha256: sha,
            source_path,
            plugin: None,
            notes,
        }
    }

    /// Resolves an entry's `source`.
    fn resolve_source(&self, index: usize, source: Option<&Value>) -> Source {
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
                let kind = field("source");
                if matches!(kind, Some("github" | "url" | "git-subdir")) {
                    if let Some(fetched) = self.fetched.get(&index) {
                        return match fetched {
                            Ok(f) => match f.dir.try_clone() {
                                Ok(dir) => Source::Local {
                                    dir,
                                    shown: f.label.clone(),
                                },
                                Err(e) => Source::Skip(e.to_string()),
                            },
                            Err(reason) => Source::Skip(reason.clone()),
                        };
                    }
                }
                match kind {
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
                        let what = match field("registry") {
                            Some(r) => format!("{package} from {r}"),
                            None => package.to_string(),
                        };
                        Source::Skip(remote_reason("npm", &what, field("version")))
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
        let rel = match normalized(source) {
            Ok(r) => r,
            Err(e) => return Source::Skip(format!("the relative source `{source}` {e}")),
        };
        let mut path = rel.clone();
        if let Some(pr) = &self.plugin_root {
            let pr = match normalized(pr) {
                Ok(p) => p,
                Err(e) => return Source::Skip(format!("`metadata.pluginRoot` `{pr}` {e}")),
            };
            let under_root = joined(&pr, &rel);
            // A source that already spells out the plugin root (or that
            // exists only without it) is read as written.
            let exists = |p: &str| !matches!(self.root.kind(p), Ok(None));
            if exists(&under_root) || !exists(&rel) {
                path = under_root;
            }
        }
        match self.root.open_dir(&path) {
            Ok(dir) => Source::Local {
                dir,
                shown: if path.is_empty() { ".".into() } else { path },
            },
            Err(SafeFsError::NotFound { .. }) => Source::Skip(format!(
                "the relative source `{source}` does not resolve in the checkout"
            )),
            Err(e) => Source::Skip(format!("the relative source `{source}` {}", why(&e))),
        }
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

    /// Reads, packs and checks one skill folder of the plugin at `plugin_dir`.
    fn skill(
        &self,
        plugin: &str,
        plugin_dir: &Dir,
        plugin_path: &str,
        versions: &PluginVersions,
        found: FoundSkill,
    ) -> Result<CatalogItem, Skipped> {
        let folder = found.rel.rsplit('/').next().unwrap_or_default().to_string();
        let skip = |reason: String| Skipped {
            kind: Kind::Skill,
            name: folder.clone(),
            reason,
        };
        let source_path = joined(plugin_path, &found.rel);
        if let Some(target) = &found.link {
            return Err(skip(format!(
                "the skill folder `{source_path}` of plugin `{plugin}` is a symbolic link (to `{target}`); skillreg never follows links in content from outside"
            )));
        }
        let dir = plugin_dir.open_dir(&found.rel).map_err(|e| {
            skip(format!(
                "the skill folder `{source_path}` of plugin `{plugin}` {}",
                why(&e)
            ))
        })?;
        let file = format!("{source_path}/SKILL.md");
        let bundle = self.pack(&dir, &BTreeMap::new()).map_err(|e| {
            skip(format!(
                "the skill at `{source_path}` cannot be mirrored: {e}"
            ))
        })?;
        let text = dir
            .read("SKILL.md", MAX_MANIFEST_BYTES)
            .map_err(|e| skip(format!("`{file}` {}", why(&e))))?;
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
        let sha = Sha256Digest::of(&bundle).to_hex();
        let version = self.skill_version(
            &name,
            &sha,
            &file,
            meta.version.as_deref(),
            versions,
            &mut notes,
        );
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

    /// A skill's version: its plugin's first, then its own
    /// `metadata.version`, then a fallback.
    fn skill_version(
        &self,
        name: &str,
        sha: &str,
        file: &str,
        own: Option<&str>,
        versions: &PluginVersions,
        notes: &mut Vec<String>,
    ) -> String {
        let own = own.and_then(|v| match parse_version(v) {
            Ok(p) => Some(p.to_string()),
            Err(e) => {
                notes.push(format!(
                    "`{file}` has an unusable metadata.version: {e}; ignored"
                ));
                None
            }
        });
        match versions.manifest.clone().or(versions.entry.clone()) {
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
                    name,
                    sha,
                    "plugin.json, the marketplace entry or SKILL.md metadata.version",
                    notes,
                ),
            },
        }
    }
}

/// Reads plugin.json below the plugin as a JSON object.
fn read_plugin_json(dir: &Dir) -> Result<Map<String, Value>, String> {
    let bytes = dir
        .read(PLUGIN_JSON, MAX_MANIFEST_BYTES)
        .map_err(|e| why(&e))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("is not a JSON object".into()),
        Err(e) => Err(format!("is not valid JSON: {e}")),
    }
}

/// The versions a plugin declares and its custom skill paths, noting every
/// tolerated problem with the entry and its plugin.json.
fn plugin_facts(
    name: &str,
    entry: &Map<String, Value>,
    manifest: Option<&Map<String, Value>>,
    notes: &mut Vec<String>,
) -> (PluginVersions, Vec<String>) {
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
    match manifest {
        Some(m) => {
            match m.get("name") {
                Some(Value::String(n)) if *n == name => {}
                Some(Value::String(n)) => notes.push(format!(
                    "{PLUGIN_JSON} names the plugin `{n}` but the marketplace lists it as `{name}`; mirrored as `{name}`, the name users install it by"
                )),
                _ => notes.push(format!("{PLUGIN_JSON} has no string `name`")),
            }
            for key in m.keys() {
                if !bundle::plugin::KNOWN_KEYS.contains(&key.as_str()) {
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
    (versions, skill_paths)
}

/// Every skill folder of the plugin at `dir`: `skills/*/SKILL.md`, plus
/// the custom `skills` paths of plugin.json and the entry. A folder that is
/// a link is returned as one (to be skipped with its target).
fn skill_dirs(dir: &Dir, custom: &[String], notes: &mut Vec<String>) -> Vec<FoundSkill> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |skill: FoundSkill, found: &mut Vec<FoundSkill>| {
        if seen.insert(skill.rel.clone()) {
            found.push(skill);
        }
    };
    match dir.open_dir("skills") {
        Ok(skills) => {
            for skill in skill_folders(&skills, "skills") {
                add(skill, &mut found);
            }
        }
        Err(SafeFsError::NotFound { .. } | SafeFsError::NotADirectory { .. }) => {}
        Err(e) => notes.push(format!("`skills` {}; its skills are not mirrored", why(&e))),
    }
    for p in custom {
        let rel = match normalized(p) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("the `skills` path `{p}` {e}; ignored"));
                continue;
            }
        };
        let sub = match dir.open_dir(&rel) {
            Ok(sub) => sub,
            Err(SafeFsError::NotFound { .. }) => {
                notes.push(format!(
                    "the `skills` path `{p}` does not resolve in the plugin; ignored"
                ));
                continue;
            }
            Err(e) => {
                notes.push(format!("the `skills` path `{p}` {}; ignored", why(&e)));
                continue;
            }
        };
        if matches!(sub.kind("SKILL.md"), Ok(Some(EntryKind::File))) {
            add(FoundSkill { rel, link: None }, &mut found);
        } else {
            for skill in skill_folders(&sub, &rel) {
                add(skill, &mut found);
            }
        }
    }
    found
}

/// The sub-directories of `dir` (at `rel` below the plugin) that hold a
/// SKILL.md, and the links among its entries, sorted by name; `.git` is
/// never one.
fn skill_folders(dir: &Dir, rel: &str) -> Vec<FoundSkill> {
    let Ok(entries) = dir.entries() else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter(|e| e.name != ".git")
        .filter_map(|e| {
            let path = joined(if rel.is_empty() { "." } else { rel }, &e.name);
            match e.kind {
                EntryKind::Dir => {
                    let holds_skill = matches!(
                        dir.kind(&format!("{}/SKILL.md", e.name)),
                        Ok(Some(EntryKind::File))
                    );
                    holds_skill.then_some(FoundSkill {
                        rel: path,
                        link: None,
                    })
                }
                EntryKind::Symlink => Some(FoundSkill {
                    rel: path,
                    link: Some(dir.read_link(&e.name).unwrap_or_else(|_| "?".into())),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The reason a remote source is skipped when the caller fetched nothing.
pub(super) fn remote_reason(kind: &str, what: &str, pin: Option<&str>) -> String {
    let pin = pin.unwrap_or("default branch, unpinned");
    format!(
        "remote source {kind} ({what}@{pin}) is not fetched: a marketplace source fetches git sources only from hosts listed in its `remote_hosts`, and npm and archive sources not at all"
    )
}
