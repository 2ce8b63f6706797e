use super::check::*;
use super::*;

/// An archive as inspect would describe it, for driving `extract` with
/// entries inspect itself refuses (what a case-insensitive disk makes
/// of a bundle that passed): (path, `Ok(target)` link or `Err(content)`).
fn checked_archive(entries: &[(&str, Result<&str, &[u8]>)]) -> (Vec<u8>, Archive) {
    let mut b = tar::Builder::new(Vec::new());
    let mut archive = Archive::default();
    for (path, what) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        let (kind, sha) = match what {
            Ok(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
                (EntryKind::Symlink(target.to_string()), String::new())
            }
            Err(content) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(content.len() as u64);
                b.append_data(&mut h, path, *content).unwrap();
                (EntryKind::File, Sha256Digest::of(content).to_hex())
            }
        };
        archive.entries.insert(
            path.to_string(),
            bundle::Entry {
                path: path.to_string(),
                kind,
                size: 0,
                executable: false,
                sha256: sha,
            },
        );
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    (gz.finish().unwrap(), archive)
}

#[test]
fn extraction_makes_links_last_and_never_writes_through_one() {
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("pkg");
    fs::create_dir(&dest).unwrap();
    // `l -> ..` then `l/escaped`: written in order, the file would land
    // beside `pkg`. Links last: `l` is a directory first, the link fails.
    let (bytes, archive) = checked_archive(&[("l", Ok("..")), ("l/escaped", Err(b"pwned"))]);
    let e = extract(&bytes, &archive, &dest).unwrap_err();
    assert!(e.to_string().contains("cannot create"), "{e}");
    assert!(!outer.path().join("escaped").exists());
    assert_eq!(fs::read(dest.join("l/escaped")).unwrap(), b"pwned");
    // A link planted in the destination is never written through.
    let dest2 = outer.path().join("pkg2");
    fs::create_dir(&dest2).unwrap();
    std::os::unix::fs::symlink(outer.path(), dest2.join("d")).unwrap();
    let (bytes, archive) = checked_archive(&[("d/x", Err(b"pwned"))]);
    assert!(extract(&bytes, &archive, &dest2).is_err());
    assert!(!outer.path().join("x").exists());
    // A good bundle still extracts, links included.
    let dest3 = outer.path().join("pkg3");
    fs::create_dir(&dest3).unwrap();
    let (bytes, archive) = checked_archive(&[("latest", Ok("SKILL.md")), ("SKILL.md", Err(b"ok"))]);
    extract(&bytes, &archive, &dest3).unwrap();
    assert_eq!(fs::read(dest3.join("latest")).unwrap(), b"ok");
}

#[test]
fn specs_parse() {
    assert_eq!(parse_spec("hello").unwrap(), ("hello".into(), None));
    let (name, req) = parse_spec("hello@^1.2").unwrap();
    assert_eq!(name, "hello");
    assert!(req.unwrap().matches(&semver::Version::new(1, 3, 0)));
    for bad in ["hello@", "hello@latest", "../x@1", "@1"] {
        assert!(parse_spec(bad).is_err(), "{bad}");
    }
}

#[test]
fn lock_round_trips_with_tagged_files() {
    let mut files = BTreeMap::new();
    files.insert(
        "SKILL.md".to_string(),
        LockedFile::File {
            sha256: "ab".into(),
            executable: false,
        },
    );
    files.insert("d".to_string(), LockedFile::Dir);
    files.insert(
        "l".to_string(),
        LockedFile::Symlink {
            target: "SKILL.md".into(),
        },
    );
    let mut lock = Lock {
        lock_version: LOCK_VERSION,
        packages: BTreeMap::new(),
    };
    lock.packages.insert(
        "x".into(),
        LockedPackage {
            version: "1.0.0".into(),
            kind: Kind::Skill,
            cksum: "00".into(),
            registry: "http://h".into(),
            root_version: 1,
            keys: BTreeMap::new(),
            path: ".claude/skills/x".into(),
            files,
        },
    );
    let text = String::from_utf8(lock.to_bytes()).unwrap();
    assert!(text.contains(r#""type": "symlink""#), "{text}");
    let back: Lock = serde_json::from_str(&text).unwrap();
    assert_eq!(back.packages["x"].files.len(), 3);
}

#[test]
fn lock_paths_stay_inside() {
    assert!(safe_rel(".claude/skills/x"));
    assert!(!safe_rel("../x"));
    assert!(!safe_rel("/etc"));
    assert!(!safe_rel(""));
}

#[test]
fn a_failed_swap_puts_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let skills = dir.path().join("skills");
    let installed = skills.join("a");
    fs::create_dir_all(&installed).unwrap();
    fs::write(installed.join("SKILL.md"), "old").unwrap();
    let mut tx = Transaction::default();
    for (n, target) in [
        (1, installed.clone()),
        // Its parent does not exist, so moving it into place fails.
        (2, dir.path().join("gone/b")),
    ] {
        let tmp = skills.join(format!("{TMP_PREFIX}{n}"));
        fs::create_dir_all(&tmp).unwrap();
        fs::write(tmp.join("SKILL.md"), "new").unwrap();
        tx.staged.push((tmp, target));
    }
    assert!(tx.swap_in().is_err());
    assert_eq!(
        fs::read_to_string(installed.join("SKILL.md")).unwrap(),
        "new"
    );
    drop(tx);
    assert_eq!(
        fs::read_to_string(installed.join("SKILL.md")).unwrap(),
        "old"
    );
    let left: Vec<_> = fs::read_dir(&skills)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["a"]);
}

#[test]
fn implied_directories_are_locked() {
    let mut archive = Archive::default();
    archive.entries.insert(
        "a/b/c.txt".into(),
        bundle::Entry {
            path: "a/b/c.txt".into(),
            kind: EntryKind::File,
            size: 1,
            executable: false,
            sha256: "ff".into(),
        },
    );
    let files = locked_files(&archive);
    assert_eq!(files["a"], LockedFile::Dir);
    assert_eq!(files["a/b"], LockedFile::Dir);
    assert_eq!(files.len(), 3);
}
