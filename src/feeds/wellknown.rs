//! The Agent Skills discovery index (schema 0.2.0), as the `skills` CLI
//! reads it: `GET BASE/.well-known/agent-skills/index.json`.
//!
//! Each skill is an `archive` entry whose `digest` is the sha256 of the zip
//! served at `url`, which is relative to the index file (the CLI resolves
//! it so), so one document serves every scope, a path behind a feed token
//! and a static tree alike.

use serde::Serialize;

use super::{wellknown_zip_path, FeedItem};
use crate::package::Kind;

/// The schema the `skills` CLI checks for.
pub const SCHEMA: &str = "https://schemas.agentskills.io/discovery/0.2.0/schema.json";

/// The folder of the index below a base (`` or `teams/data/`); its zips
/// are below it too, at [`super::wellknown_zip_path`].
pub const DIR: &str = ".well-known/agent-skills/";

/// The path of the index below a base (`` or `teams/data/`).
pub const INDEX_PATH: &str = ".well-known/agent-skills/index.json";

#[derive(Serialize)]
struct Index<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    skills: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    description: std::borrow::Cow<'a, str>,
    url: String,
    digest: String,
}

/// Renders the index of `items` (any order): every skill that has a zip
/// with `SKILL.md` at its root, by name.
pub fn render<'a>(items: impl IntoIterator<Item = &'a FeedItem>) -> Vec<u8> {
    let mut skills: Vec<Entry<'_>> = items
        .into_iter()
        .filter(|item| item.kind == Kind::Skill)
        .filter_map(|item| {
            let zip = item.skill_zip.as_ref().ok()?;
            Some(Entry {
                name: &item.name,
                kind: "archive",
                description: super::one_line(&item.description),
                url: wellknown_zip_path(&zip.sha256),
                digest: format!("sha256:{}", zip.sha256),
            })
        })
        .collect();
    skills.sort_by(|a, b| a.name.cmp(b.name));
    let mut out = serde_json::to_vec_pretty(&Index {
        schema: SCHEMA,
        skills,
    })
    .expect("the index serializes");
    out.push(b'\n');
    out
}
