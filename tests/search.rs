//! Search against the real daemon: every public search route (the
//! cargo-style API, ClawHub's search and catalog, the web catalog) answers
//! from the search index, which follows publishes, yanks and restarts.

mod common;

use common::*;

/// The names a cargo-style search answers, in order, and its total.
fn cargo_search(d: &Daemon, query: &str) -> (Vec<String>, u64) {
    let (status, body) = get(&format!(
        "{}/api/v1/crates?q={}&per_page=100",
        d.url,
        urlencode(query)
    ));
    assert_eq!(status, 200, "{query:?}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names = json["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    (names, json["meta"]["total"].as_u64().unwrap())
}

/// The slugs of ClawHub's search for `query`, every kind.
fn clawhub_search(d: &Daemon, query: &str) -> Vec<String> {
    let (status, body) = get(&format!(
        "{}/api/v1/search?q={}&kind=all",
        d.url,
        urlencode(query)
    ));
    assert_eq!(status, 200, "{query:?}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap().to_string())
        .collect()
}

/// Whether the web catalog searched for `query` links to package `name`.
fn web_finds(d: &Daemon, query: &str, name: &str) -> bool {
    let (status, body) = get(&format!("{}/?q={}", d.url, urlencode(query)));
    assert_eq!(status, 200, "{query:?}: {body}");
    body.contains(&format!("href=\"/packages/{name}\""))
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn publish(d: &Daemon, name: &str, version: &str, description: &str, keywords: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = skill_dir(dir.path(), name, version, description);
    d.publish_dir("skill", name, version, &path, keywords);
}

fn yank(d: &Daemon, name: &str, version: &str, undo: bool) {
    let url = format!(
        "{}/api/v1/crates/{name}/{version}/{}",
        d.url,
        if undo { "unyank" } else { "yank" }
    );
    let (status, body) = if undo {
        put(&url, Some(&d.admin), b"")
    } else {
        delete(&url, Some(&d.admin))
    };
    assert_eq!(status, 200, "{body}");
}

#[test]
fn publish_search_yank_search_again_on_every_route() {
    let d = Daemon::start();
    publish(
        &d,
        "pdf-fill",
        "1.0.0",
        "Fill PDF forms from a table.",
        &["forms"],
    );
    publish(&d, "pdf", "1.0.0", "The PDF format itself.", &[]);
    publish(
        &d,
        "sheet-reader",
        "1.0.0",
        "Reads spreadsheets; exports pdf.",
        &[],
    );
    publish(&d, "notes", "1.0.0", "Take notes.", &["pdf"]);

    // The whole name first, then names holding the word, then the rest.
    let (names, total) = cargo_search(&d, "PDF");
    assert_eq!(total, 4);
    assert_eq!(&names[..2], ["pdf", "pdf-fill"], "{names:?}");
    let rest: std::collections::BTreeSet<&str> = names[2..].iter().map(String::as_str).collect();
    assert_eq!(rest, ["notes", "sheet-reader"].into_iter().collect());
    assert_eq!(clawhub_search(&d, "PDF")[..2], ["pdf", "pdf-fill"]);
    // Every word is required; each may begin any word.
    assert_eq!(cargo_search(&d, "pdf forms").0, ["pdf-fill"]);
    assert_eq!(cargo_search(&d, "spread").0, ["sheet-reader"]);
    assert_eq!(cargo_search(&d, "pdf_fill").0, ["pdf-fill"]);
    assert!(
        cargo_search(&d, "df").0.is_empty(),
        "word prefixes, not substrings"
    );
    assert!(web_finds(&d, "forms", "pdf-fill"));
    assert_eq!(clawhub_search(&d, "forms"), ["pdf-fill"]);

    // Hostile text is literal words or nothing, never an error of the index.
    for (hostile, found) in [
        ("\"", 0),
        ("*", 0),
        ("pdf OR notes", 0),
        ("NEAR(pdf", 0),
        ("normalized:pdf", 0),
        ("'); --", 0),
        ("日本語", 0),
        ("^pdf*", 4),
        ("\"pdf\" (forms)", 1),
    ] {
        assert_eq!(cargo_search(&d, hostile).1, found, "{hostile:?}");
        assert_eq!(
            clawhub_search(&d, hostile).len() as u64,
            found,
            "{hostile:?}"
        );
    }
    let (status, body) = get(&format!("{}/api/v1/crates?q={}", d.url, "a".repeat(10_000)));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("search for fewer words"), "{body}");
    let (status, _) = get(&format!("{}/api/v1/search?q={}", d.url, "a+".repeat(17)));
    assert_eq!(status, 400);

    // A yank takes the package out of every search before the answer.
    yank(&d, "pdf-fill", "1.0.0", false);
    assert!(cargo_search(&d, "forms").0.is_empty());
    assert_eq!(cargo_search(&d, "pdf").1, 3);
    assert!(clawhub_search(&d, "forms").is_empty());
    assert!(!web_finds(&d, "forms", "pdf-fill"));
    // A newer version's words replace the old ones; unyanking the old one
    // leaves the newer one the latest.
    publish(
        &d,
        "pdf-fill",
        "1.1.0",
        "Completes PDF questionnaires.",
        &[],
    );
    assert_eq!(cargo_search(&d, "questionnaires").0, ["pdf-fill"]);
    yank(&d, "pdf-fill", "1.0.0", true);
    assert!(
        cargo_search(&d, "forms").0.is_empty(),
        "1.1.0 is the latest"
    );
    yank(&d, "pdf-fill", "1.1.0", false);
    assert_eq!(cargo_search(&d, "forms").0, ["pdf-fill"], "back to 1.0.0");

    // The index is in the database: a restart finds the same.
    let d = d.restart(&[]);
    assert_eq!(cargo_search(&d, "forms").0, ["pdf-fill"]);
    assert!(cargo_search(&d, "questionnaires").0.is_empty());
    assert!(web_finds(&d, "forms", "pdf-fill"));
}

#[test]
fn search_pages_count_every_match() {
    let d = Daemon::start();
    for i in 0..12 {
        publish(&d, &format!("paged-{i:02}"), "1.0.0", "One of many.", &[]);
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let (status, body) = get(&format!(
            "{}/api/v1/crates?q=many&per_page=5&page={page}",
            d.url
        ));
        assert_eq!(status, 200);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["meta"]["total"], 12);
        for c in json["crates"].as_array().unwrap() {
            seen.push(c["name"].as_str().unwrap().to_string());
        }
    }
    let expected: Vec<String> = (0..12).map(|i| format!("paged-{i:02}")).collect();
    assert_eq!(
        seen, expected,
        "equal matches by name, no page repeats or skips"
    );
    // An empty query lists everything, as before.
    assert_eq!(cargo_search(&d, "").1, 12);
}
