use super::*;

#[test]
fn finds_the_field_in_every_position_and_spacing() {
    for (line, want) in [
        (r#"{"name":"a","vers":"1.0.0","yanked":false}"#, "false"),
        (r#"{"name": "a", "yanked": true, "v": 2}"#, "true"),
        (r#"{"yanked":false,"name":"a"}"#, "false"),
        ("{ \"yanked\" :\ttrue }", "true"),
    ] {
        let span = yanked_value(line).unwrap();
        assert_eq!(&line[span], want, "{line}");
    }
}

#[test]
fn strings_and_nested_keys_never_match() {
    // A feature named like the field, a description spelling it, a dep's key.
    let line = r#"{"name":"a","features":{"\"yanked\":true":[]},"description":"\"yanked\":true","deps":[{"yanked":true}],"yanked":false}"#;
    let span = yanked_value(line).unwrap();
    assert_eq!(span.end, line.len() - 1);
    assert_eq!(&line[span], "false");
    assert_eq!(yanked_value(r#"{"deps":[{"yanked":true}]}"#), None);
    assert_eq!(yanked_value(r#"{"name":"yanked","v":1}"#), None);
    assert_eq!(yanked_value(r#"{"yanked":"no"}"#), None);
}

#[test]
fn a_yanked_upstream_line_is_stored_unyanked_and_renders_back_byte_for_byte() {
    let served = r#"{"name": "itoa", "vers": "0.1.0", "deps": [], "cksum": "ab", "features": {}, "yanked": true, "extra": {"x": 1}}"#;
    let line = VerbatimLine::new(served).unwrap();
    assert!(line.yanked);
    assert!(line.stored.contains(r#""yanked": false"#));
    assert_eq!(with_yanked(&line.stored, true).unwrap(), served);
    assert_eq!(with_yanked(&line.stored, false).unwrap(), line.stored);
}

#[test]
fn lines_that_cannot_be_kept_are_refused() {
    assert_eq!(
        VerbatimLine::new(r#"{"name":"a"}"#),
        Err(VerbatimError::NoYanked)
    );
    assert_eq!(
        VerbatimLine::new("{\"yanked\":false}\n{}"),
        Err(VerbatimError::NotAnObject)
    );
    assert_eq!(
        VerbatimLine::new(r#"["yanked",false]"#),
        Err(VerbatimError::NotAnObject)
    );
    assert_eq!(
        VerbatimLine::new(r#"{"yanked":false"#),
        Err(VerbatimError::NotAnObject)
    );
}

#[test]
fn huge_lines_and_skillreg_fields_from_unsigned_upstreams_are_refused() {
    let huge = format!(r#"{{"yanked":false,"x":"{}"}}"#, "a".repeat(MAX_LINE_BYTES));
    assert!(matches!(
        VerbatimLine::new(&huge),
        Err(VerbatimError::TooLong(_))
    ));
    let fake = r#"{"name":"a","vers":"1.0.0","yanked":false,"license":"MIT","provenance":{}}"#;
    assert_eq!(
        refuse_own_fields(fake),
        Err(VerbatimError::OwnFields("license, provenance".into()))
    );
    assert_eq!(
        refuse_own_fields(r#"{"name":"a","yanked":false,"deps":[{"kind":"dev"}]}"#),
        Ok(())
    );
}

#[test]
fn a_line_that_repeats_a_top_level_key_is_refused() {
    // Found by fuzz/fuzz_targets/index_line.rs: the first `yanked` is the
    // one rewritten, a JSON map keeps the last, cargo refuses the line.
    let line = r#"{"name":"itoa","vers":"0.1.0","yanked":false,"cksum":"aa","yanked":true}"#;
    assert_eq!(
        VerbatimLine::new(line),
        Err(VerbatimError::DuplicateKey("yanked".into()))
    );
    let escaped = r#"{"name":"itoa","vers":"0.1.0","cksum":"aa","yanked":false,"cks\u0075m":"bb"}"#;
    assert_eq!(
        VerbatimLine::new(escaped),
        Err(VerbatimError::DuplicateKey("cksum".into()))
    );
    // Repeats inside nested objects are the deps' own business.
    let nested = r#"{"name":"a","vers":"1.0.0","deps":[{"name":"x","name":"y"}],"yanked":false}"#;
    assert!(VerbatimLine::new(nested).is_ok());
    assert!(VerbatimLine::new("[1]").is_err());
}
