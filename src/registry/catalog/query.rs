//! Reading the catalog: search, filters, sort orders and pages, and the
//! keyword counts. Pure functions of a snapshot and the download counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{CatalogPackage, Catalogue};
use crate::package::{normalize, Kind};

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
    /// Search text: every whitespace-separated word must match the name,
    /// a keyword or the description; empty matches everything.
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
    /// Runs the query over `catalogue`, with each version's downloads.
    pub(in crate::registry) fn run(
        &self,
        catalogue: &Catalogue,
        downloads: &HashMap<i64, u64>,
    ) -> CatalogPage {
        let terms: Vec<String> = self
            .text
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let prefix = normalize(self.prefix.trim());
        let mut hits: Vec<CatalogHit> = catalogue
            .iter()
            .filter(|(key, p)| {
                (self.kinds.is_empty() || self.kinds.contains(&p.kind))
                    && key.starts_with(&prefix)
                    && self
                        .source
                        .as_deref()
                        .is_none_or(|wanted| p.current().source.as_deref().unwrap_or("") == wanted)
            })
            .filter_map(|(_, p)| {
                let score = if self.exact {
                    (normalize(&p.name) == normalize(self.text.trim())).then_some(1.0)
                } else {
                    score(p, &terms)
                }?;
                Some(CatalogHit {
                    downloads: p.downloads(|id| downloads.get(&id).copied().unwrap_or(0)),
                    package: p.clone(),
                    score,
                })
            })
            .collect();
        let name = |h: &CatalogHit| normalize(&h.package.name);
        match self.sort {
            Sort::Relevance => hits.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then(b.downloads.cmp(&a.downloads))
                    .then_with(|| name(a).cmp(&name(b)))
            }),
            Sort::Downloads => hits.sort_by(|a, b| {
                b.downloads
                    .cmp(&a.downloads)
                    .then_with(|| name(a).cmp(&name(b)))
            }),
            Sort::Recent => hits.sort_by(|a, b| {
                b.package
                    .updated_at()
                    .cmp(&a.package.updated_at())
                    .then_with(|| name(a).cmp(&name(b)))
            }),
            Sort::Created => hits.sort_by(|a, b| {
                b.package
                    .created_at()
                    .cmp(&a.package.created_at())
                    .then_with(|| name(a).cmp(&name(b)))
            }),
            // The catalogue is keyed by normalized name: already in order.
            Sort::Name => {}
        }
        let total = hits.len();
        let hits = hits
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        CatalogPage { hits, total }
    }
}

/// How well `package` matches every term (lowercase words), or `None` when
/// one term matches nothing: the mean of each term's best match, where a
/// whole name counts 1, a name prefix 0.8, part of the name 0.6, a keyword
/// 0.5 and part of the description 0.3. No terms match everything with 0.
fn score(package: &CatalogPackage, terms: &[String]) -> Option<f64> {
    if terms.is_empty() {
        return Some(0.0);
    }
    let name = normalize(&package.name);
    let current = package.current();
    let description = current.description.to_lowercase();
    let mut sum = 0.0;
    for term in terms {
        let as_name = normalize(term);
        sum += if name == as_name {
            1.0
        } else if name.starts_with(&as_name) {
            0.8
        } else if name.contains(&as_name) {
            0.6
        } else if current.keywords.iter().any(|k| k.to_lowercase() == *term) {
            0.5
        } else if description.contains(term.as_str()) {
            0.3
        } else {
            return None;
        };
    }
    Some(sum / terms.len() as f64)
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
