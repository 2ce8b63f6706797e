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

#[test]
fn temp_file_names_tell_their_writer() {
    assert_eq!(temp_file_writer(".timestamp.json.tmp-4242-7"), Some(4242));
    assert_eq!(temp_file_writer(".a.tmp-b.tmp-12-0"), Some(12));
    for not_temp in [
        "timestamp.json",
        ".hidden",
        ".x.tmp-",
        ".x.tmp-12",
        "x.tmp-1-2",
    ] {
        assert_eq!(temp_file_writer(not_temp), None, "{not_temp}");
    }
    let mine = format!(".f.tmp-{}-0", std::process::id());
    assert!(
        is_abandoned_temp(&mine),
        "this process has none in flight at open"
    );
    // pid 1 is alive on any Linux.
    assert!(!is_abandoned_temp(".f.tmp-1-0"));
    assert!(!is_abandoned_temp("f"));
}
