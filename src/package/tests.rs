use super::*;

#[test]
fn crate_names() {
    assert!(PackageName::parse(Kind::Crate, "serde_json").is_ok());
    assert!(PackageName::parse(Kind::Crate, "Foo-Bar").is_ok());
    assert!(PackageName::parse(Kind::Crate, "1abc").is_err());
    assert!(PackageName::parse(Kind::Crate, "a/b").is_err());
    assert!(PackageName::parse(Kind::Crate, "").is_err());
    assert!(PackageName::parse(Kind::Crate, &"a".repeat(65)).is_err());
}

#[test]
fn skill_names() {
    assert!(PackageName::parse(Kind::Skill, "pdf-tools").is_ok());
    assert!(PackageName::parse(Kind::Skill, "Pdf").is_err());
    assert!(PackageName::parse(Kind::Skill, "-pdf").is_err());
    assert!(PackageName::parse(Kind::Skill, "pdf-").is_err());
    assert!(PackageName::parse(Kind::Skill, "pdf--x").is_err());
    assert!(PackageName::parse(Kind::Plugin, "my_plugin").is_err());
}

#[test]
fn normalization_equates_case_and_separators() {
    let a = PackageName::parse(Kind::Crate, "Foo_Bar").unwrap();
    let b = PackageName::parse(Kind::Skill, "foo-bar").unwrap();
    assert_eq!(a.normalized(), b.normalized());
}

#[test]
fn build_metadata_is_ignored_by_the_key() {
    let a = parse_version("1.0.0+a").unwrap();
    let b = parse_version("1.0.0+b").unwrap();
    assert_eq!(version_key(&a), version_key(&b));
    assert_ne!(
        version_key(&parse_version("1.0.0-rc.1").unwrap()),
        version_key(&a)
    );
}
