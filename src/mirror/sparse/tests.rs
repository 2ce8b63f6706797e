use std::collections::HashMap;
use std::sync::Arc;

use super::resolve::{resolve, Follow, IndexFile};
use super::selection::{expand_glob, Pins, Selection};
use crate::client::verify::parse_index_lines;
use crate::package::CrateSpec;

/// A dependency in index-line JSON: `(name, req, kind, optional, package)`.
fn dep(name: &str, req: &str, kind: &str, optional: bool) -> String {
    format!(
        r#"{{"name":"{name}","req":"{req}","features":[],"optional":{optional},"default_features":true,"target":null,"kind":"{kind}"}}"#
    )
}

/// An upstream of index files built from `(name, version, yanked, deps)`.
fn upstream(versions: &[(&str, &str, bool, Vec<String>)]) -> HashMap<String, Arc<IndexFile>> {
    let mut text: HashMap<String, String> = HashMap::new();
    for (name, vers, yanked, deps) in versions {
        let line = format!(
            r#"{{"name":"{name}","vers":"{vers}","deps":[{}],"cksum":"{}","features":{{}},"yanked":{yanked}}}"#,
            deps.join(","),
            "a".repeat(64)
        );
        let file = text.entry(name.to_string()).or_default();
        file.push_str(&line);
        file.push('\n');
    }
    text.into_iter()
        .map(|(name, body)| {
            let file = IndexFile {
                lines: parse_index_lines(&name, body.as_bytes()),
                path: crate::index::path_for(&name),
                sha256: String::new(),
            };
            (name, Arc::new(file))
        })
        .collect()
}

fn follow() -> Follow {
    Follow {
        dev_dependencies: false,
        max_versions: 100,
    }
}

fn specs(list: &[&str]) -> Selection {
    Selection {
        specs: list.iter().map(|s| CrateSpec::parse(s).unwrap()).collect(),
        ..Default::default()
    }
}

fn names(resolved: &super::resolve::Resolved) -> Vec<String> {
    resolved
        .needed
        .values()
        .map(|n| format!("{}@{}", n.line.entry.name, n.line.entry.vers))
        .collect()
}

#[test]
fn requirements_take_the_newest_unyanked_match_and_follow_what_cargo_needs() {
    let up = upstream(&[
        (
            "app",
            "1.0.0",
            false,
            vec![
                dep("lib", "^1", "normal", false),
                dep("gen", "^0.2", "build", false),
                dep("opt", "^1", "normal", true),
                dep("tests-only", "^1", "dev", false),
            ],
        ),
        ("app", "2.0.0", false, vec![]),
        ("lib", "1.1.0", false, vec![]),
        ("lib", "1.2.0", true, vec![]),
        ("lib", "2.0.0", false, vec![]),
        ("gen", "0.2.5", false, vec![]),
        ("opt", "1.0.0", false, vec![]),
        ("tests-only", "1.0.0", false, vec![]),
    ]);
    let resolved = resolve(&specs(&["app@^1"]), follow(), |n| Ok(up.get(n).cloned()));
    assert_eq!(
        names(&resolved),
        ["app@1.0.0", "gen@0.2.5", "lib@1.1.0", "opt@1.0.0"],
        "normal, build and optional dependencies, not dev ones; yanked 1.2.0 and 2.0.0 out of range"
    );
    assert!(resolved.failures.is_empty(), "{:?}", resolved.failures);

    let with_dev = resolve(
        &specs(&["app@^1"]),
        Follow {
            dev_dependencies: true,
            ..follow()
        },
        |n| Ok(up.get(n).cloned()),
    );
    assert!(names(&with_dev).contains(&"tests-only@1.0.0".to_string()));
}

#[test]
fn renamed_cycles_other_registries_and_missing_crates() {
    let renamed = r#"{"name":"alias","req":"^1","features":[],"optional":false,"default_features":true,"target":"cfg(windows)","kind":"normal","package":"real"}"#;
    let foreign = r#"{"name":"elsewhere","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","registry":"https://other.example/index"}"#;
    let up = upstream(&[
        (
            "a",
            "1.0.0",
            false,
            vec![
                dep("b", "^1", "normal", false),
                renamed.into(),
                foreign.into(),
                dep("gone", "^1", "normal", false),
            ],
        ),
        ("b", "1.0.0", false, vec![dep("a", "^1", "normal", false)]),
        ("real", "1.0.0", false, vec![]),
    ]);
    let mut fetched = Vec::new();
    let resolved = resolve(&specs(&["a"]), follow(), |n| {
        fetched.push(n.to_string());
        Ok(up.get(n).cloned())
    });
    assert_eq!(names(&resolved), ["a@1.0.0", "b@1.0.0", "real@1.0.0"]);
    assert_eq!(resolved.failures.len(), 1, "{:?}", resolved.failures);
    assert!(resolved.failures[0]
        .contains("gone (dependency of a@1.0.0): the upstream has no such crate"));
    assert!(resolved.notes[0].contains("https://other.example/index"));
    fetched.sort();
    assert_eq!(
        fetched,
        ["a", "b", "gone", "real"],
        "each index file is fetched once, cycles end"
    );
}

#[test]
fn locked_versions_are_exact_even_yanked_and_checked_against_the_lockfile() {
    let up = upstream(&[
        (
            "a",
            "1.0.0",
            true,
            vec![dep("never", "^1", "normal", false)],
        ),
        ("b", "1.0.0", false, vec![]),
    ]);
    let mut selection = Selection::default();
    let lock = format!(
        "version = 4\n[[package]]\nname = \"me\"\nversion = \"0.1.0\"\n\n\
         [[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n\n\
         [[package]]\nname = \"b\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{}\"\n\n\
         [[package]]\nname = \"c\"\nversion = \"1.0.0\"\nsource = \"sparse+https://kellnr.corp/api/v1/crates/\"\n",
        "a".repeat(64),
        "b".repeat(64)
    );
    let sources: Vec<String> = super::selection::CRATES_IO_LOCK_SOURCES
        .iter()
        .map(|s| s.to_string())
        .collect();
    selection
        .add_lockfile(&lock, "Cargo.lock", &sources)
        .unwrap();
    assert_eq!(selection.locked.len(), 2);
    assert!(selection.notes[0]
        .contains("1 package(s) locked from `sparse+https://kellnr.corp/api/v1/crates/`"));
    let resolved = resolve(&selection, follow(), |n| Ok(up.get(n).cloned()));
    assert_eq!(
        names(&resolved),
        ["a@1.0.0"],
        "a lockfile is closed: no walk to `never`"
    );
    assert!(
        resolved.failures[0].contains("the lockfile's checksum"),
        "{:?}",
        resolved.failures
    );

    let err = Selection::default()
        .add_lockfile("[[package]]\nversion = \"1\"\n", "x/Cargo.lock", &sources)
        .unwrap_err();
    assert!(
        err.to_string().contains("x/Cargo.lock is not a Cargo.lock"),
        "{err}"
    );
}

#[test]
fn a_closure_that_keeps_growing_stops_at_the_limit() {
    // Every crate depends on the next: a hostile upstream's endless chain.
    let mut calls = 0;
    let resolved = resolve(
        &specs(&["c0"]),
        Follow {
            dev_dependencies: false,
            max_versions: 10,
        },
        |name| {
            calls += 1;
            let n: u32 = name[1..].parse().unwrap();
            let line = format!(
                r#"{{"name":"{name}","vers":"1.0.0","deps":[{}],"cksum":"00","features":{{}},"yanked":false}}"#,
                dep(&format!("c{}", n + 1), "^1", "normal", false)
            );
            Ok(Some(Arc::new(IndexFile {
                lines: parse_index_lines(name, line.as_bytes()),
                path: name.into(),
                sha256: String::new(),
            })))
        },
    );
    assert_eq!(resolved.needed.len(), 10);
    assert_eq!(calls, 10, "nothing is fetched past the limit");
    assert!(resolved.failures[0].contains("limit of 10 versions"));
}

#[test]
fn pins_read_sha256sum_output_and_globs_expand_per_component() {
    let dir = tempfile::tempdir().unwrap();
    let pins = dir.path().join("SHA256SUMS");
    std::fs::write(
        &pins,
        format!(
            "# made upstream\n{}  ./it/oa/itoa\n{} *se/rd/Serde\n",
            "a".repeat(64),
            "B".repeat(64)
        ),
    )
    .unwrap();
    let read = Pins::read(&pins).unwrap();
    assert_eq!(read.get("it/oa/itoa"), Some("a".repeat(64).as_str()));
    assert_eq!(read.get("se/rd/serde"), Some("b".repeat(64).as_str()));
    std::fs::write(&pins, "nothex  it/oa/itoa\n").unwrap();
    assert!(Pins::read(&pins)
        .unwrap_err()
        .to_string()
        .contains("line 1"));

    for project in ["one", "two", ".hidden"] {
        std::fs::create_dir_all(dir.path().join(project)).unwrap();
        std::fs::write(dir.path().join(project).join("Cargo.lock"), "").unwrap();
    }
    let found = expand_glob(&format!("{}/*/Cargo.lock", dir.path().display()));
    assert_eq!(
        found,
        [
            dir.path().join("one/Cargo.lock"),
            dir.path().join("two/Cargo.lock")
        ]
    );
}

#[test]
fn download_hosts_an_upstream_may_not_aim_at() {
    use crate::mirror::upstream_http::{is_internal_host, url_host};
    assert_eq!(
        url_host("https://static.crates.io/crates"),
        "static.crates.io"
    );
    assert_eq!(url_host("http://u:p@[fe80::1]:8080/x"), "fe80::1");
    assert_eq!(
        url_host("http://169.254.169.254/{crate}"),
        "169.254.169.254"
    );
    for internal in [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "localhost",
        "::1",
        "fd00::1",
        "fe80::1",
        "0.0.0.0",
    ] {
        assert!(is_internal_host(internal), "{internal}");
    }
    for public in ["static.crates.io", "8.8.8.8", "2a00:1450::1"] {
        assert!(!is_internal_host(public), "{public}");
    }
}
