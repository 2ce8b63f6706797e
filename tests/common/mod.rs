//! Shared test support: the real daemon binary on 127.0.0.1:0 with a temp
//! data dir, the real clients around it (cargo, nginx, the verifying
//! client), servers that lie on purpose, and builders for skills and
//! archives. One file per helper; everything is re-exported, so a test file
//! says `mod common; use common::*;`.
//!
//! Every test binary compiles this module whole and uses only part of it,
//! so each binary would warn about the rest: unused items (hence the
//! `dead_code` allowance) and unused re-exports (hence `unused_imports` on
//! the `pub use` lines only).
#![allow(dead_code)]

mod agent_registry;
mod agent_tools;
mod bundles;
mod cargo;
mod client_env;
mod crash_check;
mod crash_registry;
mod daemon;
mod fault_proxy;
mod fingerprint;
mod fixtures;
mod garage;
pub mod git_http;
mod http;
mod lying_s3;
mod market_dir;
mod nginx;
mod prometheus;
mod signed_index;
mod sparse_upstream;
mod static_server;
mod test_ca;
mod tool_run;
mod webdriver;

#[allow(unused_imports)]
pub use self::{
    agent_registry::*, agent_tools::*, bundles::*, cargo::*, client_env::*, crash_check::*,
    crash_registry::*, daemon::*, fault_proxy::*, fingerprint::*, fixtures::*, garage::*, http::*,
    lying_s3::*, market_dir::*, nginx::*, prometheus::*, signed_index::*, sparse_upstream::*,
    static_server::*, test_ca::*, tool_run::*, webdriver::*,
};
