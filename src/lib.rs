//! # skillreg
//!
//! A self-hosted private registry for agent skills (folders with a
//! `SKILL.md`), Claude Code plugins and cargo crates. Its index is a
//! crates.io-style sparse index that real `cargo` uses unchanged.
//!
//! ## Layout
//!
//! Data flows one way: **request → validate → store → render index → serve**.
//! Each room sits above the ones it uses; none reaches up.
//!
//! | module | concept |
//! |---|---|
//! | [`cli`] | the `skillreg` command (the daemon, local admin commands, the client commands) |
//! | [`server`] | HTTP: routes (cargo's API and index, the agent-tool feeds, ClawHub's API, the web pages), auth, rate limits and upload caps, timeouts, TLS, shutdown |
//! | [`web`] | the HTML pages people read: browse, package pages, the file viewer (templates, sanitized Markdown, the style sheet) |
//! | [`mirror`] | upstream sources (registry, marketplace, drop, sparse cargo indexes, Agent Skills indexes, ClawHub) and their sync runs; transfer archives |
//! | [`client`] | the web API as plain functions, and the verifying client (`skillreg install`) |
//! | [`api`] | the web API's wire formats (publish framing, JSON bodies); used by the edges only |
//! | [`metrics`] | what an operator watches: `/metrics` counters, the database's counts at scrape time, the background fsck |
//! | [`backup`] | consistent backups of a running registry's data directory, and restores |
//! | [`fsck`] | checking a data directory: blobs against their names and the database, the signed metadata re-verified; `--repair` quarantines and re-renders |
//! | [`registry`] | the service: publish, yank, owners, review, imports; re-renders and signs the index, and the feeds off the publish path; the in-memory catalog, ClawHub's bodies and download counts |
//! | [`config`] | defaults ← TOML file ← flags |
//! | [`policy`] | what a version from outside is checked for before an admin decides (findings) |
//! | [`keys`] | the registry's ed25519 signing keys and key files |
//! | [`feeds`] | what the agents' own tools read: the Agent Skills index, the Claude Code marketplace, their zips, ClawHub's bodies |
//! | [`bundle`] | read archives as hostile input, validate each kind, pack deterministically |
//! | [`index`] | sparse-index paths, entries, prepared files, signed documents, the snapshot's hash tree |
//! | [`store`] | SQLite, one file per table family behind one `Store`; read-only connections in a pool; the FTS5 search index |
//! | [`blobs`] | content-addressed, durable blob files (and their copy in a bucket) |
//! | [`bucket`] | an S3-compatible bucket (object_store behind a blocking facade): where `[export] target` keeps the static tree and `[storage] blobs` a second copy of every blob |
//! | [`safe_fs`] | files from outside, opened beneath a directory handle without following links |
//! | [`package`] | kinds, names, versions and their rules |
//! | [`token`] | roles, token format, hashing |
//! | [`fsutil`] | durable writes (temp, fsync, rename, fsync dir) |
//! | [`crash_point`] | test hook: abort points at each stage of a durable change (`SKILLREG_TEST_CRASH_AT`) |
//!
//! [`server::run`] takes a bound listener: `skillreg serve --listen
//! 127.0.0.1:0` binds a free port and prints it, which is how the
//! integration tests start the real daemon binary.
//!
//! ## Errors
//!
//! - Every library module has its own `thiserror` enum whose variants carry
//!   what a user needs to act (the path, the URL, the source, the package):
//!   [`safe_fs::SafeFsError`], [`bundle::BundleError`],
//!   [`store::StoreError`], [`config::ConfigError`], [`bucket::BucketError`],
//!   [`registry::RegistryError`] (which wraps the store's and the bundle's),
//!   [`client::verify::TrustError`], [`mirror::transfer::TransferError`] and
//!   the mirror's per-kind errors, [`server::ServerError`]. Messages say what
//!   to do.
//! - Refusals that are data rather than failures stay data: a mirrored item
//!   that cannot be stored is a skip reason in its run's detail, a finding is
//!   a [`policy::Finding`], and a run's error is kept as text in its record.
//! - The server maps errors to HTTP in one place, `server/error.rs`: each
//!   registry error to one status, and every error body is
//!   `{"errors":[{"detail":…}]}` (see `index-spec/web-api.md` §6.1).
//! - `String` errors exist only at the command-line edge ([`cli`]), which
//!   prints them.

#![warn(missing_docs)]

pub mod api;
pub mod backup;
pub mod blobs;
pub mod bucket;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod config;
pub mod crash_point;
pub mod feeds;
pub mod fsck;
pub mod fsutil;
pub mod index;
pub mod keys;
pub mod metrics;
pub mod mirror;
pub mod package;
pub mod policy;
pub mod registry;
pub mod safe_fs;
pub mod server;
pub mod store;
pub mod token;
pub mod web;
