use super::*;

#[test]
fn valid_with_unknown_keys_as_warnings() {
    let m = parse(
        "SKILL.md",
        b"---\nname: pdf\ndescription: Reads PDFs.\nmetadata:\n  version: \"1.2.0\"\nwhen_to_use: always\n---\n# PDF\n",
    )
    .unwrap();
    assert_eq!(m.name, "pdf");
    assert_eq!(m.version(), Some("1.2.0"));
    assert_eq!(m.warnings.len(), 1);
    assert!(m.warnings[0].contains("when_to_use"));
}

#[test]
fn refusals_say_what_to_fix() {
    let cases: &[(&[u8], &str)] = &[
        (b"# no frontmatter", "frontmatter"),
        (b"---\ndescription: x\n---\n", "`name`"),
        (
            b"---\nname: Bad_Name\ndescription: x\n---\n",
            "invalid `name`",
        ),
        (b"---\nname: ok\n---\n", "`description`"),
        (
            b"---\nname: ok\ndescription: x\nmetadata:\n  version: 1.0\n---\n",
            "quote",
        ),
        (b"---\nname: ok\ndescription: [\n---\n", "invalid YAML"),
    ];
    for (text, want) in cases {
        let err = parse("SKILL.md", text).unwrap_err().to_string();
        assert!(err.contains(want), "{err} should mention {want}");
    }
    let long = format!("---\nname: ok\ndescription: {}\n---\n", "x".repeat(1025));
    assert!(parse("SKILL.md", long.as_bytes())
        .unwrap_err()
        .to_string()
        .contains("1024"));
}

fn deps(list: &str) -> Result<Vec<(String, String)>, String> {
    parse_dependencies("SKILL.md", "me", list)
        .map(|d| d.into_iter().map(|d| (d.name, d.req)).collect())
        .map_err(|e| e.to_string())
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect()
}

#[test]
fn dependency_list_syntax() {
    assert_eq!(
        deps("other-skill@^1.0, another@~2").unwrap(),
        pairs(&[("other-skill", "^1.0"), ("another", "~2")])
    );
    assert_eq!(
        deps("  base @ ^1.0 ,other,\tthird@=1.2.3 ").unwrap(),
        pairs(&[("base", "^1.0"), ("other", "*"), ("third", "=1.2.3")])
    );
    // canonical requirement form
    assert_eq!(
        deps("a@1.2, b@*").unwrap(),
        pairs(&[("a", "^1.2"), ("b", "*")])
    );
    // a comparator after a comma continues the previous requirement
    assert_eq!(
        deps("a@>=1.2, <2, b, c@^1, ~1.4").unwrap(),
        pairs(&[("a", ">=1.2, <2"), ("b", "*"), ("c", "^1, ~1.4")])
    );
    // the forms index-spec/packages.md §10 gives
    assert_eq!(
        deps("base-skill@^1.0, other, pdf-tools@~2.1, w@1.*, e@=1.0.0").unwrap(),
        pairs(&[
            ("base-skill", "^1.0"),
            ("other", "*"),
            ("pdf-tools", "~2.1"),
            ("w", "1.*"),
            ("e", "=1.0.0")
        ])
    );
    assert_eq!(deps("a@>=1.2,<2").unwrap(), pairs(&[("a", ">=1.2, <2")]));
    assert!(deps("a@1.x - 2").is_err());
    assert!(deps("a@>=1 <2").is_err());
    assert_eq!(deps("").unwrap(), pairs(&[]));
    assert_eq!(deps("   ").unwrap(), pairs(&[]));
}

#[test]
fn dependency_list_refusals_quote_the_item() {
    let cases: &[(&str, &str)] = &[
        ("Bad_Name@^1", "`Bad_Name@^1`"),
        ("ok, Bad_Name", "invalid name"),
        ("base@latest", "`latest`"),
        ("base@1.0.0.0", "invalid version requirement"),
        ("base@", "nothing after `@`"),
        ("a, b, a@^2", "`a` more than once"),
        ("a, me@^1", "itself"),
        ("a,,b", "empty entry"),
        ("a, ", "empty entry"),
        ("<2", "`<2`"),
        ("b, >=1", "`>=1`"),
        ("a@b@c", "`b@c`"),
    ];
    for (list, want) in cases {
        let err = deps(list).unwrap_err();
        assert!(err.contains(want), "{list:?}: {err} should mention {want}");
        assert!(err.contains("metadata.dependencies"), "{err}");
    }
}

#[test]
fn dependencies_come_from_metadata() {
    let m = parse(
        "SKILL.md",
        b"---\nname: me\ndescription: d\nmetadata:\n  dependencies: \"base-skill@^1.0, other\"\n---\n",
    )
    .unwrap();
    assert_eq!(
        m.dependencies("SKILL.md").unwrap(),
        vec![
            Dependency {
                name: "base-skill".into(),
                req: "^1.0".into()
            },
            Dependency {
                name: "other".into(),
                req: "*".into()
            },
        ]
    );
    let none = parse("SKILL.md", b"---\nname: me\ndescription: d\n---\n").unwrap();
    assert!(none.dependencies("SKILL.md").unwrap().is_empty());
    let err = parse(
        "SKILL.md",
        b"---\nname: me\ndescription: d\nmetadata:\n  dependencies: [a, b]\n---\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`metadata.dependencies` that is not a string"),
        "{err}"
    );
    let top = parse(
        "SKILL.md",
        b"---\nname: me\ndescription: d\ndependencies: a\n---\n",
    )
    .unwrap();
    assert!(top.dependencies("SKILL.md").unwrap().is_empty());
    assert!(
        top.warnings[0].contains("metadata.dependencies"),
        "{:?}",
        top.warnings
    );
}
