//! Counts an operator watches (`/metrics`): read in one transaction, so the
//! numbers of one scrape belong to one moment.

use super::*;

/// How many runs of one source ended one way, and what they found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRunTotals {
    /// Source name.
    pub source: String,
    /// `running`, `completed` or `failed`.
    pub status: String,
    /// Runs.
    pub runs: u64,
    /// Summed counts of those runs: `(count name, total)`, names as in
    /// [`SyncRun`] (added, updated, unchanged, pending, rejected, skipped, failed).
    pub items: Vec<(&'static str, u64)>,
    /// Unix seconds when the last of them finished.
    pub last_finished_at: Option<i64>,
}

/// Counts from every table an operator watches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Pending versions per source (`None`: published here, never pending).
    pub pending_by_source: Vec<(String, u64)>,
    /// Runs per source and outcome.
    pub sync_runs: Vec<SyncRunTotals>,
    /// Live (not revoked) tokens per role.
    pub tokens_by_role: Vec<(Role, u64)>,
    /// Distinct blobs the database names (bundles and feed zips).
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
}

/// The per-run counts summed in [`SyncRunTotals::items`], in column order.
const RUN_COUNTS: [&str; 7] = [
    "added",
    "updated",
    "unchanged",
    "pending",
    "rejected",
    "skipped",
    "failed",
];

impl Store {
    /// Reads every count of [`StoreStats`] in one read transaction.
    pub fn stats(&mut self) -> Result<StoreStats, StoreError> {
        let tx = self.conn.transaction()?;
        let mut stats = StoreStats::default();
        {
            let mut pending = tx.prepare_cached(
                "SELECT COALESCE(source, ''), COUNT(*) FROM versions
                 WHERE status = 'pending' GROUP BY source ORDER BY 1",
            )?;
            for row in pending.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))? {
                stats.pending_by_source.push(row?);
            }
            let mut runs = tx.prepare_cached(
                "SELECT source, status, COUNT(*), SUM(added), SUM(updated), SUM(unchanged),
                        SUM(pending), SUM(rejected), SUM(skipped), SUM(failed), MAX(finished_at)
                 FROM sync_runs GROUP BY source, status ORDER BY source, status",
            )?;
            for row in runs.query_map([], |r| {
                let mut items = Vec::with_capacity(RUN_COUNTS.len());
                for (i, name) in RUN_COUNTS.iter().enumerate() {
                    items.push((*name, r.get::<_, i64>(3 + i)?.max(0) as u64));
                }
                Ok(SyncRunTotals {
                    source: r.get(0)?,
                    status: r.get(1)?,
                    runs: r.get::<_, i64>(2)? as u64,
                    items,
                    last_finished_at: r.get(10)?,
                })
            })? {
                stats.sync_runs.push(row?);
            }
            let mut tokens = tx.prepare_cached(
                "SELECT role, COUNT(*) FROM tokens WHERE revoked_at IS NULL
                 GROUP BY role ORDER BY role",
            )?;
            for row in tokens.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })? {
                let (role, count) = row?;
                if let Ok(role) = Role::parse(&role) {
                    stats.tokens_by_role.push((role, count));
                }
            }
            // A blob is named by its sha256: UNION keeps one row per
            // (cksum, size), and a cksum has one size.
            let (blobs, bytes): (i64, i64) = tx.query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (
                     SELECT cksum, size FROM versions
                     UNION SELECT cksum, size FROM feed_archives WHERE cksum IS NOT NULL)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            stats.blobs = blobs as u64;
            stats.blob_bytes = bytes as u64;
        }
        tx.commit()?;
        Ok(stats)
    }
}
