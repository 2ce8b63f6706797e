//! Real `cargo` against the real daemon: publish, renamed dependency with a
//! feature, resolve + fetch + build, yank/unyank, search, owners, republish —
//! once anonymous, once with `auth_required = true` and a reader token.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private CARGO_HOME and target dir pointing at one registry.
struct Cargo {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Cargo {
    fn new(index_url: &str, auth: bool) -> Cargo {
        let home = tempfile::tempdir().unwrap();
        let provider = if auth {
            "credential-provider = [\"cargo:token\"]\n"
        } else {
            ""
        };
        std::fs::write(
            home.path().join("config.toml"),
            format!("[registries.skillreg]\nindex = \"sparse+{index_url}/index/\"\n{provider}\n[net]\nretry = 0\n"),
        )
        .unwrap();
        Cargo {
            home,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs cargo in `dir` with `token` (if any) for the registry.
    fn run(&self, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        for (key, _) in std::env::vars() {
            if key.starts_with("CARGO_REGISTRIES_")
                || key.starts_with("CARGO_REGISTRY_")
                || key.starts_with("CARGO_BUILD_")
                || key == "CARGO_TARGET_DIR"
                || key == "RUSTFLAGS"
            {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(dir)
            .args(args)
            .env("CARGO_HOME", self.home.path())
            .env("CARGO_TARGET_DIR", self.work.path().join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_HTTP_MULTIPLEXING", "false");
        if let Some(t) = token {
            cmd.env("CARGO_REGISTRIES_SKILLREG_TOKEN", t);
        }
        cmd.output().unwrap()
    }

    /// Runs cargo and asserts success.
    fn ok(&self, dir: &Path, args: &[&str], token: Option<&str>) -> String {
        let out = self.run(dir, args, token);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "cargo {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// Writes a crate under the work dir.
    fn krate(&self, dir: &str, manifest: &str, src: &[(&str, &str)]) -> PathBuf {
        let path = self.work.path().join(dir);
        std::fs::create_dir_all(path.join("src")).unwrap();
        std::fs::write(path.join("Cargo.toml"), manifest).unwrap();
        for (file, text) in src {
            std::fs::write(path.join("src").join(file), text).unwrap();
        }
        path
    }
}

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

/// Resolves `dir` afresh (a new lockfile) and returns the version chosen for `name`.
fn fresh_resolution(cargo: &Cargo, dir: &Path, token: Option<&str>, name: &str) -> String {
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
    cargo.ok(dir, &["generate-lockfile"], token);
    lock_version(dir, name)
}

fn lock_version(dir: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    let table: toml::Table = toml::from_str(&lock).unwrap();
    table["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in lockfile:\n{lock}"))["version"]
        .as_str()
        .unwrap()
        .to_string()
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
    let publish = [
        "publish",
        "--registry",
        "skillreg",
        "--no-verify",
        "--allow-dirty",
    ];

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
