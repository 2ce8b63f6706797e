//! The web pages in a real headless Chromium (WebDriver), against the real
//! daemon: what a person browsing the catalog sees, what an admin reviewing
//! mirrored content does, and that content from strangers stays inert
//! (no script runs, nothing is fetched from another origin). Screenshots
//! of the main pages go to `target/screenshots/` for a person to look at.
//!
//! One submodule per concern.

mod common;

#[path = "web_pages/admin.rs"]
mod admin;
#[path = "web_pages/browse.rs"]
mod browse;
#[path = "web_pages/hostile.rs"]
mod hostile;
