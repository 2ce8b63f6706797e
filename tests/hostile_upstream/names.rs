//! See the crate doc of `hostile_upstream.rs`.
