//! Rendered page content, kept for a few seconds: the browse page and a
//! package page cost a catalog query and a template (and, for a package, a
//! bundle read) to make, and the same few are asked for over and over.
//!
//! An entry is the content only (the same for every viewer; the frame with
//! the viewer's name and CSRF token is added per request). It is used only
//! while the catalog it was rendered from is the current one, so a publish
//! or a decision shows on the next request. Within one catalog it is fresh
//! for [`FRESH`] (download counts on a page are at most that old, as they
//! are at most that long unwritten); after that, the first request renders
//! it again while the others are still given the old content, up to
//! [`STALE`], so that many readers of one page never render it at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::registry::Catalogue;

/// How long an entry is used as it is.
pub(super) const FRESH: Duration = Duration::from_secs(5);

/// How long an entry is still given out while one request renders it anew.
pub(super) const STALE: Duration = Duration::from_secs(30);

/// Most entries: past it, stale ones go, and if none is stale, all go.
const MAX_ENTRIES: usize = 512;

struct Entry {
    /// The catalog it was rendered from (kept alive, so comparing by
    /// pointer is sound).
    catalog: Arc<Catalogue>,
    at: Instant,
    html: Arc<String>,
    /// A request is rendering it anew.
    refreshing: bool,
}

/// The cache, by page key (path and query).
#[derive(Default)]
pub(crate) struct PageCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl PageCache {
    /// The content rendered for `key` from `catalog`, if it may be used;
    /// `None` tells the caller to render it (and [`PageCache::put`] it).
    pub(super) fn get(&self, key: &str, catalog: &Arc<Catalogue>) -> Option<Arc<String>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(key)?;
        if !Arc::ptr_eq(&entry.catalog, catalog) {
            return None;
        }
        let age = entry.at.elapsed();
        if age < FRESH || (entry.refreshing && age < STALE) {
            return Some(entry.html.clone());
        }
        // This caller renders; the others keep the old content meanwhile.
        entry.refreshing = true;
        None
    }

    /// Keeps `html`, rendered for `key` from `catalog`.
    pub(super) fn put(&self, key: String, catalog: Arc<Catalogue>, html: Arc<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < FRESH && Arc::ptr_eq(&e.catalog, &catalog));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                catalog,
                at: Instant::now(),
                html,
                refreshing: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_only_with_its_catalog() {
        let cache = PageCache::default();
        let first = Arc::new(Catalogue::new());
        cache.put("/".into(), first.clone(), Arc::new("page".into()));
        assert_eq!(
            cache.get("/", &first).as_deref().map(String::as_str),
            Some("page")
        );
        let changed = Arc::new(Catalogue::new());
        assert!(cache.get("/", &changed).is_none(), "the catalog changed");
        assert!(cache.get("/?q=x", &first).is_none());
    }

    #[test]
    fn one_caller_renders_a_stale_entry_while_the_others_keep_it() {
        let cache = PageCache::default();
        let catalog = Arc::new(Catalogue::new());
        cache.put("/".into(), catalog.clone(), Arc::new("old".into()));
        cache.entries.lock().unwrap().get_mut("/").unwrap().at -= FRESH;
        assert!(cache.get("/", &catalog).is_none(), "the first renders");
        assert_eq!(
            cache.get("/", &catalog).as_deref().map(String::as_str),
            Some("old")
        );
        cache.put("/".into(), catalog.clone(), Arc::new("new".into()));
        assert_eq!(
            cache.get("/", &catalog).as_deref().map(String::as_str),
            Some("new")
        );
        cache.entries.lock().unwrap().get_mut("/").unwrap().at -= STALE;
        assert!(cache.get("/", &catalog).is_none());
        assert!(cache.get("/", &catalog).is_none(), "too old to give out");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = PageCache::default();
        let catalog = Arc::new(Catalogue::new());
        for i in 0..(MAX_ENTRIES * 3) {
            cache.put(
                format!("/?page={i}"),
                catalog.clone(),
                Arc::new(String::new()),
            );
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
