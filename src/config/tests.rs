use super::*;

#[test]
fn documented_file_equals_built_in_defaults() {
    let parsed = Config::parse(DOCUMENTED_DEFAULTS, Path::new("config/skillreg.toml")).unwrap();
    assert_eq!(parsed, Config::default());
}

#[test]
fn unknown_keys_are_refused_with_the_key_named() {
    let err = Config::parse("listn = \"x\"", Path::new("t.toml")).unwrap_err();
    assert!(err.to_string().contains("listn"), "{err}");
}

#[test]
fn partial_file_keeps_other_defaults() {
    let c = Config::parse(
        "auth_required = true\n[limits]\nmax_entries = 5",
        Path::new("t"),
    )
    .unwrap();
    assert!(c.auth_required);
    assert_eq!(c.limits.max_entries, 5);
    assert_eq!(
        c.limits.max_bundle_bytes,
        Limits::default().max_bundle_bytes
    );
}
