//! Storing what a mirror brings in: validated like a publish, checked by the
//! policy, and kept out of the index (pending) until an admin approves it,
//! unless the source auto-approves. A version rejected once stays rejected.

use super::{files_json, Registry, RegistryError};
use crate::blobs::Sha256Digest;
use crate::bundle;
use crate::config::Config;
use crate::fsutil;
use crate::index::{self, IndexEntry};
use crate::package::{self, Kind, PackageName};
use crate::policy;
use crate::store::{MirrorFacts, NewVersion, Store, VersionStatus};
use crate::token::{Identity, Role};

/// One upstream version offered to the registry.
#[derive(Debug)]
pub struct Offer<'a> {
    /// The `[[sources]]` name.
    pub source: &'a str,
    /// Approve without review.
    pub auto_approve: bool,
    /// Package kind.
    pub kind: Kind,
    /// Package name.
    pub name: &'a str,
    /// Exact version.
    pub version: &'a str,
    /// The bundle bytes (already checked against the upstream checksum).
    pub bundle: &'a [u8],
    /// The upstream index line, when the upstream has one (kept: deps,
    /// features, provenance…).
    pub upstream_line: Option<&'a IndexEntry>,
    /// A crate's upstream line as served, stored byte for byte instead of
    /// a line rendered here (see [`crate::index::verbatim`]); its `yanked`
    /// is stored `false` (the caller follows an upstream yank).
    pub verbatim_line: Option<&'a str>,
    /// Upstream facts for reviewers: URL, index hash, signature status.
    pub upstream: serde_json::Value,
}

/// What became of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Stored with this status.
    Added(VersionStatus),
    /// Already here (any status but rejected).
    Unchanged,
    /// Rejected earlier; not stored again.
    AlreadyRejected,
    /// Not stored, with the reason.
    Skipped(String),
}

/// The login that owns mirrored packages of a source.
pub fn mirror_login(source: &str) -> String {
    format!("mirror:{source}")
}

impl Registry {
    /// Starts a sync run.
    pub fn start_run(&self, source: &str) -> Result<i64, RegistryError> {
        Ok(self.writer().start_run(source)?)
    }

    /// Finishes a sync run.
    pub fn finish_run(&self, id: i64, run: &crate::store::SyncRun) -> Result<(), RegistryError> {
        Ok(self.writer().finish_run(id, run)?)
    }

    /// Records the counts of a run still going (see [`Store::record_progress`]).
    pub fn record_progress(
        &self,
        id: i64,
        run: &crate::store::SyncRun,
    ) -> Result<(), RegistryError> {
        Ok(self.writer().record_progress(id, run)?)
    }

    /// Records the versions a run resolved (see [`Store::record_run_versions`]).
    pub fn record_run_versions(
        &self,
        run_id: i64,
        versions: &[(String, String)],
    ) -> Result<(), RegistryError> {
        Ok(self.writer().record_run_versions(run_id, versions)?)
    }

    /// The pending versions a run of `source` resolved.
    pub fn pending_of_run(
        &self,
        source: &str,
        run_id: i64,
    ) -> Result<Vec<(String, String)>, RegistryError> {
        Ok(self.reader().pending_of_run(source, run_id)?)
    }

    /// Marks runs a crash left running as failed; returns their sources.
    pub fn fail_interrupted_runs(&self) -> Result<Vec<String>, RegistryError> {
        Ok(self.writer().fail_interrupted_runs()?)
    }

    /// Sync runs, newest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<crate::store::SyncRunRow>, RegistryError> {
        Ok(self.reader().runs(limit)?)
    }

    /// A mirror-state value.
    pub fn mirror_state(&self, source: &str, key: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.reader().mirror_state(source, key)?)
    }

    /// Sets a mirror-state value, durably.
    pub fn set_mirror_state(
        &self,
        source: &str,
        key: &str,
        value: &str,
    ) -> Result<(), RegistryError> {
        Ok(self.writer().set_mirror_state(source, key, value)?)
    }

    /// The status of `name@version` if it is stored (any spelling of the name).
    pub fn version_status(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<VersionStatus>, RegistryError> {
        Ok(self.reader().review_row(name, version)?.map(|r| r.status))
    }

    /// The status of `name@version` and the source that stored it (`None`
    /// for a publish here), if it is stored.
    pub fn stored_by(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<(VersionStatus, Option<String>)>, RegistryError> {
        Ok(self
            .reader()
            .review_row(name, version)?
            .map(|r| (r.status, r.source)))
    }

    /// The stored index line of `name@version`, if stored.
    pub fn stored_line(&self, name: &str, version: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.reader().stored_line(name, version)?)
    }

    /// Yanks a version source `source` mirrored, because the upstream yanked
    /// it (re-rendering the index if it was public). Returns whether it
    /// changed: a version another source stored or a publisher published
    /// (even in a package this source owns), or one already yanked here, is
    /// left alone.
    pub fn yank_mirrored(
        &self,
        source: &str,
        name: &str,
        version: &str,
    ) -> Result<bool, RegistryError> {
        let mut store = self.writer();
        let Some(package) = store.yank_mirrored(
            source,
            &mirror_login(source),
            name,
            version,
            "yanked upstream",
        )?
        else {
            return Ok(false);
        };
        self.render_and_sign(&mut store, &package, "mirror.after_render")?;
        tracing::info!(%source, package = %package.name, %version, "yanked here because yanked upstream");
        Ok(true)
    }

    /// Offers a mirrored version. Errors are storage failures only; every
    /// problem with the offer itself is an [`Imported::Skipped`] reason.
    pub fn import_mirrored(&self, offer: &Offer<'_>) -> Result<Imported, RegistryError> {
        let checked = match check_offer(&self.config, offer) {
            Ok(c) => c,
            Err(outcome) => return Ok(outcome),
        };
        let owner = mirror_login(offer.source);
        let mirror_identity = mirror_identity(&owner);
        let upstream_json = offer.upstream.to_string();

        // As a publish does (see `Registry::publish`): the verdict first
        // without the writer lock, so the blob is written while other
        // changes go on; again under it before the insert.
        if let Some(outcome) = store_verdict(&self.reader(), offer.source, offer.kind, &checked)? {
            return Ok(outcome);
        }
        self.blobs.put(offer.bundle)?;
        crate::crash_point::crash_point("mirror.after_blob");
        let mut store = self.writer();
        if let Some(outcome) = store_verdict(&store, offer.source, offer.kind, &checked)? {
            return Ok(outcome);
        }
        let package = store.insert_version(&checked.new_version(
            offer.kind,
            &mirror_identity,
            offer.source,
            &upstream_json,
        ))?;
        crate::crash_point::crash_point("mirror.after_commit");
        if checked.status == VersionStatus::Approved {
            self.render_and_sign(&mut store, &package, "mirror.after_render")?;
        }
        Ok(Imported::Added(checked.status))
    }
}

/// An offer that passed validation and the policy, ready to be stored.
pub(super) struct Checked {
    pub(super) name: PackageName,
    pub(super) version: semver::Version,
    pub(super) status: VersionStatus,
    pub(super) entry: IndexEntry,
    pub(super) entry_json: String,
    pub(super) keywords: Vec<String>,
    pub(super) files_json: String,
    pub(super) findings_json: String,
    pub(super) size: u64,
}

impl Checked {
    /// The row to insert, published by `identity` (the source's mirror login).
    pub(super) fn new_version<'a>(
        &'a self,
        kind: Kind,
        identity: &'a Identity,
        source: &'a str,
        upstream_json: &'a str,
    ) -> NewVersion<'a> {
        NewVersion {
            name: &self.name,
            kind,
            version: &self.version,
            cksum: &self.entry.cksum,
            size: self.size,
            entry_json: &self.entry_json,
            description: self.entry.description.as_deref().unwrap_or(""),
            keywords: &self.keywords,
            publisher: identity,
            files_json: &self.files_json,
            mirror: Some(MirrorFacts {
                source,
                status: self.status,
                upstream: upstream_json,
                findings: &self.findings_json,
            }),
        }
    }
}

/// The identity mirrored versions of a source are stored under.
pub(super) fn mirror_identity(owner: &str) -> Identity {
    Identity {
        token_id: 0,
        login: owner.to_string(),
        role: Role::Publisher,
    }
}

/// Validates an offer like a publish and runs the policy on it, without
/// touching the store. `Err` is the outcome of an offer that cannot be stored.
pub(super) fn check_offer(config: &Config, offer: &Offer<'_>) -> Result<Checked, Imported> {
    let skipped =
        |why: String| Imported::Skipped(format!("{}@{}: {why}", offer.name, offer.version));
    let limits = config.limits.archive();
    let name = PackageName::parse(offer.kind, offer.name).map_err(|e| skipped(e.to_string()))?;
    let version = package::parse_version(offer.version).map_err(|e| skipped(e.to_string()))?;
    let validated = bundle::validate(offer.kind, &name, &version, offer.bundle, &limits)
        .map_err(|e| skipped(format!("the bundle fails validation: {e}")))?;
    let license = offer
        .upstream_line
        .and_then(|l| l.license.clone())
        .or_else(|| validated.license.clone());
    let findings = policy::evaluate(
        &config.policy,
        offer.kind,
        offer.name,
        license.as_deref(),
        offer.bundle,
        &limits,
    )
    .map_err(|e| skipped(format!("the policy could not read the bundle: {e}")))?;
    let status = if policy::rejects(&findings) {
        VersionStatus::Rejected
    } else if offer.auto_approve {
        VersionStatus::Approved
    } else {
        VersionStatus::Pending
    };
    let cksum = Sha256Digest::of(offer.bundle);
    let entry = match offer.upstream_line {
        Some(line) => IndexEntry {
            name: name.to_string(),
            vers: version.to_string(),
            cksum: cksum.to_hex(),
            yanked: false,
            kind: offer.kind,
            size: Some(offer.bundle.len() as u64),
            ..line.clone()
        },
        None => IndexEntry {
            name: name.to_string(),
            vers: version.to_string(),
            deps: Vec::new(),
            cksum: cksum.to_hex(),
            features: Default::default(),
            features2: None,
            yanked: false,
            links: None,
            v: 1,
            rust_version: None,
            pubtime: fsutil::rfc3339(fsutil::unix_now()),
            kind: offer.kind,
            description: validated.description.clone(),
            license: license.clone(),
            size: Some(offer.bundle.len() as u64),
            provenance: None,
        },
    };
    let entry_json = match offer.verbatim_line {
        Some(raw) => verbatim_entry(raw, &entry).map_err(skipped)?,
        None => index::line(&entry),
    };
    Ok(Checked {
        entry_json,
        findings_json: serde_json::to_string(&findings).expect("findings serialize"),
        files_json: files_json(&validated.archive),
        keywords: validated.keywords,
        size: offer.bundle.len() as u64,
        name,
        version,
        status,
        entry,
    })
}

/// The stored text of an upstream crate line kept verbatim, after checking
/// that it names the offered crate, version and bundle.
fn verbatim_entry(raw: &str, entry: &IndexEntry) -> Result<String, String> {
    if entry.kind != Kind::Crate {
        return Err(format!(
            "only crate index lines are kept verbatim, not a {}'s",
            entry.kind
        ));
    }
    let line = index::verbatim::VerbatimLine::new(raw).map_err(|e| e.to_string())?;
    let served: IndexEntry = serde_json::from_str(&line.stored)
        .map_err(|e| format!("the upstream index line does not parse: {e}"))?;
    if served.name != entry.name || served.vers != entry.vers {
        return Err(format!(
            "the upstream index line is for {}@{}, not this version",
            served.name, served.vers
        ));
    }
    // cargo compares checksums as written: lowercase hex, exactly.
    if served.cksum != entry.cksum {
        return Err(format!(
            "the upstream index line's cksum {} is not the bundle's sha256 {}",
            served.cksum, entry.cksum
        ));
    }
    if served.kind != Kind::Crate {
        return Err("the upstream index line is not a crate's".into());
    }
    Ok(line.stored)
}

/// The checks against what is stored (run under the writer lock): the
/// outcome when the version must not be inserted, `None` when it may.
pub(super) fn store_verdict(
    store: &Store,
    source: &str,
    kind: Kind,
    checked: &Checked,
) -> Result<Option<Imported>, RegistryError> {
    let skipped = |why: String| {
        Ok(Some(Imported::Skipped(format!(
            "{}@{}: {why}",
            checked.name, checked.version
        ))))
    };
    let owner = mirror_login(source);
    let Some(existing) = store.package(checked.name.as_str())? else {
        return Ok(None);
    };
    if existing.name != checked.name.as_str() || existing.kind != kind {
        return skipped(format!(
            "the name is taken here by the {} `{}`",
            existing.kind, existing.name
        ));
    }
    if !store.owners(existing.id)?.contains(&owner) {
        return skipped(format!(
            "a package published here (not by source `{source}`) already uses this name"
        ));
    }
    if let Some(row) = store.review_row(checked.name.as_str(), &checked.version.to_string())? {
        return Ok(Some(if row.status == VersionStatus::Rejected {
            Imported::AlreadyRejected
        } else {
            Imported::Unchanged
        }));
    }
    if let Some(clash) = store.clashing_version(existing.id, &checked.version)? {
        return skipped(format!(
            "{clash} is already here (versions differing in build metadata clash)"
        ));
    }
    Ok(None)
}
