//! What the reader takes from the manifests of a catalog, leniently, as
//! Claude Code would load them: plugin.json keys, SKILL.md frontmatter,
//! version values, and the plugin.json synthesized for an entry without one.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::bundle;
use crate::package::parse_version;

/// Keys a marketplace entry may carry besides the plugin.json keys.
pub(super) const ENTRY_ONLY_KEYS: &[&str] = &["source", "category", "tags", "strict"];

/// A path value (`"./x"` or `["./x", …]`) as a list.
pub(super) fn path_list(v: Option<&Value>) -> Vec<String> {
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
pub(super) fn semver_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => parse_version(s)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string()),
        other => Err(format!("{other} is not a string")),
    }
}

/// A plugin.json from a marketplace entry: its name and the plugin.json
/// fields it carries, in a fixed order.
pub(super) fn synthesize_manifest(name: &str, entry: &Map<String, Value>) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name.to_string()));
    for key in bundle::plugin::KNOWN_KEYS {
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
pub(super) struct SkillMeta {
    /// `name` as written, when it is a string.
    pub(super) name: Option<String>,
    /// `metadata.version`, when it is a string.
    pub(super) version: Option<String>,
    /// Tolerated problems.
    pub(super) notes: Vec<String>,
}

/// Reads a SKILL.md. Spec-valid files give the strict parser's warnings as
/// notes; others are read as far as Claude Code would load them. Only a
/// missing frontmatter or YAML that does not parse to a mapping is an error.
pub(super) fn read_skill_meta(file: &str, text: &[u8]) -> Result<SkillMeta, String> {
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
    let Some(yaml) = bundle::skill::frontmatter(text) else {
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
        if !bundle::skill::SPEC_KEYS.contains(&k.as_str()) {
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
