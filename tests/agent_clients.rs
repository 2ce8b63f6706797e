//! The agents' own tools against the real daemon (and a static tree on
//! nginx): the `skills` CLI, Claude Code and ClawHub, pinned, as
//! `./test.sh` installs them.

mod common;

#[path = "agent_clients/static_tree.rs"]
mod static_tree;
