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

#[test]
fn metrics_token_and_fsck_interval_are_checked() {
    let parse = |text: &str| Config::parse(text, Path::new("t.toml"));
    let short = parse("metrics_token = \"short\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        short.contains("metrics_token") && short.contains("16"),
        "{short}"
    );
    assert!(parse("metrics_token = \"0123456789abcdef\"\n").is_ok());
    let bad = parse("fsck_interval = \"often\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("fsck_interval") && bad.contains("often"),
        "{bad}"
    );
    assert_eq!(
        parse("fsck_interval = \"0\"\n")
            .unwrap()
            .fsck_interval()
            .unwrap(),
        None
    );
    assert_eq!(
        parse("").unwrap().fsck_interval().unwrap(),
        Some(std::time::Duration::from_secs(24 * 3600))
    );
    let listen = parse("metrics_listen = \"127.0.0.1:9464\"\n").unwrap();
    assert_eq!(listen.metrics_listen.unwrap().port(), 9464);
}
