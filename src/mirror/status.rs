//! What the mirror knows of a source: its schedule and its current run.

use std::time::Duration;

use crate::config::SourceKind;

/// A source's schedule and current run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceStatus {
    /// Source name.
    pub name: String,
    /// Source kind.
    pub kind: SourceKind,
    /// A run is in progress.
    pub running: bool,
    /// The id of the run in progress or the last one.
    pub last_run: Option<i64>,
    /// Unix seconds of the next scheduled run; none for manual-only.
    pub next_run: Option<i64>,
    /// Time between runs; none for manual-only.
    pub interval: Option<Duration>,
    /// Approves without review.
    pub auto_approve: bool,
}
