use super::entry::{normalized, remote_reason};
use super::manifest::{read_skill_meta, synthesize_manifest};
use super::*;
use crate::package::parse_version;
use serde_json::Map;

#[test]
fn no_history_uses_the_hash_prefix() {
    let sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(
        NoHistory.fallback(Kind::Skill, "x", sha),
        "0.0.0-0123456789ab"
    );
    assert!(parse_version(&NoHistory.fallback(Kind::Skill, "x", sha)).is_ok());
}

#[test]
fn relative_paths_stay_below_their_base() {
    for ok in [".", "./", "./plugins/a", "plugins/a", "./a/./b"] {
        assert!(normalized(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [
        ("../escape", ".."),
        ("./a/../../b", ".."),
        ("/etc", "absolute"),
        ("", "empty"),
        ("a\\b", "\\"),
    ] {
        assert!(normalized(bad).unwrap_err().contains(why), "{bad}");
    }
}

#[test]
fn remote_reasons_name_the_source_and_pin() {
    let r = remote_reason("github", "o/r", Some("abc"));
    assert!(
        r.starts_with("remote source github (o/r@abc) is not fetched: "),
        "{r}"
    );
    assert!(r.contains("`remote_hosts`"), "{r}");
    let r = remote_reason("url", "https://x/y.git", None);
    assert!(
        r.contains("(https://x/y.git@default branch, unpinned)"),
        "{r}"
    );
}

#[test]
fn skill_meta_is_lenient_where_claude_code_is() {
    let m = read_skill_meta(
        "s/SKILL.md",
        b"---\nname: ok\ndescription: d\nwhen_to_use: x\nmetadata:\n  version: \"1.2.3\"\n---\n",
    )
    .unwrap();
    assert_eq!(m.name.as_deref(), Some("ok"));
    assert_eq!(m.version.as_deref(), Some("1.2.3"));
    assert_eq!(m.notes.len(), 1);
    assert!(m.notes[0].contains("when_to_use"));

    let long = format!("---\nname: ok\ndescription: {}\n---\n", "x".repeat(1500));
    let m = read_skill_meta("s/SKILL.md", long.as_bytes()).unwrap();
    assert_eq!(m.name.as_deref(), Some("ok"));
    assert!(
        m.notes.iter().any(|n| n.contains("1500 characters")),
        "{:?}",
        m.notes
    );

    let m = read_skill_meta(
        "s/SKILL.md",
        b"---\nname: Bad_Name\ndescription: d\nmetadata:\n  version: 1.0\n---\n",
    )
    .unwrap();
    assert_eq!(m.name.as_deref(), Some("Bad_Name"));
    assert_eq!(m.version, None);
    assert!(
        m.notes.iter().any(|n| n.contains("quote it")),
        "{:?}",
        m.notes
    );

    for bad in [
        &b"# no frontmatter"[..],
        b"---\nname: [\n---\n",
        b"---\n- a\n---\n",
    ] {
        let e = read_skill_meta("s/SKILL.md", bad).unwrap_err();
        assert!(e.contains("s/SKILL.md"), "{e}");
    }
}

#[test]
fn synthesized_manifest_carries_plugin_fields_only() {
    let entry: Map<String, Value> = serde_json::from_str(
        r#"{"name":"Entry","source":"./x","version":"1.0.0","description":"d","category":"c","tags":["t"],"strict":false,"keywords":["k"]}"#,
    )
    .unwrap();
    let json: Value = serde_json::from_slice(&synthesize_manifest("kit", &entry)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name":"kit","version":"1.0.0","description":"d","keywords":["k"]})
    );
}

#[test]
fn reserved_names_include_protocols_list() {
    for n in [
        "claude-plugins-official",
        "anthropic-agent-skills",
        "agent-skills",
        "claude-code-plugins",
        "anthropic-plugins",
    ] {
        assert!(RESERVED_MARKETPLACE_NAMES.contains(&n), "{n}");
    }
}
