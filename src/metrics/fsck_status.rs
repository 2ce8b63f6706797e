//! The daemon's background fsck: the same check as `skillreg fsck`, run at
//! `fsck_interval`, its result kept for `/metrics` (and logged).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use crate::fsck;

/// The last finished check.
#[derive(Clone, Debug, PartialEq)]
pub struct LastCheck {
    /// Unix seconds when it finished.
    pub finished_at: i64,
    /// How long it took.
    pub seconds: f64,
    /// True when nothing was damaged, missing or failed to verify.
    pub clean: bool,
    /// Blob files re-hashed.
    pub blobs: u64,
    /// Signed documents and index files verified.
    pub signed_checked: u64,
    /// Findings by kind (see [`fsck::Counts`]).
    pub findings: Vec<(&'static str, u64)>,
}

/// Every background check since the daemon started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FsckOutcome {
    /// Checks that found the store clean.
    pub clean_runs: u64,
    /// Checks that found damage.
    pub damaged_runs: u64,
    /// Checks that could not run (the message is logged).
    pub failed_runs: u64,
    /// The last check that ran to the end.
    pub last: Option<LastCheck>,
}

/// The background check's state, shared with the scrape.
#[derive(Default)]
pub struct FsckStatus {
    outcome: Mutex<FsckOutcome>,
}

impl FsckStatus {
    /// Runs one check of `data` and of the static tree in `options`
    /// (blocking: call it off the async threads), records and logs its
    /// result.
    pub fn run(&self, data: &Path, options: &fsck::Options) {
        let started = Instant::now();
        let result = fsck::check_with(data, options);
        let seconds = started.elapsed().as_secs_f64();
        let mut outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(report) => {
                let clean = report.is_clean();
                let counts = report.counts();
                if clean {
                    outcome.clean_runs += 1;
                    tracing::info!(blobs = report.blobs, seconds, "background fsck: clean");
                } else {
                    outcome.damaged_runs += 1;
                    tracing::error!(report = %report, "background fsck found damage; run `skillreg fsck --data DIR` for the report");
                }
                outcome.last = Some(LastCheck {
                    finished_at: crate::fsutil::unix_now(),
                    seconds,
                    clean,
                    blobs: counts.blobs_checked as u64,
                    signed_checked: counts.signed_checked as u64,
                    findings: vec![
                        ("damaged", counts.damaged as u64),
                        ("missing", counts.missing as u64),
                        ("signed_bad", counts.signed_bad as u64),
                        ("quarantined", counts.quarantined as u64),
                        ("orphan", counts.orphans as u64),
                        ("stray", counts.temp_files as u64),
                    ],
                });
            }
            Err(e) => {
                outcome.failed_runs += 1;
                tracing::error!(error = %e, "background fsck could not run");
            }
        }
    }

    /// What has been checked so far.
    pub fn outcome(&self) -> FsckOutcome {
        self.outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Finding {
    kind: &'static str,
}

impl FsckOutcome {
    pub(super) fn register(&self, r: &mut Registry) {
        let runs = Family::<Outcome, Counter>::default();
        for (outcome, n) in [
            ("clean", self.clean_runs),
            ("damaged", self.damaged_runs),
            ("failed", self.failed_runs),
        ] {
            runs.get_or_create(&Outcome { outcome }).inc_by(n);
        }
        r.register(
            "fsck_runs",
            "Background fsck checks since start, by outcome",
            runs,
        );
        let Some(last) = &self.last else {
            return;
        };
        let g = |v: i64| {
            let g = Gauge::<i64>::default();
            g.set(v);
            g
        };
        r.register(
            "fsck_last_clean",
            "1 when the last background fsck found nothing damaged or missing, else 0",
            g(i64::from(last.clean)),
        );
        r.register(
            "fsck_last_finished_timestamp_seconds",
            "Unix time the last background fsck finished",
            g(last.finished_at),
        );
        let seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        seconds.set(last.seconds);
        r.register(
            "fsck_last_duration_seconds",
            "How long the last background fsck took",
            seconds,
        );
        r.register(
            "fsck_last_blobs_checked",
            "Blob files the last background fsck re-hashed",
            g(last.blobs as i64),
        );
        r.register(
            "fsck_last_signed_checked",
            "Signed documents and index files the last background fsck verified",
            g(last.signed_checked as i64),
        );
        let findings = Family::<Finding, Gauge>::default();
        for (kind, n) in &last.findings {
            findings.get_or_create(&Finding { kind }).set(*n as i64);
        }
        r.register(
            "fsck_last_findings",
            "What the last background fsck found, by kind (damaged, missing and signed_bad are damage; quarantined versions are held back by an earlier repair; orphan and stray are listed only)",
            findings,
        );
    }
}
