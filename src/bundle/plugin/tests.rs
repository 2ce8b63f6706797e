use super::*;

fn deps(json: &str) -> Result<Vec<(String, String)>, String> {
    let value: Value = serde_json::from_str(json).unwrap();
    parse_dependencies("kit", &value)
        .map(|d| d.into_iter().map(|d| (d.name, d.req)).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn both_dependency_forms() {
    assert_eq!(
        deps(r#"["audit-logger", {"name": "secrets-vault", "version": "~2.1.0"}, {"name": "bare"}, {"name": "n", "version": null, "other": 1}]"#)
            .unwrap(),
        vec![
            ("audit-logger".to_string(), "*".to_string()),
            ("secrets-vault".to_string(), "~2.1.0".to_string()),
            ("bare".to_string(), "*".to_string()),
            ("n".to_string(), "*".to_string()),
        ]
    );
    assert!(deps("[]").unwrap().is_empty());
}

#[test]
fn dependency_refusals_quote_the_item() {
    let cases: &[(&str, &str)] = &[
        (r#""audit-logger""#, "not a list"),
        (r#"{"name": "a"}"#, "not a list"),
        ("[1]", "entry 1, which is neither"),
        (r#"[["a"]]"#, "neither a string nor an object"),
        (r#"[{"version": "^1"}]"#, "without a string `name`"),
        (r#"[{"name": 5}]"#, "without a string `name`"),
        (
            r#"[{"name": "a", "version": 1.2}]"#,
            "`version` is not a string",
        ),
        (r#"["Bad_Name"]"#, "`\"Bad_Name\"`"),
        (r#"[{"name": "a", "version": "latest"}]"#, "`latest`"),
        (
            r#"["a", {"name": "a", "version": "^1"}]"#,
            "`a` more than once",
        ),
        (r#"["kit"]"#, "itself"),
        (r#"["a@other-market"]"#, "another marketplace"),
        (
            r#"[{"name": "a", "marketplace": "m"}]"#,
            "remove `marketplace`",
        ),
    ];
    for (json, want) in cases {
        let err = deps(json).unwrap_err();
        assert!(err.contains(want), "{json}: {err} should mention {want}");
        assert!(err.contains(PLUGIN_JSON), "{err}");
    }
}

#[test]
fn manifest_reads_dependencies() {
    let m = parse_manifest(
        br#"{"name": "kit", "dependencies": ["a", {"name": "b", "version": "^1.2"}]}"#,
    )
    .unwrap();
    assert_eq!(
        m.dependencies,
        vec![
            Dependency {
                name: "a".into(),
                req: "*".into()
            },
            Dependency {
                name: "b".into(),
                req: "^1.2".into()
            }
        ]
    );
    let none = parse_manifest(br#"{"name": "kit", "dependencies": null}"#).unwrap();
    assert!(none.dependencies.is_empty());
    assert!(parse_manifest(br#"{"name": "kit", "dependencies": "a"}"#).is_err());
}
