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
        let terms: Vec<Term> = self
            .text
            .split_whitespace()
            .map(|word| Term {
                lower: word.to_lowercase(),
                as_name: normalize(word),
            })
            .collect();
        let prefix = normalize(self.prefix.trim());
        let exact = normalize(self.text.trim());
        // Each hit keeps its catalogue key (the normalized name), so that
        // ordering never normalizes a name again.
        let mut hits: Vec<(&str, CatalogHit)> = catalogue
            .iter()
            .filter(|(key, p)| {
                (self.kinds.is_empty() || self.kinds.contains(&p.kind))
                    && key.starts_with(&prefix)
                    && self
                        .source
                        .as_deref()
                        .is_none_or(|wanted| p.current().source.as_deref().unwrap_or("") == wanted)
            })
            .filter_map(|(key, p)| {
                let score = if self.exact {
                    (*key == exact).then_some(1.0)
                } else {
                    score(key, p, &terms)
                }?;
                Some((
                    key.as_str(),
                    CatalogHit {
                        downloads: p.downloads(|id| downloads.get(&id).copied().unwrap_or(0)),
                        package: p.clone(),
                        score,
                    },
                ))
            })
            .collect();
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

/// How well `package` (whose normalized name is `name`) matches every term
/// (lowercase words), or `None` when
/// one term matches nothing: the mean of each term's best match, where a
/// whole name counts 1, a name prefix 0.8, part of the name 0.6, a keyword
/// 0.5 and part of the description 0.3. No terms match everything with 0.
fn score(name: &str, package: &CatalogPackage, terms: &[Term]) -> Option<f64> {
    if terms.is_empty() {
        return Some(0.0);
    }
    let current = package.current();
    let mut description: Option<String> = None;
    let mut sum = 0.0;
    for term in terms {
        sum += if name == term.as_name {
            1.0
        } else if name.starts_with(&term.as_name) {
            0.8
        } else if name.contains(&term.as_name) {
            0.6
        } else if current
            .keywords
            .iter()
            .any(|k| k.to_lowercase() == term.lower)
        {
            0.5
        } else if description
            .get_or_insert_with(|| current.description.to_lowercase())
            .contains(term.lower.as_str())
        {
            0.3
        } else {
            return None;
        };
    }
    Some(sum / terms.len() as f64)
}

/// A search word, lowercased and as a name normalizes it, worked out once
/// per query rather than once per package.
struct Term {
    lower: String,
    as_name: String,
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
