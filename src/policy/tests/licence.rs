//! Licences: deny and allow lists, missing licences, proprietary licence files, SPDX expressions.

use super::super::licence::{spdx_alternatives, Term};
use super::*;

#[test]
fn license_deny_fires_and_auto_rejects() {
    let p = PolicyConfig {
        license_deny: vec!["GPL-3.0-only".into()],
        ..Default::default()
    };
    for expr in [
        "GPL-3.0-only",
        "gpl-3.0-only",
        "MIT AND GPL-3.0-only",
        "(MIT AND GPL-3.0-only) OR GPL-3.0-only",
    ] {
        let f = license(&p, Some(expr));
        let d = one(&f, "license-deny");
        assert_eq!(d.severity, Severity::Reject, "{expr}");
        assert!(
            d.detail.to_lowercase().contains("without `gpl-3.0-only`"),
            "{}",
            d.detail
        );
        assert!(rejects(&f));
    }
    // a choice without the denied licence is fine
    for expr in [
        "MIT",
        "MIT OR GPL-3.0-only",
        "(GPL-3.0-only AND MIT) OR Apache-2.0",
    ] {
        assert!(
            of(&license(&p, Some(expr)), "license-deny").is_empty(),
            "{expr}"
        );
    }
    // exceptions can be denied too
    let p = PolicyConfig {
        license_deny: vec!["Classpath-exception-2.0".into()],
        ..Default::default()
    };
    let f = license(&p, Some("GPL-2.0-only WITH Classpath-exception-2.0"));
    assert!(one(&f, "license-deny")
        .detail
        .contains("GPL-2.0-only WITH Classpath-exception-2.0"));
}

#[test]
fn license_not_allowed_fires() {
    let p = PolicyConfig {
        license_allow: vec!["MIT".into(), "Apache-2.0".into()],
        ..Default::default()
    };
    for expr in [
        "MIT",
        "MIT OR Apache-2.0",
        "GPL-3.0-only OR MIT",
        "MIT/Apache-2.0",
        "(MIT AND Apache-2.0)",
        "Apache-2.0 WITH LLVM-exception",
    ] {
        assert!(license(&p, Some(expr)).is_empty(), "{expr}");
    }
    let f = license(&p, Some("MIT AND BSD-3-Clause"));
    let d = one(&f, "license-not-allowed");
    assert_eq!(d.severity, Severity::Warning);
    assert!(
        d.detail.contains("`BSD-3-Clause`") && !d.detail.contains("`MIT`"),
        "{}",
        d.detail
    );
    // free text is read cautiously: every word must be allowed
    assert_eq!(license(&p, Some("Apache 2.0")).len(), 1);
    assert_eq!(license(&p, Some("((MIT)")).len(), 0);
    assert_eq!(license(&p, Some("MIT AND (GPL-2.0")).len(), 1);
    // no allow list: anything goes
    assert!(license(&PolicyConfig::default(), Some("LicenseRef-Mine")).is_empty());
}

#[test]
fn license_missing_fires_unless_the_manifest_has_one() {
    let f = license(&PolicyConfig::default(), None);
    let d = one(&f, "license-missing");
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.detail.contains("no LICENSE file"), "{}", d.detail);
    assert_eq!(
        one(
            &license(&PolicyConfig::default(), Some("  ")),
            "license-missing"
        )
        .severity,
        Severity::Warning
    );
    assert_eq!(
        license(&PolicyConfig::default(), Some("NOASSERTION")).len(),
        1
    );
    // the manifest's licence is used when none is passed in, and checked
    let b = bundle(&[
        ("SKILL.md", SKILL, false),
        ("LICENSE", b"MIT License\n", false),
    ]);
    let p = PolicyConfig {
        license_deny: vec!["MIT".into()],
        ..Default::default()
    };
    let f = evaluate(&p, Kind::Skill, "demo", None, &b, &limits()).unwrap();
    assert!(one(&f, "license-deny").detail.contains("from `SKILL.md`"));
    assert!(of(&f, "license-missing").is_empty());
    let pb = bundle(&[(".claude-plugin/plugin.json", PLUGIN, false)]);
    let f = evaluate(&p, Kind::Plugin, "kit", None, &pb, &limits()).unwrap();
    assert!(one(&f, "license-deny").detail.contains("plugin.json"));
    let cb = bundle(&[(
        "c-1.0.0/Cargo.toml",
        b"[package]\nname = \"c\"\nlicense = \"MIT\"\n",
        false,
    )]);
    let f = evaluate(&p, Kind::Crate, "c", None, &cb, &limits()).unwrap();
    assert!(one(&f, "license-deny").detail.contains("Cargo.toml"));
    // a LICENSE file is pointed at
    let b = bundle(&[
        ("SKILL.md", b"---\nname: demo\ndescription: d\n---\n", false),
        ("LICENSE.txt", b"MIT License\n", false),
    ]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Skill,
        "demo",
        None,
        &b,
        &limits(),
    )
    .unwrap();
    assert!(one(&f, "license-missing").detail.contains("`LICENSE.txt`"));
}

#[test]
fn proprietary_license_files_are_flagged() {
    let p = PolicyConfig::default();
    let f = skill_with(
        &p,
        &[("LICENSE", b"Copyright 2025 Acme Corp.\nAll rights reserved.\nThis software is proprietary and confidential and\nmay not be copied.\n", false)],
    );
    let d = one(&f, "license-file-proprietary");
    assert_eq!(d.path.as_deref(), Some("LICENSE"));
    assert!(
        d.detail.contains("\"all rights reserved\"") && d.detail.contains("\"may not be copied\""),
        "{}",
        d.detail
    );
    // open-source texts, even with "All rights reserved"
    let bsd = b"Copyright (c) 2020, Someone\nAll rights reserved.\n\nRedistribution and use in source and binary\nforms, with or without modification, are permitted.\n";
    let mit = b"MIT License\n\nPermission is hereby granted, free of charge, to any person\n";
    let f = skill_with(
        &p,
        &[("LICENSE", bsd, false), ("vendor/COPYING.md", mit, false)],
    );
    assert!(of(&f, "license-file-proprietary").is_empty(), "{f:#?}");
    // other files are not licence files
    let f = skill_with(&p, &[("NOTES.md", b"All rights reserved.\n", false)]);
    assert!(of(&f, "license-file-proprietary").is_empty());
}

#[test]
fn spdx_alternatives_expand() {
    let ids = |e: &str| -> Vec<Vec<String>> {
        spdx_alternatives(e)
            .into_iter()
            .map(|a| a.iter().map(Term::display).collect())
            .collect()
    };
    assert_eq!(ids("MIT"), [["MIT"]]);
    assert_eq!(ids("MIT OR Apache-2.0"), [["MIT"], ["Apache-2.0"]]);
    assert_eq!(ids("A AND (B OR C)"), [["A", "B"], ["A", "C"]]);
    assert_eq!(ids("A OR B AND C"), vec![vec!["A"], vec!["B", "C"]]);
    assert_eq!(
        ids("GPL-2.0 WITH X OR MIT"),
        vec![vec!["GPL-2.0 WITH X"], vec!["MIT"]]
    );
    assert_eq!(ids("Apache 2.0"), [["Apache", "2.0"]]);
    assert_eq!(ids("MIT or apache-2.0"), [["MIT"], ["apache-2.0"]]);
    // a pathological expression falls back to every id at once
    let wide = (0..10)
        .map(|i| format!("(a{i} OR b{i})"))
        .collect::<Vec<_>>()
        .join(" AND ");
    assert_eq!(ids(&wide).len(), 1);
    assert_eq!(ids(&wide)[0].len(), 20);
}
