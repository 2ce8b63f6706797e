//! Review: versions by status, decisions and their signed statements.

use super::*;

/// A version waiting for (or past) an admin's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRow {
    /// Version row id.
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// Mirror source, if mirrored.
    pub source: Option<String>,
    /// Upstream facts (JSON).
    pub upstream: String,
    /// Findings (JSON).
    pub findings: String,
    /// Files (JSON).
    pub files: String,
    /// Bundle checksum.
    pub cksum: String,
    /// Current status.
    pub status: VersionStatus,
    /// The one-line description it was stored with.
    pub description: String,
}

impl Store {
    /// Versions with `status`, oldest first.
    pub fn versions_with_status(
        &self,
        status: VersionStatus,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        self.all(
            "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status, v.description
             FROM versions v JOIN packages p ON p.id = v.package_id
             WHERE v.status = ?1 ORDER BY v.id",
            [status.as_str()],
            review_row,
        )
    }

    /// One version for review. When a claim superseded an older row with
    /// the same exact version, this is the newest (live) one.
    pub fn review_row(&self, name: &str, version: &str) -> Result<Option<ReviewRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status, v.description
                 FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.version = ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(name), version], review_row)
            .optional()?)
    }

    /// The stored index line of `name@version` (its text with `yanked`
    /// false), if that version is stored.
    pub fn stored_line(&self, name: &str, version: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.entry_json FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.version = ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(name), version], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The newest approved version of a package other than `except`, for diffs.
    pub fn last_approved(
        &self,
        package_name: &str,
        except: i64,
    ) -> Result<Option<ReviewRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status, v.description
                 FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.status = 'approved' AND v.id != ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(package_name), except], review_row)
            .optional()?)
    }

    /// Records an admin's decision on a pending version in one transaction:
    /// the status, who, when, why, the signed statement and the audit entry.
    /// Deciding twice the same way is refused, so a stale click shows.
    pub fn decide(
        &mut self,
        version_id: i64,
        status: VersionStatus,
        actor: &str,
        note: &str,
        statement: &[u8],
    ) -> Result<PackageRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (current, name, version, package_id): (String, String, String, i64) = tx.query_row(
            "SELECT v.status, p.name, v.version, p.id FROM versions v JOIN packages p ON p.id = v.package_id
             WHERE v.id = ?1",
            [version_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        if current == status.as_str() {
            return Err(StoreError::Conflict(format!(
                "{name}@{version} is already {current}"
            )));
        }
        let now = unix_now();
        tx.execute(
            "UPDATE versions SET status = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5 WHERE id = ?1",
            params![version_id, status.as_str(), actor, now, note],
        )?;
        super::search::refresh_in(&tx, package_id)?;
        tx.execute(
            "INSERT OR REPLACE INTO approvals (version_id, statement) VALUES (?1, ?2)",
            params![version_id, statement],
        )?;
        tx.execute(
            "UPDATE packages SET updated_at = ?2 WHERE id = ?1",
            params![package_id, now],
        )?;
        let action = match status {
            VersionStatus::Approved => "approve",
            VersionStatus::Rejected => "reject",
            VersionStatus::Pending => "reopen",
        };
        audit(&tx, actor, action, &format!("{name}@{version}"), note)?;
        let row = tx.query_row(
            "SELECT id, name, kind, updated_at FROM packages WHERE id = ?1",
            [package_id],
            package_row,
        )?;
        crate::crash_point::crash_point("review.before_commit");
        tx.commit()?;
        Ok(row)
    }

    /// The signed decision statement of a version, if any.
    pub fn decision_statement(&self, version_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT statement FROM approvals WHERE version_id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

pub(super) fn review_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewRow> {
    let kind: String = r.get(3)?;
    Ok(ReviewRow {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Crate),
        source: r.get(4)?,
        upstream: r.get(5)?,
        findings: r.get(6)?,
        files: r.get(7)?,
        cksum: r.get(8)?,
        status: VersionStatus::parse(&r.get::<_, String>(9)?),
        description: r.get(10)?,
    })
}
