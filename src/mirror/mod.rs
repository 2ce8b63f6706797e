//! Mirroring upstream catalogs behind admin approval.
//!
//! - [`sync`]: the mirror task (schedules, runs, `registry` sources).
//! - [`policy`]: what mirrored versions are checked for (findings).
//! - [`marketplace`]: reading a Claude Code marketplace checkout into
//!   plugin and skill packages.
//! - [`transfer`]: signed transfer archives for air gaps (export, import,
//!   drop directories).

pub mod marketplace;
pub mod policy;
pub mod sync;
pub mod transfer;
