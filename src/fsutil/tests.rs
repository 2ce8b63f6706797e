use super::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn replaces_atomically_with_mode() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    write_durable(&p, b"one", 0o600).unwrap();
    write_durable(&p, b"two", 0o600).unwrap();
    assert_eq!(fs::read(&p).unwrap(), b"two");
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp left");
}

#[test]
fn pubtime_format() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
}
