//! `SKILL.md` frontmatter, checked against the Agent Skills spec.
//!
//! Spec fields are enforced; keys the spec does not name (Claude Code accepts
//! many) are kept and reported as warnings, never refused.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;

use super::BundleError;
use crate::package::{Kind, PackageName};

/// Longest description the spec allows.
pub const MAX_DESCRIPTION: usize = 1024;
/// Longest `compatibility` the spec allows.
pub const MAX_COMPATIBILITY: usize = 500;

/// The keys the Agent Skills spec defines.
const SPEC_KEYS: &[&str] = &[
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
        if !SPEC_KEYS.contains(&k.as_str()) {
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
mod tests {
    use super::*;

    #[test]
    fn valid_with_unknown_keys_as_warnings() {
        let m = parse(
            "SKILL.md",
            b"---\nname: pdf\ndescription: Reads PDFs.\nmetadata:\n  version: \"1.2.0\"\nwhen_to_use: always\n---\n# PDF\n",
        )
        .unwrap();
        assert_eq!(m.name, "pdf");
        assert_eq!(m.version(), Some("1.2.0"));
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].contains("when_to_use"));
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let cases: &[(&[u8], &str)] = &[
            (b"# no frontmatter", "frontmatter"),
            (b"---\ndescription: x\n---\n", "`name`"),
            (
                b"---\nname: Bad_Name\ndescription: x\n---\n",
                "invalid `name`",
            ),
            (b"---\nname: ok\n---\n", "`description`"),
            (
                b"---\nname: ok\ndescription: x\nmetadata:\n  version: 1.0\n---\n",
                "quote",
            ),
            (b"---\nname: ok\ndescription: [\n---\n", "invalid YAML"),
        ];
        for (text, want) in cases {
            let err = parse("SKILL.md", text).unwrap_err().to_string();
            assert!(err.contains(want), "{err} should mention {want}");
        }
        let long = format!("---\nname: ok\ndescription: {}\n---\n", "x".repeat(1025));
        assert!(parse("SKILL.md", long.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("1024"));
    }
}
