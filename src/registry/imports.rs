//! Storing what a mirror brings in: validated like a publish, checked by the
//! policy, and kept out of the index (pending) until an admin approves it,
//! unless the source auto-approves. A version rejected once stays rejected.

use super::{files_json, Registry, RegistryError};
use crate::blobs::Sha256Digest;
use crate::bundle;
use crate::fsutil;
use crate::index::{self, IndexEntry};
use crate::mirror::policy;
use crate::package::{self, Kind, PackageName};
use crate::store::{MirrorFacts, NewVersion, VersionStatus};
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

    /// Offers a mirrored version. Errors are storage failures only; every
    /// problem with the offer itself is an [`Imported::Skipped`] reason.
    pub fn import_mirrored(&self, offer: &Offer<'_>) -> Result<Imported, RegistryError> {
        let skipped = |why: String| {
            Ok(Imported::Skipped(format!(
                "{}@{}: {why}",
                offer.name, offer.version
            )))
        };
        let name = match PackageName::parse(offer.kind, offer.name) {
            Ok(n) => n,
            Err(e) => return skipped(e.to_string()),
        };
        let version = match package::parse_version(offer.version) {
            Ok(v) => v,
            Err(e) => return skipped(e.to_string()),
        };
        let validated = match bundle::validate(
            offer.kind,
            &name,
            &version,
            offer.bundle,
            &self.archive_limits(),
        ) {
            Ok(v) => v,
            Err(e) => return skipped(format!("the bundle fails validation: {e}")),
        };
        let license = offer
            .upstream_line
            .and_then(|l| l.license.clone())
            .or_else(|| validated.license.clone());
        let findings = match policy::evaluate(
            &self.config.policy,
            offer.kind,
            offer.name,
            license.as_deref(),
            offer.bundle,
            &self.archive_limits(),
        ) {
            Ok(f) => f,
            Err(e) => return skipped(format!("the policy could not read the bundle: {e}")),
        };
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
        let entry_json = index::line(&entry);
        let owner = mirror_login(offer.source);
        let mirror_identity = Identity {
            token_id: 0,
            login: owner.clone(),
            role: Role::Publisher,
        };

        let mut store = self.writer();
        if let Some(existing) = store.package(name.as_str())? {
            if existing.name != name.as_str() || existing.kind != offer.kind {
                return skipped(format!(
                    "the name is taken here by the {} `{}`",
                    existing.kind, existing.name
                ));
            }
            if !store.owners(existing.id)?.contains(&owner) {
                return skipped(format!(
                    "a package published here (not by source `{}`) already uses this name",
                    offer.source
                ));
            }
            if let Some(row) = store.review_row(name.as_str(), &version.to_string())? {
                return Ok(if row.status == VersionStatus::Rejected {
                    Imported::AlreadyRejected
                } else {
                    Imported::Unchanged
                });
            }
            if let Some(clash) = store.clashing_version(existing.id, &version)? {
                return skipped(format!(
                    "{clash} is already here (versions differing in build metadata clash)"
                ));
            }
        }
        self.blobs.put(offer.bundle)?;
        let findings_json = serde_json::to_string(&findings).expect("findings serialize");
        let upstream_json = offer.upstream.to_string();
        let files = files_json(&validated.archive);
        let package = store.insert_version(&NewVersion {
            name: &name,
            kind: offer.kind,
            version: &version,
            cksum: &entry.cksum,
            size: offer.bundle.len() as u64,
            entry_json: &entry_json,
            description: entry.description.as_deref().unwrap_or(""),
            keywords: &validated.keywords,
            publisher: &mirror_identity,
            files_json: &files,
            mirror: Some(MirrorFacts {
                source: offer.source,
                status,
                upstream: &upstream_json,
                findings: &findings_json,
            }),
        })?;
        if status == VersionStatus::Approved {
            self.render_and_sign(&mut store, &package)?;
        }
        Ok(Imported::Added(status))
    }
}
