//! What the `wellknown` and `clawhub` sources share: an upstream's skill
//! archive (a zip or tar.gz with `SKILL.md` at its root) or lone SKILL.md
//! turned into skillreg's deterministic skill bundle, and that bundle
//! offered behind approval.
//!
//! The upstream's archive is never stored: its files are read as hostile
//! input ([`crate::bundle::unpack`]) and packed again with
//! [`pack_files`](crate::bundle::pack::pack_files), so the same files give
//! the same bundle whatever zip or tar tool the upstream used, and a
//! content change is exactly a bundle hash change.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::blobs::Sha256Digest;
use crate::bundle::{self, unpack::Files, ArchiveLimits, BundleError};
use crate::config::SourceConfig;
use crate::package::Kind;
use crate::registry::{Imported, Offer, Registry, RegistryError};
use crate::store::SyncRun;

/// A skill as read from an upstream, packed as skillreg's bundle.
#[derive(Debug)]
pub(super) struct UpstreamSkill {
    /// The `name` its SKILL.md declares.
    pub(super) name: String,
    /// Its SKILL.md `metadata.version`, as written.
    pub(super) declared_version: Option<String>,
    /// The deterministic tar.gz.
    pub(super) bundle: Vec<u8>,
    /// Hex sha256 of `bundle`.
    pub(super) sha256: String,
    /// How many files it holds.
    pub(super) files: usize,
}

/// Why an upstream's archive cannot be a skill bundle.
#[derive(Debug, thiserror::Error)]
pub(super) enum SkillArchiveError {
    /// The archive breaks a rule for hostile input (a link, `..`, a bomb).
    #[error("the archive is refused: {0}")]
    Archive(BundleError),
    /// No SKILL.md at the root.
    #[error("the archive has no SKILL.md at its root (a wrapping folder is not looked into)")]
    NoSkillMd,
    /// The SKILL.md is not one skillreg can publish.
    #[error("{0}")]
    SkillMd(BundleError),
    /// The files cannot be packed (a path below a file, past the limits).
    #[error("its files cannot be packed as a bundle: {0}")]
    Pack(BundleError),
}

/// Reads an upstream's zip or tar.gz within `limits` into a skill bundle.
pub(super) fn from_archive(
    bytes: &[u8],
    limits: &ArchiveLimits,
) -> Result<UpstreamSkill, SkillArchiveError> {
    let files =
        bundle::unpack::upstream_files(bytes, limits).map_err(SkillArchiveError::Archive)?;
    from_files(files, limits)
}

/// Packs `files` (which must hold `SKILL.md` at the root) into a skill
/// bundle, reading the name and version its SKILL.md declares.
pub(super) fn from_files(
    files: Files,
    limits: &ArchiveLimits,
) -> Result<UpstreamSkill, SkillArchiveError> {
    let text = &files.get("SKILL.md").ok_or(SkillArchiveError::NoSkillMd)?.1;
    let manifest = bundle::skill::parse("SKILL.md", text).map_err(SkillArchiveError::SkillMd)?;
    let bundle = bundle::pack::pack_files(&files, limits).map_err(SkillArchiveError::Pack)?;
    Ok(UpstreamSkill {
        declared_version: manifest.version().map(str::to_string),
        name: manifest.name,
        sha256: Sha256Digest::of(&bundle).to_hex(),
        bundle,
        files: files.len(),
    })
}

/// The limits an upstream's archive is read within: the registry's own
/// (`[limits]`), the ones every publish meets.
pub(super) fn limits(registry: &Registry) -> ArchiveLimits {
    registry.config().limits.archive()
}

/// Offers `skill` as `version`, unless a bundle of other content is stored
/// under that version already (stored bundles are immutable, so the
/// upstream's change is named and the stored one kept). Returns whether
/// the version is stored now (added, or there already).
pub(super) fn offer(
    registry: &Registry,
    source: &SourceConfig,
    skill: &UpstreamSkill,
    version: &str,
    upstream: serde_json::Value,
    run: &mut SyncRun,
) -> Result<bool, RegistryError> {
    let what = format!("skill {}@{version}", skill.name);
    if let Some(stored) = registry.stored_cksum(&skill.name, version)? {
        if stored != skill.sha256 {
            run.skipped += 1;
            run.detail.push(format!(
                "{what}: upstream changed its content without a new version; the stored bundle is kept"
            ));
            return Ok(true);
        }
    }
    let offer = Offer {
        source: &source.name,
        auto_approve: source.auto_approve,
        kind: Kind::Skill,
        name: &skill.name,
        version,
        bundle: &skill.bundle,
        upstream_line: None,
        verbatim_line: None,
        upstream,
    };
    let outcome = registry.import_mirrored(&offer)?;
    let stored = matches!(outcome, Imported::Added(_) | Imported::Unchanged);
    super::progress::count(run, &what, outcome);
    Ok(stored)
}

/// An item's trouble that either fails the run (the upstream did not
/// deliver what it promised) or only skips the item.
pub(super) trait ItemTrouble: std::fmt::Display {
    /// True when it fails the run.
    fn failed(&self) -> bool;
}

/// Counts an item that was not mirrored as failed or skipped, naming why.
pub(super) fn note(run: &mut SyncRun, what: &str, e: &impl ItemTrouble) {
    if e.failed() {
        run.failed += 1;
    } else {
        run.skipped += 1;
    }
    run.detail.push(format!("{what}: {e}"));
}

/// What stops one item of a run (an entry, a slug, a version): its own
/// trouble `I`, counted and named in the run's detail, or the run's `S`
/// (the store failed), which ends the run.
pub(super) enum Outcome<I, S> {
    /// The item's own trouble.
    Item(I),
    /// The run's.
    Stop(S),
}

impl<I, S> Outcome<I, S> {
    /// The run stops with `e`.
    pub(super) fn stop(e: impl Into<S>) -> Self {
        Outcome::Stop(e.into())
    }
}

impl<I, S> From<I> for Outcome<I, S> {
    fn from(e: I) -> Self {
        Outcome::Item(e)
    }
}

/// A URL path segment: everything but the unreserved characters encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` as one URL path segment (a name or path from an upstream never
/// adds a `/`, `?` or `#` of its own to a URL).
pub(super) fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}
