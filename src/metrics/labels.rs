//! The labels of the live counters. Every value comes from a closed set
//! (no path, name or token ever becomes a label), so a client cannot grow
//! the number of series.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};

/// What a request asked for, as coarse as an operator's dashboard needs.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum RouteGroup {
    /// `/index/…` (cargo's sparse index and the signed documents in it).
    Index,
    /// Bundle downloads (`/api/v1/crates/{name}/{version}/download`).
    Download,
    /// `PUT /api/v1/crates/new`.
    Publish,
    /// `GET /api/v1/crates?q=…`.
    Search,
    /// The rest of the web API (yank, owners, keys).
    Api,
    /// `/admin/v1/…`.
    Admin,
    /// What the agent tools read: the well-known index, the marketplace, their zips.
    Feeds,
    /// ClawHub's API.
    Clawhub,
    /// The web pages.
    Pages,
    /// `/healthz`.
    Health,
    /// `/metrics`.
    Metrics,
    /// Anything else (answered 404 or 405).
    Other,
}

impl RouteGroup {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteGroup::Index => "index",
            RouteGroup::Download => "download",
            RouteGroup::Publish => "publish",
            RouteGroup::Search => "search",
            RouteGroup::Api => "api",
            RouteGroup::Admin => "admin",
            RouteGroup::Feeds => "feeds",
            RouteGroup::Clawhub => "clawhub",
            RouteGroup::Pages => "pages",
            RouteGroup::Health => "health",
            RouteGroup::Metrics => "metrics",
            RouteGroup::Other => "other",
        }
    }
}

impl EncodeLabelValue for RouteGroup {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub route: RouteGroup,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RouteLabel {
    pub route: RouteGroup,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResultLabel {
    pub result: &'static str,
}

impl ResultLabel {
    pub fn of(hit: bool) -> ResultLabel {
        ResultLabel {
            result: if hit { "hit" } else { "miss" },
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabel {
    pub kind: &'static str,
}

impl KindLabel {
    pub fn of(kind: crate::package::Kind) -> KindLabel {
        KindLabel {
            kind: kind.as_str(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabel {
    pub reason: &'static str,
}

impl ReasonLabel {
    pub fn of_status(status: u16) -> ReasonLabel {
        ReasonLabel {
            reason: refusal_reason(status),
        }
    }
}

/// Why a publish was refused, named from the one status the server's error
/// mapping (`server/error.rs`) gives each cause.
pub(super) fn refusal_reason(status: u16) -> &'static str {
    match status {
        400 => "invalid",
        401 => "unauthenticated",
        403 => "forbidden",
        408 => "body_timeout",
        409 => "conflict",
        413 => "too_large",
        429 => "rate_limited",
        500..=599 => "internal",
        _ => "other",
    }
}
