use super::*;

#[test]
fn raw_and_bearer_forms() {
    let t = format_token(7, "abc");
    assert_eq!(parse_presented(&t).unwrap().id, 7);
    assert_eq!(
        parse_presented(&format!("Bearer {t}")).unwrap().secret,
        "abc"
    );
    assert!(parse_presented("nope").is_none());
    assert!(parse_presented("skr_x_abc").is_none());
    assert!(parse_presented("skr_1_").is_none());
}

#[test]
fn hashes_compare() {
    let h = hash_secret("s3cret");
    assert!(secret_matches("s3cret", &h));
    assert!(!secret_matches("s3cret!", &h));
    assert!(!secret_matches("s3cret", &h[..31]));
}
