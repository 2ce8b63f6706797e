//! Rendered page content, kept for a few seconds: the browse page and a
//! package page cost a catalog query and a template (and, for a package, a
//! bundle read) to make, and the same few are asked for over and over.
//!
//! An entry is the content only (the same for every viewer; the frame with
//! the viewer's name and CSRF token is added per request). It is used while
//! the catalog it was rendered from is still the current one and for at
//! most [`FRESH`]: download counts on a page are at most that old, as they
//! are at most that long unwritten (the counters flush every 5 s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::registry::Catalogue;

/// How long an entry is used.
pub(super) const FRESH: Duration = Duration::from_secs(5);

/// Most entries: past it, stale ones go, and if none is stale, all go.
const MAX_ENTRIES: usize = 512;

struct Entry {
    /// The catalog it was rendered from (kept alive, so comparing by
    /// pointer is sound).
    catalog: Arc<Catalogue>,
    at: Instant,
    html: Arc<String>,
}

/// The cache, by page key (path and query).
#[derive(Default)]
pub(crate) struct PageCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl PageCache {
    /// The content rendered for `key` from `catalog`, if fresh.
    pub(super) fn get(&self, key: &str, catalog: &Arc<Catalogue>) -> Option<Arc<String>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (Arc::ptr_eq(&entry.catalog, catalog) && entry.at.elapsed() < FRESH)
            .then(|| entry.html.clone())
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
