//! Reading the catalog: search, filters, sort orders and pages, and the
//! keyword counts. Pure functions of a snapshot and the download counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{CatalogPackage, Catalogue};
use crate::package::{normalize, Kind};
use crate::store::{SearchPage, SearchText};

/// How a page is ordered. Ties are broken by name, so pages are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// Best match first (then most downloaded).
    Relevance,
    /// Most downloaded first (all versions, all ways of fetching).
    Downloads,
    /// Most recently published approved version first.
    Recent,
    /// Most recently created (first approved version) first.
    Created,
    /// By normalized name.
    Name,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct CatalogQuery {
    /// Search text: every word (letters and digits) must begin a word of
    /// the name, a keyword or the description of the latest version;
    /// blank matches everything.
    pub text: String,
    /// `text` must be the whole name (any spelling).
    pub exact: bool,
    /// Names beginning with this (any spelling); empty matches everything.
    pub prefix: String,
    /// Only these kinds; empty means every kind.
    pub kinds: Vec<Kind>,
    /// Only packages whose current version came from this `[[sources]]`
    /// name; `Some("")` means published here; `None` means from anywhere.
    pub source: Option<String>,
    /// The order.
    pub sort: Sort,
    /// Matches to skip.
    pub offset: usize,
    /// Most matches to return.
    pub limit: usize,
}

/// One listed package.
#[derive(Clone, Debug)]
pub struct CatalogHit {
    /// The package.
    pub package: Arc<CatalogPackage>,
    /// Its downloads, all versions.
    pub downloads: u64,
    /// How well it matches the text, 0 to 1 (0 without text).
    pub score: f64,
}

/// One page of matches.
#[derive(Clone, Debug)]
pub struct CatalogPage {
    /// This page.
    pub hits: Vec<CatalogHit>,
    /// All matches, not just this page.
    pub total: usize,
}

/// A keyword and how many packages use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagCount {
    /// The keyword.
    pub tag: String,
    /// Packages whose current version lists it.
    pub count: usize,
}

impl CatalogQuery {
    /// Lists `catalogue` without search words: blank text, or `exact`
    /// (one lookup by name), with each version's downloads. A prefix reads
    /// only the names that begin with it.
    pub(in crate::registry) fn run(
        &self,
        catalogue: &Catalogue,
        downloads: &HashMap<i64, u64>,
    ) -> CatalogPage {
        let prefix = normalize(self.prefix.trim());
        let exact = crate::store::SearchText::parse(&self.text)
            .map(|t| t.as_name())
            .unwrap_or_default();
        let candidates: Box<dyn Iterator<Item = (&String, &Arc<CatalogPackage>)>> = if self.exact {
            Box::new(catalogue.get_key_value(&exact).into_iter())
        } else {
            Box::new(
                catalogue
                    .range(prefix.clone()..)
                    .take_while(|(key, _)| key.starts_with(&prefix)),
            )
        };
        let hits: Vec<(&str, CatalogHit)> = candidates
            .filter(|(key, p)| key.starts_with(&prefix) && self.keeps(p))
            .map(|(key, p)| {
                (
                    key.as_str(),
                    CatalogHit {
                        downloads: p.downloads(|id| downloads.get(&id).copied().unwrap_or(0)),
                        package: p.clone(),
                        score: if self.exact { 1.0 } else { 0.0 },
                    },
                )
            })
            .collect();
        self.page(hits)
    }

    /// Maps what the search index found (`found`, best first, for the
    /// words of `text`) onto `catalogue`. With [`Sort::Relevance`] `found`
    /// is already the page asked for, in order; with another order it
    /// holds every match, sorted here.
    pub(in crate::registry) fn run_found(
        &self,
        catalogue: &Catalogue,
        downloads: &HashMap<i64, u64>,
        found: &SearchPage,
        text: &SearchText,
    ) -> CatalogPage {
        // A package the index names but this snapshot does not hold yet
        // (a write between the two) is left out.
        let hits: Vec<(&str, CatalogHit)> = found
            .rows
            .iter()
            .filter_map(|row| catalogue.get_key_value(&row.normalized))
            .map(|(key, p)| {
                (
                    key.as_str(),
                    CatalogHit {
                        downloads: p.downloads(|id| downloads.get(&id).copied().unwrap_or(0)),
                        package: p.clone(),
                        score: score(key, p, text),
                    },
                )
            })
            .collect();
        if self.sort == Sort::Relevance {
            return CatalogPage {
                hits: hits.into_iter().map(|(_, hit)| hit).collect(),
                total: found.total,
            };
        }
        self.page(hits)
    }

    /// Whether `package` passes the kind and source filters.
    fn keeps(&self, package: &CatalogPackage) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&package.kind))
            && self
                .source
                .as_deref()
                .is_none_or(|wanted| package.current().source.as_deref().unwrap_or("") == wanted)
    }

    /// Orders `hits` (each with its normalized name) and cuts the page.
    fn page(&self, mut hits: Vec<(&str, CatalogHit)>) -> CatalogPage {
        let order = |a: &(&str, CatalogHit), b: &(&str, CatalogHit)| {
            let (ka, a) = a;
            let (kb, b) = b;
            let first = match self.sort {
                Sort::Relevance => b
                    .score
                    .total_cmp(&a.score)
                    .then(b.downloads.cmp(&a.downloads)),
                Sort::Downloads => b.downloads.cmp(&a.downloads),
                Sort::Recent => b.package.updated_at().cmp(&a.package.updated_at()),
                Sort::Created => b.package.created_at().cmp(&a.package.created_at()),
                // The catalogue is keyed by normalized name.
                Sort::Name => std::cmp::Ordering::Equal,
            };
            first.then_with(|| ka.cmp(kb))
        };
        let total = hits.len();
        // Only the requested page needs to be in order: the matches before
        // it are found without sorting the rest.
        let end = self.offset.saturating_add(self.limit).min(total);
        if end > 0 && end < total {
            hits.select_nth_unstable_by(end - 1, order);
            hits.truncate(end);
        }
        hits.sort_unstable_by(order);
        let hits = hits
            .into_iter()
            .skip(self.offset)
            .map(|(_, hit)| hit)
            .collect();
        CatalogPage { hits, total }
    }
}

/// How well `package` (whose normalized name is `name`) matches the words
/// of `text`, 0 to 1, for display: 1 when the name is the words joined
/// with `-`, else the mean over the words of 0.8 when the name begins with
/// the word, 0.6 when a word of the name does, 0.5 when a keyword does and
/// 0.3 otherwise (the description: the index found it there).
pub(super) fn score(name: &str, package: &CatalogPackage, text: &SearchText) -> f64 {
    let words = text.words();
    if words.is_empty() {
        return 0.0;
    }
    if name == text.as_name() {
        return 1.0;
    }
    let current = package.current();
    let begins_a_word = |haystack: &str, word: &str| {
        haystack
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.to_lowercase().starts_with(word))
    };
    let sum: f64 = words
        .iter()
        .map(|word| {
            if name.starts_with(word.as_str()) {
                0.8
            } else if begins_a_word(name, word) {
                0.6
            } else if current.keywords.iter().any(|k| begins_a_word(k, word)) {
                0.5
            } else {
                0.3
            }
        })
        .sum();
    sum / words.len() as f64
}

/// Every keyword of the packages' current versions (of `kind`, if given),
/// lowercased, with how many packages list it: most used first.
pub(in crate::registry) fn tags(catalogue: &Catalogue, kind: Option<Kind>) -> Vec<TagCount> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for package in catalogue.values() {
        if kind.is_some_and(|k| k != package.kind) {
            continue;
        }
        let mut seen: Vec<String> = package
            .current()
            .keywords
            .iter()
            .map(|k| k.to_lowercase())
            .collect();
        seen.sort();
        seen.dedup();
        for tag in seen {
            *counts.entry(tag).or_default() += 1;
        }
    }
    let mut out: Vec<TagCount> = counts
        .into_iter()
        .map(|(tag, count)| TagCount { tag, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.tag.cmp(&b.tag)));
    out
}
