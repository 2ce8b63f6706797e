use super::*;
use std::os::unix::fs::symlink;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

#[test]
fn open_modes_are_tightened_and_symlinks_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = data.join("keys");
    std::fs::create_dir_all(keys.join("retired")).unwrap();
    let outside = dir.path().join("outside");
    std::fs::write(&outside, "not ours").unwrap();
    chmod(&outside, 0o644);
    for file in [
        "skillreg.db",
        "skillreg.db-wal",
        "keys/index.ed25519",
        "keys/retired/old",
    ] {
        std::fs::write(data.join(file), "x").unwrap();
        chmod(&data.join(file), 0o644);
    }
    chmod(&data.join("keys/index.ed25519"), 0o400);
    chmod(&data, 0o755);
    chmod(&keys, 0o755);
    chmod(&keys.join("retired"), 0o777);
    symlink(&outside, data.join("admin.token")).unwrap();
    symlink(&outside, keys.join("timestamp.ed25519")).unwrap();

    let done = tighten_modes(&data);

    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("retired")), 0o700);
    assert_eq!(mode(&data.join("skillreg.db")), 0o600);
    assert_eq!(mode(&data.join("skillreg.db-wal")), 0o600);
    assert_eq!(mode(&keys.join("retired/old")), 0o600);
    assert_eq!(
        mode(&keys.join("index.ed25519")),
        0o400,
        "bits are only taken away"
    );
    assert_eq!(mode(&outside), 0o644, "no symlink was followed");
    let skipped: Vec<_> = done
        .iter()
        .filter_map(|t| match t {
            Tightened::Skipped { path, .. } => Some(path.clone()),
            Tightened::Changed { .. } => None,
        })
        .collect();
    assert_eq!(skipped.len(), 2, "both links are reported: {done:?}");
    assert!(skipped.contains(&data.join("admin.token")));
    assert!(skipped.contains(&keys.join("timestamp.ed25519")));
    assert!(done.contains(&Tightened::Changed {
        path: data.join("skillreg.db"),
        from: 0o644,
        to: 0o600
    }));
    assert!(
        tighten_modes(&data)
            .iter()
            .all(|t| matches!(t, Tightened::Skipped { .. })),
        "a second run changes nothing"
    );
}

#[test]
fn a_missing_database_is_created_private_and_an_existing_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    tighten_modes(dir.path());
    let db = dir.path().join(crate::store::DB_FILE);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
    crate::store::Store::open(dir.path()).expect("SQLite takes the empty file");
    let size = std::fs::metadata(&db).unwrap().len();
    tighten_modes(dir.path());
    assert_eq!(std::fs::metadata(&db).unwrap().len(), size, "not truncated");
    let wal = dir.path().join(format!("{}-wal", crate::store::DB_FILE));
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "SQLite gave it the database's mode");
    }
}

#[test]
fn a_symlinked_data_dir_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    chmod(&real, 0o755);
    let link = dir.path().join("data");
    symlink(&real, &link).unwrap();
    let done = tighten_modes(&link);
    assert_eq!(mode(&real), 0o755);
    assert!(matches!(&done[..], [Tightened::Skipped { .. }]), "{done:?}");
}
