use crate::package::glob_matches as glob;

#[test]
fn globs() {
    assert!(glob("pdf-*", "pdf-tools"));
    assert!(glob("*", "x"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(!glob("pdf-*", "tools-pdf"));
    assert!(glob("*a*b", "xxaxxbxb"));
    assert!(!glob("*a*b", "xxaxxbxc"));
    assert!(glob("PDF-*", "pdf-x"));
    // Linear: a pattern of many stars against a long name answers at once.
    assert!(!glob(&"*a".repeat(30), &"a".repeat(29)));
}
