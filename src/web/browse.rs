//! `/`: the catalog, searched, filtered, sorted and paged.

use maud::{html, Markup};

use super::layout::count;
use crate::package::Kind;
use crate::registry::{CatalogHit, CatalogVersion, Sort};

/// Rows per page.
pub const PAGE_SIZE: usize = 50;

/// What the reader asked for, as the form sends it back.
#[derive(Clone, Debug, Default)]
pub struct BrowseQuery {
    /// Search words.
    pub text: String,
    /// One kind, or every kind.
    pub kind: Option<Kind>,
    /// One `[[sources]]` name, `""` for published here, or anywhere.
    pub source: Option<String>,
    /// The order.
    pub sort: Option<Sort>,
    /// The page, from 1.
    pub page: usize,
}

/// The facts the page shows.
pub struct BrowseView<'a> {
    /// The request.
    pub query: &'a BrowseQuery,
    /// This page's packages.
    pub hits: &'a [CatalogHit],
    /// Matches in all.
    pub total: usize,
    /// The source names to filter by.
    pub sources: &'a [String],
}

/// The sort orders the form offers, with their names in the query string.
const SORTS: [(Sort, &str, &str); 4] = [
    (Sort::Relevance, "relevance", "Best match"),
    (Sort::Downloads, "downloads", "Most downloaded"),
    (Sort::Recent, "recent", "Recently updated"),
    (Sort::Name, "name", "Name"),
];

/// The query-string word for `sort`.
pub fn sort_word(sort: Sort) -> &'static str {
    SORTS
        .iter()
        .find(|(s, _, _)| *s == sort)
        .map(|(_, word, _)| *word)
        .unwrap_or("recent")
}

/// The order a query-string word names.
pub fn parse_sort(word: &str) -> Option<Sort> {
    SORTS
        .iter()
        .find(|(_, w, _)| *w == word)
        .map(|(s, _, _)| *s)
}

/// The order used when none is asked for: best match when searching.
pub fn default_sort(query: &BrowseQuery) -> Sort {
    query.sort.unwrap_or(if query.text.trim().is_empty() {
        Sort::Downloads
    } else {
        Sort::Relevance
    })
}

/// The browse page's title.
pub const TITLE: &str = "Browse";

/// The browse page's content (the same for every viewer; the frame around
/// it is [`super::layout::page`]'s).
pub fn render(view: &BrowseView) -> Markup {
    let q = view.query;
    let sort = default_sort(q);
    let pages = view.total.div_ceil(PAGE_SIZE).max(1);
    html! {
        form.search method="get" action="/" role="search" {
            input type="search" name="q" value=(q.text) placeholder="Search names, descriptions, keywords" aria-label="Search" autofocus;
            select name="kind" aria-label="Kind" {
                option value="" { "Every kind" }
                @for kind in [Kind::Skill, Kind::Plugin, Kind::Crate] {
                    option value=(kind.as_str()) selected[q.kind == Some(kind)] { (kind.as_str()) }
                }
            }
            select name="source" aria-label="Source" {
                option value="*" selected[q.source.is_none()] { "Every source" }
                option value="" selected[q.source.as_deref() == Some("")] { "Published here" }
                @for name in view.sources {
                    option value=(name) selected[q.source.as_deref() == Some(name.as_str())] { "Mirrored from " (name) }
                }
            }
            select name="sort" aria-label="Sort" {
                @for (s, word, label) in SORTS {
                    option value=(word) selected[s == sort] { (label) }
                }
            }
            button type="submit" { "Search" }
        }
        p.muted.total { (count(view.total as u64)) " packages" }
        @if view.hits.is_empty() {
            p.empty { "Nothing matches. Try fewer words, or every kind and source." }
        } @else {
            table.packages {
                thead { tr { th { "Name" } th { "Kind" } th { "Latest" } th { "Description" } th.num { "Downloads" } th { "Licence" } th { "Provenance" } } }
                tbody {
                    @for hit in view.hits {
                        @let p = &hit.package;
                        @let current = p.current();
                        tr {
                            td { a href=(package_href(&p.name)) { (p.name) } }
                            td { span.kind { (p.kind.as_str()) } }
                            td { @match p.latest() { Some(v) => { (v.version) }, None => { span.muted { "all yanked" } } } }
                            td.description { (crate::feeds::one_line(&current.description)) }
                            td.num { (count(hit.downloads)) }
                            td { (current.license.as_deref().unwrap_or("—")) }
                            td { (provenance_badge(current)) }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.pages aria-label="Pages" {
                @if q.page > 1 { a rel="prev" href=(page_href(q, sort, q.page - 1)) { "← Previous" } }
                span { "Page " (q.page) " of " (pages) }
                @if q.page < pages { a rel="next" href=(page_href(q, sort, q.page + 1)) { "Next →" } }
            }
        }
    }
}

/// Where a package's page is.
pub fn package_href(name: &str) -> String {
    format!(
        "/packages/{}",
        percent_encoding::utf8_percent_encode(name, super::SEGMENT)
    )
}

/// The badges that say where a version comes from and whether its
/// publisher signed it.
pub fn provenance_badge(version: &CatalogVersion) -> Markup {
    html! {
        @match &version.source {
            None => { span.badge.local title="Published to this registry" { "published here" } }
            Some(source) => { span.badge.mirror title="Mirrored, approved by an admin" { "mirror: " (source) } }
        }
        @if let Some((publisher, keyid)) = &version.signed_by {
            " " span.badge.signed title={ "Signed by " (publisher) " with key " (keyid) "; verified at publish" } { "signed" }
        }
    }
}

/// The link to page `n` of the same query.
fn page_href(q: &BrowseQuery, sort: Sort, n: usize) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if !q.text.is_empty() {
        query.append_pair("q", &q.text);
    }
    if let Some(kind) = q.kind {
        query.append_pair("kind", kind.as_str());
    }
    if let Some(source) = &q.source {
        query.append_pair("source", source);
    }
    query.append_pair("sort", sort_word(sort));
    query.append_pair("page", &n.to_string());
    format!("/?{}", query.finish())
}
