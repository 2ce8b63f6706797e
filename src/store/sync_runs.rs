//! Sync runs of the mirror and its per-source state.

use super::*;

/// The counts and outcome of one sync run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncRun {
    /// `running`, `completed` or `failed`.
    pub status: String,
    /// Versions seen upstream (after include/exclude).
    pub discovered: i64,
    /// New versions stored.
    pub added: i64,
    /// Index files that changed upstream and were re-read.
    pub updated: i64,
    /// Versions already here.
    pub unchanged: i64,
    /// New versions waiting for review.
    pub pending: i64,
    /// Versions rejected (before, or by the policy now).
    pub rejected: i64,
    /// Versions skipped, each with its reason in `detail`.
    pub skipped: i64,
    /// Versions that failed (download, checksum), each in `detail`.
    pub failed: i64,
    /// Why the run failed.
    pub error: Option<String>,
    /// One line per skipped or failed item.
    pub detail: Vec<String>,
}

/// A stored run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRunRow {
    /// Run id.
    pub id: i64,
    /// Source name.
    pub source: String,
    /// Counts and outcome.
    pub run: SyncRun,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, when finished.
    pub finished_at: Option<i64>,
}

impl Store {
    /// Records that run `run_id` resolved these `(name, version)` pairs
    /// (pairs not stored are ignored), in one transaction.
    pub fn record_run_versions(
        &mut self,
        run_id: i64,
        versions: &[(String, String)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO sync_run_versions (run_id, version_id)
                 SELECT ?1, v.id FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?2 AND v.version = ?3",
            )?;
            for (name, version) in versions {
                insert.execute(params![run_id, crate::package::normalize(name), version])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The pending versions run `run_id` of `source` resolved and `source`
    /// stored, as `(name, version)`; empty when the run is another
    /// source's. A version another source (or a publisher) stored under
    /// the same name is never decided through this run.
    pub fn pending_of_run(
        &self,
        source: &str,
        run_id: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.name, v.version FROM sync_run_versions r
             JOIN sync_runs s ON s.id = r.run_id
             JOIN versions v ON v.id = r.version_id
             JOIN packages p ON p.id = v.package_id
             WHERE r.run_id = ?1 AND s.source = ?2 AND v.source = s.source AND v.status = 'pending'
             ORDER BY p.normalized, v.id",
        )?;
        let rows = stmt
            .query_map(params![run_id, source], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Starts a sync run for `source` and returns its id.
    pub fn start_run(&mut self, source: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO sync_runs (source, status, started_at) VALUES (?1, 'running', ?2)",
            params![source, unix_now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run.
    pub fn finish_run(&mut self, id: i64, run: &SyncRun) -> Result<(), StoreError> {
        self.update_run(id, run, true)
    }

    /// Records the counts and detail of a run still going (its status stays
    /// `running`), so a run a crash interrupts shows what it had done.
    pub fn record_progress(&mut self, id: i64, run: &SyncRun) -> Result<(), StoreError> {
        self.update_run(id, run, false)
    }

    fn update_run(&mut self, id: i64, run: &SyncRun, finished: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE sync_runs SET status = CASE WHEN ?14 THEN ?2 ELSE status END,
                 finished_at = CASE WHEN ?14 THEN ?3 ELSE finished_at END,
                 discovered = ?4, added = ?5, updated = ?6,
                 unchanged = ?7, pending = ?8, rejected = ?9, skipped = ?10, failed = ?11, error = ?12, detail = ?13
             WHERE id = ?1 AND (?14 OR status = 'running')",
            params![
                id,
                run.status,
                unix_now(),
                run.discovered,
                run.added,
                run.updated,
                run.unchanged,
                run.pending,
                run.rejected,
                run.skipped,
                run.failed,
                run.error,
                stored_detail(&run.detail),
                finished,
            ],
        )?;
        Ok(())
    }

    /// Marks runs left `running` by a crash as failed; returns their sources.
    pub fn fail_interrupted_runs(&mut self) -> Result<Vec<String>, StoreError> {
        let sources = self.all(
            "SELECT DISTINCT source FROM sync_runs WHERE status = 'running'",
            [],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "UPDATE sync_runs SET status = 'failed', finished_at = ?1,
                 error = 'interrupted: the daemon stopped during this run; the next run resumes it'
             WHERE status = 'running'",
            [unix_now()],
        )?;
        Ok(sources)
    }

    /// Sync runs, newest first (at most `limit`).
    pub fn runs(&self, limit: usize) -> Result<Vec<SyncRunRow>, StoreError> {
        self.all(
            "SELECT id, source, status, started_at, finished_at, discovered, added, updated, unchanged,
                    pending, rejected, skipped, failed, error, detail
             FROM sync_runs ORDER BY id DESC LIMIT ?1",
            [limit as i64],
            |r| {
                Ok(SyncRunRow {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    run: SyncRun {
                        status: r.get(2)?,
                        discovered: r.get(5)?,
                        added: r.get(6)?,
                        updated: r.get(7)?,
                        unchanged: r.get(8)?,
                        pending: r.get(9)?,
                        rejected: r.get(10)?,
                        skipped: r.get(11)?,
                        failed: r.get(12)?,
                        error: r.get(13)?,
                        detail: serde_json::from_str(&r.get::<_, String>(14)?).unwrap_or_default(),
                    },
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                })
            },
        )
    }

    /// A mirror-state value of `source`.
    pub fn mirror_state(&self, source: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM mirror_state WHERE source = ?1 AND key = ?2")?
            .query_row(params![source, key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a mirror-state value (committed at once, so a crash keeps it).
    pub fn set_mirror_state(
        &mut self,
        source: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO mirror_state (source, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(source, key) DO UPDATE SET value = excluded.value",
            params![source, key, value],
        )?;
        Ok(())
    }
}

/// Most detail lines a run keeps: a catalog with a reason for each of
/// thousands of entries must not fill the database or the admin API.
pub const MAX_DETAIL_LINES: usize = 1000;

/// A run's detail as stored: the first [`MAX_DETAIL_LINES`] lines, then one
/// saying how many more there were (the counts stay exact).
fn stored_detail(detail: &[String]) -> String {
    if detail.len() <= MAX_DETAIL_LINES {
        return serde_json::to_string(detail).expect("strings serialize");
    }
    let mut kept: Vec<&str> = detail[..MAX_DETAIL_LINES]
        .iter()
        .map(String::as_str)
        .collect();
    let more = format!(
        "… and {} more lines; the counts above include them",
        detail.len() - MAX_DETAIL_LINES
    );
    kept.push(&more);
    serde_json::to_string(&kept).expect("strings serialize")
}
