//! The agents' own tools against the real daemon (and a static tree on
//! nginx): the `skills` CLI, Claude Code and ClawHub, pinned, as
//! `./test.sh` installs them. Each test drives the client the way its users
//! do and checks what lands on disk against the bundle the registry
//! stores: approved versions only, quarantine and yanks included; with
//! `auth_required`, the documented credential works and nothing else does.
//!
//! One submodule per client (and one for the static tree).

mod common;

#[path = "agent_clients/claude.rs"]
mod claude;
#[path = "agent_clients/clawhub.rs"]
mod clawhub;
#[path = "agent_clients/skills.rs"]
mod skills;
#[path = "agent_clients/static_tree.rs"]
mod static_tree;
