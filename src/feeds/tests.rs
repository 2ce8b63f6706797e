use super::*;

fn item(name: &str, kind: Kind, source: Option<&str>) -> FeedItem {
    let zip = |tag: &str| {
        Ok(StoredZip {
            sha256: format!("{tag}{}", "0".repeat(63)),
            size: 10,
        })
    };
    FeedItem {
        name: name.into(),
        kind,
        version: "1.0.0".into(),
        description: format!("{name} does things"),
        source: source.map(str::to_string),
        skill_zip: if kind == Kind::Skill {
            zip("a")
        } else {
            Err("a plugin is not served as a single skill".into())
        },
        plugin_zip: zip("b"),
    }
}

fn scope(path: &str) -> config::Scope {
    config::Scope {
        path: path.into(),
        sources: vec![],
        kinds: vec![],
        include: vec![],
        packages: vec![],
    }
}

#[test]
fn the_wellknown_index_lists_skills_with_relative_urls_and_digests() {
    let items = [
        item("zeta", Kind::Skill, None),
        item("alpha", Kind::Skill, None),
        item("plug", Kind::Plugin, None),
    ];
    let doc: serde_json::Value = serde_json::from_slice(&wellknown::render(&items)).unwrap();
    assert_eq!(doc["$schema"], wellknown::SCHEMA);
    let skills = doc["skills"].as_array().unwrap();
    let names: Vec<&str> = skills.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "zeta"], "skills only, by name");
    let sha = format!("a{}", "0".repeat(63));
    assert_eq!(skills[0]["type"], "archive");
    assert_eq!(skills[0]["url"], format!("files/{sha}.zip"));
    assert_eq!(skills[0]["digest"], format!("sha256:{sha}"));
}

#[test]
fn the_marketplace_names_absolute_zip_urls_and_skills_as_plugins_on_request() {
    let items = [
        item("sk", Kind::Skill, None),
        item("plug", Kind::Plugin, None),
    ];
    let mut cfg = config::Feeds::default();
    let doc: serde_json::Value =
        serde_json::from_slice(&marketplace::render(&cfg, "https://reg.example/", &items)).unwrap();
    assert_eq!(doc["name"], "skillreg");
    assert!(doc["metadata"]["description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    let plugins = doc["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 2);
    let sha = format!("b{}", "0".repeat(63));
    assert_eq!(plugins[0]["name"], "plug");
    assert_eq!(
        plugins[0]["source"],
        serde_json::json!({
            "source": "archive",
            "url": format!("https://reg.example/claude/files/{sha}.zip"),
            "sha256": sha,
        })
    );
    cfg.skills_as_plugins = false;
    let doc: serde_json::Value =
        serde_json::from_slice(&marketplace::render(&cfg, "https://reg.example", &items)).unwrap();
    assert_eq!(doc["plugins"].as_array().unwrap().len(), 1);
}

#[test]
fn scopes_filter_by_source_kind_and_name() {
    let local = item("data-clean", Kind::Skill, None);
    let mirrored = item("data-load", Kind::Skill, Some("upstream"));
    let other = item("web-fetch", Kind::Skill, None);
    assert!(in_scope(&scope("all"), &other), "no filter: everything");

    let mut by_source = scope("s");
    by_source.sources = vec![LOCAL_SOURCE.into()];
    assert!(in_scope(&by_source, &local));
    assert!(!in_scope(&by_source, &mirrored));

    let mut by_name = scope("n");
    by_name.include = vec!["data-*".into()];
    by_name.packages = vec!["Web_Fetch".into()];
    assert!(in_scope(&by_name, &local) && in_scope(&by_name, &mirrored));
    assert!(in_scope(&by_name, &other), "listed names count, normalized");

    let mut by_kind = scope("k");
    by_kind.kinds = vec![Kind::Plugin];
    assert!(!in_scope(&by_kind, &local));
}

#[test]
fn a_huge_description_is_cut_in_the_marketplace() {
    let mut big = item("plug", Kind::Plugin, None);
    big.description = "é".repeat(900_000);
    let doc: serde_json::Value = serde_json::from_slice(&marketplace::render(
        &config::Feeds::default(),
        "https://reg.example",
        [&big],
    ))
    .unwrap();
    let description = doc["plugins"][0]["description"].as_str().unwrap();
    assert_eq!(
        description.chars().count(),
        marketplace::MAX_DESCRIPTION + 1
    );
    assert!(description.ends_with('…'));
}

#[test]
fn the_index_lives_in_its_folder() {
    assert_eq!(
        format!("{}index.json", wellknown::DIR),
        wellknown::INDEX_PATH
    );
}
