//! Git repositories served over HTTP by nginx (git's "dumb" protocol: plain
//! files), so a test can give a marketplace remote plugin sources on a real
//! web server instead of `file://` URLs, which upstream entries may not use.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{public_tempdir, Nginx};

/// Bare copies of work repositories, served at `URL/NAME.git`.
pub struct GitHttp {
    /// nginx serving the bare repositories.
    pub nginx: Nginx,
    root: tempfile::TempDir,
}

impl GitHttp {
    /// An empty server.
    pub fn start() -> GitHttp {
        let root = public_tempdir();
        let nginx = Nginx::serve(root.path());
        GitHttp { nginx, root }
    }

    /// The URL of `NAME.git`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.nginx.url)
    }

    /// `host:port` of the server, for `remote_hosts = ["http://…"]`.
    pub fn host(&self) -> String {
        self.nginx.url.trim_start_matches("http://").to_string()
    }

    /// Serves (or updates) `NAME.git` from the work repository `repo`.
    pub fn publish(&self, name: &str, repo: &Path) {
        let bare = self.bare(name);
        if !bare.exists() {
            git(
                None,
                &[
                    "clone",
                    "-q",
                    "--bare",
                    "--",
                    repo.to_str().unwrap(),
                    bare.to_str().unwrap(),
                ],
            );
        } else {
            git(
                Some(repo),
                &[
                    "push",
                    "-q",
                    "--force",
                    "--all",
                    "--",
                    bare.to_str().unwrap(),
                ],
            );
        }
        git(Some(&bare), &["update-server-info"]);
    }

    /// The bare repository's directory (to plant hooks or break it).
    pub fn bare(&self, name: &str) -> PathBuf {
        self.root.path().join(format!("{name}.git"))
    }
}

/// Runs the test's own git (not the registry's), with a fixed identity.
pub fn git(dir: Option<&Path>, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    let out = cmd
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A work repository at `dir` with `files` (path → content) committed;
/// returns the commit.
pub fn repo_with(dir: &Path, files: &[(&str, &[u8])]) -> String {
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    if !dir.join(".git").exists() {
        git(Some(dir), &["init", "-q"]);
    }
    git(Some(dir), &["add", "-A"]);
    git(Some(dir), &["commit", "-qm", "commit", "--allow-empty"]);
    git(Some(dir), &["rev-parse", "HEAD"])
}
