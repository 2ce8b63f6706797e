use super::*;

#[test]
fn gzip_negotiation() {
    let h = |s: &'static str| Some(HeaderValue::from_static(s));
    assert!(accepts_gzip(h("deflate, gzip").as_ref()));
    assert!(accepts_gzip(h("gzip;q=0.5").as_ref()));
    assert!(!accepts_gzip(h("gzip;q=0").as_ref()));
    assert!(!accepts_gzip(h("br").as_ref()));
    assert!(!accepts_gzip(None));
}
