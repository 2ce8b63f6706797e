//! The Claude Code marketplace: `GET /claude/marketplace.json`.
//!
//! Claude Code installs a plugin of a URL catalog only from an `archive`
//! source: a zip over https, from a host name that is not loopback or
//! link-local, checked against the catalog's sha256. So every entry names
//! its zip by absolute URL below the registry's public URL.

use serde::Serialize;

use super::{marketplace_zip_path, FeedItem};
use crate::config;
use crate::package::Kind;

/// Longest description a catalog entry carries, in characters: one line in
/// Claude Code's list, and one huge description (a plugin's is not capped at
/// publish) must not make every client download megabytes.
pub const MAX_DESCRIPTION: usize = 1024;

/// The description as the catalog carries it: one line (control
/// characters become spaces), cut at [`MAX_DESCRIPTION`] characters, with
/// `…` when cut.
fn capped(description: &str) -> std::borrow::Cow<'_, str> {
    let description = super::one_line(description);
    match description.char_indices().nth(MAX_DESCRIPTION) {
        None => description,
        Some((at, _)) => format!("{}…", &description[..at]).into(),
    }
}

/// The version of the catalog's own format that skillreg writes.
pub const CATALOG_VERSION: &str = "1.0.0";

#[derive(Serialize)]
struct Catalog<'a> {
    name: &'a str,
    owner: Owner<'a>,
    metadata: Metadata<'a>,
    plugins: Vec<Plugin<'a>>,
}

#[derive(Serialize)]
struct Owner<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Metadata<'a> {
    description: &'a str,
    version: &'static str,
}

#[derive(Serialize)]
struct Plugin<'a> {
    name: &'a str,
    source: serde_json::Value,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: std::borrow::Cow<'a, str>,
    version: &'a str,
}

/// Renders the catalog of `items` for a registry at `base_url`: every
/// plugin with a zip, and every skill too when `skills_as_plugins`, by name.
pub fn render<'a>(
    cfg: &'a config::Feeds,
    base_url: &str,
    items: impl IntoIterator<Item = &'a FeedItem>,
) -> Vec<u8> {
    let base = base_url.trim_end_matches('/');
    catalog(cfg, items, |_, zip| {
        serde_json::json!({
            "source": "archive",
            "url": format!("{base}/{}", marketplace_zip_path(&zip.sha256)),
            "sha256": zip.sha256,
        })
    })
}

/// The folder below a directory marketplace where plugin `name` is unpacked.
pub fn directory_plugin_path(name: &str) -> String {
    format!("plugins/{name}")
}

/// Renders the same catalog for a directory (or git) marketplace, whose
/// plugins are unpacked beside it at [`directory_plugin_path`]: relative
/// sources, which Claude Code installs from a local or git marketplace.
pub fn render_directory<'a>(
    cfg: &'a config::Feeds,
    items: impl IntoIterator<Item = &'a FeedItem>,
) -> Vec<u8> {
    catalog(cfg, items, |item, _| {
        serde_json::Value::String(format!("./{}", directory_plugin_path(&item.name)))
    })
}

/// The items a marketplace lists: plugins with a zip, and skills with one
/// when `skills_as_plugins`.
pub fn listed<'a>(
    cfg: &config::Feeds,
    items: impl IntoIterator<Item = &'a FeedItem>,
) -> impl Iterator<Item = (&'a FeedItem, &'a super::StoredZip)> {
    let skills = cfg.skills_as_plugins;
    items
        .into_iter()
        .filter(move |item| item.kind == Kind::Plugin || skills)
        .filter_map(|item| Some((item, item.plugin_zip.as_ref().ok()?)))
}

fn catalog<'a>(
    cfg: &'a config::Feeds,
    items: impl IntoIterator<Item = &'a FeedItem>,
    source: impl Fn(&FeedItem, &super::StoredZip) -> serde_json::Value,
) -> Vec<u8> {
    let mut plugins: Vec<Plugin<'_>> = listed(cfg, items)
        .map(|(item, zip)| Plugin {
            name: &item.name,
            source: source(item, zip),
            description: capped(&item.description),
            version: &item.version,
        })
        .collect();
    plugins.sort_by(|a, b| a.name.cmp(b.name));
    let mut out = serde_json::to_vec_pretty(&Catalog {
        name: &cfg.marketplace.name,
        owner: Owner {
            name: &cfg.marketplace.owner,
        },
        metadata: Metadata {
            description: &cfg.marketplace.description,
            version: CATALOG_VERSION,
        },
        plugins,
    })
    .expect("the catalog serializes");
    out.push(b'\n');
    out
}
