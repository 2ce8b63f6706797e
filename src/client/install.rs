//! Installing skills and plugins from a verified registry, and checking an
//! installation against its lock file.
//!
//! [`install`] resolves the requested packages and their dependencies
//! against the verified index ([`super::verify::TrustedRegistry`]),
//! downloads each bundle into a content-addressed cache, checks its sha256
//! against the signed `cksum`, checks the archive as hostile input
//! ([`crate::bundle::inspect`]) and only then touches the project: every
//! package is extracted into a temp dir next to its target, then all are
//! renamed into place, then the lock is written. Any failure undoes
//! everything done so far: no temp dir, no partial install, the lock as it was.
//!
//! Where things go, below the project directory (`--dir`):
//!
//! | kind | path |
//! |---|---|
//! | skill | `.claude/skills/<name>/` |
//! | plugin | `.claude/plugins/<name>/` |
//! | crate | refused: use cargo |
//!
//! Bundles are cached at `$XDG_CACHE_HOME/skillreg/blobs/sha256/<hex>`
//! (`$HOME/.cache/skillreg/…` when unset); a cached blob is used only when
//! its hash is the signed `cksum`.
//!
//! # The lock file: `skillreg.lock`
//!
//! JSON (pretty-printed, keys sorted), in the project directory, written
//! atomically (temp file, fsync, rename). Installing adds or replaces the
//! entries of the packages installed and keeps the others:
//!
//! ```json
//! {
//!   "lock_version": 1,
//!   "packages": {
//!     "base-skill": {
//!       "version": "1.1.0",
//!       "kind": "skill",
//!       "cksum": "<hex sha256 of the bundle>",
//!       "registry": "http://127.0.0.1:8970",
//!       "root_version": 2,
//!       "keys": { "index": ["<key id>"], "root": ["<key id>"], "timestamp": ["<key id>"] },
//!       "path": ".claude/skills/base-skill",
//!       "files": {
//!         "SKILL.md": { "type": "file", "sha256": "<hex>", "executable": false },
//!         "scripts": { "type": "dir" },
//!         "scripts/run.sh": { "type": "file", "sha256": "<hex>", "executable": true },
//!         "latest": { "type": "symlink", "target": "SKILL.md" }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! `keys` are the key ids of each role of the root that verified the
//! metadata (`root_version`); `files` lists every path below `path`
//! (hard links in a bundle are installed as copies and listed as files).
//! [`verify()`] re-hashes the installation against it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use semver::VersionReq;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::verify::{
    self, download_url, normalized_name, IndexLine, RegistryOptions, TrustError, TrustedRegistry,
    MAX_BUNDLE_BYTES,
};
use crate::blobs::Sha256Digest;
use crate::bundle::{self, Archive, ArchiveLimits, BundleError, EntryKind};
use crate::package::Kind;
use crate::safe_fs::Dir;

/// The lock file's name, in the project directory.
pub const LOCK_FILE: &str = "skillreg.lock";
/// The lock format this code writes and reads.
pub const LOCK_VERSION: u32 = 1;
/// Prefix of the temp dirs extraction uses (next to the target).
pub const TMP_PREFIX: &str = ".skillreg-tmp-";
/// Prefix of a replaced installation while the new one moves in.
pub const OLD_PREFIX: &str = ".skillreg-old-";

/// Why an install or a verification failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The registry's metadata was not trusted.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// A command-line package spec that does not parse.
    #[error("`{spec}` is not NAME or NAME@REQ: {reason}")]
    BadSpec {
        /// The spec.
        spec: String,
        /// Why.
        reason: String,
    },
    /// No package named.
    #[error("nothing to install: name at least one package")]
    NothingToInstall,
    /// A package (or dependency) the registry does not have.
    #[error(
        "no package named `{name}` (required by {by}) in the registry {url}; check the spelling"
    )]
    NotFound {
        /// The package.
        name: String,
        /// Who asked for it.
        by: String,
        /// The registry.
        url: String,
    },
    /// No version matches.
    #[error("no version of `{name}` matches `{req}` (required by {by}): {available}")]
    NoMatch {
        /// The package.
        name: String,
        /// The requirement.
        req: String,
        /// Who asked.
        by: String,
        /// What exists.
        available: String,
    },
    /// Two requirements no single version meets.
    #[error("conflicting requirements on `{name}`: {first} and {second} cannot both be met by one version{detail}; change one of the requirements")]
    Conflict {
        /// The package.
        name: String,
        /// First requirement and who made it.
        first: String,
        /// Second requirement and who made it.
        second: String,
        /// Which versions exist.
        detail: String,
    },
    /// A crate.
    #[error("`{name}` is a cargo crate (required by {by}); add it to Cargo.toml and build with cargo. skillreg install installs skills and plugins")]
    Crate {
        /// The crate.
        name: String,
        /// Who asked.
        by: String,
    },
    /// A dependency that cannot be followed.
    #[error("`{name}@{version}` has a dependency skillreg cannot install: `{dep}` {reason}")]
    BadDependency {
        /// The dependent.
        name: String,
        /// Its version.
        version: String,
        /// The dependency.
        dep: String,
        /// Why.
        reason: String,
    },
    /// A downloaded bundle whose hash is not the signed one.
    #[error("the bundle of `{package}` from {url} has sha256 {got}, but the signed index says {want}: it was tampered with or corrupted on the way; nothing was installed")]
    BlobMismatch {
        /// NAME@VERSION.
        package: String,
        /// Where it came from.
        url: String,
        /// Its hash.
        got: String,
        /// The signed hash.
        want: String,
    },
    /// A signed checksum that is not a sha256.
    #[error("the index line of `{name}@{version}` has `cksum` `{cksum}`, which is not 64 hex digits; the registry is broken")]
    BadChecksum {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// The value.
        cksum: String,
    },
    /// A bundle that fails the archive checks.
    #[error(
        "the bundle of `{name}@{version}` is unsafe or broken: {source}; nothing was installed"
    )]
    Bundle {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// Why.
        source: BundleError,
    },
    /// A bundle whose layout is not its kind's.
    #[error("the bundle of `{name}@{version}` is listed as a {kind} but has no `{manifest}`; nothing was installed")]
    WrongLayout {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// The listed kind.
        kind: Kind,
        /// The manifest expected.
        manifest: &'static str,
    },
    /// `--offline` without the bundle cached.
    #[error("offline: the bundle of `{name}@{version}` is not in the cache ({path}); run once without --offline to download it")]
    OfflineBlob {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// Where it was looked for.
        path: String,
    },
    /// A local file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// A lock file that cannot be read.
    #[error("{path} is not a skillreg lock file this version understands ({detail}); fix it or move it away")]
    BadLock {
        /// The lock.
        path: String,
        /// Why.
        detail: String,
    },
    /// No lock file.
    #[error(
        "no lock file at {path}: run `skillreg install` in that directory first (or pass --dir)"
    )]
    NoLock {
        /// Where it was looked for.
        path: String,
    },
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> InstallError + 'a {
    move |source| InstallError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// Parses `NAME` or `NAME@REQ` (REQ a semver requirement: `^1.2`, `~1.2.3`,
/// `=1.2.3`, `*`; a bare `1.2.3` means `^1.2.3`, as in cargo).
pub fn parse_spec(spec: &str) -> Result<(String, Option<VersionReq>), InstallError> {
    let bad = |reason: String| InstallError::BadSpec {
        spec: spec.to_string(),
        reason,
    };
    let (name, req) = match spec.split_once('@') {
        Some((name, req)) => {
            if req.trim().is_empty() {
                return Err(bad("nothing after `@`".into()));
            }
            let req = VersionReq::parse(req).map_err(|e| {
                bad(format!(
                    "`{req}` is not a version requirement ({e}); write e.g. ^1.2, ~1.2.3, =1.2.3"
                ))
            })?;
            (name, Some(req))
        }
        None => (spec, None),
    };
    verify::validate_name(name).map_err(|e| bad(e.to_string()))?;
    Ok((name.to_string(), req))
}

/// What to install into, and how to reach the registry.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Registry, trust and offline settings.
    pub registry: RegistryOptions,
    /// The project directory holding `.claude/` and `skillreg.lock`.
    pub project_dir: PathBuf,
    /// `$XDG_CACHE_HOME/skillreg` (see [`verify::default_cache_home`]).
    pub cache_home: PathBuf,
}

/// One package installed.
#[derive(Clone, Debug)]
pub struct Installed {
    /// Name.
    pub name: String,
    /// Version installed.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// Path relative to the project directory.
    pub path: String,
    /// The version it replaced, per the lock.
    pub previous: Option<String>,
    /// Number of files and directories installed.
    pub entries: usize,
}

/// What [`install`] did.
#[derive(Clone, Debug)]
pub struct InstallReport {
    /// Each package, dependencies included, in resolution order.
    pub installed: Vec<Installed>,
    /// The lock file written.
    pub lock_path: PathBuf,
    /// The root version that verified the metadata.
    pub root_version: u64,
    /// True when only cached metadata and bundles were used.
    pub offline: bool,
}

/// The lock file. See the module documentation for the format.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Always [`LOCK_VERSION`].
    pub lock_version: u32,
    /// Installed packages by name.
    pub packages: BTreeMap<String, LockedPackage>,
}

/// One package in the lock.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Exact version.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// Hex sha256 of the bundle.
    pub cksum: String,
    /// Registry base URL.
    pub registry: String,
    /// Root version that verified the metadata.
    pub root_version: u64,
    /// Key ids of each role of that root.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Install path, relative to the lock's directory.
    pub path: String,
    /// Every path below `path`.
    pub files: BTreeMap<String, LockedFile>,
}

/// One installed path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LockedFile {
    /// A regular file.
    File {
        /// Hex sha256 of its content.
        sha256: String,
        /// Any execute bit set.
        executable: bool,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// Its target, as written.
        target: String,
    },
}

impl Lock {
    /// Reads the lock at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Lock>, InstallError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        let lock: Lock = serde_json::from_slice(&bytes).map_err(|e| InstallError::BadLock {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        if lock.lock_version != LOCK_VERSION {
            return Err(InstallError::BadLock {
                path: path.display().to_string(),
                detail: format!(
                    "lock_version {} (this skillreg reads {LOCK_VERSION})",
                    lock.lock_version
                ),
            });
        }
        Ok(Some(lock))
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("the lock serializes");
        out.push(b'\n');
        out
    }
}

/// A requirement on a package, and who made it.
#[derive(Clone, Debug)]
struct Want {
    name: String,
    req: VersionReq,
    by: String,
}

fn describe_versions(lines: &[IndexLine]) -> String {
    if lines.is_empty() {
        return "it has no versions".into();
    }
    let mut live: Vec<&IndexLine> = lines.iter().filter(|l| !l.entry.yanked).collect();
    let mut yanked: Vec<&IndexLine> = lines.iter().filter(|l| l.entry.yanked).collect();
    live.sort_by(|a, b| a.version.cmp(&b.version));
    yanked.sort_by(|a, b| a.version.cmp(&b.version));
    let join = |v: &[&IndexLine]| {
        v.iter()
            .map(|l| l.entry.vers.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = if live.is_empty() {
        "no version is available".to_string()
    } else {
        format!("available: {}", join(&live))
    };
    if !yanked.is_empty() {
        out.push_str(&format!("; yanked (never chosen): {}", join(&yanked)));
    }
    out
}

/// Resolution: the registry's entries, fetched once per name.
struct Resolver<'a> {
    registry: &'a TrustedRegistry,
    entries: HashMap<String, Vec<IndexLine>>,
}

enum Outcome {
    Done(Vec<IndexLine>),
    Conflict {
        name: String,
        first: Want,
        second: Want,
    },
}

impl Resolver<'_> {
    fn lines(&mut self, want: &Want) -> Result<&Vec<IndexLine>, InstallError> {
        let key = normalized_name(&want.name);
        if !self.entries.contains_key(&key) {
            let lines = match self.registry.entries(&want.name) {
                Ok(lines) => lines,
                Err(TrustError::NotFound { .. }) => {
                    return Err(InstallError::NotFound {
                        name: want.name.clone(),
                        by: want.by.clone(),
                        url: self.registry.base().to_string(),
                    })
                }
                Err(e) => return Err(e.into()),
            };
            self.entries.insert(key.clone(), lines);
        }
        Ok(&self.entries[&key])
    }

    /// One greedy pass: highest non-yanked version meeting the requirement
    /// (and every requirement in `extra` on that name).
    fn pass(
        &mut self,
        roots: &[Want],
        extra: &BTreeMap<String, Vec<Want>>,
    ) -> Result<Outcome, InstallError> {
        let mut queue: VecDeque<Want> = roots.iter().cloned().collect();
        let mut chosen: BTreeMap<String, (IndexLine, Want)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        while let Some(want) = queue.pop_front() {
            let key = normalized_name(&want.name);
            if let Some((line, first)) = chosen.get(&key) {
                if !want.req.matches(&line.version) {
                    return Ok(Outcome::Conflict {
                        name: want.name.clone(),
                        first: first.clone(),
                        second: want,
                    });
                }
                continue;
            }
            let extra_reqs = extra.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let lines = self.lines(&want)?;
            let best = lines
                .iter()
                .filter(|l| !l.entry.yanked)
                .filter(|l| want.req.matches(&l.version))
                .filter(|l| extra_reqs.iter().all(|w| w.req.matches(&l.version)))
                .max_by(|a, b| a.version.cmp(&b.version))
                .cloned();
            let Some(line) = best else {
                return Err(InstallError::NoMatch {
                    name: want.name.clone(),
                    req: want.req.to_string(),
                    by: want.by.clone(),
                    available: describe_versions(lines),
                });
            };
            if line.entry.kind == Kind::Crate {
                return Err(InstallError::Crate {
                    name: line.entry.name.clone(),
                    by: want.by.clone(),
                });
            }
            let me = format!("{}@{}", line.entry.name, line.entry.vers);
            for dep in &line.entry.deps {
                if dep.optional || !(dep.kind.is_empty() || dep.kind == "normal") {
                    continue;
                }
                let bad = |reason: String| InstallError::BadDependency {
                    name: line.entry.name.clone(),
                    version: line.entry.vers.clone(),
                    dep: dep.name.clone(),
                    reason,
                };
                if let Some(registry) = &dep.registry {
                    return Err(bad(format!(
                        "comes from another registry ({registry}); install it from there"
                    )));
                }
                let name = dep.package.clone().unwrap_or_else(|| dep.name.clone());
                verify::validate_name(&name).map_err(|e| bad(e.to_string()))?;
                let req = VersionReq::parse(&dep.req)
                    .map_err(|e| bad(format!("has the invalid requirement `{}` ({e})", dep.req)))?;
                queue.push_back(Want {
                    name,
                    req,
                    by: me.clone(),
                });
            }
            order.push(key.clone());
            chosen.insert(key, (line, want));
        }
        Ok(Outcome::Done(
            order
                .iter()
                .map(|k| chosen.remove(k).expect("chosen").0)
                .collect(),
        ))
    }
}

/// Resolves `specs` and their dependencies. A name required twice gets one
/// version meeting both requirements, or an error naming both.
fn resolve(
    registry: &TrustedRegistry,
    specs: &[(String, Option<VersionReq>)],
) -> Result<Vec<IndexLine>, InstallError> {
    let roots: Vec<Want> = specs
        .iter()
        .map(|(name, req)| Want {
            name: name.clone(),
            req: req.clone().unwrap_or(VersionReq::STAR),
            by: "the command line".into(),
        })
        .collect();
    let mut resolver = Resolver {
        registry,
        entries: HashMap::new(),
    };
    // Greedy passes; on a conflict, retry with both requirements applied
    // from the start when some version meets them all.
    let mut extra: BTreeMap<String, Vec<Want>> = BTreeMap::new();
    for _ in 0..64 {
        match resolver.pass(&roots, &extra)? {
            Outcome::Done(plan) => return Ok(plan),
            Outcome::Conflict {
                name,
                first,
                second,
            } => {
                let key = normalized_name(&name);
                let known = extra.entry(key.clone()).or_default();
                let lines = &resolver.entries[&key];
                let mut reqs: Vec<&Want> = known.iter().collect();
                reqs.push(&first);
                reqs.push(&second);
                let possible = lines
                    .iter()
                    .any(|l| !l.entry.yanked && reqs.iter().all(|w| w.req.matches(&l.version)));
                let already = known
                    .iter()
                    .any(|w| w.req == second.req && w.by == second.by)
                    && known.iter().any(|w| w.req == first.req && w.by == first.by);
                if !possible || already {
                    return Err(InstallError::Conflict {
                        name,
                        first: format!("`{}` (required by {})", first.req, first.by),
                        second: format!("`{}` (required by {})", second.req, second.by),
                        detail: format!(" ({})", describe_versions(lines)),
                    });
                }
                known.push(first);
                known.push(second);
            }
        }
    }
    Err(InstallError::NoMatch {
        name: specs.first().map(|s| s.0.clone()).unwrap_or_default(),
        req: "*".into(),
        by: "the command line".into(),
        available:
            "the requirements could not be resolved in 64 passes; install fewer packages at once"
                .into(),
    })
}

/// The bundle of `line`: from the cache when its hash is right, else
/// downloaded (within the size limit), checked and cached.
fn fetch_bundle(
    registry: &TrustedRegistry,
    dl: &str,
    line: &IndexLine,
    cache_home: &Path,
) -> Result<Vec<u8>, InstallError> {
    let entry = &line.entry;
    let cksum = entry.cksum.to_ascii_lowercase();
    if cksum.len() != 64 || !cksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(InstallError::BadChecksum {
            name: entry.name.clone(),
            version: entry.vers.clone(),
            cksum: entry.cksum.clone(),
        });
    }
    let limit = line.size.unwrap_or(MAX_BUNDLE_BYTES);
    let dir = cache_home.join("blobs").join("sha256");
    let cached = dir.join(&cksum);
    if let Ok(meta) = fs::metadata(&cached) {
        if meta.is_file() && meta.len() <= limit {
            let bytes = fs::read(&cached).map_err(io_err("read", &cached))?;
            if Sha256Digest::of(&bytes).to_hex() == cksum {
                return Ok(bytes);
            }
        }
        // A damaged cache entry: fetch it again.
        let _ = fs::remove_file(&cached);
    }
    if registry.is_offline() {
        return Err(InstallError::OfflineBlob {
            name: entry.name.clone(),
            version: entry.vers.clone(),
            path: cached.display().to_string(),
        });
    }
    let url = download_url(dl, &entry.name, &entry.vers, &cksum);
    let bytes = registry.fetch(&url, limit)?;
    let got = Sha256Digest::of(&bytes).to_hex();
    if got != cksum {
        return Err(InstallError::BlobMismatch {
            package: format!("{}@{}", entry.name, entry.vers),
            url,
            got,
            want: cksum,
        });
    }
    crate::fsutil::create_private_dir(&dir).map_err(io_err("create", &dir))?;
    crate::fsutil::write_durable(&cached, &bytes, 0o644).map_err(io_err("write", &cached))?;
    Ok(bytes)
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// A package's install path relative to the project.
fn install_rel_path(kind: Kind, name: &str) -> String {
    match kind {
        Kind::Skill => format!(".claude/skills/{name}"),
        Kind::Plugin => format!(".claude/plugins/{name}"),
        Kind::Crate => unreachable!("crates are refused during resolution"),
    }
}

/// Everything an install changed on disk, undone on drop unless committed.
#[derive(Default)]
struct Transaction {
    /// Directories created for targets' parents (outermost first).
    created_dirs: Vec<PathBuf>,
    /// Temp dirs holding extracted packages, and their targets.
    staged: Vec<(PathBuf, PathBuf)>,
    /// Renames done: (target, the previous installation moved aside, new in place).
    swapped: Vec<(PathBuf, Option<PathBuf>, bool)>,
    committed: bool,
}

impl Transaction {
    /// Creates `dir` and its missing parents below `project`, recording them.
    /// (An existing `.claude` or `.claude/skills` may be a symlink the user
    /// made; it is followed. The package directories themselves never are.)
    fn ensure_dir(&mut self, project: &Path, rel: &str) -> Result<PathBuf, InstallError> {
        let mut path = project.to_path_buf();
        for part in rel.split('/') {
            path.push(part);
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(InstallError::Io {
                        action: "install into",
                        path: path.display().to_string(),
                        source: io::Error::other("it exists and is not a directory"),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(io_err("create", &path))?;
                    self.created_dirs.push(path.clone());
                }
                Err(e) => return Err(io_err("inspect", &path)(e)),
            }
        }
        Ok(path)
    }

    /// Extracts a checked bundle into a fresh temp dir next to `target`.
    fn stage(
        &mut self,
        parent: &Path,
        target: PathBuf,
        bytes: &[u8],
        archive: &Archive,
    ) -> Result<(), InstallError> {
        let tmp = parent.join(format!("{TMP_PREFIX}{}", random_suffix()));
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&tmp)
            .map_err(io_err("create", &tmp))?;
        self.staged.push((tmp.clone(), target));
        extract(bytes, archive, &tmp)
    }

    /// Moves every staged package into place, the old ones aside. (A temp
    /// dir moved into place no longer exists, so dropping the transaction
    /// removes only those still staged.)
    fn swap_in(&mut self) -> Result<(), InstallError> {
        for (tmp, target) in self.staged.clone() {
            let parent = target.parent().expect("targets have parents").to_path_buf();
            let old = match fs::symlink_metadata(&target) {
                Ok(_) => {
                    let old = parent.join(format!("{OLD_PREFIX}{}", random_suffix()));
                    fs::rename(&target, &old).map_err(io_err("move aside", &target))?;
                    Some(old)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err("inspect", &target)(e)),
            };
            self.swapped.push((target.clone(), old, false));
            fs::rename(&tmp, &target).map_err(io_err("move into place", &target))?;
            self.swapped.last_mut().expect("just pushed").2 = true;
            let _ = crate::fsutil::sync_dir(&parent);
        }
        Ok(())
    }

    /// Keeps the new state and removes the replaced installations.
    fn commit(mut self) {
        self.committed = true;
        for (_, old, _) in &self.swapped {
            if let Some(old) = old {
                let _ = fs::remove_dir_all(old).or_else(|_| fs::remove_file(old));
            }
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (target, old, placed) in self.swapped.iter().rev() {
            if *placed {
                let _ = fs::remove_dir_all(target);
            }
            if let Some(old) = old {
                let _ = fs::rename(old, target);
            }
        }
        for (tmp, _) in &self.staged {
            let _ = fs::remove_dir_all(tmp);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes a new file `name` in `dir` from `reader` with the given exec bit
/// (never through a link planted there); returns its sha256.
fn write_file(
    dir: &Dir,
    name: &str,
    reader: &mut dyn Read,
    executable: bool,
) -> Result<String, InstallError> {
    let shown = dir.path().join(name);
    let mut file = dir
        .create_file(name, if executable { 0o755 } else { 0o644 })
        .map_err(|e| safe_err("create", &shown, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(io_err("extract", &shown))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err("write", &shown))?;
    }
    file.sync_all().map_err(io_err("write", &shown))?;
    Ok(hex::encode(hasher.finalize()))
}

fn safe_err(action: &'static str, path: &Path, e: crate::safe_fs::SafeFsError) -> InstallError {
    InstallError::Io {
        action,
        path: path.display().to_string(),
        source: io::Error::other(e.to_string()),
    }
}

/// The directory of `rel`'s parent below `root`, created (0755) where
/// missing, never through a link; and `rel`'s last component.
fn parent_dir<'a>(root: &Dir, rel: &'a str) -> Result<(Dir, &'a str), InstallError> {
    let (dirs, name) = match rel.rsplit_once('/') {
        Some((dirs, name)) => (Some(dirs), name),
        None => (None, rel),
    };
    let mut dir = root
        .try_clone()
        .map_err(|e| safe_err("open", root.path(), e))?;
    for part in dirs.into_iter().flat_map(|d| d.split('/')) {
        dir = dir
            .ensure_dir(part, 0o755)
            .map_err(|e| safe_err("create", &dir.path().join(part), e))?;
    }
    Ok((dir, name))
}

/// Extracts an archive [`bundle::inspect`] accepted into the fresh
/// directory `dest`. Every entry must be the one inspect saw; files are
/// checked against its hashes. Everything is created beneath `dest`'s
/// handle without following links, and links are made last, so no entry
/// can be written through one (not even on a case-insensitive disk, where
/// a link spelled `L` would otherwise be the directory `l`).
fn extract(bytes: &[u8], archive: &Archive, dest: &Path) -> Result<(), InstallError> {
    let corrupt = |detail: String| InstallError::Io {
        action: "extract into",
        path: dest.display().to_string(),
        source: io::Error::other(detail),
    };
    let root = Dir::open(dest).map_err(|e| safe_err("open", dest, e))?;
    let mut links = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = tar
        .entries()
        .map_err(|e| corrupt(format!("the bundle cannot be read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(format!("the bundle cannot be read: {e}")))?;
        let entry_type = entry.header().entry_type();
        if entry_type == tar::EntryType::XGlobalHeader {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let raw = std::str::from_utf8(&raw).map_err(|_| corrupt("a path is not UTF-8".into()))?;
        let path = bundle::archive::normalize_path(raw).map_err(|e| corrupt(e.to_string()))?;
        if path.is_empty() {
            continue;
        }
        let Some(checked) = archive.entries.get(&path) else {
            return Err(corrupt(format!("`{path}` was not in the checked archive")));
        };
        let shown = dest.join(&path);
        match (&checked.kind, entry_type) {
            (EntryKind::Dir, tar::EntryType::Directory) => {
                let (parent, name) = parent_dir(&root, &path)?;
                parent
                    .ensure_dir(name, 0o755)
                    .map_err(|e| safe_err("create", &shown, e))?;
            }
            (EntryKind::File, tar::EntryType::Regular | tar::EntryType::Continuous) => {
                let (parent, name) = parent_dir(&root, &path)?;
                let sha = write_file(&parent, name, &mut entry, checked.executable)?;
                if sha != checked.sha256 {
                    return Err(corrupt(format!(
                        "`{path}` changed between checking and extracting"
                    )));
                }
            }
            (EntryKind::Symlink(target), tar::EntryType::Symlink) => {
                links.push((path.clone(), target.clone()));
            }
            (EntryKind::Hardlink(target), tar::EntryType::Link) => {
                let mut from = root
                    .open_file(target, u64::MAX)
                    .map_err(|e| safe_err("read", &dest.join(target), e))?
                    .into_reader();
                let (parent, name) = parent_dir(&root, &path)?;
                write_file(&parent, name, &mut from, checked.executable)?;
            }
            _ => {
                return Err(corrupt(format!(
                    "`{path}` is not the kind of entry the check saw"
                )))
            }
        }
    }
    for (path, target) in links {
        let (parent, name) = parent_dir(&root, &path)?;
        parent
            .symlink(&target, name)
            .map_err(|e| safe_err("create", &dest.join(&path), e))?;
    }
    Ok(())
}

/// What the lock records for a checked archive: every entry, plus the
/// directories implied by paths (an archive need not list them).
fn locked_files(archive: &Archive) -> BTreeMap<String, LockedFile> {
    let mut files = BTreeMap::new();
    for (path, entry) in &archive.entries {
        let locked = match &entry.kind {
            EntryKind::Dir => LockedFile::Dir,
            EntryKind::File => LockedFile::File {
                sha256: entry.sha256.clone(),
                executable: entry.executable,
            },
            EntryKind::Symlink(target) => LockedFile::Symlink {
                target: target.clone(),
            },
            EntryKind::Hardlink(target) => LockedFile::File {
                sha256: archive
                    .entries
                    .get(target)
                    .map(|t| t.sha256.clone())
                    .unwrap_or_default(),
                executable: entry.executable,
            },
        };
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            files.entry(prefix.clone()).or_insert(LockedFile::Dir);
        }
        files.insert(path.clone(), locked);
    }
    files
}

/// Extra tries after a failure a concurrent change on the registry can cause.
const RETRIES: u32 = 3;

/// What a (possibly concurrent) change on the registry can cause.
fn may_be_a_race(e: &TrustError) -> bool {
    matches!(
        e,
        TrustError::Mismatch { .. }
            | TrustError::Inconsistent { .. }
            | TrustError::Status { status: 404, .. }
    )
}

/// Verified metadata, the resolved plan and each plan entry's checked bundle.
type Checked = (TrustedRegistry, Vec<IndexLine>, Vec<(Vec<u8>, Archive)>);

/// Verifies the registry, resolves `specs`, downloads and checks every bundle.
fn fetch_and_check(
    specs: &[(String, Option<VersionReq>)],
    opts: &InstallOptions,
) -> Result<Checked, InstallError> {
    let registry = TrustedRegistry::open(&opts.registry)?;
    let plan = resolve(&registry, specs)?;
    let dl = registry.dl()?;
    let limits = ArchiveLimits::default();
    let mut bundles = Vec::new();
    for line in &plan {
        let bytes = fetch_bundle(&registry, &dl, line, &opts.cache_home)?;
        let archive =
            bundle::inspect(&bytes, &limits, |_| false).map_err(|e| InstallError::Bundle {
                name: line.entry.name.clone(),
                version: line.entry.vers.clone(),
                source: e,
            })?;
        let manifest = match line.entry.kind {
            Kind::Skill => "SKILL.md",
            Kind::Plugin => bundle::plugin::PLUGIN_JSON,
            Kind::Crate => unreachable!("crates are refused during resolution"),
        };
        if !matches!(
            archive.entries.get(manifest).map(|e| &e.kind),
            Some(EntryKind::File)
        ) {
            return Err(InstallError::WrongLayout {
                name: line.entry.name.clone(),
                version: line.entry.vers.clone(),
                kind: line.entry.kind,
                manifest,
            });
        }
        bundles.push((bytes, archive));
    }

    Ok((registry, plan, bundles))
}

/// Installs `specs` (and their dependencies) into the project. See the
/// module documentation.
pub fn install(
    specs: &[(String, Option<VersionReq>)],
    opts: &InstallOptions,
) -> Result<InstallReport, InstallError> {
    if specs.is_empty() {
        return Err(InstallError::NothingToInstall);
    }
    let project = &opts.project_dir;
    if !project.is_dir() {
        return Err(InstallError::Io {
            action: "install into",
            path: project.display().to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such directory"),
        });
    }
    let lock_path = project.join(LOCK_FILE);
    let mut lock = Lock::read(&lock_path)?.unwrap_or(Lock {
        lock_version: LOCK_VERSION,
        packages: BTreeMap::new(),
    });

    // Network and checks first; the project is untouched until all pass.
    // A publish or key rotation between two requests makes the registry's
    // files briefly disagree with the snapshot fetched before them: that is
    // retried up to RETRIES times, verifying everything again from the start
    // (index-spec/signing.md §9.8). Rollback, freeze, bad or unknown
    // signatures and foreign roots are never retried.
    let mut attempt = 0;
    let (registry, plan, bundles) = loop {
        match fetch_and_check(specs, opts) {
            Err(InstallError::Trust(e))
                if !opts.registry.offline && attempt < RETRIES && may_be_a_race(&e) =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            other => break other?,
        }
    };

    // Stage everything, swap everything in, then write the lock.
    let mut tx = Transaction::default();
    let mut installed = Vec::new();
    let keys = verify::role_key_ids(registry.root());
    for (line, (bytes, archive)) in plan.iter().zip(&bundles) {
        let name = &line.entry.name;
        let rel = install_rel_path(line.entry.kind, name);
        let (parent_rel, _) = rel.rsplit_once('/').expect("two components");
        let parent = tx.ensure_dir(project, parent_rel)?;
        tx.stage(&parent, project.join(&rel), bytes, archive)?;
        let files = locked_files(archive);
        let previous = lock.packages.get(name).map(|p| p.version.clone());
        installed.push(Installed {
            name: name.clone(),
            version: line.entry.vers.clone(),
            kind: line.entry.kind,
            path: rel.clone(),
            previous,
            entries: files.len(),
        });
        lock.packages.insert(
            name.clone(),
            LockedPackage {
                version: line.entry.vers.clone(),
                kind: line.entry.kind,
                cksum: line.entry.cksum.to_ascii_lowercase(),
                registry: registry.base().to_string(),
                root_version: registry.root().version,
                keys: keys.clone(),
                path: rel,
                files,
            },
        );
    }
    tx.swap_in()?;
    crate::fsutil::write_durable(&lock_path, &lock.to_bytes(), 0o644)
        .map_err(io_err("write", &lock_path))?;
    tx.commit();
    Ok(InstallReport {
        installed,
        lock_path,
        root_version: registry.root().version,
        offline: registry.is_offline(),
    })
}

/// One way an installation differs from its lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Present, but not as locked.
    Modified {
        /// Path relative to the project.
        path: String,
        /// How it differs.
        detail: String,
    },
    /// Locked but absent.
    Missing {
        /// Path relative to the project.
        path: String,
    },
    /// Present but not locked.
    Extra {
        /// Path relative to the project.
        path: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Modified { path, detail } => write!(f, "modified: {path} ({detail})"),
            Difference::Missing { path } => write!(f, "missing:  {path}"),
            Difference::Extra { path } => write!(f, "extra:    {path} (not in {LOCK_FILE})"),
        }
    }
}

/// What [`verify()`] found.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// Packages checked.
    pub packages: usize,
    /// Paths checked.
    pub files: usize,
    /// Every difference; empty when the installation matches the lock.
    pub differences: Vec<Difference>,
}

/// What is on disk at one path.
enum Found {
    Locked(LockedFile),
    Special,
}

fn scan(root: &Path, rel: &str, out: &mut BTreeMap<String, Found>) -> io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    for item in fs::read_dir(&dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let full = item.path();
        let meta = fs::symlink_metadata(&full)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&full)?.to_string_lossy().into_owned();
            out.insert(path, Found::Locked(LockedFile::Symlink { target }));
        } else if ft.is_dir() {
            out.insert(path.clone(), Found::Locked(LockedFile::Dir));
            scan(root, &path, out)?;
        } else if ft.is_file() {
            let mut hasher = Sha256::new();
            io::copy(&mut fs::File::open(&full)?, &mut hasher)?;
            out.insert(
                path,
                Found::Locked(LockedFile::File {
                    sha256: hex::encode(hasher.finalize()),
                    executable: meta.permissions().mode() & 0o111 != 0,
                }),
            );
        } else {
            out.insert(path, Found::Special);
        }
    }
    Ok(())
}

fn describe(file: &LockedFile) -> &'static str {
    match file {
        LockedFile::File { .. } => "a file",
        LockedFile::Dir => "a directory",
        LockedFile::Symlink { .. } => "a symlink",
    }
}

fn compare(locked: &LockedFile, found: &Found) -> Option<String> {
    let found = match found {
        Found::Special => {
            return Some(format!(
                "locked as {} but now a special file",
                describe(locked)
            ))
        }
        Found::Locked(f) => f,
    };
    match (locked, found) {
        (a, b) if a == b => None,
        (
            LockedFile::File {
                sha256: a,
                executable: ea,
            },
            LockedFile::File { sha256: b, .. },
        ) => Some(if a != b {
            format!("content changed: sha256 {b}, locked {a}")
        } else if *ea {
            "no longer executable".into()
        } else {
            "now executable".into()
        }),
        (LockedFile::Symlink { target: a }, LockedFile::Symlink { target: b }) => {
            Some(format!("link points to `{b}`, locked `{a}`"))
        }
        (a, b) => Some(format!("locked as {} but now {}", describe(a), describe(b))),
    }
}

/// A lock path that stays inside the project.
fn safe_rel(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Re-hashes every installed path against the lock at `lock_path` and
/// reports each modified, missing and extra path.
pub fn verify(lock_path: &Path) -> Result<VerifyReport, InstallError> {
    let lock = Lock::read(lock_path)?.ok_or_else(|| InstallError::NoLock {
        path: lock_path.display().to_string(),
    })?;
    let project = lock_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut report = VerifyReport {
        packages: lock.packages.len(),
        files: 0,
        differences: Vec::new(),
    };
    for (name, package) in &lock.packages {
        if !safe_rel(&package.path) || package.files.keys().any(|f| !safe_rel(f)) {
            return Err(InstallError::BadLock {
                path: lock_path.display().to_string(),
                detail: format!("the paths of `{name}` leave the project directory"),
            });
        }
        let root = project.join(&package.path);
        match fs::symlink_metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                report.differences.push(Difference::Modified {
                    path: package.path.clone(),
                    detail: format!("`{name}` should be a directory"),
                });
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.differences.push(Difference::Missing {
                    path: package.path.clone(),
                });
                continue;
            }
            Err(e) => return Err(io_err("inspect", &root)(e)),
        }
        let mut found = BTreeMap::new();
        scan(&root, "", &mut found).map_err(io_err("read", &root))?;
        let shown = |p: &str| format!("{}/{p}", package.path);
        for (path, locked) in &package.files {
            report.files += 1;
            match found.get(path) {
                None => report
                    .differences
                    .push(Difference::Missing { path: shown(path) }),
                Some(f) => {
                    if let Some(detail) = compare(locked, f) {
                        report.differences.push(Difference::Modified {
                            path: shown(path),
                            detail,
                        });
                    }
                }
            }
        }
        for path in found.keys() {
            if !package.files.contains_key(path) {
                report
                    .differences
                    .push(Difference::Extra { path: shown(path) });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive as inspect would describe it, for driving `extract` with
    /// entries inspect itself refuses (what a case-insensitive disk makes
    /// of a bundle that passed): (path, `Ok(target)` link or `Err(content)`).
    fn checked_archive(entries: &[(&str, Result<&str, &[u8]>)]) -> (Vec<u8>, Archive) {
        let mut b = tar::Builder::new(Vec::new());
        let mut archive = Archive::default();
        for (path, what) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            let (kind, sha) = match what {
                Ok(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, path, target).unwrap();
                    (EntryKind::Symlink(target.to_string()), String::new())
                }
                Err(content) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(content.len() as u64);
                    b.append_data(&mut h, path, *content).unwrap();
                    (EntryKind::File, Sha256Digest::of(content).to_hex())
                }
            };
            archive.entries.insert(
                path.to_string(),
                bundle::Entry {
                    path: path.to_string(),
                    kind,
                    size: 0,
                    executable: false,
                    sha256: sha,
                },
            );
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        (gz.finish().unwrap(), archive)
    }

    #[test]
    fn extraction_makes_links_last_and_never_writes_through_one() {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("pkg");
        fs::create_dir(&dest).unwrap();
        // `l -> ..` then `l/escaped`: written in order, the file would land
        // beside `pkg`. Links last: `l` is a directory first, the link fails.
        let (bytes, archive) = checked_archive(&[("l", Ok("..")), ("l/escaped", Err(b"pwned"))]);
        let e = extract(&bytes, &archive, &dest).unwrap_err();
        assert!(e.to_string().contains("cannot create"), "{e}");
        assert!(!outer.path().join("escaped").exists());
        assert_eq!(fs::read(dest.join("l/escaped")).unwrap(), b"pwned");
        // A link planted in the destination is never written through.
        let dest2 = outer.path().join("pkg2");
        fs::create_dir(&dest2).unwrap();
        std::os::unix::fs::symlink(outer.path(), dest2.join("d")).unwrap();
        let (bytes, archive) = checked_archive(&[("d/x", Err(b"pwned"))]);
        assert!(extract(&bytes, &archive, &dest2).is_err());
        assert!(!outer.path().join("x").exists());
        // A good bundle still extracts, links included.
        let dest3 = outer.path().join("pkg3");
        fs::create_dir(&dest3).unwrap();
        let (bytes, archive) =
            checked_archive(&[("latest", Ok("SKILL.md")), ("SKILL.md", Err(b"ok"))]);
        extract(&bytes, &archive, &dest3).unwrap();
        assert_eq!(fs::read(dest3.join("latest")).unwrap(), b"ok");
    }

    #[test]
    fn specs_parse() {
        assert_eq!(parse_spec("hello").unwrap(), ("hello".into(), None));
        let (name, req) = parse_spec("hello@^1.2").unwrap();
        assert_eq!(name, "hello");
        assert!(req.unwrap().matches(&semver::Version::new(1, 3, 0)));
        for bad in ["hello@", "hello@latest", "../x@1", "@1"] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lock_round_trips_with_tagged_files() {
        let mut files = BTreeMap::new();
        files.insert(
            "SKILL.md".to_string(),
            LockedFile::File {
                sha256: "ab".into(),
                executable: false,
            },
        );
        files.insert("d".to_string(), LockedFile::Dir);
        files.insert(
            "l".to_string(),
            LockedFile::Symlink {
                target: "SKILL.md".into(),
            },
        );
        let mut lock = Lock {
            lock_version: LOCK_VERSION,
            packages: BTreeMap::new(),
        };
        lock.packages.insert(
            "x".into(),
            LockedPackage {
                version: "1.0.0".into(),
                kind: Kind::Skill,
                cksum: "00".into(),
                registry: "http://h".into(),
                root_version: 1,
                keys: BTreeMap::new(),
                path: ".claude/skills/x".into(),
                files,
            },
        );
        let text = String::from_utf8(lock.to_bytes()).unwrap();
        assert!(text.contains(r#""type": "symlink""#), "{text}");
        let back: Lock = serde_json::from_str(&text).unwrap();
        assert_eq!(back.packages["x"].files.len(), 3);
    }

    #[test]
    fn lock_paths_stay_inside() {
        assert!(safe_rel(".claude/skills/x"));
        assert!(!safe_rel("../x"));
        assert!(!safe_rel("/etc"));
        assert!(!safe_rel(""));
    }

    #[test]
    fn a_failed_swap_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let skills = dir.path().join("skills");
        let installed = skills.join("a");
        fs::create_dir_all(&installed).unwrap();
        fs::write(installed.join("SKILL.md"), "old").unwrap();
        let mut tx = Transaction::default();
        for (n, target) in [
            (1, installed.clone()),
            // Its parent does not exist, so moving it into place fails.
            (2, dir.path().join("gone/b")),
        ] {
            let tmp = skills.join(format!("{TMP_PREFIX}{n}"));
            fs::create_dir_all(&tmp).unwrap();
            fs::write(tmp.join("SKILL.md"), "new").unwrap();
            tx.staged.push((tmp, target));
        }
        assert!(tx.swap_in().is_err());
        assert_eq!(
            fs::read_to_string(installed.join("SKILL.md")).unwrap(),
            "new"
        );
        drop(tx);
        assert_eq!(
            fs::read_to_string(installed.join("SKILL.md")).unwrap(),
            "old"
        );
        let left: Vec<_> = fs::read_dir(&skills)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["a"]);
    }

    #[test]
    fn implied_directories_are_locked() {
        let mut archive = Archive::default();
        archive.entries.insert(
            "a/b/c.txt".into(),
            bundle::Entry {
                path: "a/b/c.txt".into(),
                kind: EntryKind::File,
                size: 1,
                executable: false,
                sha256: "ff".into(),
            },
        );
        let files = locked_files(&archive);
        assert_eq!(files["a"], LockedFile::Dir);
        assert_eq!(files["a/b"], LockedFile::Dir);
        assert_eq!(files.len(), 3);
    }
}
