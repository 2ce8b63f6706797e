//! Unit tests of the policy, one file per family of rules; the helpers
//! that build bundles and read findings are here.

use super::*;
use crate::bundle::pack::pack_dir;
use std::fs;
use std::os::unix::fs::PermissionsExt;

mod content;
mod inventory;
mod licence;
mod manifests;

fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_compressed: 64 << 20,
        max_unpacked: 256 << 20,
        max_entries: 100_000,
    }
}

/// Packs files (path, content, executable) with `pack_dir`.
fn bundle(files: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for (path, content, exec) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, content).unwrap();
        let mode = if *exec { 0o755 } else { 0o644 };
        fs::set_permissions(&full, fs::Permissions::from_mode(mode)).unwrap();
    }
    pack_dir(dir.path()).unwrap()
}

const SKILL: &[u8] = b"---\nname: demo\ndescription: A demo skill.\nlicense: MIT\n---\nbody\n";
const PLUGIN: &[u8] = br#"{"name": "kit", "version": "1.0.0", "license": "MIT"}"#;

fn skill_with(policy: &PolicyConfig, extra: &[(&str, &[u8], bool)]) -> Vec<Finding> {
    let mut files = vec![("SKILL.md", SKILL, false)];
    files.extend_from_slice(extra);
    evaluate(
        policy,
        Kind::Skill,
        "demo",
        Some("MIT"),
        &bundle(&files),
        &limits(),
    )
    .unwrap()
}

fn of<'f>(findings: &'f [Finding], rule: &str) -> Vec<&'f Finding> {
    findings.iter().filter(|f| f.rule == rule).collect()
}

fn one<'f>(findings: &'f [Finding], rule: &str) -> &'f Finding {
    let found = of(findings, rule);
    assert_eq!(found.len(), 1, "want one {rule} finding in {findings:#?}");
    found[0]
}

fn license(policy: &PolicyConfig, expr: Option<&str>) -> Vec<Finding> {
    let b = bundle(&[("SKILL.md", b"---\nname: demo\ndescription: d\n---\n", false)]);
    evaluate(policy, Kind::Skill, "demo", expr, &b, &limits()).unwrap()
}

#[test]
fn a_clean_skill_has_no_findings() {
    let f = skill_with(
        &PolicyConfig::default(),
        &[("docs/usage.md", b"# Usage\nRun it.\n", false)],
    );
    assert!(f.is_empty(), "{f:#?}");
    assert!(!rejects(&f));
}

#[test]
fn config_defaults_parse_and_check() {
    let d = PolicyConfig::default();
    d.check().unwrap();
    assert_eq!(toml::from_str::<PolicyConfig>("").unwrap(), d);
    assert_eq!(d.max_file_bytes, 10 * 1024 * 1024);
    assert_eq!(d.max_bundle_bytes, 0);
    assert_eq!(d.skill_md, "lenient");
    assert_eq!(d.auto_reject, ["license-deny", "reserved-name"]);
    assert_eq!(d.content_patterns.len(), 8);
    assert!(d.hidden_unicode && d.flag_binaries && d.flag_nested_archives);
    let p: PolicyConfig =
        toml::from_str("license_deny = [\"GPL-3.0-only\"]\nskill_md = \"strict\"\n").unwrap();
    assert_eq!(p.license_deny, ["GPL-3.0-only"]);
    assert_eq!(p.content_patterns, d.content_patterns);
    assert!(toml::from_str::<PolicyConfig>("licence_deny = []").is_err());
}

#[test]
fn check_refuses_bad_values() {
    let bad = PolicyConfig {
        content_patterns: vec!["ok".into(), "eval(".into()],
        ..Default::default()
    };
    let err = bad.check().unwrap_err().to_string();
    assert!(
        err.contains("`eval(`") && err.contains("policy.content_patterns"),
        "{err}"
    );
    let empty = PolicyConfig {
        content_patterns: vec![String::new()],
        ..Default::default()
    };
    assert!(empty
        .check()
        .unwrap_err()
        .to_string()
        .contains("empty pattern"));
    let mode = PolicyConfig {
        skill_md: "loose".into(),
        ..Default::default()
    };
    assert!(mode.check().unwrap_err().to_string().contains("`loose`"));
    let rule = PolicyConfig {
        auto_reject: vec!["licence-deny".into()],
        ..Default::default()
    };
    assert!(rule
        .check()
        .unwrap_err()
        .to_string()
        .contains("`licence-deny`"));
}

#[test]
fn an_invalid_pattern_that_slipped_past_check_is_reported() {
    let bad = PolicyConfig {
        content_patterns: vec!["eval(".into()],
        ..Default::default()
    };
    let f = skill_with(&bad, &[]);
    assert!(one(&f, "content-pattern").detail.contains("invalid"));
}

#[test]
fn severity_and_finding_serialize_in_lowercase() {
    assert_eq!(
        serde_json::to_string(&Severity::Reject).unwrap(),
        "\"reject\""
    );
    let f = Finding::new("size", Severity::Info, None, "d".into());
    let json = serde_json::to_string(&f).unwrap();
    assert_eq!(
        json,
        r#"{"rule":"size","severity":"info","path":null,"detail":"d"}"#
    );
    assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
    assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Reject);
}

#[test]
fn auto_reject_sets_the_severity_of_listed_rules() {
    let p = PolicyConfig {
        auto_reject: vec!["content-pattern".into(), "script".into()],
        license_deny: vec!["MIT".into()],
        ..Default::default()
    };
    let f = skill_with(&p, &[("run.sh", b"#!/bin/sh\neval(x)\n", false)]);
    assert_eq!(one(&f, "content-pattern").severity, Severity::Reject);
    assert_eq!(one(&f, "script").severity, Severity::Reject);
    // license-deny is no longer listed: a warning
    assert_eq!(one(&f, "license-deny").severity, Severity::Warning);
    let none = PolicyConfig {
        auto_reject: Vec::new(),
        ..Default::default()
    };
    let b = bundle(&[(
        "SKILL.md",
        b"---\nname: agent-skills\ndescription: d\n---\n",
        false,
    )]);
    let f = evaluate(
        &none,
        Kind::Skill,
        "agent-skills",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    assert_eq!(one(&f, "reserved-name").severity, Severity::Warning);
    assert!(!rejects(&f));
}

#[test]
fn output_is_sorted_and_deterministic() {
    let p = PolicyConfig {
        license_allow: vec!["Apache-2.0".into()],
        ..Default::default()
    };
    let files: &[(&str, &[u8], bool)] = &[
        (
            "SKILL.md",
            b"---\nname: demo\ndescription: d\nx: 1\n---\n",
            false,
        ),
        ("z.sh", b"#!/bin/sh\neval(a)\nsubprocess\n", true),
        ("a.sh", b"#!/bin/sh\nos.system(1)\n", false),
        ("k.zip", b"PK\x03\x04", false),
    ];
    let b = bundle(files);
    let a = evaluate(&p, Kind::Skill, "demo", None, &b, &limits()).unwrap();
    let again = evaluate(&p, Kind::Skill, "demo", None, &b, &limits()).unwrap();
    assert_eq!(a, again);
    let keys: Vec<_> = a.iter().map(|f| (&f.rule, &f.path, &f.detail)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(a.len() >= 7, "{a:#?}");
}

#[test]
fn refused_archives_are_errors() {
    let err = evaluate(
        &PolicyConfig::default(),
        Kind::Skill,
        "demo",
        None,
        b"not gzip",
        &limits(),
    )
    .unwrap_err();
    assert!(matches!(err, BundleError::NotGzip));
}

#[test]
fn superpowers_fixture() {
    // Where tests/common finds the fixtures: $SKILLREG_FIXTURES, else
    // ../shared/fixtures beside the repository, else /work/shared/fixtures.
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    let base = match std::env::var_os("SKILLREG_FIXTURES") {
        Some(dir) => std::path::PathBuf::from(dir),
        None if beside.is_dir() => beside.clone(),
        None => std::path::PathBuf::from("/work/shared/fixtures"),
    };
    let dir = base.join("marketplaces/superpowers");
    assert!(
        dir.is_dir(),
        "the superpowers fixture is missing: looked for {} ($SKILLREG_FIXTURES {}; {} {}); \
         set SKILLREG_FIXTURES to the fixtures directory",
        dir.display(),
        match std::env::var_os("SKILLREG_FIXTURES") {
            Some(v) => format!("= {}", v.to_string_lossy()),
            None => "unset".into(),
        },
        beside.display(),
        if beside.is_dir() {
            "exists"
        } else {
            "does not exist"
        },
    );
    let dir = dir.as_path();
    let b = pack_dir(dir).unwrap();
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "superpowers",
        None,
        &b,
        &limits(),
    )
    .unwrap();
    println!("superpowers: {} findings", f.len());
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &f {
        *by_rule.entry(x.rule.as_str()).or_default() += 1;
    }
    println!("by rule: {by_rule:?}");
    for x in &f {
        if x.rule != "script" {
            println!("  {:?} {} {:?}: {}", x.severity, x.rule, x.path, x.detail);
        }
    }
    let hooks = of(&f, "hook");
    assert!(
        hooks
            .iter()
            .any(|h| h.path.as_deref() == Some("hooks/hooks.json")
                && h.detail.contains("`SessionStart`")
                && h.detail.contains("run-hook.cmd")),
        "{hooks:#?}"
    );
    let scripts: Vec<&str> = of(&f, "script")
        .iter()
        .filter_map(|s| s.path.as_deref())
        .collect();
    assert!(scripts.contains(&"hooks/session-start"), "{scripts:?}");
    assert!(scripts.len() >= 5, "{scripts:?}");
    // MIT from plugin.json, a real name, nothing auto-rejected
    assert!(of(&f, "license-missing").is_empty() && of(&f, "reserved-name").is_empty());
    assert!(!rejects(&f), "{f:#?}");
}
