//! A throwaway user of the verifying client (tests/install.rs,
//! tests/install_attacks.rs).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::BIN;

/// A throwaway user for the client: its own XDG state and cache dirs and
/// HOME, so state and blob caches never leak between tests.
pub struct ClientEnv {
    pub dir: tempfile::TempDir,
}

impl ClientEnv {
    pub fn new() -> ClientEnv {
        ClientEnv {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state_home(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn cache_home(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// Where the client caches bundles:
    /// `$XDG_CACHE_HOME/skillreg/blobs/sha256/<hex>`.
    pub fn bundle_cache(&self) -> PathBuf {
        self.cache_home().join("skillreg/blobs/sha256")
    }

    /// Every file in [`ClientEnv::bundle_cache`]: name → hex sha256 of its
    /// bytes (empty when the directory does not exist).
    pub fn cached_bundles(&self) -> std::collections::BTreeMap<String, String> {
        let Ok(entries) = std::fs::read_dir(self.bundle_cache()) else {
            return Default::default();
        };
        entries
            .map(|e| {
                let e = e.unwrap();
                let bytes = std::fs::read(e.path()).unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
                )
            })
            .collect()
    }

    /// A fresh, empty project directory `name`.
    pub fn project(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("projects").join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// `skillreg install NAMES --registry URL --trust-root ROOT --dir PROJECT`
    /// as this user, asserting success.
    pub fn install(
        &self,
        registry: &str,
        trust_root: &Path,
        project: &Path,
        names: &[&str],
    ) -> Output {
        let mut args = vec!["install"];
        args.extend_from_slice(names);
        args.extend_from_slice(&[
            "--registry",
            registry,
            "--trust-root",
            trust_root.to_str().unwrap(),
            "--dir",
            project.to_str().unwrap(),
        ]);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "install {names:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs the skillreg CLI as this user.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env_remove("SKILLREG_REGISTRY")
            .env_remove("SKILLREG_TOKEN")
            .env_remove("SKILLREG_CA_CERT")
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.state_home())
            .env("XDG_CACHE_HOME", self.cache_home())
            .output()
            .unwrap()
    }
}
