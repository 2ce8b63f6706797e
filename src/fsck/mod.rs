//! `skillreg fsck`: checks a data directory's content-addressed blobs
//! against their names and against what the database says is stored.
//!
//! Every blob is re-hashed (streamed, so memory stays flat whatever its
//! size); every version and rendered feed zip must have its blob; blobs
//! nothing names (orphans) and temp files a crash left are listed. Damage
//! (a blob whose bytes are not its name, a named blob that is missing) makes
//! the report fail; orphans and temp files are only listed, since a publish
//! in flight writes its blob before its row. Nothing is changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
}

impl Report {
    /// True when nothing is damaged or missing.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty() && self.missing.is_empty()
    }

    /// Each kind of finding with how many there are, for metrics:
    /// `damaged`, `missing`, `orphan`, `stray` (always all four).
    pub fn counts(&self) -> [(&'static str, u64); 4] {
        [
            ("damaged", self.damaged.len() as u64),
            ("missing", self.missing.len() as u64),
            ("orphan", self.orphans.len() as u64),
            ("stray", self.strays.len() as u64),
        ]
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
        if self.is_clean() {
            write!(
                f,
                "clean: every blob matches its name and every named blob is there"
            )
        } else {
            write!(
                f,
                "DAMAGE: {} damaged, {} missing. The damaged versions' bundles cannot be served as published; restore their blobs from a backup (or re-publish / re-mirror them).",
                self.damaged.len(),
                self.missing.len()
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

/// Checks the blobs of the data directory `data`.
pub fn check(data: &Path) -> Result<Report, FsckError> {
    let store =
        crate::store::Store::open_read_only(&data.join("skillreg.db")).map_err(|source| {
            FsckError::Store {
                data: data.to_path_buf(),
                source,
            }
        })?;
    let refs = store.blob_references().map_err(|source| FsckError::Store {
        data: data.to_path_buf(),
        source,
    })?;
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (sha, what) in refs {
        named
            .entry(sha.to_ascii_lowercase())
            .or_default()
            .push(what);
    }
    let mut report = Report::default();
    let mut seen = BTreeSet::new();
    let root = data.join("blobs").join("sha256");
    for shard in list(&root)? {
        if !shard.is_dir() {
            report.strays.push(shard);
            continue;
        }
        for file in list(&shard)? {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            if crate::blobs::Sha256Digest::from_hex(&name).is_none() || !file.is_file() {
                report.strays.push(file);
                continue;
            }
            report.blobs += 1;
            let by = named.get(&name).cloned().unwrap_or_default();
            match hash_file(&file) {
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
    let mut file = std::fs::File::open(path)?;
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
