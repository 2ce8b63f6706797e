//! Drop directories: settling, moving, pairing.

use super::*;
use crate::mirror::transfer::drop::*;

fn age(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(60);
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[test]
fn drop_directories_defer_fresh_files_and_move_what_they_handle() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join(format!("a{SUFFIX}"));
    fs::write(&a, b"x").unwrap();
    fs::write(dir.path().join("b.part"), b"x").unwrap();
    let scan = candidates(dir.path()).unwrap();
    assert!(scan.ready.is_empty() && scan.deferred, "a fresh file waits");
    age(&a);
    let scan = candidates(dir.path()).unwrap();
    assert_eq!(
        scan,
        Scan {
            ready: vec![Candidate::Archive(a.clone())],
            ..Default::default()
        }
    );
    let moved = move_into(dir.path(), IMPORTED_DIR, &Candidate::Archive(a.clone())).unwrap();
    assert_eq!(
        moved,
        dir.path().join(IMPORTED_DIR).join(format!("a{SUFFIX}"))
    );
    fs::write(&a, b"y").unwrap();
    let again = move_into(dir.path(), IMPORTED_DIR, &Candidate::Archive(a.clone())).unwrap();
    assert_eq!(
        again,
        dir.path().join(IMPORTED_DIR).join(format!("a-2{SUFFIX}"))
    );
    // Symlinks are never taken.
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join(format!("l{SUFFIX}"))).unwrap();
    assert!(candidates(dir.path()).unwrap().ready.is_empty());
}

#[test]
fn drop_directories_pair_bundles_with_their_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("demo-1.0.0.tar.gz");
    let sig = signature_path(&bundle);
    fs::write(&bundle, b"b").unwrap();
    age(&bundle);
    let scan = candidates(dir.path()).unwrap();
    assert!(scan.ready.is_empty() && !scan.deferred);
    assert!(scan.waiting[0].contains("waiting for its signature demo-1.0.0.tar.gz.sig"));
    fs::write(&sig, b"s").unwrap();
    let scan = candidates(dir.path()).unwrap();
    assert!(
        scan.ready.is_empty() && scan.deferred,
        "a fresh signature waits"
    );
    age(&sig);
    let scan = candidates(dir.path()).unwrap();
    assert_eq!(scan.ready, vec![Candidate::Bundle(bundle.clone())]);
    assert!(scan.waiting.is_empty());
    // A signature alone waits for its bundle; other files are left alone.
    let lone = dir.path().join("other-2.0.0.crate.sig");
    fs::write(&lone, b"s").unwrap();
    fs::write(dir.path().join("README.txt"), b"r").unwrap();
    let scan = candidates(dir.path()).unwrap();
    assert_eq!(scan.ready.len(), 1);
    assert_eq!(
        scan.waiting,
        vec!["other-2.0.0.crate.sig: waiting for its bundle other-2.0.0.crate".to_string()]
    );
    // The pair moves together, and a taken name gets a number.
    let first = move_into(dir.path(), REJECTED_DIR, &Candidate::Bundle(bundle.clone())).unwrap();
    assert_eq!(
        first,
        dir.path().join(REJECTED_DIR).join("demo-1.0.0.tar.gz")
    );
    assert!(signature_path(&first).is_file() && !sig.exists() && !bundle.exists());
    fs::write(&bundle, b"b").unwrap();
    fs::write(&sig, b"s").unwrap();
    let second = move_into(dir.path(), REJECTED_DIR, &Candidate::Bundle(bundle)).unwrap();
    assert_eq!(
        second,
        dir.path().join(REJECTED_DIR).join("demo-1.0.0-2.tar.gz")
    );
    assert_eq!(fs::read(signature_path(&second)).unwrap(), b"s");
    // Only bundle-like names pair: no other file is ever moved.
    let other = dir.path().join("authorized_keys");
    fs::write(&other, b"k").unwrap();
    fs::write(signature_path(&other), b"s").unwrap();
    let archive = dir.path().join(format!("a{SUFFIX}"));
    fs::write(&archive, b"a").unwrap();
    fs::write(signature_path(&archive), b"s").unwrap();
    for p in [&other, &archive] {
        age(p);
        age(&signature_path(p));
    }
    let scan = candidates(dir.path()).unwrap();
    assert_eq!(scan.ready, vec![Candidate::Archive(archive.clone())]);
    // A planted symlink in place of rejected/ or imported/ is refused.
    let elsewhere = tempfile::tempdir().unwrap();
    fs::remove_dir_all(dir.path().join(REJECTED_DIR)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(REJECTED_DIR)).unwrap();
    let err = move_into(
        dir.path(),
        REJECTED_DIR,
        &Candidate::Archive(archive.clone()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    assert!(archive.exists());
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert!(is_bundle_name("x-1.0.0.crate") && is_bundle_name("x.tgz"));
    assert!(!is_bundle_name(&format!("x{SUFFIX}")) && !is_bundle_name(".x.tar.gz"));
}
