use super::glob;

#[test]
fn globs() {
    assert!(glob("pdf-*", "pdf-tools"));
    assert!(glob("*", "x"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(!glob("pdf-*", "tools-pdf"));
}
