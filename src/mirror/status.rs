//! What the admin API shows of a source: its schedule and its current run.

use crate::config::SourceKind;

/// A source's schedule and current run, for `GET /admin/v1/sources`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SourceStatus {
    /// Source name.
    pub name: String,
    /// Source kind.
    pub kind: SourceKind,
    /// `running` or `idle`.
    pub status: String,
    /// The run in progress or the last one.
    pub last_run: Option<i64>,
    /// Unix seconds of the next scheduled run; none for manual-only.
    pub next_run: Option<i64>,
    /// Seconds between runs; none for manual-only.
    pub interval_secs: Option<u64>,
    /// Approves without review.
    pub auto_approve: bool,
}
