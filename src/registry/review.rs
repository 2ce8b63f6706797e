//! Admin review of mirrored versions: the pending list (with files, findings
//! and a diff against the last approved version) and decisions, each signed
//! by the registry and audited.

use std::collections::BTreeMap;

use super::{CatalogError, Registry, RegistryError};
use crate::fsutil::{rfc3339, unix_now};
use crate::index::sign::DecisionStatement;
use crate::package::Kind;
use crate::store::{AuditRecord, ReviewRow, StoreError, VersionStatus};
use crate::token::{Identity, Role};

/// One version awaiting review (`GET /admin/v1/pending`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PendingVersion {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// The `[[sources]]` name it came from.
    pub source: Option<String>,
    /// Its one-line description.
    #[serde(default)]
    pub description: String,
    /// Bundle sha256.
    pub cksum: String,
    /// Upstream facts: URL, commit or index hash, signature status.
    pub upstream: serde_json::Value,
    /// Policy findings.
    pub findings: serde_json::Value,
    /// Files: path, kind, size, sha256.
    pub files: serde_json::Value,
    /// Changes against the last approved version.
    pub diff: FileDiff,
}

/// A file of a version under review ([`Registry::review_file`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewFile {
    /// Its text.
    pub text: String,
    /// The last approved version, and the same path's text there (none
    /// when it has no such file); none for a first version.
    pub previous: Option<(String, Option<String>)>,
}

/// Paths that differ from the last approved version of the same package.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileDiff {
    /// The version compared against; none for a first version.
    pub against: Option<String>,
    /// New paths.
    pub added: Vec<String>,
    /// Paths no longer present.
    pub removed: Vec<String>,
    /// Paths whose content (or link target, or kind) changed.
    pub changed: Vec<String>,
}

fn require_admin(who: &Identity) -> Result<(), RegistryError> {
    if who.has(Role::Admin) {
        Ok(())
    } else {
        Err(RegistryError::Forbidden(format!(
            "the token for `{}` has the role {}; reviewing mirrored packages needs an admin token",
            who.login, who.role
        )))
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// path → sha256 (or link target) of a stored file list.
fn file_map(files: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let serde_json::Value::Array(items) = json(files) {
        for item in items {
            let Some(path) = item["path"].as_str() else {
                continue;
            };
            let identity = match &item["kind"] {
                serde_json::Value::String(kind) if kind == "file" => {
                    item["sha256"].as_str().unwrap_or_default().to_string()
                }
                other => other.to_string(),
            };
            out.insert(path.to_string(), identity);
        }
    }
    out
}

/// What changed between the last approved version and this one.
fn diff(previous: Option<&ReviewRow>, current: &ReviewRow) -> FileDiff {
    let Some(previous) = previous else {
        return FileDiff::default();
    };
    let (old, new) = (file_map(&previous.files), file_map(&current.files));
    FileDiff {
        against: Some(previous.version.clone()),
        added: new
            .keys()
            .filter(|p| !old.contains_key(*p))
            .cloned()
            .collect(),
        removed: old
            .keys()
            .filter(|p| !new.contains_key(*p))
            .cloned()
            .collect(),
        changed: new
            .iter()
            .filter(|(p, id)| old.get(*p).is_some_and(|o| o != *id))
            .map(|(p, _)| p.clone())
            .collect(),
    }
}

impl Registry {
    /// Every version waiting for a decision, oldest first.
    pub fn pending(&self, who: &Identity) -> Result<Vec<PendingVersion>, RegistryError> {
        require_admin(who)?;
        let store = self.reader();
        let rows = store.versions_with_status(VersionStatus::Pending)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let previous = store.last_approved(&row.name, row.id)?;
            out.push(PendingVersion {
                diff: diff(previous.as_ref(), &row),
                name: row.name,
                version: row.version,
                kind: row.kind,
                source: row.source,
                description: row.description,
                cksum: row.cksum,
                upstream: json(&row.upstream),
                findings: json(&row.findings),
                files: json(&row.files),
            });
        }
        Ok(out)
    }

    /// Approves (`approve`) or rejects a version. A rejection needs a reason;
    /// an approved version cannot be rejected (yank it instead). The decision
    /// is signed, stored, audited, and the index changes before this returns.
    pub fn decide(
        &self,
        who: &Identity,
        name: &str,
        version: &str,
        approve: bool,
        note: &str,
    ) -> Result<(), RegistryError> {
        require_admin(who)?;
        if !approve && note.trim().is_empty() {
            return Err(RegistryError::BadRequest(
                "a rejection needs a reason: send {\"reason\": \"…\"}".into(),
            ));
        }
        let mut store = self.writer();
        let row = store
            .review_row(name, version)?
            .ok_or_else(|| StoreError::NotFound(format!("{name}@{version}")))?;
        let target = if approve {
            VersionStatus::Approved
        } else {
            VersionStatus::Rejected
        };
        if row.status == VersionStatus::Approved && !approve {
            return Err(RegistryError::BadRequest(format!(
                "{name}@{version} is already public; yank it instead of rejecting it"
            )));
        }
        let statement = DecisionStatement {
            _type: "decision".into(),
            name: row.name.clone(),
            vers: row.version.clone(),
            cksum: row.cksum.clone(),
            decision: target.as_str().into(),
            by: who.login.clone(),
            at: rfc3339(unix_now()),
            note: note.to_string(),
        };
        let signed = self.signing().sign_decision(&statement);
        let package = store.decide(row.id, target, &who.login, note, &signed)?;
        crate::crash_point::crash_point("review.after_commit");
        self.render_and_sign(&mut store, &package, "review.after_render")?;
        tracing::info!(package = %row.name, version = %row.version, decision = target.as_str(), by = %who.login, "review decision");
        Ok(())
    }

    /// The signed decision on `name@version`, if one was made.
    pub fn decision_statement(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let store = self.reader();
        let Some(row) = store.review_row(name, version)? else {
            return Ok(None);
        };
        Ok(store.decision_statement(row.id)?)
    }

    /// One text file of a stored version (any status), with the same path
    /// in the last approved version of its package, for reviewing the
    /// change: admins only.
    pub fn review_file(
        &self,
        who: &Identity,
        name: &str,
        version: &str,
        path: &str,
    ) -> Result<ReviewFile, CatalogError> {
        require_admin(who)?;
        let (row, previous) = {
            let store = self.reader();
            let row = store
                .review_row(name, version)
                .map_err(RegistryError::from)?
                .ok_or_else(|| CatalogError::NoVersion {
                    name: name.to_string(),
                    version: version.to_string(),
                })?;
            let previous = store
                .last_approved(&row.name, row.id)
                .map_err(RegistryError::from)?;
            (row, previous)
        };
        let text = self.bundle_file(&row.name, &row.version, &row.cksum, path)?;
        let previous = match previous {
            None => None,
            Some(p) => {
                let listed = file_map(&p.files).contains_key(path);
                let old = if listed {
                    Some(self.bundle_file(&p.name, &p.version, &p.cksum, path)?)
                } else {
                    None
                };
                Some((p.version, old))
            }
        };
        Ok(ReviewFile { text, previous })
    }

    /// The checksum of a stored version (any status).
    pub fn stored_cksum(&self, name: &str, version: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.reader().review_row(name, version)?.map(|r| r.cksum))
    }

    /// The audit log, newest first.
    pub fn audit(&self, who: &Identity) -> Result<Vec<AuditRecord>, RegistryError> {
        require_admin(who)?;
        let mut log = self.reader().audit_log()?;
        log.reverse();
        Ok(log)
    }
}
