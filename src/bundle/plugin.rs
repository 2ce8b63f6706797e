//! Claude Code plugins: `.claude-plugin/plugin.json` and the skills inside.

use serde_json::Value;

use super::{check_declared_version, skill, Archive, BundleError, Validated};
use crate::package::{Kind, PackageName};

/// Where the plugin manifest lives.
pub const PLUGIN_JSON: &str = ".claude-plugin/plugin.json";

/// plugin.json keys whose values are paths (a string or a list of strings).
const PATH_KEYS: &[&str] = &[
    "commands",
    "agents",
    "skills",
    "hooks",
    "mcpServers",
    "outputStyles",
    "lspServers",
];

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
    Ok(PluginManifest {
        name,
        version,
        description: string("description")?,
        license: string("license")?,
        keywords,
    })
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
        archive: Archive::default(),
    })
}
