//! The agents' own tools against the real daemon: each installs, searches
//! and updates from skillreg as it would from its public catalog, sees
//! approved versions only, and carries the documented credential when the
//! registry requires one. One submodule per tool.

mod common;

#[path = "agent_clients/clawhub.rs"]
mod clawhub;
