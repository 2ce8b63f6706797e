use super::*;
use crate::package::parse_version;
use std::fs;

fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_compressed: 1 << 20,
        max_unpacked: 1 << 20,
        max_entries: 100,
    }
}

fn skill_dir(name: &str, version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("SKILL.md"),
        format!("---\nname: {name}\ndescription: Test skill.\nmetadata:\n  version: \"{version}\"\n---\nbody\n"),
    )
    .unwrap();
    fs::create_dir(dir.path().join("scripts")).unwrap();
    fs::write(dir.path().join("scripts/run.sh"), "#!/bin/sh\n").unwrap();
    dir
}

#[test]
fn pack_is_deterministic_and_valid() {
    let dir = skill_dir("demo", "1.0.0");
    let a = pack::pack_dir(dir.path()).unwrap();
    // mtimes must not matter: move a file's five hours back (a tar header
    // holds whole seconds, so a rewrite a moment later could not show it)
    let script = dir.path().join("scripts/run.sh");
    let was = fs::metadata(&script).unwrap().modified().unwrap();
    let earlier = was - std::time::Duration::from_secs(5 * 3600);
    fs::File::options()
        .write(true)
        .open(&script)
        .unwrap()
        .set_modified(earlier)
        .unwrap();
    assert_eq!(fs::metadata(&script).unwrap().modified().unwrap(), earlier);
    let b = pack::pack_dir(dir.path()).unwrap();
    assert_eq!(a, b);
    let name = PackageName::parse(Kind::Skill, "demo").unwrap();
    let v = validate(
        Kind::Skill,
        &name,
        &parse_version("1.0.0").unwrap(),
        &a,
        &limits(),
    )
    .unwrap();
    assert_eq!(v.description.as_deref(), Some("Test skill."));
    assert!(v.archive.entries.contains_key("scripts/run.sh"));
    let m = read_manifest(&a, &limits()).unwrap();
    assert_eq!(
        (m.kind, m.name.as_str(), m.version.as_deref()),
        (Kind::Skill, "demo", Some("1.0.0"))
    );
}

#[test]
fn skill_name_and_version_must_match() {
    let dir = skill_dir("demo", "1.0.0");
    let bytes = pack::pack_dir(dir.path()).unwrap();
    let other = PackageName::parse(Kind::Skill, "other").unwrap();
    let err = validate(
        Kind::Skill,
        &other,
        &parse_version("1.0.0").unwrap(),
        &bytes,
        &limits(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("published as `other`"), "{err}");
    let demo = PackageName::parse(Kind::Skill, "demo").unwrap();
    let err = validate(
        Kind::Skill,
        &demo,
        &parse_version("2.0.0").unwrap(),
        &bytes,
        &limits(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("2.0.0"), "{err}");
}

#[test]
fn plugin_skills_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join(".claude-plugin")).unwrap();
    fs::write(
        p.join(".claude-plugin/plugin.json"),
        r#"{"name":"tools","version":"0.2.0","description":"d"}"#,
    )
    .unwrap();
    fs::create_dir_all(p.join("skills/alpha")).unwrap();
    fs::write(
        p.join("skills/alpha/SKILL.md"),
        "---\nname: alpha\ndescription: A.\n---\n",
    )
    .unwrap();
    let name = PackageName::parse(Kind::Plugin, "tools").unwrap();
    let v = parse_version("0.2.0").unwrap();
    let bytes = pack::pack_dir(p).unwrap();
    validate(Kind::Plugin, &name, &v, &bytes, &limits()).unwrap();
    fs::write(
        p.join("skills/alpha/SKILL.md"),
        "---\nname: beta\ndescription: A.\n---\n",
    )
    .unwrap();
    let bytes = pack::pack_dir(p).unwrap();
    let err = validate(Kind::Plugin, &name, &v, &bytes, &limits()).unwrap_err();
    assert!(err.to_string().contains("folder is `alpha`"), "{err}");
}

#[test]
fn validated_dependencies_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::write(
        p.join("SKILL.md"),
        "---\nname: demo\ndescription: D.\nmetadata:\n  dependencies: \"base-skill@^1.0, other\"\n---\n",
    )
    .unwrap();
    let bytes = pack::pack_dir(p).unwrap();
    let name = PackageName::parse(Kind::Skill, "demo").unwrap();
    let v = parse_version("1.0.0").unwrap();
    let got = validate(Kind::Skill, &name, &v, &bytes, &limits()).unwrap();
    let want = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(n, r)| Dependency {
                name: n.to_string(),
                req: r.to_string(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        got.dependencies,
        want(&[("base-skill", "^1.0"), ("other", "*")])
    );

    // A plugin's deps come from plugin.json; its skills' deps are not added.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join(".claude-plugin")).unwrap();
    fs::write(
        p.join(".claude-plugin/plugin.json"),
        r#"{"name":"kit","dependencies":["audit-logger",{"name":"vault","version":"~2.1.0"}]}"#,
    )
    .unwrap();
    fs::create_dir_all(p.join("skills/alpha")).unwrap();
    fs::write(
        p.join("skills/alpha/SKILL.md"),
        "---\nname: alpha\ndescription: A.\nmetadata:\n  dependencies: \"inner-dep\"\n---\n",
    )
    .unwrap();
    let bytes = pack::pack_dir(p).unwrap();
    let name = PackageName::parse(Kind::Plugin, "kit").unwrap();
    let got = validate(Kind::Plugin, &name, &v, &bytes, &limits()).unwrap();
    assert_eq!(
        got.dependencies,
        want(&[("audit-logger", "*"), ("vault", "~2.1.0")])
    );
    let m = read_manifest(&bytes, &limits()).unwrap();
    assert_eq!(m.kind, Kind::Plugin);

    // Crates never get manifest dependencies.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c-1.0.0");
    fs::create_dir_all(&root).unwrap();
    fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"c\"\nversion = \"1.0.0\"\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap();
    let bytes = pack::pack_dir(dir.path()).unwrap();
    let name = PackageName::parse(Kind::Crate, "c").unwrap();
    let got = validate(Kind::Crate, &name, &v, &bytes, &limits()).unwrap();
    assert!(got.dependencies.is_empty());
}

/// An entry: its path, and `Ok(link target)` or `Err(file content)`.
type RawEntry<'a> = (&'a str, Result<&'a str, &'a [u8]>);

/// A tar.gz of entries, in order.
fn tar_of(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, what) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match what {
            Ok(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
            Err(content) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(content.len() as u64);
                b.append_data(&mut h, path, *content).unwrap();
            }
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn paths_that_are_one_file_on_a_case_insensitive_disk_are_refused() {
    let cases: [(&str, Vec<RawEntry<'_>>, &str); 5] = [
        (
            // Passes exact-string link checks; on APFS `a/b/l` is the link
            // `a/b/L` (to the root), so `a/b/l/E` escapes two levels up.
            "a link and a directory spelled in another case",
            vec![
                ("a/b/L", Ok("../..")),
                ("a/b/l/E", Ok("../../..")),
                ("SKILL.md", Err(b"x")),
            ],
            "`a/b/l` and `a/b/L` differ only in case",
        ),
        (
            "two files in two cases",
            vec![("README.md", Err(b"1")), ("readme.md", Err(b"2"))],
            "differ only in case",
        ),
        (
            "composed and decomposed é",
            vec![("caf\u{e9}.md", Err(b"1")), ("cafe\u{301}.md", Err(b"2"))],
            "Unicode normalization",
        ),
        (
            "a directory in two cases",
            vec![("Docs/a", Err(b"1")), ("docs/b", Err(b"2"))],
            "`docs` and `Docs`",
        ),
        (
            // The target runs through the link `b` when spelled `B`.
            "a link target through another link, spelled in another case",
            vec![("b", Ok(".")), ("c", Ok("B/x"))],
            "which is a symlink in the bundle",
        ),
    ];
    for (what, entries, needle) in cases {
        let err = inspect(&tar_of(&entries), &limits(), |_| false).unwrap_err();
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
    // Distinct names that merely look alike stay allowed.
    let ok = tar_of(&[
        ("a.md", Err(b"1")),
        ("b.md", Err(b"2")),
        ("ß.md", Err(b"3")),
    ]);
    inspect(&ok, &limits(), |_| false).unwrap();
}

#[test]
fn path_keys_are_the_path_valued_plugin_keys() {
    assert_eq!(
        plugin::PATH_KEYS,
        [
            "commands",
            "agents",
            "skills",
            "hooks",
            "mcpServers",
            "outputStyles",
            "lspServers"
        ]
    );
}
