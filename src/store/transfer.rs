//! What a transfer archive exports: versions with their lines and provenance.

use super::*;

/// One version as an air-gap transfer exports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRow {
    /// Package name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Exact version.
    pub version: String,
    /// Hex sha256 of the blob.
    pub cksum: String,
    /// Blob size.
    pub size: u64,
    /// The stored index line.
    pub entry_json: String,
    /// Approved or pending.
    pub status: VersionStatus,
    /// Unix seconds.
    pub published_at: i64,
    /// The mirror source it came from here, if mirrored.
    pub source: Option<String>,
    /// Upstream facts (JSON), for mirrored versions.
    pub upstream: String,
    /// The signed decision statement, if an admin decided.
    pub decision: Option<Vec<u8>>,
}

impl Store {
    /// The versions an air-gap transfer carries: approved (and, with
    /// `include_pending`, pending) versions that are not yanked, published
    /// or decided at or after `since` (unix seconds), by package then age.
    pub fn transfer_rows(
        &self,
        include_pending: bool,
        since: i64,
    ) -> Result<Vec<TransferRow>, StoreError> {
        self.all(
            "SELECT p.name, p.kind, v.version, v.cksum, v.size, v.entry_json, v.status,
                    v.published_at, v.source, v.upstream, a.statement
             FROM versions v JOIN packages p ON p.id = v.package_id
             LEFT JOIN approvals a ON a.version_id = v.id
             WHERE v.yanked = 0 AND v.quarantined_at IS NULL
               AND (v.status = 'approved' OR (?1 AND v.status = 'pending'))
               AND MAX(v.published_at, COALESCE(v.decided_at, 0)) >= ?2
             ORDER BY p.normalized, v.id",
            params![include_pending, since],
            |r| {
                let kind: String = r.get(1)?;
                Ok(TransferRow {
                    name: r.get(0)?,
                    kind: Kind::parse(&kind).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    version: r.get(2)?,
                    cksum: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    entry_json: r.get(5)?,
                    status: VersionStatus::parse(&r.get::<_, String>(6)?),
                    published_at: r.get(7)?,
                    source: r.get(8)?,
                    upstream: r.get(9)?,
                    decision: r.get(10)?,
                })
            },
        )
    }
}
