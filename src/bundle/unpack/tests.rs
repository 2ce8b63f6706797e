use super::*;
use std::io::Write;

fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_compressed: 1 << 20,
        max_unpacked: 1 << 16,
        max_entries: 20,
    }
}

/// A zip of (path, unix mode, content), as an upstream's tool writes one.
fn zip_of(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, mode, content) in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(*mode);
        if *mode & 0o170000 == 0o120000 {
            zip.add_symlink(*path, std::str::from_utf8(content).unwrap(), options)
                .unwrap();
        } else {
            zip.start_file(*path, options).unwrap();
            zip.write_all(content).unwrap();
        }
    }
    zip.finish().unwrap().into_inner()
}

const SKILL: &[u8] = b"---\nname: demo\ndescription: d\n---\nbody\n";

#[test]
fn a_zip_and_a_tar_gz_of_the_same_files_pack_to_the_same_bundle() {
    let zip = zip_of(&[
        ("SKILL.md", 0o644, SKILL),
        ("scripts/run.sh", 0o755, b"#!/bin/sh\n"),
    ]);
    let from_zip = upstream_files(&zip, &limits()).unwrap();
    assert_eq!(from_zip["scripts/run.sh"], (true, b"#!/bin/sh\n".to_vec()));
    let bundle = super::super::pack::pack_files(&from_zip, &limits()).unwrap();
    // The bundle is a tar.gz; read back, it is the same files.
    let again = upstream_files(&bundle, &limits()).unwrap();
    assert_eq!(again, from_zip);
    assert_eq!(
        super::super::pack::pack_files(&again, &limits()).unwrap(),
        bundle,
        "deterministic"
    );
    // The same tree on disk packs to the same bytes.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SKILL.md"), SKILL).unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/run.sh"), b"#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("scripts/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_eq!(super::super::pack::pack_dir(dir.path()).unwrap(), bundle);
}

#[test]
fn hostile_zips_are_refused() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", zip_of(&[("../evil", 0o644, b"x")])),
        ("absolute", zip_of(&[("/etc/evil", 0o644, b"x")])),
        ("backslash", zip_of(&[("a\\..\\evil", 0o644, b"x")])),
        (
            "link",
            zip_of(&[("SKILL.md", 0o644, SKILL), ("l", 0o120777, b"/etc/passwd")]),
        ),
        ("bomb", zip_of(&[("big", 0o644, &vec![0u8; 1 << 17])])),
        (
            "duplicate",
            zip_of(&[("a", 0o644, b"1"), ("./a", 0o644, b"2")]),
        ),
        ("garbage", b"PK\x03\x04 not a zip at all".to_vec()),
    ];
    for (what, bytes) in cases {
        let result = upstream_files(&bytes, &limits());
        assert!(result.is_err(), "{what}: {result:?}");
    }
    let many: Vec<(String, u32, &[u8])> = (0..21)
        .map(|i| (format!("f{i}"), 0o644, &b"x"[..]))
        .collect();
    let many: Vec<(&str, u32, &[u8])> = many.iter().map(|(p, m, c)| (p.as_str(), *m, *c)).collect();
    assert!(matches!(
        upstream_files(&zip_of(&many), &limits()),
        Err(BundleError::TooManyEntries { .. })
    ));
}

#[test]
fn a_tar_gz_with_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SKILL.md"), SKILL).unwrap();
    std::os::unix::fs::symlink("SKILL.md", dir.path().join("alias.md")).unwrap();
    let bundle = super::super::pack::pack_dir(dir.path()).unwrap();
    let err = upstream_files(&bundle, &limits()).unwrap_err();
    assert!(err.to_string().contains("alias.md"), "{err}");
    assert!(err.to_string().contains("link"), "{err}");
}
