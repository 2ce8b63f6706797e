//! Real cargo with a private CARGO_HOME pointed at one registry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `cargo publish` to the `skillreg` registry of a test's CARGO_HOME, from a
/// crate directory that is neither verified nor committed.
pub const PUBLISH: [&str; 5] = [
    "publish",
    "--registry",
    "skillreg",
    "--no-verify",
    "--allow-dirty",
];

/// A private CARGO_HOME and target dir pointing at one registry.
pub struct Cargo {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Cargo {
    pub fn new(index_url: &str, auth: bool) -> Cargo {
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

    /// A CARGO_HOME whose crates.io is replaced by the sparse index at
    /// `index_url` (ending in `/`), as an air-gapped machine is set up: an
    /// unchanged project with its unchanged Cargo.lock builds from it.
    pub fn replacing_crates_io(index_url: &str) -> Cargo {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            format!(
                "[source.crates-io]\nreplace-with = \"skillreg\"\n\n[source.skillreg]\nregistry = \"sparse+{index_url}\"\n\n[net]\nretry = 0\n"
            ),
        )
        .unwrap();
        Cargo {
            home,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs cargo in `dir` with `token` (if any) for the registry.
    pub fn run(&self, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
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
    pub fn ok(&self, dir: &Path, args: &[&str], token: Option<&str>) -> String {
        let out = self.run(dir, args, token);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "cargo {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// The scratch directory (a place to run commands that need no crate).
    pub fn work_dir(&self) -> PathBuf {
        self.work.path().to_path_buf()
    }

    /// Writes a crate under the work dir.
    pub fn krate(&self, dir: &str, manifest: &str, src: &[(&str, &str)]) -> PathBuf {
        let path = self.work.path().join(dir);
        std::fs::create_dir_all(path.join("src")).unwrap();
        std::fs::write(path.join("Cargo.toml"), manifest).unwrap();
        for (file, text) in src {
            std::fs::write(path.join("src").join(file), text).unwrap();
        }
        path
    }

    /// Publishes `ex-base` at `version` (a library whose `version()`
    /// returns it) with `token`.
    pub fn publish_ex_base(&self, version: &str, token: &str) {
        let krate = self.krate(
            &format!("ex-base-{version}"),
            &format!(
                "[package]\nname = \"ex-base\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n"
            ),
            &[("lib.rs", &format!("pub fn version() -> &'static str {{ \"{version}\" }}\n"))],
        );
        self.ok(&krate, &PUBLISH, Some(token));
    }

    /// Builds and runs a binary crate that depends on `ex-base` `req` from
    /// this registry; returns the version it printed.
    pub fn run_ex_base_consumer(&self, req: &str) -> String {
        let consumer = self.krate(
            "consumer",
            &format!(
                "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\nex-base = {{ version = \"{req}\", registry = \"skillreg\" }}\n"
            ),
            &[("main.rs", "fn main() { println!(\"{}\", ex_base::version()); }\n")],
        );
        self.ok(&consumer, &["run", "-q"], None).trim().to_string()
    }
}

/// Resolves `dir` afresh (a new lockfile) and returns the version chosen for `name`.
pub fn fresh_resolution(cargo: &Cargo, dir: &Path, token: Option<&str>, name: &str) -> String {
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
    cargo.ok(dir, &["generate-lockfile"], token);
    lock_version(dir, name)
}

pub fn lock_version(dir: &Path, name: &str) -> String {
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
