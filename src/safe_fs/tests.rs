use super::*;
use std::os::unix::fs::{symlink, PermissionsExt};

fn tmp() -> (tempfile::TempDir, Dir) {
    let t = tempfile::tempdir().unwrap();
    let d = Dir::open(t.path()).unwrap();
    (t, d)
}

#[test]
fn a_link_at_any_component_is_refused_not_followed() {
    let (t, root) = tmp();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), b"key").unwrap();
    std::fs::create_dir_all(t.path().join("a/b")).unwrap();
    symlink(outside.path(), t.path().join("a/out")).unwrap();
    symlink("b", t.path().join("a/inside")).unwrap();
    symlink("../../x", t.path().join("a/b/up")).unwrap();
    for rel in ["a/out/secret", "a/inside/anything", "a/out"] {
        let e = root.read(rel, 100).unwrap_err();
        assert!(matches!(e, SafeFsError::Symlink { .. }), "{rel}: {e}");
    }
    // A link that stays inside is refused as a directory too.
    let e = root.open_dir("a/inside").unwrap_err();
    assert!(matches!(e, SafeFsError::Symlink { .. }), "{e}");
    assert!(e.to_string().contains("never follows links"), "{e}");
    assert_eq!(root.read_link("a/b/up").unwrap(), "../../x");
    assert_eq!(root.kind("a/out").unwrap(), Some(EntryKind::Symlink));
    assert_eq!(root.kind("a/missing/x").unwrap(), None);
}

#[test]
fn paths_that_leave_are_refused_before_any_open() {
    let (_t, root) = tmp();
    for (rel, why) in [
        ("../x", ".."),
        ("a/../../x", ".."),
        ("/etc/passwd", "absolute"),
        ("a\\b", "\\"),
        ("a\0b", "NUL"),
    ] {
        let e = root.read(rel, 10).unwrap_err();
        assert!(e.to_string().contains(why), "{rel}: {e}");
    }
}

#[test]
fn fifos_and_devices_are_refused_without_blocking() {
    let (t, root) = tmp();
    let fifo = t.path().join("pipe");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o644)).unwrap();
    let e = root.read("pipe", 10).unwrap_err();
    assert!(
        matches!(e, SafeFsError::NotAFile { kind: "FIFO", .. }),
        "{e}"
    );
    let dev = Dir::open(Path::new("/dev")).unwrap();
    let e = dev.read("null", 10).unwrap_err();
    assert!(
        matches!(
            e,
            SafeFsError::NotAFile {
                kind: "character device",
                ..
            }
        ),
        "{e}"
    );
    let e = walk(&root, &[], 100, 64).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
}

#[test]
fn sizes_come_from_the_handle_and_are_capped() {
    let (t, root) = tmp();
    std::fs::write(t.path().join("f"), b"12345").unwrap();
    let e = root.read("f", 4).unwrap_err();
    assert!(
        matches!(
            e,
            SafeFsError::TooLarge {
                size: 5,
                limit: 4,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(root.read("f", 5).unwrap(), b"12345");
    std::fs::set_permissions(t.path().join("f"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = root.open_file("f", 5).unwrap();
    assert!(f.executable);
    // The file grows after fstat: the reader notices.
    std::fs::write(t.path().join("f"), b"123456789").unwrap();
    let e = f.read_all().unwrap_err();
    assert!(matches!(e, SafeFsError::Changed { .. }), "{e}");
}

#[test]
fn creation_never_writes_through_a_planted_link() {
    let (t, root) = tmp();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path().join("victim"), t.path().join("file")).unwrap();
    symlink(outside.path(), t.path().join("dir")).unwrap();
    assert!(root.write_new("file", b"x", 0o644).is_err());
    assert!(!outside.path().join("victim").exists());
    let e = root.ensure_dir("dir", 0o700).unwrap_err();
    assert!(matches!(e, SafeFsError::Symlink { .. }), "{e}");
    assert!(root.create_dir("dir", 0o700).is_err());
    assert!(
        root.write_new("a/b", b"x", 0o644).is_err(),
        "one component only"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn walk_lists_links_as_links_and_skips_by_name() {
    let (t, root) = tmp();
    std::fs::create_dir_all(t.path().join("s/.git/hooks")).unwrap();
    std::fs::write(t.path().join("s/SKILL.md"), b"x").unwrap();
    std::fs::write(t.path().join("s/.git/hooks/post-checkout"), b"x").unwrap();
    symlink("/etc", t.path().join("s/etc")).unwrap();
    let entries = walk(&root, &[".git"], 100, 64).unwrap();
    let got: Vec<(&str, &TreeKind)> = entries.iter().map(|e| (e.path.as_str(), &e.kind)).collect();
    assert_eq!(
        got,
        [
            ("s", &TreeKind::Dir),
            ("s/SKILL.md", &TreeKind::File),
            ("s/etc", &TreeKind::Symlink("/etc".into())),
        ]
    );
    let e = walk(&root, &[], 2, 64).unwrap_err();
    assert!(matches!(e, SafeFsError::TooLarge { limit: 2, .. }), "{e}");
}

#[test]
fn moves_refuse_to_replace() {
    let (t, root) = tmp();
    let sub = root.ensure_dir("imported", 0o755).unwrap();
    std::fs::write(t.path().join("a"), b"1").unwrap();
    std::fs::write(t.path().join("imported/a"), b"2").unwrap();
    assert!(root.rename_new("a", &sub, "a").is_err());
    root.rename_new("a", &sub, "a-2").unwrap();
    assert_eq!(std::fs::read(t.path().join("imported/a")).unwrap(), b"2");
    assert_eq!(std::fs::read(t.path().join("imported/a-2")).unwrap(), b"1");
}

#[test]
fn hard_linked_files_are_refused() {
    let (t, root) = tmp();
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("key"), b"seed").unwrap();
    if std::fs::hard_link(secret.path().join("key"), t.path().join("notes")).is_err() {
        return; // another file system: no hard link to test
    }
    let e = root.read("notes", 100).unwrap_err();
    assert!(matches!(e, SafeFsError::HardLinked { links: 2, .. }), "{e}");
}

#[test]
fn deep_trees_are_refused_without_recursion() {
    let (t, root) = tmp();
    // Made one level at a time from a handle: a deep path is too long for
    // one call. 9,000 levels once overflowed the walk's stack.
    let mut dir = Dir::open(t.path()).unwrap();
    for _ in 0..9000 {
        dir = dir.create_dir("d", 0o755).unwrap();
    }
    let e = walk(&root, &[], 100_000, 64).unwrap_err();
    assert!(e.to_string().contains("nests deeper"), "{e}");
    let shallow = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(shallow.path().join("a/b/c")).unwrap();
    let shallow = Dir::open(shallow.path()).unwrap();
    assert_eq!(walk(&shallow, &[], 100, 3).unwrap().len(), 3);
    assert!(walk(&shallow, &[], 100, 2).is_err());
}
