//! What an operator watches: `GET /metrics` in the Prometheus text format
//! (version 0.0.4, what `promtool check metrics` and every Prometheus read).
//!
//! The numbers come from three places, each read where it is cheap:
//! - [`Metrics`] counts what the server does as it answers: requests by
//!   route group and status, their latency, bytes served, index lookups,
//!   publishes and refusals. Atomics in memory, since the daemon started,
//!   so the hot path takes no lock beyond the label map's read lock.
//! - [`StoreFacts`] reads the database when scraped (sync runs, pending
//!   versions, tokens, blobs), at most once per [`FACTS_TTL`], so a scraper
//!   in a loop cannot make the daemon query in a loop; these survive a
//!   restart because they are the database's own counts.
//! - [`FsckStatus`] keeps the result of the last background check.
//!
//! The server owns the rate limiters and the signed documents' clock, and
//! passes their numbers in as [`Facts`] (see `index-spec/operations.md`).

mod facts;
mod fsck_status;
mod labels;

pub use facts::{Facts, StoreFacts, FACTS_TTL};
pub use fsck_status::{FsckOutcome, FsckStatus};
pub use labels::RouteGroup;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

use labels::{KindLabel, ReasonLabel, RequestLabels, ResultLabel, RouteLabel};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every metric name starts with this.
const PREFIX: &str = "skillreg";

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The counters the server updates as it answers.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabel>,
    bytes: Family<RouteLabel, Counter>,
    index_lookups: Family<ResultLabel, Counter>,
    publishes: Family<KindLabel, Counter>,
    refusals: Family<ReasonLabel, Counter>,
}

/// Request latency buckets: 0.25 ms to about 8 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Zeroed counters, registered under their names.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RouteLabel> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        let bytes = Family::<RouteLabel, Counter>::default();
        let index_lookups = Family::<ResultLabel, Counter>::default();
        let publishes = Family::<KindLabel, Counter>::default();
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by route group and HTTP status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's head to its response's head, by route group",
            latency.clone(),
        );
        registry.register(
            "http_response_bytes",
            "Response body bytes sent, by route group",
            bytes.clone(),
        );
        registry.register(
            "index_lookups",
            "Sparse-index file lookups in the prepared cache: hit (served) or miss (404)",
            index_lookups.clone(),
        );
        registry.register(
            "publishes",
            "Publishes accepted, by kind",
            publishes.clone(),
        );
        registry.register(
            "publish_refusals",
            "Publishes refused, by reason",
            refusals.clone(),
        );
        for hit in [true, false] {
            index_lookups.get_or_create(&ResultLabel::of(hit)).inc_by(0);
        }
        Metrics {
            registry,
            requests,
            latency,
            bytes,
            index_lookups,
            publishes,
            refusals,
        }
    }

    /// One answered request: its group, status, time to its response head,
    /// and body length when known up front.
    pub fn observe_request(
        &self,
        route: RouteGroup,
        status: u16,
        elapsed: Duration,
        body_bytes: Option<u64>,
    ) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        let label = RouteLabel { route };
        self.latency
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
        if let Some(n) = body_bytes.filter(|n| *n > 0) {
            self.bytes.get_or_create(&label).inc_by(n);
        }
    }

    /// One index lookup: found in the prepared cache or not.
    pub fn index_lookup(&self, hit: bool) {
        self.index_lookups
            .get_or_create(&ResultLabel::of(hit))
            .inc();
    }

    /// One publish stored.
    pub fn publish_accepted(&self, kind: crate::package::Kind) {
        self.publishes.get_or_create(&KindLabel::of(kind)).inc();
    }

    /// One publish refused with this HTTP status (the reason is named from
    /// it: see [`labels::refusal_reason`]).
    pub fn publish_refused(&self, status: u16) {
        self.refusals
            .get_or_create(&ReasonLabel::of_status(status))
            .inc();
    }

    /// The whole scrape: the live counters, then what `facts` says.
    pub fn render(&self, facts: &Facts) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        let _ = prometheus_text::encode(&mut out, &facts.registry());
        out
    }
}

#[cfg(test)]
mod tests;
