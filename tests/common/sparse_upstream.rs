//! A crates.io-like sparse index on nginx, from the real crates in
//! `tests/fixtures/sparse/` (see its PROVENANCE.md), and the unchanged
//! project whose Cargo.lock locks them.

use std::path::{Path, PathBuf};

use super::{copy_tree, public_tempdir, Nginx};

/// The crates the fixture project locks, as `(name, version)`.
pub const LOCKED: [(&str, &str); 5] = [
    ("itoa", "1.0.18"),
    ("memchr", "2.8.3"),
    ("proc-macro2", "1.0.107"),
    ("quote", "1.0.47"),
    ("unicode-ident", "1.0.27"),
];

/// nginx serving a writable copy of the fixture index: `index/` at
/// cargo's paths with a `config.json` whose `dl` points at `crates/`.
pub struct SparseUpstream {
    pub nginx: Nginx,
    pub root: tempfile::TempDir,
}

impl SparseUpstream {
    pub fn start() -> SparseUpstream {
        let root = public_tempdir();
        copy_tree(&fixtures().join("upstream"), root.path());
        let nginx = Nginx::serve(root.path());
        let config = format!(
            "{{\"dl\":\"{}/crates/{{crate}}/{{crate}}-{{version}}.crate\"}}",
            nginx.url
        );
        std::fs::write(root.path().join("index/config.json"), config).unwrap();
        SparseUpstream { nginx, root }
    }

    /// Points config.json's `dl` at `base` (a proxy in front of nginx).
    pub fn set_download_base(&self, base: &str) {
        let config = format!("{{\"dl\":\"{base}/crates/{{crate}}/{{crate}}-{{version}}.crate\"}}");
        self.rewrite("index/config.json", config);
    }

    /// The index URL a source or cargo is given.
    pub fn index_url(&self) -> String {
        format!("{}/index/", self.nginx.url)
    }

    /// The file at `rel` below the served root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Replaces the file at `rel` as an upstream publishing would, with a
    /// later mtime: nginx's ETag is mtime and size, and a rewrite within
    /// the same second at the same size would otherwise keep it.
    pub fn rewrite(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let path = self.path(rel);
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(before + std::time::Duration::from_secs(2))
            .unwrap();
    }

    /// The upstream's line for `name@version`, exactly as served.
    pub fn line(&self, name: &str, version: &str) -> String {
        let file = self.path(&format!("index/{}", skillreg::index::path_for(name)));
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .find(|l| l.contains(&format!("\"vers\": \"{version}\"")))
            .unwrap_or_else(|| panic!("no line for {name}@{version}"))
            .to_string()
    }

    /// `.crate` downloads served so far, as `name-version.crate`.
    pub fn downloads(&self) -> Vec<String> {
        self.nginx
            .requests()
            .iter()
            .filter_map(|r| {
                let uri = r.split(' ').nth(2)?;
                uri.ends_with(".crate")
                    .then(|| uri.rsplit('/').next().unwrap().to_string())
            })
            .collect()
    }
}

/// `tests/fixtures/sparse`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sparse")
}

/// A copy of the fixture project at `dir/NAME` (its Cargo.lock unchanged).
pub fn project_copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    copy_tree(&fixtures().join("project"), &to);
    to
}
