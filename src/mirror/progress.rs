//! A run's counts: what became of each offered version, and writing them
//! while the run goes, so a run a crash interrupts still shows what it did;
//! and following an upstream's yank, which every kind that sees yanks does.

use std::time::Duration;

use crate::registry::{Imported, Registry};
use crate::store::{SyncRun, VersionStatus};

/// Writes a run's counts while it goes, at most once per [`Progress::EVERY`],
/// so a run a crash interrupts still shows what it did.
pub(super) struct Progress<'a> {
    registry: &'a Registry,
    id: i64,
    last: std::time::Instant,
}

impl<'a> Progress<'a> {
    const EVERY: Duration = Duration::from_secs(1);

    /// Progress of run `id`.
    pub(super) fn new(registry: &'a Registry, id: i64) -> Progress<'a> {
        Progress {
            registry,
            id,
            last: std::time::Instant::now(),
        }
    }

    /// Records `run` unless it was recorded less than [`Progress::EVERY`] ago.
    pub(super) fn tick(&mut self, run: &SyncRun) {
        if self.last.elapsed() < Self::EVERY {
            return;
        }
        self.last = std::time::Instant::now();
        if let Err(e) = self.registry.record_progress(self.id, run) {
            tracing::warn!(run = self.id, error = %e, "cannot record a sync run's progress");
        }
    }
}

/// Adds what became of one offered version to a run's counts.
pub(crate) fn count(run: &mut SyncRun, label: &str, outcome: Imported) {
    match outcome {
        Imported::Added(status) => {
            run.added += 1;
            match status {
                VersionStatus::Pending => run.pending += 1,
                VersionStatus::Rejected => {
                    run.rejected += 1;
                    run.detail.push(format!("{label}: rejected by the policy"));
                }
                VersionStatus::Approved => {}
            }
        }
        Imported::Unchanged => run.unchanged += 1,
        Imported::AlreadyRejected => run.rejected += 1,
        Imported::Skipped(why) => {
            run.skipped += 1;
            run.detail.push(why);
        }
    }
}

/// Yanks here a version `source` mirrored and its upstream yanked, once:
/// an admin's later unyank here stands (the mirror state remembers it).
pub(super) fn follow_upstream_yank(
    registry: &Registry,
    source: &str,
    name: &str,
    version: &str,
    run: &mut SyncRun,
) -> Result<(), crate::registry::RegistryError> {
    let key = format!("yanked:{}@{version}", crate::package::normalize(name));
    if registry.mirror_state(source, &key)?.is_some() {
        return Ok(());
    }
    if registry.yank_mirrored(source, name, version)? {
        run.detail.push(format!(
            "{name}@{version}: yanked upstream, so yanked here too"
        ));
    }
    registry.set_mirror_state(source, &key, "1")
}
