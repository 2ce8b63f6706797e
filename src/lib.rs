//! # skillreg
//!
//! A self-hosted private registry for agent skills (folders with a
//! `SKILL.md`), Claude Code plugins and cargo crates. Its index is a
//! crates.io-style sparse index that real `cargo` uses unchanged.
//!
//! ## Layout
//!
//! Data flows one way: **request → validate → store → render index → serve**.
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | defaults ← TOML file ← flags |
//! | [`package`] | kinds, names, versions and their rules |
//! | [`token`] | roles, token format, hashing |
//! | [`api`] | the web API's wire formats (publish framing, JSON bodies) |
//! | [`bundle`] | read archives as hostile input, validate each kind, pack deterministically |
//! | [`blobs`] | content-addressed, durable blob files |
//! | [`store`] | SQLite: packages, versions, owners, tokens, audit |
//! | [`index`] | sparse-index paths, entries, prepared files |
//! | [`registry`] | the service: publish, yank, owners, review; re-renders and signs the index |
//! | [`policy`] | what a version from outside is checked for before an admin decides (findings) |
//! | [`mirror`] | upstream sources and sync runs |
//! | [`keys`] | the registry's ed25519 signing key |
//! | [`server`] | HTTP: routes, auth, rate limits, timeouts, TLS, shutdown |
//! | [`client`] | the web API as plain functions |
//! | [`cli`] | the `skillreg` command |
//! | [`fsutil`] | durable writes (temp, fsync, rename, fsync dir) |
//! | [`safe_fs`] | files from outside, opened beneath a directory handle without following links |
//!
//! [`server::run`] takes a bound listener, so tests start the real server on
//! `127.0.0.1:0`.

#![warn(missing_docs)]

pub mod api;
pub mod blobs;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod config;
pub mod fsutil;
pub mod index;
pub mod keys;
/// Mirroring upstream catalogs behind admin approval.
pub mod mirror;
pub mod package;
pub mod policy;
pub mod registry;
pub mod safe_fs;
pub mod server;
pub mod store;
pub mod token;
