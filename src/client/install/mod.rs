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

mod check;
mod error;
mod extract;
mod lock;
mod resolve;
#[cfg(test)]
mod tests;

pub use check::{verify, Difference, VerifyReport};
pub use error::InstallError;
pub use lock::{Lock, LockedFile, LockedPackage};

use error::*;
use extract::*;
use lock::*;
use resolve::*;

/// The lock file's name, in the project directory.
pub const LOCK_FILE: &str = "skillreg.lock";
/// The lock format this code writes and reads.
pub const LOCK_VERSION: u32 = 1;
/// Prefix of the temp dirs extraction uses (next to the target).
pub const TMP_PREFIX: &str = ".skillreg-tmp-";
/// Prefix of a replaced installation while the new one moves in.
pub const OLD_PREFIX: &str = ".skillreg-old-";

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
