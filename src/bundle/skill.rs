//! `SKILL.md` frontmatter, checked against the Agent Skills spec.
//!
//! Spec fields are enforced; keys the spec does not name (Claude Code accepts
//! many) are kept and reported as warnings, never refused.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;

use super::{check_dependency, check_dependency_set, BundleError, Dependency};
use crate::package::{Kind, PackageName};

/// Longest description the spec allows.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest `compatibility` the spec allows.
pub const MAX_COMPATIBILITY: usize = 500;

/// Where a skill declares its dependencies.
pub const DEPENDENCIES_FIELD: &str = "metadata.dependencies";

/// The keys the Agent Skills spec defines.
pub const SPEC_KEYS: &[&str] = &[
    "name",
    "description",
    "license",
    "compatibility",
    "metadata",
    "allowed-tools",
];

/// The frontmatter of a valid `SKILL.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillManifest {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `license`, when given.
    pub license: Option<String>,
    /// `metadata` (string to string).
    pub metadata: BTreeMap<String, String>,
    /// Problems that do not block publishing (unknown keys and the like).
    pub warnings: Vec<String>,
}

impl SkillManifest {
    /// `metadata.version`, the usual place for a skill's version.
    pub fn version(&self) -> Option<&str> {
        self.metadata.get("version").map(String::as_str)
    }

    /// The dependencies in `metadata.dependencies`, checked (`file` names
    /// the manifest in errors). See [`parse_dependencies`] for the syntax.
    pub fn dependencies(&self, file: &str) -> Result<Vec<Dependency>, BundleError> {
        match self.metadata.get("dependencies") {
            None => Ok(Vec::new()),
            Some(list) => parse_dependencies(file, &self.name, list),
        }
    }
}

/// Parses a skill's `metadata.dependencies`: a comma-separated list of
/// `name@req` or bare `name` (any version, `*`), e.g.
/// `"other-skill@^1.0, another@~2"`. White space around names, `@` and
/// commas is ignored; an empty list means no dependencies. Because `,` also
/// separates the comparators of one requirement, an entry that starts with a
/// comparison operator (`<`, `>`, `=`, `~`, `^`) continues the previous
/// requirement: `a@>=1.2, <2, b` is `a` at `>=1.2, <2`, and `b`.
///
/// Each name must follow the skill name rules, each requirement must parse
/// as a `semver::VersionReq`, no name may appear twice and `own` (the
/// skill's name) may not appear at all.
pub fn parse_dependencies(
    file: &str,
    own: &str,
    list: &str,
) -> Result<Vec<Dependency>, BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: file.to_string(),
        reason,
    };
    if list.trim().is_empty() {
        return Ok(Vec::new());
    }
    // (name, requirement) pairs, requirements still joined from their pieces.
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    for piece in list.split(',').map(str::trim) {
        if piece.is_empty() {
            return Err(bad(format!(
                "has an empty entry in `{DEPENDENCIES_FIELD}` (`{list}`); separate entries with single commas, e.g. `other-skill@^1.0, another`"
            )));
        }
        let continues = piece.starts_with(['<', '>', '=', '~', '^']);
        if let (true, Some((_, Some(req)))) = (continues, entries.last_mut()) {
            req.push_str(", ");
            req.push_str(piece);
            continue;
        }
        match piece.split_once('@') {
            None => entries.push((piece.to_string(), None)),
            Some((name, req)) => {
                let req = req.trim();
                if req.is_empty() {
                    return Err(bad(format!(
                        "has the dependency `{piece}` in `{DEPENDENCIES_FIELD}` with nothing after `@`; write a requirement such as `{}@^1.0`, or just `{}` for any version",
                        name.trim(),
                        name.trim()
                    )));
                }
                entries.push((name.trim().to_string(), Some(req.to_string())));
            }
        }
    }
    let deps = entries
        .iter()
        .map(|(name, req)| {
            let item = match req {
                Some(r) => format!("{name}@{r}"),
                None => name.clone(),
            };
            check_dependency(
                file,
                DEPENDENCIES_FIELD,
                Kind::Skill,
                &item,
                name,
                req.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_dependency_set(file, DEPENDENCIES_FIELD, own, &deps)?;
    Ok(deps)
}

/// Parses and checks `SKILL.md`. `file` names it in errors (e.g. `skills/x/SKILL.md`).
pub fn parse(file: &str, text: &[u8]) -> Result<SkillManifest, BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: file.to_string(),
        reason,
    };
    let text = std::str::from_utf8(text).map_err(|_| bad("is not UTF-8 text".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let yaml = frontmatter(text).ok_or_else(|| {
        bad("must start with YAML frontmatter between `---` lines (name and description are required)".into())
    })?;
    let value: Value = serde_yaml_ng::from_str(yaml)
        .map_err(|e| bad(format!("has invalid YAML frontmatter: {e}")))?;
    let Value::Mapping(map) = value else {
        return Err(bad(
            "frontmatter must be a YAML mapping of keys to values".into()
        ));
    };
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (k, v) in map {
        let Value::String(k) = k else {
            return Err(bad("frontmatter keys must be strings".into()));
        };
        if k == "dependencies" {
            warnings.push(format!(
                "{file}: frontmatter key `dependencies` is not in the Agent Skills spec; kept as is, but not read: skillreg reads dependencies from `{DEPENDENCIES_FIELD}`"
            ));
        } else if !SPEC_KEYS.contains(&k.as_str()) {
            warnings.push(format!(
                "{file}: frontmatter key `{k}` is not in the Agent Skills spec; kept as is"
            ));
        }
        fields.insert(k, v);
    }
    let name = required_string(&fields, "name").map_err(bad)?;
    PackageName::parse(Kind::Skill, &name)
        .map_err(|e| bad(format!("has an invalid `name`: {e}")))?;
    let description = required_string(&fields, "description").map_err(bad)?;
    if description.trim().is_empty() {
        return Err(bad(
            "has an empty `description`; say what the skill does and when to use it".into(),
        ));
    }
    let len = description.chars().count();
    if len > MAX_DESCRIPTION {
        return Err(bad(format!(
            "has a `description` of {len} characters; the limit is {MAX_DESCRIPTION}"
        )));
    }
    if looks_like_xml(&description) || looks_like_xml(&name) {
        warnings.push(format!(
            "{file}: name or description contains XML tags, which Claude refuses"
        ));
    }
    let license = optional_string(&fields, "license").map_err(bad)?;
    if let Some(c) = optional_string(&fields, "compatibility").map_err(bad)? {
        let len = c.chars().count();
        if len > MAX_COMPATIBILITY {
            return Err(bad(format!(
                "has a `compatibility` of {len} characters; the limit is {MAX_COMPATIBILITY}"
            )));
        }
    }
    let mut metadata = BTreeMap::new();
    match fields.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(m)) => {
            for (k, v) in m {
                if let (Value::String(k), false) = (k, matches!(v, Value::String(_))) {
                    if k == "dependencies" {
                        return Err(bad(format!(
                            "has a `{DEPENDENCIES_FIELD}` that is not a string; write one string of comma-separated entries, e.g. dependencies: \"other-skill@^1.0, another\""
                        )));
                    }
                }
                let (Value::String(k), Value::String(v)) = (k, v) else {
                    return Err(bad(format!(
                        "has a non-string entry in `metadata` ({}); quote the value, e.g. version: \"1.0.0\"",
                        serde_yaml_ng::to_string(k).unwrap_or_default().trim()
                    )));
                };
                metadata.insert(k.clone(), v.clone());
            }
        }
        Some(_) => {
            return Err(bad(
                "`metadata` must be a mapping of strings to strings".into()
            ))
        }
    }
    match fields.get("allowed-tools") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Sequence(items)) if items.iter().all(|i| matches!(i, Value::String(_))) => {}
        Some(_) => {
            return Err(bad(
                "`allowed-tools` must be a space-separated string (or a list of strings)".into(),
            ))
        }
    }
    Ok(SkillManifest {
        name,
        description,
        license,
        metadata,
        warnings,
    })
}

/// The YAML between the opening `---` line and the next `---` line: the
/// one frontmatter reader, for the strict parser, the mirror's lenient one
/// and the policy. (A leading byte-order mark is the caller's to strip.)
pub fn frontmatter(text: &str) -> Option<&str> {
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

fn required_string(fields: &BTreeMap<String, Value>, key: &str) -> Result<String, String> {
    optional_string(fields, key)?.ok_or_else(|| format!("is missing the required `{key}` field"))
}

fn optional_string(fields: &BTreeMap<String, Value>, key: &str) -> Result<Option<String>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("has a `{key}` that is not a string")),
    }
}

fn looks_like_xml(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/'))
}

#[cfg(test)]
mod tests;
