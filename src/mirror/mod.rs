//! Mirroring upstream catalogs behind admin approval.
//!
//! - [`sync`]: the mirror task (schedules and runs).
//! - `registry_source`, `marketplace_source`, [`sparse`],
//!   `wellknown_source`, `clawhub_source`: what a run of each kind does
//!   (`drop` sources are in [`transfer`]); `progress`: a run's counts;
//!   `upstream_http`: HTTP with revalidation for the upstreams skillreg's
//!   keys do not sign; `skill_offer`: an upstream's skill archive packed
//!   and offered; `fallback`: `0.0.N` versions for what declares none.
//! - [`marketplace`]: reading a Claude Code marketplace checkout into
//!   plugin and skill packages.
//! - `git`: git run as an untrusted program (hooks off, protocols
//!   allowed one at a time, size and time caps).
//! - [`transfer`]: signed transfer archives for air gaps (export, import,
//!   drop directories).

mod clawhub_source;
mod fallback;
mod git;
pub mod marketplace;
mod marketplace_source;
mod progress;
mod registry_source;
mod skill_offer;
pub mod sparse;
mod status;
pub mod sync;
mod upstream_http;
mod wellknown_source;

pub mod transfer;

pub(crate) use progress::count;
pub use status::SourceStatus;
