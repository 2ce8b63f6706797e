//! A hostile upstream against the real daemon: an attacker who controls a
//! marketplace, a remote plugin repository, a cargo sparse index, a
//! transfer archive or a publish
//! may get at most a pending version with findings. Each test asserts that
//! nothing outside the expected directories changed (the data directory's
//! keys and config hashed before and after), that no process ran, that
//! nothing was stored, that the run names the refusal and that the daemon
//! keeps serving.
//!
//! One submodule per thing an attacker controls.

mod common;

#[path = "hostile_upstream/archives.rs"]
mod archives;
#[path = "hostile_upstream/bounds.rs"]
mod bounds;
#[path = "hostile_upstream/bundles.rs"]
mod bundles;
#[path = "hostile_upstream/drops.rs"]
mod drops;
#[path = "hostile_upstream/git.rs"]
mod git;
#[path = "hostile_upstream/git_dirs.rs"]
mod git_dirs;
#[path = "hostile_upstream/marketplaces.rs"]
mod marketplaces;
#[path = "hostile_upstream/names.rs"]
mod names;
#[path = "hostile_upstream/sparse.rs"]
mod sparse;
#[path = "hostile_upstream/support.rs"]
mod support;
