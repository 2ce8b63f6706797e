use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn created_once_with_private_mode() {
    let dir = tempfile::tempdir().unwrap();
    let a = KeyRing::load_or_create(dir.path(), false, |_| false).unwrap();
    let b = KeyRing::load_or_create(dir.path(), false, |_| false).unwrap();
    for role in KeyRole::ALL {
        assert_eq!(a.get(role).to_bytes(), b.get(role).to_bytes());
        let mode = std::fs::metadata(key_path(dir.path(), role))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_ne!(a.root.to_bytes(), a.index.to_bytes());
    // Once roots exist, a lost root key is an error, never a new key.
    std::fs::remove_file(key_path(dir.path(), KeyRole::Root)).unwrap();
    let err = KeyRing::load_or_create(dir.path(), true, |_| false)
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("restore it from a backup"),
        "{err}"
    );
}

#[test]
fn interrupted_rotations_are_settled_by_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let before = KeyRing::load_or_create(dir.path(), false, |_| false).unwrap();
    // Crash before the root named it: the pending key is dropped.
    create_pending(dir.path(), KeyRole::Index).unwrap();
    let after = KeyRing::load_or_create(dir.path(), false, |_| false).unwrap();
    assert_eq!(after.index.to_bytes(), before.index.to_bytes());
    assert!(!pending_path(dir.path(), KeyRole::Index).exists());
    // Crash after: the pending key is installed, the old one retired.
    let new = create_pending(dir.path(), KeyRole::Index).unwrap();
    let id = key_id(&new.verifying_key());
    let after = KeyRing::load_or_create(dir.path(), false, |k| k == id).unwrap();
    assert_eq!(after.index.to_bytes(), new.to_bytes());
    assert_eq!(
        std::fs::read_dir(keys_dir(dir.path()).join("retired"))
            .unwrap()
            .count(),
        1
    );
}
