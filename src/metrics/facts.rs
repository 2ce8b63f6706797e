//! What a scrape reads besides the live counters: the database's counts,
//! the signed documents' expiries, the rate limiters' rejections and the
//! last background fsck. Each scrape builds these families afresh, so a
//! source or role that is gone leaves no stale series behind.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fsck_status::FsckOutcome;
use super::PREFIX;
use crate::registry::Expiries;
use crate::store::{Store, StoreError, StoreStats};

/// How long the database's counts are reused between scrapes.
pub const FACTS_TTL: Duration = Duration::from_secs(1);

/// The database's counts, read through a connection of their own and
/// cached for [`FACTS_TTL`].
pub struct StoreFacts {
    store: Mutex<Store>,
    cached: Mutex<Option<(Instant, StoreStats)>>,
}

impl StoreFacts {
    /// Reads through `store` (a connection no request path uses).
    pub fn new(store: Store) -> StoreFacts {
        StoreFacts {
            store: Mutex::new(store),
            cached: Mutex::new(None),
        }
    }

    /// The counts, read now unless a read younger than [`FACTS_TTL`] exists.
    pub fn read(&self) -> Result<StoreStats, StoreError> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, stats)) = cached.as_ref() {
            if at.elapsed() < FACTS_TTL {
                return Ok(stats.clone());
            }
        }
        let stats = self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats()?;
        *cached = Some((Instant::now(), stats.clone()));
        Ok(stats)
    }
}

/// Everything a scrape reports beyond the live counters.
#[derive(Clone, Debug)]
pub struct Facts {
    /// The database's counts.
    pub store: StoreStats,
    /// The configured source names (each reports its pending count, 0 too).
    pub sources: Vec<String>,
    /// When the served signed documents expire.
    pub expiries: Expiries,
    /// Unix seconds now.
    pub now: i64,
    /// Requests refused by a rate limit or upload cap, by scope.
    pub rate_limited: Vec<(&'static str, u64)>,
    /// The background fsck so far.
    pub fsck: FsckOutcome,
    /// Changes not yet written to the static tree; `None` without `[export]`.
    pub export_behind: Option<u64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    source: String,
    count: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Scope {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabel {
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DocumentLabel {
    document: &'static str,
}

fn gauge(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

impl Facts {
    /// The families of one scrape.
    pub(super) fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix(PREFIX);
        self.register_mirror(&mut r);
        let rate_limited = Family::<Scope, Counter>::default();
        for (scope, n) in &self.rate_limited {
            rate_limited.get_or_create(&Scope { scope }).inc_by(*n);
        }
        r.register(
            "rate_limited",
            "Requests refused by a rate limit (address, token) or an upload cap (uploads)",
            rate_limited,
        );
        let tokens = Family::<RoleLabel, Gauge>::default();
        for role in [
            crate::token::Role::Reader,
            crate::token::Role::Publisher,
            crate::token::Role::Admin,
        ] {
            let n = self
                .store
                .tokens_by_role
                .iter()
                .find(|(r, _)| *r == role)
                .map_or(0, |(_, n)| *n);
            tokens
                .get_or_create(&RoleLabel {
                    role: role.as_str(),
                })
                .set(n as i64);
        }
        r.register("tokens", "Live (unrevoked) tokens, by role", tokens);
        r.register(
            "blobs",
            "Blobs the database names (bundles and feed zips)",
            gauge(self.store.blobs as i64),
        );
        r.register(
            "blob_bytes",
            "Bytes of the blobs the database names",
            gauge(self.store.blob_bytes as i64),
        );
        let expiry = Family::<DocumentLabel, Gauge>::default();
        let mut docs = vec![
            ("timestamp", self.expiries.timestamp),
            ("root", self.expiries.root),
        ];
        if let Some(snapshot) = self.expiries.snapshot {
            docs.push(("snapshot", snapshot));
        }
        for (document, at) in docs {
            expiry
                .get_or_create(&DocumentLabel { document })
                .set(at - self.now);
        }
        r.register(
            "signed_document_expiry_seconds",
            "Seconds until a served signed document expires (the daemon re-signs the timestamp at half its life; alert well before 0)",
            expiry,
        );
        if let Some(behind) = self.export_behind {
            r.register(
                "export_pending_changes",
                "Changes acknowledged but not yet written to the static tree ([export]); above 0 for more than a few seconds, the target cannot be written (see the log)",
                gauge(behind as i64),
            );
        }
        self.fsck.register(&mut r);
        r
    }

    fn register_mirror(&self, r: &mut Registry) {
        let pending = Family::<SourceLabel, Gauge>::default();
        for source in &self.sources {
            pending
                .get_or_create(&SourceLabel {
                    source: source.clone(),
                })
                .set(0);
        }
        for (source, n) in &self.store.pending_by_source {
            pending
                .get_or_create(&SourceLabel {
                    source: source.clone(),
                })
                .set(*n as i64);
        }
        r.register(
            "pending_versions",
            "Mirrored versions waiting for an admin's decision, by source",
            pending,
        );
        let runs = Family::<RunLabels, Counter>::default();
        let items = Family::<ItemLabels, Counter>::default();
        let last = Family::<SourceLabel, Gauge>::default();
        for t in &self.store.sync_runs {
            runs.get_or_create(&RunLabels {
                source: t.source.clone(),
                outcome: t.status.clone(),
            })
            .inc_by(t.runs);
            for (count, n) in &t.items {
                items
                    .get_or_create(&ItemLabels {
                        source: t.source.clone(),
                        count,
                    })
                    .inc_by(*n);
            }
            if let Some(at) = t.last_finished_at {
                let g = last.get_or_create(&SourceLabel {
                    source: t.source.clone(),
                });
                g.set(g.get().max(at));
            }
        }
        r.register(
            "sync_runs",
            "Mirror sync runs, by source and outcome (running, completed, failed)",
            runs,
        );
        r.register(
            "sync_run_items",
            "Versions the sync runs counted, summed over runs, by source and count (added, updated, unchanged, pending, rejected, skipped, failed)",
            items,
        );
        r.register(
            "sync_last_finished_timestamp_seconds",
            "Unix time the last sync run of a source finished",
            last,
        );
    }
}
