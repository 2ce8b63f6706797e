use super::*;
use std::collections::BTreeMap;
use std::io::Read;

fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_compressed: 1 << 24,
        max_unpacked: 1 << 26,
        max_entries: 5000,
    }
}

/// A skill folder packed the way publishes pack it.
fn skill_bundle(extra: &[(&str, &str)], link: Option<(&str, &str)>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("SKILL.md"),
        "---\nname: demo\ndescription: A demo.\n---\nbody\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("scripts/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for (path, content) in extra {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    if let Some((at, target)) = link {
        std::os::unix::fs::symlink(target, dir.path().join(at)).unwrap();
    }
    let root = crate::safe_fs::Dir::open(dir.path()).unwrap();
    crate::bundle::pack::pack_tree(&root, &BTreeMap::new(), &limits()).unwrap()
}

fn source(bundle: &[u8], kind: Kind) -> Source<'_> {
    Source {
        bundle,
        kind,
        name: "demo",
        version: "1.2.3",
        description: "A demo.",
        publisher: "alice",
    }
}

/// (path, mode, content) of every entry of a zip, in order.
fn entries(zip: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            (
                file.name().to_string(),
                file.unix_mode().unwrap() & 0o777,
                content,
            )
        })
        .collect()
}

#[test]
fn a_skill_zip_has_skill_md_at_its_root_and_is_the_same_every_time() {
    let bundle = skill_bundle(&[], None);
    let a = render(&source(&bundle, Kind::Skill), Shape::Skill, &limits()).unwrap();
    let b = render(&source(&bundle, Kind::Skill), Shape::Skill, &limits()).unwrap();
    assert_eq!(a, b, "rendering is deterministic");
    let got = entries(&a);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        ["SKILL.md", "scripts/run.sh"],
        "files only, sorted, no folder"
    );
    assert_eq!(got[1].1, 0o755, "executables stay executable");
    assert_eq!(got[0].1, 0o644);
    assert_eq!(got[1].2, b"#!/bin/sh\necho hi\n");
}

#[test]
fn a_skill_becomes_a_plugin_of_one_skill() {
    let bundle = skill_bundle(&[], None);
    let zip = render(&source(&bundle, Kind::Skill), Shape::Plugin, &limits()).unwrap();
    let got = entries(&zip);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            ".claude-plugin/plugin.json",
            "skills/demo/SKILL.md",
            "skills/demo/scripts/run.sh"
        ]
    );
    let manifest: serde_json::Value = serde_json::from_slice(&got[0].2).unwrap();
    assert_eq!(manifest["name"], "demo");
    assert_eq!(manifest["version"], "1.2.3");
    assert_eq!(manifest["description"], "A demo.");
    assert_eq!(
        manifest["author"]["name"], "alice",
        "claude plugin validate --strict wants one"
    );
}

#[test]
fn bundles_the_tools_refuse_are_left_out_with_the_reason() {
    let linked = skill_bundle(&[], Some(("docs", "scripts")));
    let reason = render(&source(&linked, Kind::Skill), Shape::Skill, &limits()).unwrap_err();
    assert!(reason.contains("`docs` is a link"), "{reason}");

    let files: Vec<(String, String)> = (0..MAX_FILES)
        .map(|i| (format!("refs/{i}.md"), "x".to_string()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let many = skill_bundle(&refs, None);
    let reason = render(&source(&many, Kind::Skill), Shape::Skill, &limits()).unwrap_err();
    assert!(
        reason.contains("1002 files") && reason.contains("at most 1000"),
        "{reason}"
    );

    let bundle = skill_bundle(&[], None);
    let mut bad_name = source(&bundle, Kind::Skill);
    bad_name.name = "Demo_1";
    let reason = render(&bad_name, Shape::Skill, &limits()).unwrap_err();
    assert!(reason.contains("`Demo_1`"), "{reason}");

    let mut no_description = source(&bundle, Kind::Skill);
    no_description.description = "";
    let reason = render(&no_description, Shape::Skill, &limits()).unwrap_err();
    assert!(reason.contains("description"), "{reason}");

    let reason = render(&source(&bundle, Kind::Crate), Shape::Plugin, &limits()).unwrap_err();
    assert!(reason.contains("crate"), "{reason}");
}

#[test]
fn skill_names_follow_the_skills_cli() {
    for ok in ["a", "pdf-tools", "x1", &"a".repeat(64)] {
        assert!(check_skill_name(ok).is_ok(), "{ok}");
    }
    for bad in ["", "-a", "a-", "a--b", "A", "a_b", &"a".repeat(65)] {
        assert!(check_skill_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn contiguous_files_are_files_in_the_zip_as_inspect_counts_them() {
    // Type `7` (contiguous) entries are files to `inspect`, the policy and
    // tar; a zip that dropped them would install other code than was reviewed.
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, kind, content) in [
        (
            "SKILL.md",
            tar::EntryType::Continuous,
            &b"---\nname: demo\ndescription: A demo.\n---\n"[..],
        ),
        ("guard.sh", tar::EntryType::Continuous, b"exit 0\n"),
        ("notes.md", tar::EntryType::Regular, b"notes\n"),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, content).unwrap();
    }
    let bundle = builder.into_inner().unwrap().finish().unwrap();
    let zip = render(&source(&bundle, Kind::Skill), Shape::Skill, &limits()).unwrap();
    let names: Vec<String> = entries(&zip).into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["SKILL.md", "guard.sh", "notes.md"]);
}
