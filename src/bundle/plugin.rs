//! Claude Code plugins: `.claude-plugin/plugin.json` and the skills inside.

use serde_json::Value;

use super::{
    check_declared_version, check_dependency, check_dependency_set, skill, Archive, BundleError,
    Dependency, Validated,
};
use crate::package::{Kind, PackageName};

/// Where the plugin manifest lives.
pub const PLUGIN_JSON: &str = ".claude-plugin/plugin.json";

/// Every plugin.json key Claude Code knows (the mirror notes any other).
/// The keys whose values are paths stand together, `commands` to
/// `lspServers`, so the path keys are a slice of this one list.
pub const KNOWN_KEYS: &[&str] = &[
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

/// plugin.json keys whose values are paths (a string or a list of strings).
pub(super) const PATH_KEYS: &[&str] = KNOWN_KEYS.split_at(9).1.split_at(7).0;

/// The fields of plugin.json skillreg uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginManifest {
    /// `name`.
    pub name: String,
    /// `version`, when given.
    pub version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `keywords`.
    pub keywords: Vec<String>,
    /// `dependencies`, checked (see [`parse_dependencies`]).
    pub dependencies: Vec<Dependency>,
}

/// Parses plugin.json and checks its own rules (kebab-case name, relative paths).
pub fn parse_manifest(bytes: &[u8]) -> Result<PluginManifest, BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: PLUGIN_JSON.into(),
        reason,
    };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(bad("must be a JSON object".into()));
    };
    let string = |key: &str| -> Result<Option<String>, BundleError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("has a `{key}` that is not a string"))),
        }
    };
    let name = string("name")?.ok_or_else(|| bad("is missing the required `name`".into()))?;
    PackageName::parse(Kind::Plugin, &name).map_err(|e| {
        bad(format!(
            "has an invalid `name` (plugins use kebab-case): {e}"
        ))
    })?;
    let version = string("version")?;
    if let Some(v) = &version {
        crate::package::parse_version(v)
            .map_err(|e| bad(format!("has an invalid `version`: {e}")))?;
    }
    let keywords = match obj.get("keywords") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("has `keywords` that are not all strings".into()))?,
        Some(_) => return Err(bad("has `keywords` that are not a list".into())),
    };
    for key in PATH_KEYS {
        let paths: Vec<&str> = match obj.get(*key) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue, // objects are inline definitions, not paths
        };
        for p in paths {
            if !p.starts_with("./") || p.split('/').any(|c| c == "..") {
                return Err(bad(format!(
                    "has `{key}` path `{p}`; component paths must be relative, start with `./` and never use `..`"
                )));
            }
        }
    }
    let dependencies = match obj.get("dependencies") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => parse_dependencies(&name, v)?,
    };
    Ok(PluginManifest {
        name,
        version,
        description: string("description")?,
        license: string("license")?,
        keywords,
        dependencies,
    })
}

/// Parses plugin.json `dependencies` in Claude Code's form: an array whose
/// items are a plugin name (`"audit-logger"`, any version: `*`) or an object
/// `{"name": "secrets-vault", "version": "~2.1.0"}` (`version` optional).
///
/// Each name must follow the plugin name rules, each `version` must parse as
/// a `semver::VersionReq`, no name may appear twice and `own` (the plugin's
/// name) may not appear at all. Claude Code's other-marketplace forms
/// (`"name@marketplace"`, a `marketplace` key) are refused: the index can
/// only name packages of this registry. Other keys of an object are ignored.
pub fn parse_dependencies(own: &str, value: &Value) -> Result<Vec<Dependency>, BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: PLUGIN_JSON.into(),
        reason,
    };
    const FORMS: &str = r#"write "name" or {"name": "name", "version": "^1.0"}"#;
    let Value::Array(items) = value else {
        return Err(bad(format!(
            "has `dependencies` that are not a list; {FORMS} inside [ ]"
        )));
    };
    let mut deps = Vec::with_capacity(items.len());
    for item in items {
        let quoted = quote_json(item);
        let (name, req) = match item {
            Value::String(name) => (name.as_str(), None),
            Value::Object(obj) => {
                let Some(Value::String(name)) = obj.get("name") else {
                    return Err(bad(format!(
                        "has the `dependencies` entry {quoted} without a string `name`; {FORMS}"
                    )));
                };
                if let Some(m) = obj.get("marketplace").filter(|m| !m.is_null()) {
                    return Err(bad(format!(
                        "has the `dependencies` entry {quoted} with the marketplace {}; skillreg records dependencies on packages of this registry only, so remove `marketplace`",
                        quote_json(m)
                    )));
                }
                let req = match obj.get("version") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(v)) => Some(v.as_str()),
                    Some(_) => {
                        return Err(bad(format!(
                            "has the `dependencies` entry {quoted} whose `version` is not a string; quote the requirement, e.g. \"^1.2\""
                        )))
                    }
                };
                (name.as_str(), req)
            }
            _ => {
                return Err(bad(format!(
                    "has the `dependencies` entry {quoted}, which is neither a string nor an object; {FORMS}"
                )))
            }
        };
        if let Value::String(s) = item {
            if s.contains('@') {
                return Err(bad(format!(
                    "has the `dependencies` entry {quoted}; in plugin.json `name@…` names another marketplace, which skillreg does not record, and a version goes in an object: {{\"name\": \"name\", \"version\": \"^1.0\"}}"
                )));
            }
        }
        deps.push(check_dependency(
            PLUGIN_JSON,
            "dependencies",
            Kind::Plugin,
            &quoted,
            name,
            req,
        )?);
    }
    check_dependency_set(PLUGIN_JSON, "dependencies", own, &deps)?;
    Ok(deps)
}

/// A JSON value as compact text for an error message, cut to 100 characters.
fn quote_json(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Checks a plugin bundle: its manifest and every `skills/*/SKILL.md`.
pub fn validate(
    name: &PackageName,
    version: &semver::Version,
    archive: &Archive,
) -> Result<Validated, BundleError> {
    let json = archive
        .file(PLUGIN_JSON)
        .ok_or_else(|| BundleError::Missing(PLUGIN_JSON.into()))?;
    let manifest = parse_manifest(json)?;
    if manifest.name != name.as_str() {
        return Err(BundleError::Manifest {
            file: PLUGIN_JSON.into(),
            reason: format!(
                "names the plugin `{}` but it is published as `{name}`; the names must be equal",
                manifest.name
            ),
        });
    }
    check_declared_version(PLUGIN_JSON, "version", manifest.version.as_deref(), version)?;
    let mut warnings = Vec::new();
    for (path, content) in &archive.kept {
        let parts: Vec<&str> = path.split('/').collect();
        let ["skills", folder, "SKILL.md"] = parts.as_slice() else {
            continue;
        };
        let skill = skill::parse(path, content)?;
        if skill.name != *folder {
            return Err(BundleError::Manifest {
                file: path.clone(),
                reason: format!(
                    "names the skill `{}` but its folder is `{folder}`; the spec requires them to be equal",
                    skill.name
                ),
            });
        }
        warnings.extend(skill.warnings);
    }
    // A SKILL.md too large to keep was not parsed above: refuse rather than skip it.
    for entry in archive.entries.values() {
        let parts: Vec<&str> = entry.path.split('/').collect();
        if matches!(parts.as_slice(), ["skills", _, "SKILL.md"])
            && !archive.kept.contains_key(&entry.path)
        {
            return Err(BundleError::Manifest {
                file: entry.path.clone(),
                reason: "is not a regular file of at most 1 MiB".into(),
            });
        }
    }
    warnings.sort();
    Ok(Validated {
        description: manifest.description,
        license: manifest.license,
        keywords: manifest.keywords,
        warnings,
        dependencies: manifest.dependencies,
        archive: Archive::default(),
    })
}

#[cfg(test)]
mod tests;
