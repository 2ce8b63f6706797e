//! `skillreg backup` and `skillreg restore`: a consistent copy of a data
//! directory taken while the daemon runs, and putting one back.
//!
//! Order matters for consistency: the database is copied first with
//! SQLite's online backup API (one snapshot, while writers go on), then
//! exactly the blobs that copy names (a blob is written before its row, so
//! every row the snapshot holds has its blob), then the keys and the
//! mirror's verified upstream state. Blobs are immutable and
//! content-addressed, so a backup into a directory holding an earlier one
//! copies only the blobs it lacks. Every blob is re-hashed as it is copied
//! and the result is checked ([`crate::fsck`] and SQLite's
//! `integrity_check`) before the backup is called done; a restore checks
//! the same before writing anything, and never writes into a data
//! directory that holds anything.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fsutil;

/// The database file of a data directory.
const DB_FILE: &str = "skillreg.db";
/// Files and folders beside the database a backup carries.
const KEYS_DIR: &str = "keys";
/// The bootstrap admin token (a secret the daemon wrote once).
const ADMIN_TOKEN: &str = crate::registry::ADMIN_TOKEN_FILE;
/// Below `mirror/state/<source>/`, what is cache (rebuilt by the next
/// sync) rather than verified state.
const MIRROR_CACHES: [&str; 4] = ["http-cache", "git-home", "remotes", "checkout"];

/// Why a backup or restore failed; nothing half-written is left looking
/// complete (the database is renamed into place last on restore).
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file operation failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("the database {}: {source}", .path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A blob the database names is missing or damaged in the source.
    #[error("{0}")]
    Blob(String),
    /// The copy does not check out.
    #[error("the copy in {} does not check out: {reason}", .path.display())]
    Unsound {
        /// The copy.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Restore would overwrite data.
    #[error("{} is not empty; restore only into a new or empty data directory (move the old one aside first)", .0.display())]
    NotEmpty(PathBuf),
    /// The fsck of the copy could not run.
    #[error("{0}")]
    Fsck(#[from] crate::fsck::FsckError),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What a backup or restore did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Versions in the copied database.
    pub versions: usize,
    /// Blobs copied now.
    pub blobs_copied: usize,
    /// Blobs already there from an earlier backup.
    pub blobs_kept: usize,
    /// Other files copied (keys, token, mirror state).
    pub files: usize,
}

/// Backs up the data directory `data` into `dest` (created if missing;
/// incremental when it holds an earlier backup).
pub fn backup(data: &Path, dest: &Path) -> Result<Summary, BackupError> {
    fsutil::create_private_dir(dest).map_err(io("create", dest))?;
    // 1. The database, one consistent snapshot, into a temp file renamed
    //    into place only when complete.
    let tmp = dest.join(format!(".{DB_FILE}.partial"));
    let _ = std::fs::remove_file(&tmp);
    copy_database(&data.join(DB_FILE), &tmp)?;
    // 2. The blobs that snapshot names, checked on the way.
    let refs = blob_references(&tmp)?;
    let mut summary = Summary {
        versions: refs
            .iter()
            .filter(|(_, what)| !what.starts_with("the "))
            .count(),
        ..Default::default()
    };
    for (sha, what) in &refs {
        let rel = blob_rel(sha);
        let (from, to) = (data.join(&rel), dest.join(&rel));
        if to.is_file() {
            summary.blobs_kept += 1;
            continue;
        }
        copy_checked(&from, &to, Some(sha)).map_err(|e| match e {
            BackupError::Blob(why) => BackupError::Blob(format!("{what}: {why}")),
            other => other,
        })?;
        summary.blobs_copied += 1;
    }
    // 3. Keys, the bootstrap token, the mirror's verified state.
    summary.files = copy_beside(data, dest)?;
    std::fs::rename(&tmp, dest.join(DB_FILE)).map_err(io("rename into place", &tmp))?;
    fsutil::sync_dir(dest).map_err(io("sync", dest))?;
    // 4. The result checks out, or the backup is not done.
    check_copy(dest)?;
    Ok(summary)
}

/// Restores the backup `src` into the data directory `data`, which must be
/// missing or empty.
pub fn restore(src: &Path, data: &Path) -> Result<Summary, BackupError> {
    if std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::NotEmpty(data.to_path_buf()));
    }
    check_copy(src)?;
    fsutil::create_private_dir(data).map_err(io("create", data))?;
    let refs = blob_references(&src.join(DB_FILE))?;
    let mut summary = Summary::default();
    for (sha, _) in &refs {
        let rel = blob_rel(sha);
        let to = data.join(&rel);
        if !to.is_file() {
            copy_checked(&src.join(&rel), &to, Some(sha))?;
            summary.blobs_copied += 1;
        }
    }
    summary.versions = refs
        .iter()
        .filter(|(_, what)| !what.starts_with("the "))
        .count();
    summary.files = copy_beside(src, data)?;
    // The database last: a restore cut short leaves no database, so no
    // daemon would start on half a registry.
    let db = data.join(DB_FILE);
    copy_checked(&src.join(DB_FILE), &db, None)?;
    fsutil::sync_dir(data).map_err(io("sync", data))?;
    Ok(summary)
}

/// SQLite's online backup of `from` into a new file `to`.
fn copy_database(from: &Path, to: &Path) -> Result<(), BackupError> {
    let sqlite = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Sqlite { path, source }
    };
    let source = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(from))?;
    source
        .busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sqlite(from))?;
    let mut target = rusqlite::Connection::open(to).map_err(sqlite(to))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target).map_err(sqlite(to))?;
        // All pages in one step (-1): one snapshot, however busy the
        // writer is (a step over several calls restarts when it writes).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match backup.step(-1).map_err(sqlite(to))? {
                rusqlite::backup::StepResult::Done => break,
                _ if std::time::Instant::now() > deadline => {
                    return Err(BackupError::Unsound {
                        path: from.to_path_buf(),
                        reason: "the database stayed locked for 60 s; try again".into(),
                    })
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(50)),
            }
        }
    }
    target
        .pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite(to))?;
    drop(target);
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(io("sync", to))
}

/// Every blob the database at `db` names, as `(sha256, what)`.
fn blob_references(db: &Path) -> Result<Vec<(String, String)>, BackupError> {
    let unsound = |e: crate::store::StoreError| BackupError::Unsound {
        path: db.to_path_buf(),
        reason: e.to_string(),
    };
    crate::store::Store::open_read_only(db)
        .map_err(unsound)?
        .blob_references()
        .map_err(unsound)
}

/// `blobs/sha256/ab/abcd…`.
fn blob_rel(sha: &str) -> PathBuf {
    let sha = sha.to_ascii_lowercase();
    Path::new("blobs")
        .join("sha256")
        .join(&sha[..2.min(sha.len())])
        .join(&sha)
}

/// Copies `from` to `to` durably (temp, fsync, rename), re-hashing the
/// bytes against `want` when given.
fn copy_checked(from: &Path, to: &Path, want: Option<&str>) -> Result<(), BackupError> {
    let mut input = std::fs::File::open(from).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound if want.is_some() => {
            BackupError::Blob(format!("its blob {} is missing", from.display()))
        }
        _ => BackupError::Io {
            action: "open",
            path: from.to_path_buf(),
            source: e,
        },
    })?;
    let dir = to.parent().expect("a copy target has a parent");
    fsutil::create_private_dir(dir).map_err(io("create", dir))?;
    let tmp = dir.join(format!(
        ".{}.partial",
        to.file_name().and_then(|n| n.to_str()).unwrap_or("copy")
    ));
    let mut output = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(io("read", from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(io("write", &tmp))?;
    }
    output.sync_all().map_err(io("sync", &tmp))?;
    if let Some(want) = want {
        let got = hex::encode(hasher.finalize());
        if !got.eq_ignore_ascii_case(want) {
            let _ = std::fs::remove_file(&tmp);
            return Err(BackupError::Blob(format!(
                "its blob {} is damaged (its bytes have sha256 {got}); run `skillreg fsck` on the data directory",
                from.display()
            )));
        }
    }
    std::fs::rename(&tmp, to).map_err(io("rename into place", to))?;
    fsutil::sync_dir(dir).map_err(io("sync", dir))
}

/// Copies the keys, the admin token and the mirror's verified state from
/// `from` to `to` (replacing what an earlier backup held); returns how many files.
fn copy_beside(from: &Path, to: &Path) -> Result<usize, BackupError> {
    let mut files = 0;
    let token = from.join(ADMIN_TOKEN);
    if token.is_file() {
        copy_checked(&token, &to.join(ADMIN_TOKEN), None)?;
        files += 1;
    }
    files += copy_tree(&from.join(KEYS_DIR), &to.join(KEYS_DIR), &[])?;
    files += copy_tree(
        &from.join("mirror").join("state"),
        &to.join("mirror").join("state"),
        &MIRROR_CACHES,
    )?;
    Ok(files)
}

/// Copies the regular files below `from` (no links followed), skipping
/// folders named in `skip`.
fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<usize, BackupError> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(BackupError::Io {
                action: "list",
                path: from.to_path_buf(),
                source,
            })
        }
    };
    let mut files = 0;
    for entry in entries {
        let entry = entry.map_err(io("list", from))?;
        let kind = entry.file_type().map_err(io("read", &entry.path()))?;
        let name = entry.file_name();
        if kind.is_dir() {
            if !skip.iter().any(|s| name == *s) {
                files += copy_tree(&entry.path(), &to.join(&name), skip)?;
            }
        } else if kind.is_file() && !name.to_string_lossy().starts_with('.') {
            copy_checked(&entry.path(), &to.join(&name), None)?;
            files += 1;
        }
    }
    Ok(files)
}

/// The copy at `dir` is sound: SQLite's integrity check passes and every
/// blob it names is there and matches its name.
fn check_copy(dir: &Path) -> Result<(), BackupError> {
    let db = dir.join(DB_FILE);
    let unsound = |reason: String| BackupError::Unsound {
        path: dir.to_path_buf(),
        reason,
    };
    if !db.is_file() {
        return Err(unsound(format!("it holds no {DB_FILE}")));
    }
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| BackupError::Sqlite {
                path: db.clone(),
                source,
            })?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|source| BackupError::Sqlite {
            path: db.clone(),
            source,
        })?;
    if verdict != "ok" {
        return Err(unsound(format!("SQLite's integrity_check says: {verdict}")));
    }
    drop(conn);
    let report = crate::fsck::check(dir)?;
    if !report.is_clean() {
        return Err(unsound(report.to_string()));
    }
    Ok(())
}
