//! The zips the agent tools download, rendered from a stored bundle.
//!
//! The `skills` CLI, ClawHub and Claude Code each unpack an archive of their
//! own shape: a skill with `SKILL.md` at the zip's root, or a plugin with
//! `.claude-plugin/plugin.json` at its root. A zip is rendered once per
//! bundle and is deterministic: entries sorted by path, files only (folders
//! are implied), the DOS epoch as every time, modes 0644 or 0755, deflate at
//! one fixed level. So its sha256, which the documents name, never drifts.
//!
//! A bundle those tools cannot take is left out with the reason, checked
//! against the strictest of them (`index-spec/agent-feeds.md` §3): links,
//! more than [`MAX_FILES`] files, more than [`MAX_UNPACKED`] bytes, a zip
//! over [`MAX_ZIP`] bytes.

use std::io::Write;

use crate::bundle::{self, ArchiveLimits, EntryKind};
use crate::package::Kind;

/// Most files the `skills` CLI unpacks from one archive.
pub const MAX_FILES: usize = 1000;
/// Most bytes it unpacks.
pub const MAX_UNPACKED: u64 = 25 * 1024 * 1024;
/// Largest archive it downloads.
pub const MAX_ZIP: u64 = 10 * 1024 * 1024;

/// The shape of an archive, by what the tool expects at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// `SKILL.md` at the root: the `skills` CLI and ClawHub.
    Skill,
    /// `.claude-plugin/plugin.json` at the root: Claude Code. A skill becomes
    /// a plugin of one skill, `skills/<name>/`.
    Plugin,
}

impl Shape {
    /// The word stored with the rendered archive. It names the rendering's
    /// version too: a change to what [`render`] writes must change it, so
    /// bundles rendered before are rendered again rather than served stale.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Skill => "skill-zip/2",
            Shape::Plugin => "plugin-zip/2",
        }
    }
}

/// What is rendered: the stored bundle and the facts of its version.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The stored tar.gz.
    pub bundle: &'a [u8],
    /// The package kind.
    pub kind: Kind,
    /// The package name.
    pub name: &'a str,
    /// The version.
    pub version: &'a str,
    /// Its description.
    pub description: &'a str,
    /// Who published it (the author of a skill served as a plugin).
    pub publisher: &'a str,
}

/// Renders `source` as a zip of `shape`, or says why it cannot be one. The
/// reason is for an admin: it names what is wrong and which tool refuses it.
pub fn render(
    source: &Source<'_>,
    shape: Shape,
    limits: &ArchiveLimits,
) -> Result<Vec<u8>, String> {
    let prefix = match (source.kind, shape) {
        (Kind::Crate, _) => return Err("a crate is not an agent skill or plugin".into()),
        (Kind::Plugin, Shape::Skill) => {
            return Err("a plugin is not served as a single skill".into())
        }
        (Kind::Skill, Shape::Skill) => {
            check_skill_name(source.name)?;
            if source.description.is_empty() || source.description.chars().count() > 1024 {
                return Err(
                    "its SKILL.md `description` must be 1 to 1024 characters for the skills CLI"
                        .into(),
                );
            }
            String::new()
        }
        (Kind::Skill, Shape::Plugin) => format!("skills/{}/", source.name),
        (Kind::Plugin, Shape::Plugin) => String::new(),
    };
    let files = read_files(source.bundle, limits)?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut entries: Vec<(String, bool, Vec<u8>)> = files
        .into_iter()
        .map(|(path, executable, content)| (format!("{prefix}{path}"), executable, content))
        .collect();
    if source.kind == Kind::Skill && shape == Shape::Plugin {
        entries.push((
            ".claude-plugin/plugin.json".into(),
            false,
            plugin_manifest(source),
        ));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, executable, content) in &entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(6))
            .last_modified_time(zip::DateTime::DEFAULT)
            .unix_permissions(if *executable { 0o755 } else { 0o644 });
        zip.start_file(path.as_str(), options)
            .and_then(|()| zip.write_all(content).map_err(Into::into))
            .map_err(|e| format!("could not write the zip: {e}"))?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| format!("could not write the zip: {e}"))?
        .into_inner();
    if bytes.len() as u64 > MAX_ZIP {
        return Err(format!(
            "its zip is {} bytes; the skills CLI downloads at most {MAX_ZIP}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The manifest of a skill served as a one-skill plugin.
fn plugin_manifest(source: &Source<'_>) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(&serde_json::json!({
        "name": source.name,
        "version": source.version,
        "description": source.description,
        "author": { "name": source.publisher },
    }))
    .expect("static JSON");
    out.push(b'\n');
    out
}

/// The `skills` CLI installs into `.claude/skills/<name>/` and takes only
/// `^[a-z0-9-]{1,64}$` without a leading, trailing or double `-`.
fn check_skill_name(name: &str) -> Result<(), String> {
    let ok = crate::package::is_kebab(name);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the name `{name}` is not one the skills CLI installs (a-z, 0-9 and single `-`, at most 64)"
        ))
    }
}

/// Every regular file of a checked bundle: (path, executable, content),
/// sorted by path. The bundle is checked again as hostile input first, so
/// the second pass reads only what the first proved bounded.
fn read_files(
    bundle_bytes: &[u8],
    limits: &ArchiveLimits,
) -> Result<Vec<(String, bool, Vec<u8>)>, String> {
    let checked = bundle::inspect(bundle_bytes, limits, |_| false)
        .map_err(|e| format!("the stored bundle cannot be read: {e}"))?;
    let mut unpacked = 0u64;
    let mut count = 0usize;
    for entry in checked.entries.values() {
        match &entry.kind {
            EntryKind::Symlink(_) | EntryKind::Hardlink(_) => {
                return Err(format!(
                    "`{}` is a link; the skills CLI and Claude Code refuse links in archives",
                    entry.path
                ))
            }
            EntryKind::File => {
                count += 1;
                unpacked += entry.size;
            }
            EntryKind::Dir => {}
        }
    }
    if count > MAX_FILES {
        return Err(format!(
            "it has {count} files; the skills CLI unpacks at most {MAX_FILES}"
        ));
    }
    if unpacked > MAX_UNPACKED {
        return Err(format!(
            "it unpacks to {unpacked} bytes; the skills CLI unpacks at most {MAX_UNPACKED}"
        ));
    }
    let files = bundle::unpack::checked_files(bundle_bytes, &checked)
        .map_err(|e| format!("the stored bundle cannot be read: {e}"))?;
    Ok(files
        .into_iter()
        .map(|(path, (executable, content))| (path, executable, content))
        .collect())
}

#[cfg(test)]
mod tests;
