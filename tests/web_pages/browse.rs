//! Browsing: search, the package page and the file viewer.

use std::path::Path;

use crate::common::*;

/// Writes a skill with a SKILL.md body, a script and a reference.
fn pdf_skill(dir: &Path, version: &str) -> std::path::PathBuf {
    let root = dir.join(format!("pdf-fill-{version}"));
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::create_dir_all(root.join("references")).unwrap();
    std::fs::write(
        root.join("SKILL.md"),
        format!(
            "---\nname: pdf-fill\ndescription: Fill PDF forms from a table.\nlicense: Apache-2.0\nmetadata:\n  version: \"{version}\"\n---\n# Filling forms\n\nRun **fill.sh** with the table.\n\n| column | meaning |\n|---|---|\n| name | the field |\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("scripts/fill.sh"), "#!/bin/sh\necho filling\n").unwrap();
    std::fs::write(root.join("references/forms.md"), "# Forms\n\nEvery form.\n").unwrap();
    root
}

#[test]
fn search_finds_a_skill_whose_page_shows_its_readme_versions_files_and_install_lines() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    d.publish_dir(
        "skill",
        "pdf-fill",
        "1.0.0",
        &pdf_skill(src.path(), "1.0.0"),
        &["pdf"],
    );
    d.publish_dir(
        "skill",
        "pdf-fill",
        "1.1.0",
        &pdf_skill(src.path(), "1.1.0"),
        &["pdf"],
    );
    d.publish_skill("csv-read", "1.0.0");
    let b = Browser::start();

    // The catalog, then a search.
    b.goto(&format!("{}/", d.url));
    assert_eq!(b.title(), "Browse · skillreg");
    let rows = b.all("table.packages tbody tr");
    assert_eq!(rows.len(), 2, "{}", b.body_text());
    b.screenshot("browse");
    b.type_into(&b.find("input[name=q]"), "pdf forms");
    b.click_and_wait(&b.find("form.search button"));
    assert!(b.url().contains("q=pdf+forms"), "{}", b.url());
    let rows = b.all("table.packages tbody tr");
    assert_eq!(rows.len(), 1, "{}", b.body_text());
    let row = b.text(&rows[0]);
    for needle in [
        "pdf-fill",
        "skill",
        "1.1.0",
        "Fill PDF forms from a table.",
        "Apache-2.0",
        "published here",
    ] {
        assert!(row.contains(needle), "{needle}: {row}");
    }

    // One download, for the chart.
    let (status, _) = get_bytes(&format!("{}/api/v1/crates/pdf-fill/1.1.0/download", d.url));
    assert_eq!(status, 200);

    // The package page.
    b.click_and_wait(&b.find("table.packages tbody a"));
    assert!(b.url().ends_with("/packages/pdf-fill"), "{}", b.url());
    let readme = b.find("article.readme");
    assert_eq!(b.text(&b.find("article.readme h1")), "Filling forms");
    assert!(
        b.all("article.readme table").len() == 1,
        "the table is rendered"
    );
    assert!(!b.text(&readme).contains("description:"), "no frontmatter");
    let versions: Vec<String> = b
        .all("table.versions tbody tr td:first-child")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    let files: Vec<String> = b
        .all("table.files code")
        .iter()
        .map(|e| b.text(e))
        .collect();
    assert_eq!(
        files,
        ["SKILL.md", "references/forms.md", "scripts/fill.sh"]
    );
    let install: Vec<String> = b.all(".install pre").iter().map(|e| b.text(e)).collect();
    let base = &d.url;
    for line in [
        format!("skillreg install pdf-fill --registry {base}"),
        format!("npx skills add {base} --skill pdf-fill -y -a claude-code"),
        "claude plugin install pdf-fill@skillreg".to_string(),
        format!("clawhub --registry {base} install pdf-fill"),
    ] {
        assert!(
            install.iter().any(|l| l.contains(&line)),
            "{line}: {install:?}"
        );
    }
    let facts = b.body_text();
    for needle in [
        "Context cost",
        "tokens",
        "Scripts\n1",
        "References\n1",
        "cl100k_base",
    ] {
        assert!(facts.contains(needle), "{needle}: {facts}");
    }
    assert_eq!(
        b.all("svg.chart rect").len(),
        1,
        "today's download is a bar"
    );
    b.screenshot("package");

    // The file viewer shows the text as text.
    b.click_and_wait(&b.find("table.files a[href$='scripts/fill.sh']"));
    assert_eq!(b.text(&b.find("pre.file")), "#!/bin/sh\necho filling");

    // A package that does not exist is a page that says so, with 404.
    let (status, body) = get(&format!("{}/packages/no-such-thing", d.url));
    assert_eq!(status, 404);
    assert!(body.contains("was not found in this registry"), "{body}");
    d.assert_serving();
}

/// The rows of the browse page at `query`: each package name listed.
fn listed(d: &Daemon, query: &str) -> (Vec<String>, String) {
    let (status, page) = get(&format!("{}/{query}", d.url));
    assert_eq!(status, 200, "{query}: {page}");
    let names = page
        .split("<td><a href=\"/packages/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect();
    (names, page)
}

#[test]
fn the_catalog_filters_by_kind_and_source_and_comes_in_pages() {
    let d = Daemon::start();
    for i in 0..51 {
        d.publish_skill(&format!("skill-{i:02}"), "1.0.0");
    }
    let admin = Admin::of(&d);
    admin.publish(&example_dir("hello-plugin"));

    let (first, page) = listed(&d, "?sort=name");
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "hello-plugin");
    assert!(
        page.contains("Page 1 of 2") && page.contains("rel=\"next\""),
        "{page}"
    );
    let (second, page) = listed(&d, "?sort=name&page=2");
    assert_eq!(second, ["skill-49", "skill-50"]);
    assert!(page.contains("rel=\"prev\"") && !page.contains("rel=\"next\""));

    let (plugins, _) = listed(&d, "?kind=plugin");
    assert_eq!(plugins, ["hello-plugin"]);
    let (here, _) = listed(&d, "?source=&kind=plugin");
    assert_eq!(here, ["hello-plugin"], "published here");
    let (mirrored, page) = listed(&d, "?source=team");
    assert!(
        mirrored.is_empty() && page.contains("Nothing matches"),
        "{page}"
    );
    let (found, _) = listed(&d, "?q=skill-07");
    assert_eq!(found, ["skill-07"]);
    let (status, _) = get(&format!("{}/?q={}", d.url, "x".repeat(300)));
    assert_eq!(status, 400, "a search longer than the API takes");
    d.assert_serving();
}
