//! Mirroring upstream catalogs behind admin approval.
//!
//! - [`sync`]: the mirror task (schedules, runs, `registry` sources).
//! - [`marketplace`]: reading a Claude Code marketplace checkout into
//!   plugin and skill packages.
//! - `marketplace_source`: a `marketplace` source's run (checkout,
//!   remote plugins fetched from allowed hosts, offers).
//! - `git`: git run as an untrusted program (hooks off, protocols
//!   allowed one at a time, size and time caps).
//! - [`transfer`]: signed transfer archives for air gaps (export, import,
//!   drop directories).

mod git;
pub mod marketplace;
mod marketplace_source;
pub mod sync;
pub mod transfer;
