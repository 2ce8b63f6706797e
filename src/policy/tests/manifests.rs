//! SKILL.md strictness and reserved names.

use super::*;

#[test]
fn skill_md_lenient_and_strict() {
    let strict = PolicyConfig {
        skill_md: "strict".into(),
        ..Default::default()
    };
    let lenient = PolicyConfig::default();
    let unknown = b"---\nname: demo\ndescription: d\nlicense: MIT\nwhen_to_use: always\n---\n";
    let run = |p: &PolicyConfig, text: &[u8]| {
        let b = bundle(&[("SKILL.md", text, false)]);
        evaluate(p, Kind::Skill, "demo", Some("MIT"), &b, &limits()).unwrap()
    };
    let l = run(&lenient, unknown);
    assert_eq!(one(&l, "skill-md").severity, Severity::Info);
    assert!(one(&l, "skill-md").detail.contains("when_to_use"));
    let s = run(&strict, unknown);
    assert_eq!(one(&s, "skill-md").severity, Severity::Reject);
    assert!(rejects(&s) && !rejects(&l));
    let xml = b"---\nname: demo\ndescription: Use <b>me</b>\n---\n";
    assert!(one(&run(&strict, xml), "skill-md").detail.contains("XML"));
    let broken = b"# no frontmatter\n";
    assert_eq!(
        one(&run(&lenient, broken), "skill-md").severity,
        Severity::Warning
    );
    assert_eq!(
        one(&run(&strict, broken), "skill-md").severity,
        Severity::Reject
    );
    assert!(run(&strict, SKILL).is_empty());
    // the name must be the package's
    let other = b"---\nname: other\ndescription: d\n---\n";
    assert!(one(&run(&lenient, other), "skill-md")
        .detail
        .contains("`other`"));
    // a skill without SKILL.md
    let b = bundle(&[("README.md", b"x", false)]);
    let f = evaluate(&lenient, Kind::Skill, "demo", Some("MIT"), &b, &limits()).unwrap();
    assert!(one(&f, "skill-md").detail.contains("no SKILL.md"));
    // every skills/*/SKILL.md of a plugin, against its folder
    let b = bundle(&[
        (".claude-plugin/plugin.json", PLUGIN, false),
        (
            "skills/good/SKILL.md",
            b"---\nname: good\ndescription: d\n---\n",
            false,
        ),
        (
            "skills/bad/SKILL.md",
            b"---\nname: good\ndescription: d\nfoo: 1\n---\n",
            false,
        ),
        ("skills/worse/SKILL.md", b"---\nname: [\n---\n", false),
    ]);
    let f = evaluate(&strict, Kind::Plugin, "kit", Some("MIT"), &b, &limits()).unwrap();
    let s = of(&f, "skill-md");
    assert_eq!(s.len(), 3, "{s:#?}");
    assert_eq!(
        s.iter()
            .filter(|x| x.path.as_deref() == Some("skills/bad/SKILL.md"))
            .count(),
        2
    );
    assert!(s.iter().all(|x| x.severity == Severity::Reject));
    // crates have none
    let b = bundle(&[("c-1.0.0/Cargo.toml", b"[package]\nname = \"c\"\n", false)]);
    assert!(
        evaluate(&strict, Kind::Crate, "c", Some("MIT"), &b, &limits())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn reserved_names_are_rejected() {
    let p = PolicyConfig::default();
    let plugin = |name: &str| {
        let json = format!(r#"{{"name": "{name}", "license": "MIT"}}"#);
        let b = bundle(&[(".claude-plugin/plugin.json", json.as_bytes(), false)]);
        evaluate(&p, Kind::Plugin, name, None, &b, &limits()).unwrap()
    };
    let f = plugin("agent-skills");
    let d = one(&f, "reserved-name");
    assert_eq!(d.severity, Severity::Reject);
    assert!(d.detail.contains("reserved"), "{}", d.detail);
    let f = plugin("claude-code-plugins");
    assert_eq!(of(&f, "reserved-name").len(), 1, "one finding per name");
    // A name that merely contains the word is a warning, not a rejection.
    let f = plugin("my-claude-helper");
    let d = one(&f, "reserved-word");
    assert!(d.detail.contains("\"claude\""));
    assert_eq!(d.severity, Severity::Warning);
    assert!(of(&f, "reserved-name").is_empty());
    assert!(of(&plugin("anthropicish"), "reserved-word").len() == 1);
    assert!(plugin("kit").is_empty());
    // crates are not held to the skill and plugin rules
    let b = bundle(&[(
        "anthropic-sdk-1.0.0/Cargo.toml",
        b"[package]\nname = \"anthropic-sdk\"\n",
        false,
    )]);
    let f = evaluate(&p, Kind::Crate, "anthropic-sdk", Some("MIT"), &b, &limits()).unwrap();
    assert!(f.is_empty(), "{f:#?}");
    // custom list, compared normalized
    let custom = PolicyConfig {
        reserved_names: vec!["Our_Tools".into()],
        ..Default::default()
    };
    let b = bundle(&[(
        "SKILL.md",
        b"---\nname: our-tools\ndescription: d\nlicense: MIT\n---\n",
        false,
    )]);
    let f = evaluate(&custom, Kind::Skill, "our-tools", None, &b, &limits()).unwrap();
    assert_eq!(one(&f, "reserved-name").severity, Severity::Reject);
}
