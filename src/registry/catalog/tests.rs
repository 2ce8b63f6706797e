use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::store::{SearchPage, SearchText};

fn version(
    id: i64,
    v: &str,
    at: i64,
    yanked: bool,
    keywords: &[&str],
    description: &str,
) -> CatalogVersion {
    CatalogVersion {
        id,
        version: v.into(),
        published_at: at,
        yanked,
        cksum: format!("{id:064x}"),
        size: 1,
        description: description.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
        license: None,
        dependencies: Vec::new(),
        source: None,
        published_by: "alice".into(),
        signed_by: None,
        approved_by: None,
        skill_zip: None,
    }
}

fn package(
    name: &str,
    kind: Kind,
    versions: Vec<CatalogVersion>,
    latest: Option<usize>,
) -> (String, Arc<CatalogPackage>) {
    (
        normalize(name),
        Arc::new(CatalogPackage {
            name: name.into(),
            kind,
            versions,
            latest,
        }),
    )
}

/// pdf-tools (skill, 5 downloads, newest), pdf (plugin, 1 download),
/// image-kit (skill, every version yanked, oldest), serde (crate).
fn catalogue() -> (Catalogue, HashMap<i64, u64>) {
    let catalogue = [
        package(
            "pdf-tools",
            Kind::Skill,
            vec![
                version(2, "1.1.0", 300, false, &["pdf", "docs"], "Fill PDF forms"),
                version(1, "1.0.0", 100, false, &["pdf"], "Fill forms"),
            ],
            Some(0),
        ),
        package(
            "pdf",
            Kind::Plugin,
            vec![version(3, "0.1.0", 200, false, &["pdf"], "PDF plugin")],
            Some(0),
        ),
        package(
            "image_kit",
            Kind::Skill,
            vec![version(4, "2.0.0", 50, true, &["images"], "Edit images")],
            None,
        ),
        package(
            "serde",
            Kind::Crate,
            vec![version(5, "1.0.0", 150, false, &[], "Serialization")],
            Some(0),
        ),
    ]
    .into_iter()
    .collect();
    let downloads = [(1, 2), (2, 3), (3, 1)].into_iter().collect();
    (catalogue, downloads)
}

fn query(text: &str) -> CatalogQuery {
    CatalogQuery {
        text: text.into(),
        exact: false,
        prefix: String::new(),
        kinds: Vec::new(),
        source: None,
        sort: Sort::Name,
        offset: 0,
        limit: 100,
    }
}

fn names(page: &CatalogPage) -> Vec<&str> {
    page.hits.iter().map(|h| h.package.name.as_str()).collect()
}

#[test]
fn latest_and_current() {
    let (c, _) = catalogue();
    assert_eq!(c["pdf-tools"].latest().unwrap().version, "1.1.0");
    assert!(c["image-kit"].latest().is_none());
    assert_eq!(
        c["image-kit"].current().version,
        "2.0.0",
        "all yanked: the highest stands for it"
    );
    assert_eq!(
        (c["pdf-tools"].created_at(), c["pdf-tools"].updated_at()),
        (100, 300)
    );
    assert_eq!(c["pdf-tools"].version("1.0.0").unwrap().id, 1);
    assert!(
        c["pdf-tools"].version("1.0").is_none(),
        "versions match exactly"
    );
}

#[test]
fn sorts_break_ties_by_name() {
    let (c, d) = catalogue();
    let mut q = query("");
    assert_eq!(
        names(&q.run(&c, &d)),
        ["image_kit", "pdf", "pdf-tools", "serde"]
    );
    q.sort = Sort::Downloads;
    let page = q.run(&c, &d);
    assert_eq!(names(&page), ["pdf-tools", "pdf", "image_kit", "serde"]);
    assert_eq!(page.hits[0].downloads, 5, "every version's downloads");
    q.sort = Sort::Recent;
    assert_eq!(
        names(&q.run(&c, &d)),
        ["pdf-tools", "pdf", "serde", "image_kit"]
    );
    q.sort = Sort::Created;
    assert_eq!(
        names(&q.run(&c, &d)),
        ["pdf", "serde", "pdf-tools", "image_kit"]
    );
}

/// What the search index would have found, best first (`names` as
/// normalized), out of `total`.
fn found(names: &[&str], total: usize) -> SearchPage {
    SearchPage {
        rows: names
            .iter()
            .map(|n| crate::store::SearchRow {
                package_id: 0,
                name: n.to_string(),
                normalized: n.to_string(),
                kind: Kind::Skill,
                max_version: "1.0.0".into(),
                description: String::new(),
                name_match: crate::store::NameMatch::Other,
            })
            .collect(),
        total,
    }
}

#[test]
fn found_packages_keep_the_index_order_and_total_or_are_sorted() {
    let (c, d) = catalogue();
    let text = SearchText::parse("pdf").unwrap();
    let mut q = query("pdf");
    q.sort = Sort::Relevance;
    // The index's page, in its order; a name the snapshot lacks is left out.
    let page = q.run_found(&c, &d, &found(&["pdf", "not-yet", "pdf-tools"], 7), &text);
    assert_eq!(names(&page), ["pdf", "pdf-tools"]);
    assert_eq!(page.total, 7, "the index counted every match");
    assert_eq!(page.hits[0].score, 1.0, "the whole name");
    assert_eq!(page.hits[1].score, 0.8, "a prefix of the name");
    assert_eq!(page.hits[1].downloads, 5);
    // Another order sorts every match here and pages it.
    q.sort = Sort::Downloads;
    q.limit = 1;
    let page = q.run_found(&c, &d, &found(&["pdf", "pdf-tools"], 2), &text);
    assert_eq!(names(&page), ["pdf-tools"]);
    assert_eq!(page.total, 2);
}

#[test]
fn scores_follow_word_prefixes() {
    let (c, _) = catalogue();
    let score = |name: &str, text: &str| {
        super::query::score(name, &c[name], &SearchText::parse(text).unwrap())
    };
    assert_eq!(
        score("pdf-tools", "PDF_tools"),
        1.0,
        "any spelling of the name"
    );
    assert_eq!(score("pdf-tools", "tool"), 0.6, "a word of the name");
    assert_eq!(score("pdf-tools", "doc"), 0.5, "a keyword");
    assert_eq!(score("pdf-tools", "fill"), 0.3, "the description");
    assert!(
        (score("pdf-tools", "pdf fill") - 0.55).abs() < 1e-9,
        "the mean"
    );
}

#[test]
fn exact_prefix_and_kind_filters() {
    let (c, d) = catalogue();
    let mut q = query("PDF");
    q.exact = true;
    assert_eq!(names(&q.run(&c, &d)), ["pdf"]);
    q.kinds = vec![Kind::Skill];
    assert!(q.run(&c, &d).hits.is_empty(), "exact, but not a skill");
    let mut q = query("");
    q.prefix = "Image-".into();
    assert_eq!(
        names(&q.run(&c, &d)),
        ["image_kit"],
        "any spelling of a prefix"
    );
    let mut q = query("");
    q.kinds = vec![Kind::Skill];
    assert_eq!(names(&q.run(&c, &d)), ["image_kit", "pdf-tools"]);
}

#[test]
fn pages_count_every_match() {
    let (c, d) = catalogue();
    let mut q = query("");
    q.offset = 1;
    q.limit = 2;
    let page = q.run(&c, &d);
    assert_eq!(names(&page), ["pdf", "pdf-tools"]);
    assert_eq!(page.total, 4);
    q.offset = 10;
    assert!(q.run(&c, &d).hits.is_empty());
}

#[test]
fn tags_count_packages_once_each() {
    let (c, _) = catalogue();
    let all = query::tags(&c, None);
    assert_eq!(
        all,
        [
            TagCount {
                tag: "pdf".into(),
                count: 2
            },
            TagCount {
                tag: "docs".into(),
                count: 1
            },
            TagCount {
                tag: "images".into(),
                count: 1
            },
        ]
    );
    let plugins = query::tags(&c, Some(Kind::Plugin));
    assert_eq!(
        plugins,
        [TagCount {
            tag: "pdf".into(),
            count: 1
        }]
    );
}
