use super::*;

#[test]
fn paths_are_normalized_or_refused() {
    assert_eq!(normalize_path("./a/b").unwrap(), "a/b");
    assert_eq!(normalize_path("a//b/").unwrap(), "a/b");
    assert!(normalize_path("/etc/passwd").is_err());
    assert!(normalize_path("a/../../b").is_err());
    assert!(normalize_path("a\\b").is_err());
}

#[test]
fn symlinks_must_stay_inside() {
    assert!(check_symlink("a/link", "../b").is_ok());
    assert!(check_symlink("a/link", "../../b").is_err());
    assert!(check_symlink("link", "/etc/passwd").is_err());
    assert!(check_symlink("link", "x/../..").is_err());
}
