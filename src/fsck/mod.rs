//! `skillreg fsck`: checks a data directory's content-addressed blobs
//! against their names and against what the database says is stored, and
//! re-verifies the signed metadata (`index-spec/operations.md`).
//!
//! Every blob is re-hashed (streamed, so memory stays flat whatever its
//! size); every version and rendered feed zip must have its blob; blobs
//! nothing names (orphans) and temp files a crash left are listed. Damage
//! (a blob whose bytes are not its name, a named blob that is missing, a
//! signed document or index line that does not verify) makes the report
//! fail; orphans and temp files are only listed, since a publish in flight
//! writes its blob before its row.
//!
//! [`check`] and [`check_with`] change nothing and hold no lock (the
//! database is opened read-only, each query its own short read), so the
//! daemon can run them on its own live data directory; [`Report::counts`]
//! is the summary for metrics. [`repair`] (`--repair`) quarantines what
//! cannot be served and re-renders what the database can rebuild, with the
//! daemon stopped.

mod repair;
mod signed;

pub use repair::{repair, Repaired};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::safe_fs::{Dir, EntryKind, SafeFsError};

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The database could not be read.
    #[error("cannot read the database in {}: {source}", .data.display())]
    Store {
        /// The data directory.
        data: PathBuf,
        /// Why.
        source: crate::store::StoreError,
    },
    /// A directory of the blob store could not be listed.
    #[error("cannot list {}: {source}", .path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database predates the quarantine columns.
    #[error("the database in {} has schema version {found}, older than this skillreg's {known}; run `skillreg fsck --repair` (which migrates it) or start this skillreg's daemon once", .data.display())]
    OldSchema {
        /// The data directory.
        data: PathBuf,
        /// Its schema version.
        found: i64,
        /// This build's.
        known: i64,
    },
    /// `--repair` found a daemon holding the data directory.
    #[error("a skillreg daemon is running on {}: stop it, then run `skillreg fsck --repair` again (a repair moves blobs and re-renders what the daemon serves)", .data.display())]
    DaemonRunning {
        /// The data directory.
        data: PathBuf,
    },
    /// A repair step failed on the file system.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        /// What the step was.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Re-rendering the static tree failed.
    #[error("re-rendering the static tree {} failed: {source}", .out.display())]
    Export {
        /// The tree.
        out: PathBuf,
        /// Why.
        source: crate::registry::RegistryError,
    },
}

/// What a check looks at beyond the data directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A static tree of this data directory (`[export] dir`, or one
    /// `skillreg export-static` wrote) to re-verify against the database.
    pub export: Option<PathBuf>,
    /// The URL that tree is served at, for `--repair` re-rendering it
    /// (default: what its `config.json` says).
    pub base_url: Option<String>,
}

/// A signed document, index file or tree blob that does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDamage {
    /// The file, or the database table and row.
    pub what: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
    /// Whether `--repair` can make it again from the database.
    pub rebuildable: bool,
}

impl SignedDamage {
    /// Damage in the database itself, which only a backup can undo.
    fn db(what: &str, problem: String) -> SignedDamage {
        SignedDamage {
            what: what.to_string(),
            problem,
            fix: "restore the data directory from a backup (`skillreg restore`); roots cannot be signed again without breaking the chain clients pinned".into(),
            rebuildable: false,
        }
    }
}

/// A version `--repair` took out of service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// `name@version (status)`.
    pub version: String,
    /// Why.
    pub reason: String,
    /// Since when (unix seconds).
    pub since: i64,
    /// Its blob is back and whole: the next `--repair` serves it again.
    pub whole_again: bool,
}

/// The numbers of a [`Report`], for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Blob files read.
    pub blobs_checked: usize,
    /// Blobs whose bytes are not their name.
    pub damaged: usize,
    /// Blobs the database names that are not there.
    pub missing: usize,
    /// Blobs nothing names.
    pub orphans: usize,
    /// Temp files and strays in the blob store.
    pub temp_files: usize,
    /// Signed documents and index files verified.
    pub signed_checked: usize,
    /// Those that did not verify, and stored index lines that are wrong.
    pub signed_bad: usize,
    /// Versions quarantined.
    pub quarantined: usize,
}

/// A blob whose bytes are not what its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The blob file.
    pub path: PathBuf,
    /// Why: the sha256 its bytes have, or the read error.
    pub reason: String,
    /// What names it in the database.
    pub named_by: Vec<String>,
}

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Blob files read.
    pub blobs: usize,
    /// Their bytes in all.
    pub bytes: u64,
    /// Blobs whose bytes are not their name.
    pub damaged: Vec<Damaged>,
    /// Blobs the database names that are not there: sha256 → what names it.
    pub missing: BTreeMap<String, Vec<String>>,
    /// Blobs nothing names.
    pub orphans: Vec<PathBuf>,
    /// Files in the blob store that are not blobs (temp files, strays).
    pub strays: Vec<PathBuf>,
    /// Stored index lines checked (one per version).
    pub lines: usize,
    /// Stored index lines that do not name their version and its blob.
    pub bad_lines: Vec<(crate::store::VersionCheck, String)>,
    /// Signed documents and index files verified.
    pub signed_checked: usize,
    /// Those that did not verify.
    pub signed_bad: Vec<SignedDamage>,
    /// Worth knowing, not damage (an expired tree, a key being rotated).
    pub notes: Vec<String>,
    /// Versions out of service since a repair.
    pub quarantined: Vec<Quarantined>,
    /// How long the check took.
    pub duration: Duration,
}

impl Report {
    /// True when nothing is damaged, missing or unverified.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
            && self.missing.is_empty()
            && self.bad_lines.is_empty()
            && self.signed_bad.is_empty()
    }

    /// The numbers, for metrics.
    pub fn counts(&self) -> Counts {
        Counts {
            blobs_checked: self.blobs,
            damaged: self.damaged.len(),
            missing: self.missing.len(),
            orphans: self.orphans.len(),
            temp_files: self.strays.len(),
            signed_checked: self.signed_checked,
            signed_bad: self.signed_bad.len() + self.bad_lines.len(),
            quarantined: self.quarantined.len(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "read {} blob(s), {} bytes", self.blobs, self.bytes)?;
        for d in &self.damaged {
            writeln!(
                f,
                "DAMAGED {}: {}; named by {}",
                d.path.display(),
                d.reason,
                names(&d.named_by)
            )?;
        }
        for (sha, by) in &self.missing {
            writeln!(f, "MISSING blob {sha}, named by {}", names(by))?;
        }
        for path in &self.orphans {
            writeln!(f, "orphan (nothing names it): {}", path.display())?;
        }
        for path in &self.strays {
            writeln!(
                f,
                "not a blob (a temp file a crash left, or a stray): {}",
                path.display()
            )?;
        }
        for (v, problem) in &self.bad_lines {
            writeln!(
                f,
                "BAD index line of {} in the database: it {problem}; restore the data directory from a backup, or run `skillreg fsck --repair` to quarantine the version",
                v.label()
            )?;
        }
        for d in &self.signed_bad {
            writeln!(f, "BAD signed {}: {}; {}", d.what, d.problem, d.fix)?;
        }
        for q in &self.quarantined {
            let state = if q.whole_again {
                "its blob is back and whole: `skillreg fsck --repair` serves it again"
            } else {
                "restore its blob from a backup, then run `skillreg fsck --repair`"
            };
            writeln!(
                f,
                "quarantined (not served) {} since {}: {}; {state}",
                q.version,
                crate::fsutil::rfc3339(q.since),
                q.reason
            )?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        writeln!(
            f,
            "verified {} signed document(s) and index file(s), {} index line(s), in {} ms",
            self.signed_checked,
            self.lines,
            self.duration.as_millis()
        )?;
        if self.is_clean() {
            write!(
                f,
                "clean: every blob matches its name and every named blob is there; the signed metadata verifies"
            )
        } else {
            write!(
                f,
                "DAMAGE: {} damaged, {} missing, {} bad signed, {} bad index line(s). Restore damaged or missing blobs from a backup (or re-publish / re-mirror those versions); or stop the daemon and run `skillreg fsck --repair`: it quarantines what cannot be served as published (moving damaged blobs to DATA/quarantine/) and re-renders what the database can rebuild.",
                self.damaged.len(),
                self.missing.len(),
                self.signed_bad.len(),
                self.bad_lines.len()
            )
        }
    }
}

fn names(by: &[String]) -> String {
    if by.is_empty() {
        "nothing (an orphan)".into()
    } else {
        by.join(", ")
    }
}

/// Checks the data directory `data`: its blobs, the database's index
/// lines and root chain. Read-only; safe while the daemon runs.
pub fn check(data: &Path) -> Result<Report, FsckError> {
    check_with(data, &Options::default())
}

/// [`check`], and the static tree of `options`. Blocking (it reads every
/// blob, and waits a second before re-checking a tree that looked damaged):
/// a daemon runs it off its async runtime (`spawn_blocking`).
pub fn check_with(data: &Path, options: &Options) -> Result<Report, FsckError> {
    let started = Instant::now();
    let store_err = |source| FsckError::Store {
        data: data.to_path_buf(),
        source,
    };
    let store = crate::store::Store::open_read_only(&data.join(crate::store::DB_FILE))
        .map_err(store_err)?;
    let known = crate::store::MIGRATIONS.len() as i64;
    let found = store.schema_version().map_err(store_err)?;
    if found < known {
        return Err(FsckError::OldSchema {
            data: data.to_path_buf(),
            found,
            known,
        });
    }
    let versions = store.version_checks().map_err(store_err)?;
    let mut report = blobs(data, store.blob_references().map_err(store_err)?)?;
    quarantined(data, &versions, &mut report);
    let live: Vec<_> = versions
        .into_iter()
        .filter(|v| v.quarantined.is_none())
        .collect();
    signed::lines(&live, &mut report);
    let root = signed::roots(&store, data, &mut report);
    if let (Some(root), Some(out)) = (root, &options.export) {
        let roots = store.roots().map_err(store_err)?;
        let mut tree = Report::default();
        signed::tree(&store, &root, &roots, out, &mut tree);
        if !tree.signed_bad.is_empty() {
            // A daemon keeping the tree may be between two writes (index-spec
            // signing.md §9.8): look again once before calling it damage.
            std::thread::sleep(Duration::from_secs(1));
            tree = Report::default();
            signed::tree(&store, &root, &roots, out, &mut tree);
        }
        report.signed_checked += tree.signed_checked;
        report.signed_bad.extend(tree.signed_bad);
        report.notes.extend(tree.notes);
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Lists the quarantined versions; one whose blob is back and whole is not
/// an orphan.
fn quarantined(data: &Path, versions: &[crate::store::VersionCheck], report: &mut Report) {
    for v in versions {
        let Some((since, reason)) = &v.quarantined else {
            continue;
        };
        let path = blob_path(data, &v.cksum);
        let whole_again = hash_file(&path).is_ok_and(|(sha, _)| sha == v.cksum);
        if whole_again {
            report.orphans.retain(|o| *o != path);
        }
        report.quarantined.push(Quarantined {
            version: v.label(),
            reason: reason.clone(),
            since: *since,
            whole_again,
        });
    }
}

/// Where the blob `sha` lives in `data`.
fn blob_path(data: &Path, sha: &str) -> PathBuf {
    let sha = sha.to_ascii_lowercase();
    data.join("blobs")
        .join("sha256")
        .join(sha.get(..2).unwrap_or(""))
        .join(&sha)
}

/// Re-hashes every blob against its name and `refs` (sha256 → what names it).
fn blobs(data: &Path, refs: Vec<(String, String)>) -> Result<Report, FsckError> {
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (sha, what) in refs {
        named
            .entry(sha.to_ascii_lowercase())
            .or_default()
            .push(what);
    }
    let mut report = Report::default();
    let mut seen = BTreeSet::new();
    // Beneath a handle on DATA: a blob or shard that is a link (to a file
    // outside, or to /proc/kmsg, which blocks) is a stray, never read.
    let listing = |rel: &str| -> Result<Vec<crate::safe_fs::DirEntry>, FsckError> {
        let unreadable = |e: SafeFsError| FsckError::List {
            path: data.join(rel),
            source: std::io::Error::other(e.to_string()),
        };
        let dir = match Dir::open(data).and_then(|d| d.open_dir(rel)) {
            Ok(dir) => dir,
            Err(SafeFsError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(unreadable(e)),
        };
        dir.entries().map_err(unreadable)
    };
    let root_rel = "blobs/sha256";
    let root = data.join(root_rel);
    for shard in listing(root_rel)? {
        let shard_rel = format!("{root_rel}/{}", shard.name);
        if shard.kind != EntryKind::Dir {
            report.strays.push(root.join(&shard.name));
            continue;
        }
        for entry in listing(&shard_rel)? {
            let file = root.join(&shard.name).join(&entry.name);
            let name = entry.name.clone();
            if crate::blobs::Sha256Digest::from_hex(&name).is_none()
                || entry.kind != EntryKind::File
            {
                report.strays.push(file);
                continue;
            }
            report.blobs += 1;
            let by = named.get(&name).cloned().unwrap_or_default();
            let hashed = Dir::open(data)
                .and_then(|d| d.open_file_linked(&format!("{shard_rel}/{name}"), u64::MAX))
                .map_err(|e| e.reason())
                .and_then(|f| hash_reader(f.into_reader()).map_err(|e| e.to_string()));
            match hashed {
                Ok((sha, len)) => {
                    report.bytes += len;
                    if sha != name {
                        report.damaged.push(Damaged {
                            path: file.clone(),
                            reason: format!("its bytes have sha256 {sha}"),
                            named_by: by.clone(),
                        });
                    } else if by.is_empty() {
                        report.orphans.push(file.clone());
                    }
                }
                Err(e) => report.damaged.push(Damaged {
                    path: file.clone(),
                    reason: format!("cannot be read: {e}"),
                    named_by: by.clone(),
                }),
            }
            seen.insert(name);
        }
    }
    let tmp = data.join("blobs").join("tmp");
    if tmp.is_dir() {
        report.strays.extend(list(&tmp)?);
    }
    for (sha, by) in named {
        if !seen.contains(&sha) {
            report.missing.insert(sha, by);
        }
    }
    Ok(report)
}

/// The entries of `dir`, sorted; a missing directory has none.
fn list(dir: &Path) -> Result<Vec<PathBuf>, FsckError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(FsckError::List {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    out.sort();
    Ok(out)
}

/// The sha256 (hex) and length of a file, read in 64 KiB pieces.
fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    hash_reader(std::fs::File::open(path)?)
}

/// The sha256 (hex) and length of what `file` yields, in 64 KiB pieces.
fn hash_reader(mut file: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}
