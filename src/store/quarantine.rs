//! Versions `skillreg fsck --repair` took out of service, and what fsck
//! reads to check the store's own claims (every version's index line).

use super::*;

/// A version as fsck checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCheck {
    /// Row id.
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Version string.
    pub version: String,
    /// `approved`, `pending` or `rejected`.
    pub status: String,
    /// The version's blob: sha256 hex.
    pub cksum: String,
    /// Its stored index line.
    pub entry_json: String,
    /// When and why it was quarantined, if it is.
    pub quarantined: Option<(i64, String)>,
}

impl VersionCheck {
    /// `name@version (status)`, as fsck names a version.
    pub fn label(&self) -> String {
        format!("{}@{} ({})", self.name, self.version, self.status)
    }
}

impl Store {
    /// The schema version of the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Every version, by package then age.
    pub fn version_checks(&self) -> Result<Vec<VersionCheck>, StoreError> {
        self.all(
            "SELECT v.id, p.name, v.version, v.status, v.cksum, v.entry_json,
                    v.quarantined_at, v.quarantine_reason
             FROM versions v JOIN packages p ON p.id = v.package_id
             ORDER BY p.normalized, v.id",
            [],
            |r| {
                let at: Option<i64> = r.get(6)?;
                let reason: Option<String> = r.get(7)?;
                Ok(VersionCheck {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    version: r.get(2)?,
                    status: r.get(3)?,
                    cksum: r.get(4)?,
                    entry_json: r.get(5)?,
                    quarantined: at.map(|at| (at, reason.unwrap_or_default())),
                })
            },
        )
    }

    /// Quarantines the versions `ids` (not served until cleared), with
    /// `reason`, in one transaction with an audit record each by `actor`.
    /// Returns `name@version` of each.
    pub fn quarantine_versions(
        &mut self,
        ids: &[i64],
        reason: &str,
        actor: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.mark_versions(ids, Some(reason), actor)
    }

    /// Clears the quarantine of the versions `ids` (their blob is whole
    /// again), audited by `actor`. Returns `name@version` of each.
    pub fn clear_quarantine(
        &mut self,
        ids: &[i64],
        actor: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.mark_versions(ids, None, actor)
    }

    fn mark_versions(
        &mut self,
        ids: &[i64],
        reason: Option<&str>,
        actor: &str,
    ) -> Result<Vec<String>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = unix_now();
        let mut labels = Vec::new();
        for id in ids {
            let (label, package_id): (String, i64) = tx.query_row(
                "SELECT p.name || '@' || v.version, p.id
                 FROM versions v JOIN packages p ON p.id = v.package_id WHERE v.id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            match reason {
                Some(reason) => {
                    tx.execute(
                        "UPDATE versions SET quarantined_at = ?2, quarantine_reason = ?3 WHERE id = ?1",
                        params![id, now, reason],
                    )?;
                    audit(&tx, actor, "quarantine", &label, reason)?;
                }
                None => {
                    tx.execute(
                        "UPDATE versions SET quarantined_at = NULL, quarantine_reason = NULL WHERE id = ?1",
                        [id],
                    )?;
                    audit(
                        &tx,
                        actor,
                        "unquarantine",
                        &label,
                        "its blob is whole again",
                    )?;
                }
            }
            // Search follows what is served.
            super::search::refresh_in(&tx, package_id)?;
            // The package's index file changes: its Last-Modified follows.
            tx.execute(
                "UPDATE packages SET updated_at = MAX(updated_at, ?2) WHERE id = ?1",
                params![package_id, now],
            )?;
            labels.push(label);
        }
        tx.commit()?;
        Ok(labels)
    }

    /// Forgets the rendered feed zips stored as blob `cksum` (a derived
    /// render, made again from the bundle at the next start), audited.
    pub fn forget_feed_zips(
        &mut self,
        cksum: &str,
        reason: &str,
        actor: &str,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM feed_archives WHERE cksum = ?1", [cksum])?;
        if n > 0 {
            audit(&tx, actor, "feed-zip-forget", cksum, reason)?;
        }
        tx.commit()?;
        Ok(n)
    }
}
