//! git as an untrusted program: what an upstream repository holds must not
//! run, reach other repositories or fill the disk.
//!
//! Every call: no system or global config (`GIT_CONFIG_NOSYSTEM`, an empty
//! `HOME`), hooks off (`core.hooksPath=/dev/null`), no templates, every
//! protocol refused but the one the URL uses (never `file` or `ext` for an
//! upstream's URL), no redirects, no submodules, no LFS smudge, objects
//! checked on fetch, `--` before URLs and refs, and one process group killed
//! when the time cap (`git_timeout`) passes or the clone grows past its size
//! cap (`git_max_bytes`). Clones live in the mirror's own state directory,
//! outside every tree that is read, and nothing is ever written into them
//! but by git.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the git work of one run of a source may cost, all clones together:
/// caps per clone would multiply with every URL an upstream names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GitLimits {
    /// Largest disk use of the source's clones (objects and work trees).
    pub max_bytes: u64,
    /// Longest all git calls of one run may take together.
    pub timeout: Duration,
}

/// Why git failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The URL is not one a source may fetch.
    #[error("{0}")]
    Refused(String),
    /// git could not be started.
    #[error("cannot run git (is it installed?): {0}")]
    Spawn(std::io::Error),
    /// git exited with an error.
    #[error("git {what} failed: {stderr}")]
    Failed {
        /// The subcommand.
        what: &'static str,
        /// The last line git printed.
        stderr: String,
    },
    /// The time cap passed.
    #[error("git took longer than {secs} s (the source's `git_timeout`) and was stopped")]
    Timeout {
        /// The cap.
        secs: u64,
    },
    /// The clone grew past its cap.
    #[error("the clone grew past {limit} bytes (the source's `git_max_bytes`) and was stopped")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// Local trouble with the clone directory.
    #[error("cannot prepare the clone in {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The transports a URL may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `https://`
    Https,
    /// `http://`
    Http,
    /// `ssh://` or `user@host:path`
    Ssh,
    /// `file://` or a local path: only for a URL the admin configured.
    File,
}

impl Scheme {
    /// git's name for the transport (`protocol.<name>.allow`).
    pub fn protocol(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
            Scheme::Ssh => "ssh",
            Scheme::File => "file",
        }
    }
}

/// A checked git URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitUrl {
    /// The URL as given.
    pub url: String,
    /// Its transport.
    pub scheme: Scheme,
    /// `host` or `host:port`, lowercase (empty for `file`).
    pub host: String,
}

impl GitUrl {
    /// Parses a URL an upstream gave (a marketplace entry): https, http or
    /// ssh with a plain host; `file://`, local paths, `ext::` and other
    /// transports are refused.
    pub fn upstream(url: &str) -> Result<GitUrl, GitError> {
        let parsed = GitUrl::parse(url)?;
        if parsed.scheme == Scheme::File {
            return Err(GitError::Refused(format!(
                "`{url}` is a local path or file:// URL; an upstream may name only https, http or ssh repositories"
            )));
        }
        Ok(parsed)
    }

    /// Parses the URL the admin configured (`git = …`): `file://` is allowed
    /// there, because the admin chose it.
    pub fn configured(url: &str) -> Result<GitUrl, GitError> {
        GitUrl::parse(url)
    }

    fn parse(url: &str) -> Result<GitUrl, GitError> {
        let refused = |why: &str| GitError::Refused(format!("`{url}` {why}"));
        if url.starts_with('-') {
            return Err(refused("starts with `-`"));
        }
        if url.contains("::") {
            return Err(refused(
                "uses a transport other than https, http or ssh (ext::, git://, …)",
            ));
        }
        if url.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refused("is empty or holds spaces or control characters"));
        }
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else if let Some(rest) = url.strip_prefix("ssh://") {
            (Scheme::Ssh, rest)
        } else if url.starts_with("file://") {
            return Ok(GitUrl {
                url: url.into(),
                scheme: Scheme::File,
                host: String::new(),
            });
        } else if url.contains("://") {
            return Err(refused(
                "uses a transport other than https, http or ssh (ext::, git://, …)",
            ));
        } else if let Some((authority, _)) = url.split_once(':').filter(|(a, _)| !a.contains('/')) {
            // scp-like `user@host:path`
            return Ok(GitUrl {
                url: url.into(),
                scheme: Scheme::Ssh,
                host: checked_host(url, authority.rsplit('@').next().unwrap_or(""))?,
            });
        } else {
            return Ok(GitUrl {
                url: url.into(),
                scheme: Scheme::File,
                host: String::new(),
            });
        };
        let authority = rest.split('/').next().unwrap_or("");
        let host = match authority.rsplit_once('@') {
            Some(_) if scheme != Scheme::Ssh => {
                return Err(refused(
                    "carries credentials (`user@`); give a source its token another way",
                ))
            }
            Some((_, host)) => host,
            None => authority,
        };
        Ok(GitUrl {
            url: url.into(),
            scheme,
            host: checked_host(url, host)?,
        })
    }

    /// True when `allowed` (a source's `remote_hosts`) lists this URL's
    /// host for its scheme: `host` or `host:port` allows https; `http://host`
    /// and `ssh://host` allow those schemes.
    pub fn allowed_by(&self, allowed: &[String]) -> bool {
        allowed.iter().any(|entry| {
            let entry = entry.trim().trim_end_matches('/').to_ascii_lowercase();
            let (scheme, host) = match entry.split_once("://") {
                Some(("https", h)) => (Scheme::Https, h.to_string()),
                Some(("http", h)) => (Scheme::Http, h.to_string()),
                Some(("ssh", h)) => (Scheme::Ssh, h.to_string()),
                Some(_) => return false,
                None => (Scheme::Https, entry),
            };
            scheme == self.scheme && host == self.host && self.scheme != Scheme::File
        })
    }
}

/// A host (`name`, `name:port`, `[v6]:port`) of safe characters, lowercased.
fn checked_host(url: &str, host: &str) -> Result<String, GitError> {
    let ok = !host.is_empty()
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(host.to_ascii_lowercase())
    } else {
        Err(GitError::Refused(format!("`{url}` has no plain host name")))
    }
}

/// Runs git for one run of one source.
pub struct Git {
    home: PathBuf,
    limits: GitLimits,
    /// Everything the source's clones occupy is below this directory.
    clones: PathBuf,
    /// When the run's git budget ends.
    deadline: Instant,
}

/// Most of git's output kept for a message.
const MAX_OUTPUT: usize = 64 * 1024;

impl Git {
    /// git with `home` (an empty directory the mirror owns) as `HOME`, for
    /// clones below `clones`, within `limits` from now on.
    pub fn new(home: PathBuf, clones: PathBuf, limits: GitLimits) -> Git {
        Git {
            home,
            limits,
            clones,
            deadline: Instant::now() + limits.timeout,
        }
    }

    /// Brings the clone in `dir` (below the clones directory) to `pin` (a
    /// commit, a ref, or the default branch) of `url`, fetching `--depth 1`
    /// where the server allows, and returns the commit checked out. The work
    /// tree is exactly that commit. A clone that hit a cap is removed, so
    /// what was refused takes no disk.
    pub fn fetch_pinned(
        &self,
        url: &GitUrl,
        pin: Option<&str>,
        dir: &Path,
    ) -> Result<String, GitError> {
        let fetched = self.fetch_pinned_in(url, pin, dir);
        if matches!(
            fetched,
            Err(GitError::TooLarge { .. } | GitError::Timeout { .. })
        ) {
            let _ = std::fs::remove_dir_all(dir);
        }
        fetched
    }

    fn fetch_pinned_in(
        &self,
        url: &GitUrl,
        pin: Option<&str>,
        dir: &Path,
    ) -> Result<String, GitError> {
        if let Some(p) = pin.filter(|p| p.starts_with('-') || p.contains(char::is_whitespace)) {
            return Err(GitError::Refused(format!(
                "the pin `{p}` is not a commit or ref"
            )));
        }
        let deadline = self.deadline;
        let io = |source| GitError::Io {
            path: dir.display().to_string(),
            source,
        };
        crate::fsutil::create_private_dir(&self.home).map_err(io)?;
        if !dir.join(".git").is_dir() {
            crate::fsutil::create_private_dir(dir).map_err(io)?;
            self.run(
                dir,
                None,
                "init",
                &["init", "--quiet", "--template="],
                deadline,
            )?;
            self.run(
                dir,
                None,
                "remote add",
                &["remote", "add", "--", "origin", &url.url],
                deadline,
            )?;
        }
        let net = Some(url.scheme);
        let target = pin.unwrap_or("HEAD");
        let fetch = |extra: &[&str]| {
            let mut args = vec![
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-recurse-submodules",
                "--no-auto-maintenance",
                "--no-write-commit-graph",
            ];
            args.extend_from_slice(extra);
            self.run(dir, net, "fetch", &args, deadline)
        };
        // Shallow where the server allows it (dumb http does not), then the
        // ref alone, then everything (a commit not advertised by name).
        let checkout_of = if fetch(&["--depth", "1", "--", "origin", target]).is_ok()
            || fetch(&["--", "origin", target]).is_ok()
        {
            "FETCH_HEAD".to_string()
        } else {
            fetch(&["--", "origin"])?;
            target.to_string()
        };
        // What the checkout would write, before it writes it: a tree that
        // names one huge blob a thousand times is small to fetch.
        let (bytes, entries) = self.tree_size(dir, &checkout_of, deadline)?;
        if disk_use(&self.clones)
            .saturating_add(bytes)
            .saturating_add(entries.saturating_mul(ENTRY_COST))
            > self.limits.max_bytes
        {
            return Err(GitError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.run(
            dir,
            None,
            "checkout",
            &[
                "checkout",
                "--quiet",
                "--force",
                "--detach",
                &checkout_of,
                "--",
            ],
            deadline,
        )?;
        self.run(dir, None, "clean", &["clean", "-ffdxq"], deadline)?;
        let head = self.run(dir, None, "rev-parse", &["rev-parse", "HEAD"], deadline)?;
        Ok(head.trim().to_string())
    }

    /// The bytes and entries the work tree of `commit` would hold, read from
    /// `git ls-tree -r -l` as it streams (stopped once over the cap).
    fn tree_size(
        &self,
        dir: &Path,
        commit: &str,
        deadline: Instant,
    ) -> Result<(u64, u64), GitError> {
        let mut cmd = self.command(None);
        cmd.arg("-C")
            .arg(dir)
            .args(["ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--"]);
        let mut child = cmd.spawn().map_err(GitError::Spawn)?;
        let cap = self.limits.max_bytes;
        let stdout = child.stdout.take();
        let summer = std::thread::spawn(move || {
            let (mut bytes, mut entries) = (0u64, 0u64);
            let Some(stdout) = stdout else {
                return (bytes, entries);
            };
            let mut reader = std::io::BufReader::new(stdout);
            let mut record = Vec::new();
            // `<mode> <type> <object> <size>\t<path>\0`; size is `-` for
            // what is not a blob (a submodule's commit).
            while std::io::BufRead::read_until(&mut reader, 0, &mut record).is_ok_and(|n| n > 0) {
                let head = record.split(|b| *b == b'\t').next().unwrap_or(&[]);
                let size = std::str::from_utf8(head)
                    .ok()
                    .and_then(|h| h.split_whitespace().nth(3))
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
                bytes = bytes.saturating_add(size);
                entries += 1;
                record.clear();
                if bytes.saturating_add(entries.saturating_mul(ENTRY_COST)) > cap {
                    break;
                }
            }
            (bytes, entries)
        });
        let stderr = capture(child.stderr.take());
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if summer.is_finished() => {
                    // Over the cap: the rest of the listing is not needed.
                    kill_group(&mut child);
                    break None;
                }
                Ok(None) => {}
                Err(e) => return Err(GitError::Spawn(e)),
            }
            if Instant::now() >= deadline {
                kill_group(&mut child);
                return Err(GitError::Timeout {
                    secs: self.limits.timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let sizes = summer.join().unwrap_or((u64::MAX, u64::MAX));
        // Over the cap, the listing was cut short (git may have died of the
        // closed pipe): the sizes say enough.
        if sizes.0.saturating_add(sizes.1.saturating_mul(ENTRY_COST)) > cap {
            return Ok(sizes);
        }
        if status.is_some_and(|s| !s.success()) {
            let err = stderr.join().unwrap_or_default();
            return Err(GitError::Failed {
                what: "ls-tree",
                stderr: last_line(&err),
            });
        }
        Ok(sizes)
    }

    /// Runs one git subcommand in `dir` under the caps; returns its stdout.
    fn run(
        &self,
        dir: &Path,
        network: Option<Scheme>,
        what: &'static str,
        args: &[&str],
        deadline: Instant,
    ) -> Result<String, GitError> {
        let mut cmd = self.command(network);
        cmd.arg("-C").arg(dir).args(args);
        let mut child = cmd.spawn().map_err(GitError::Spawn)?;
        let stdout = capture(child.stdout.take());
        let stderr = capture(child.stderr.take());
        let mut last_size_check = Instant::now() - Duration::from_secs(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(GitError::Spawn(e)),
            }
            let stop = if Instant::now() >= deadline {
                Some(GitError::Timeout {
                    secs: self.limits.timeout.as_secs(),
                })
            } else if last_size_check.elapsed() >= Duration::from_millis(50) {
                last_size_check = Instant::now();
                (disk_use(&self.clones) > self.limits.max_bytes).then_some(GitError::TooLarge {
                    limit: self.limits.max_bytes,
                })
            } else {
                None
            };
            if let Some(e) = stop {
                kill_group(&mut child);
                return Err(e);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if disk_use(&self.clones) > self.limits.max_bytes {
            return Err(GitError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        let out = stdout.join().unwrap_or_default();
        let err = stderr.join().unwrap_or_default();
        if status.success() {
            Ok(String::from_utf8_lossy(&out).into_owned())
        } else {
            Err(GitError::Failed {
                what,
                stderr: last_line(&err),
            })
        }
    }

    /// git with no inherited configuration, hooks, templates, credentials,
    /// submodules or LFS, and only `network`'s protocol allowed.
    fn command(&self, network: Option<Scheme>) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear();
        for keep in [
            "PATH",
            "LANG",
            "https_proxy",
            "HTTPS_PROXY",
            "http_proxy",
            "HTTP_PROXY",
            "no_proxy",
            "NO_PROXY",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
        ] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
            .env("GIT_LFS_SKIP_SMUDGE", "1")
            .env("GIT_PROTOCOL_FROM_USER", "0")
            .env(
                "GIT_ALLOW_PROTOCOL",
                network.map(Scheme::protocol).unwrap_or("none"),
            );
        let mut config = vec![
            "core.hooksPath=/dev/null".to_string(),
            "core.fsmonitor=false".into(),
            "core.protectHFS=true".into(),
            "core.protectNTFS=true".into(),
            "init.templateDir=".into(),
            "protocol.allow=never".into(),
            "protocol.file.allow=never".into(),
            "protocol.ext.allow=never".into(),
            "submodule.recurse=false".into(),
            "fetch.recurseSubmodules=false".into(),
            "credential.helper=".into(),
            "http.followRedirects=false".into(),
            "transfer.fsckObjects=true".into(),
            "filter.lfs.smudge=".into(),
            "filter.lfs.process=".into(),
            "filter.lfs.required=false".into(),
            "http.lowSpeedLimit=1000".into(),
            "http.lowSpeedTime=20".into(),
            "advice.detachedHead=false".into(),
            // No background work that outlives the call: auto maintenance
            // detaches (setsid) and would run gc outside every cap.
            "maintenance.auto=false".into(),
            "maintenance.autoDetach=false".into(),
            "gc.auto=0".into(),
            "gc.autoDetach=false".into(),
            "fetch.writeCommitGraph=false".into(),
        ];
        if let Some(scheme) = network {
            config.push(format!("protocol.{}.allow=always", scheme.protocol()));
        }
        for c in config {
            cmd.arg("-c").arg(c);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // One group, so a timeout also stops git's helpers (remote-https,
        // index-pack).
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }
}

/// What one entry of a work tree costs at least on disk (its inode and
/// directory record), so a million empty files count as large.
const ENTRY_COST: u64 = 4096;

/// The last line git printed, for a message.
fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .trim()
        .lines()
        .last()
        .unwrap_or("(no message)")
        .to_string()
}

/// Reads a pipe to its end in a thread, keeping at most [`MAX_OUTPUT`] bytes.
fn capture(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut pipe) = pipe {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        kept
    })
}

fn kill_group(child: &mut std::process::Child) {
    // SAFETY: kill(2) with a negative pid signals the process group the
    // child leads (process_group(0) above); no memory is involved.
    unsafe {
        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Disk use of a directory the mirror owns, links not followed; each entry
/// counts at least one block, so a clone of a million empty files is large.
fn disk_use(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            total = total.saturating_add(meta.len().max(ENTRY_COST));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

/// The commit a checkout's `.git` names as HEAD, read from its files (no
/// git process runs in a tree an upstream may have written): a detached
/// `HEAD`, or the loose or packed ref it points to.
pub fn read_head(checkout: &crate::safe_fs::Dir) -> Option<String> {
    let text = |rel: &str| {
        checkout
            .read(rel, 1024 * 1024)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let is_commit =
        |s: &str| (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    let head = text(".git/HEAD")?;
    let head = head.trim();
    if is_commit(head) {
        return Some(head.to_ascii_lowercase());
    }
    let reference = head.strip_prefix("ref: ")?.trim();
    if !reference.starts_with("refs/") {
        return None;
    }
    if let Some(loose) = text(&format!(".git/{reference}")) {
        let loose = loose.trim();
        return is_commit(loose).then(|| loose.to_ascii_lowercase());
    }
    text(".git/packed-refs")?.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name.trim() == reference && is_commit(sha)).then(|| sha.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests;
