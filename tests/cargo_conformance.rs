//! Real `cargo` against the real daemon: publish, renamed dependency with a
//! feature, resolve + fetch + build, yank/unyank, search, owners, republish —
//! once anonymous, once with `auth_required = true` and a reader token.

mod common;

use common::*;
use std::path::PathBuf;

fn base_crate(cargo: &Cargo, version: &str, value: u32) -> PathBuf {
    cargo.krate(
        &format!("base-{version}"),
        &format!(
            "[package]\nname = \"sr-base\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"Base crate for the conformance test\"\nlicense = \"MIT\"\n\
             keywords = [\"conformance\"]\n\n[features]\nextra = []\n"
        ),
        &[(
            "lib.rs",
            &format!("pub fn base() -> u32 {{ {value} }}\n#[cfg(feature = \"extra\")]\npub fn extra() -> u32 {{ 100 }}\n"),
        )],
    )
}

fn conformance(auth_required: bool) {
    let d = Daemon::with_config(if auth_required {
        "auth_required = true\n"
    } else {
        ""
    });
    let publisher = d.token("publisher", "alice");
    let reader = d.token("reader", "rita");
    let other = d.token("publisher", "bob");
    let read_token = auth_required.then_some(reader.as_str());
    let cargo = Cargo::new(&d.url, auth_required);
    let publish = PUBLISH;

    // 1. Publish a crate.
    let base = base_crate(&cargo, "0.1.0", 1);
    cargo.ok(&base, &publish, Some(&publisher));

    // 2. A crate depending on it, renamed, with a feature.
    let dependent = cargo.krate(
        "dependent",
        "[package]\nname = \"sr-dependent\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         description = \"Depends on sr-base under another name\"\nlicense = \"MIT\"\n\n\
         [dependencies]\nb = { package = \"sr-base\", version = \"0.1\", registry = \"skillreg\", features = [\"extra\"] }\n",
        &[("lib.rs", "pub fn total() -> u32 { b::base() + b::extra() }\n")],
    );
    cargo.ok(&dependent, &publish, Some(&publisher));
    let index = get_with(
        &format!("{}/index/sr/-d/sr-dependent", d.url),
        &[("authorization", &reader)],
    );
    let mut line = String::new();
    std::io::Read::read_to_string(&mut index.into_body().as_reader(), &mut line).unwrap();
    let entry: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let dep = &entry["deps"][0];
    assert_eq!(dep["name"], "b", "{line}");
    assert_eq!(dep["package"], "sr-base", "{line}");
    assert_eq!(dep["features"][0], "extra", "{line}");
    assert_eq!(entry["kind"], "crate");

    // 3. A consumer resolves, fetches and builds; the program runs.
    let consumer = cargo.krate(
        "consumer",
        "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nsr-dependent = { version = \"0.1\", registry = \"skillreg\" }\n",
        &[("main.rs", "fn main() { println!(\"total={}\", sr_dependent::total()); }\n")],
    );
    let out = cargo.ok(&consumer, &["run", "-q"], read_token);
    assert_eq!(out.trim(), "total=101");

    // 4. A newer base; yank hides it from new resolutions, unyank restores it.
    cargo.ok(&base_crate(&cargo, "0.1.1", 2), &publish, Some(&publisher));
    let _ = std::fs::remove_file(consumer.join("Cargo.lock"));
    cargo.ok(&consumer, &["generate-lockfile"], read_token);
    assert_eq!(lock_version(&consumer, "sr-base"), "0.1.1");
    assert_eq!(
        cargo.ok(&consumer, &["run", "-q"], read_token).trim(),
        "total=102"
    );
    cargo.ok(
        &consumer,
        &[
            "yank",
            "--registry",
            "skillreg",
            "--version",
            "0.1.1",
            "sr-base",
        ],
        Some(&publisher),
    );
    assert_eq!(
        fresh_resolution(&cargo, &consumer, read_token, "sr-base"),
        "0.1.0",
        "a yanked version is not chosen"
    );
    cargo.ok(
        &consumer,
        &[
            "yank",
            "--undo",
            "--registry",
            "skillreg",
            "--version",
            "0.1.1",
            "sr-base",
        ],
        Some(&publisher),
    );
    assert_eq!(
        fresh_resolution(&cargo, &consumer, read_token, "sr-base"),
        "0.1.1",
        "unyank restores it"
    );

    // 5. cargo search finds it (by name and by description).
    let found = cargo.ok(
        &consumer,
        &["search", "--registry", "skillreg", "sr-base"],
        read_token,
    );
    assert!(found.contains("sr-base = \"0.1.1\""), "{found}");
    let found = cargo.ok(
        &consumer,
        &["search", "--registry", "skillreg", "another name"],
        read_token,
    );
    assert!(found.contains("sr-dependent"), "{found}");

    // 6. Republishing a version fails.
    let again = cargo.run(&base_crate(&cargo, "0.1.0", 3), &publish, Some(&publisher));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // 7. Owners: a non-owner cannot publish until added.
    let third = base_crate(&cargo, "0.2.0", 4);
    let refused = cargo.run(&third, &publish, Some(&other));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not an owner"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    cargo.ok(
        &consumer,
        &["owner", "--registry", "skillreg", "--add", "bob", "sr-base"],
        Some(&publisher),
    );
    let owners = cargo.ok(
        &consumer,
        &["owner", "--registry", "skillreg", "--list", "sr-base"],
        Some(&publisher),
    );
    assert!(
        owners.contains("alice") && owners.contains("bob"),
        "{owners}"
    );
    cargo.ok(&third, &publish, Some(&other));

    if auth_required {
        // Without a token cargo cannot read the index at all.
        std::fs::remove_file(consumer.join("Cargo.lock")).unwrap();
        let denied = cargo.run(&consumer, &["generate-lockfile"], None);
        assert!(
            !denied.status.success(),
            "reading without a token must fail"
        );
    }
    d.assert_serving();
}

#[test]
fn cargo_publishes_resolves_builds_yanks_and_searches() {
    conformance(false);
}

#[test]
fn cargo_works_with_auth_required_and_a_reader_token() {
    conformance(true);
}
