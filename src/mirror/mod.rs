//! Mirroring upstream catalogs behind admin approval.
//!
//! - [`sync`]: the mirror task (schedules, runs, `registry` sources).
//! - [`policy`]: what mirrored versions are checked for (findings).
//! - [`marketplace`]: reading a Claude Code marketplace checkout into
//!   packages (not yet wired into a sync).

pub mod marketplace;
pub mod policy;
pub mod sync;
pub mod transfer;
