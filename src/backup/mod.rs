//! `skillreg backup` and `skillreg restore`: a consistent copy of a data
//! directory taken while the daemon runs, and putting one back.
//!
//! Order matters for consistency: the database is copied first with
//! SQLite's online backup API (one snapshot, while writers go on), then
//! exactly the blobs that copy names (a blob is written before its row, so
//! every row the snapshot holds has its blob), then the keys and the
//! mirror's verified upstream state, and the damaged blobs `fsck --repair`
//! moved to `quarantine/` (the versions naming them are not served, so no
//! blob check applies; they are copied as they are). Blobs are immutable and
//! content-addressed, so a backup into a directory holding an earlier one
//! copies only the blobs it lacks. Every blob is re-hashed as it is copied
//! and the result is checked ([`crate::fsck`] and SQLite's
//! `integrity_check`) before the backup is called done; a restore checks
//! the same before writing anything, and never writes into a data
//! directory that holds anything.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::safe_fs::{self, Dir, EntryKind, SafeFsError};

/// The database file of a data directory.
const DB_FILE: &str = "skillreg.db";
/// Files and folders beside the database a backup carries.
const KEYS_DIR: &str = "keys";
/// The bootstrap admin token (a secret the daemon wrote once).
const ADMIN_TOKEN: &str = crate::registry::ADMIN_TOKEN_FILE;
/// Where `fsck --repair` moves damaged blobs (see [`crate::fsck`]).
const QUARANTINE_DIR: &str = "quarantine";
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
    /// A path in either directory is a link, FIFO or device (never followed
    /// or read), or could not be opened beneath its folder.
    #[error("{0}; backup and restore never follow a link or read a FIFO or device: replace it with the real file or folder, or use another directory")]
    Unsafe(#[from] SafeFsError),
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
/// incremental when it holds an earlier backup). Nothing is written through
/// a link planted in `dest`, nor read through one in `data`.
pub fn backup(data: &Path, dest: &Path) -> Result<Summary, BackupError> {
    let from = Dir::open(data)?;
    let to = Dir::create_private(dest, 0o700)?;
    // 1. The database, one consistent snapshot, into a temp file renamed
    //    into place only when complete. The temp is made exclusively
    //    first, so SQLite opens the file made here, not one a link names.
    let tmp_name = format!(".{DB_FILE}.partial");
    if to.kind(&tmp_name)?.is_some() {
        to.remove_file(&tmp_name)?;
    }
    drop(to.create_file(&tmp_name, 0o600)?);
    let tmp = dest.join(&tmp_name);
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
        let rel = blob_rel(sha, &tmp)?;
        if to.kind(&rel)? == Some(EntryKind::File) {
            summary.blobs_kept += 1;
            continue;
        }
        copy_checked(&from, &to, &rel, Some(sha)).map_err(|e| match e {
            BackupError::Blob(why) => BackupError::Blob(format!("{what}: {why}")),
            other => other,
        })?;
        summary.blobs_copied += 1;
    }
    // 3. Keys, the bootstrap token, the mirror's verified state.
    summary.files = copy_beside(&from, &to)?;
    to.rename_over(&tmp_name, &to, DB_FILE)?;
    to.sync()?;
    // 4. The result checks out, or the backup is not done.
    check_copy(dest)?;
    Ok(summary)
}

/// Restores the backup `src` into the data directory `data`, which must be
/// missing or empty. A link, FIFO or device anywhere in `src` is refused,
/// never followed or read.
pub fn restore(src: &Path, data: &Path) -> Result<Summary, BackupError> {
    if std::fs::read_dir(data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::NotEmpty(data.to_path_buf()));
    }
    let from = Dir::open(src)?;
    check_copy(src)?;
    let to = Dir::create_private(data, 0o700)?;
    let refs = blob_references(&src.join(DB_FILE))?;
    let mut summary = Summary::default();
    for (sha, _) in &refs {
        let rel = blob_rel(sha, src)?;
        if to.kind(&rel)? != Some(EntryKind::File) {
            copy_checked(&from, &to, &rel, Some(sha))?;
            summary.blobs_copied += 1;
        }
    }
    summary.versions = refs
        .iter()
        .filter(|(_, what)| !what.starts_with("the "))
        .count();
    summary.files = copy_beside(&from, &to)?;
    // The database last: a restore cut short leaves no database, so no
    // daemon would start on half a registry.
    copy_checked(&from, &to, DB_FILE, None)?;
    to.sync()?;
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
    // The file the caller made exclusively; a link swapped in is refused.
    let mut target = rusqlite::Connection::open_with_flags(
        to,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
    .map_err(sqlite(to))?;
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

/// `blobs/sha256/ab/abcd…`; a name that is not a sha256 (a damaged or
/// hostile database) is refused before it becomes a path.
fn blob_rel(sha: &str, db: &Path) -> Result<String, BackupError> {
    let sha = sha.to_ascii_lowercase();
    if crate::blobs::Sha256Digest::from_hex(&sha).is_none() {
        return Err(BackupError::Unsound {
            path: db.to_path_buf(),
            reason: format!("it names a blob `{sha}` that is not a sha256"),
        });
    }
    Ok(format!("blobs/sha256/{}/{sha}", &sha[..2]))
}

/// The directory `rel` below `root`, each missing folder made (0700); a
/// link on the way is refused, never followed.
fn ensure_dirs(root: &Dir, rel: &str) -> Result<Dir, BackupError> {
    let mut dir = root.try_clone()?;
    for part in safe_fs::components(rel)? {
        dir = dir.ensure_dir(part, 0o700)?;
    }
    Ok(dir)
}

/// Copies `rel` from below `from` to below `to` durably (a new temp file,
/// fsync, rename, fsync the folder), re-hashing the bytes against `want`
/// when given. The source is opened beneath its handle and judged on it (a
/// link, FIFO or device is refused); the copy is private (0600).
fn copy_checked(from: &Dir, to: &Dir, rel: &str, want: Option<&str>) -> Result<(), BackupError> {
    let source_path = from.path().join(rel);
    let input = match from.open_file_linked(rel, u64::MAX) {
        Ok(input) => input,
        Err(SafeFsError::NotFound { .. }) if want.is_some() => {
            return Err(BackupError::Blob(format!(
                "its blob {} is missing",
                source_path.display()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let (dir_rel, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = ensure_dirs(to, dir_rel)?;
    let tmp = format!(".{name}.partial");
    let tmp_path = dir.path().join(&tmp);
    if dir.kind(&tmp)?.is_some() {
        dir.remove_file(&tmp)?;
    }
    let mut output = dir.create_file(&tmp, 0o600)?;
    let mut input = input.into_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf).map_err(io("read", &source_path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .map_err(io("write", &tmp_path))?;
    }
    output.sync_all().map_err(io("sync", &tmp_path))?;
    if let Some(want) = want {
        let got = hex::encode(hasher.finalize());
        if !got.eq_ignore_ascii_case(want) {
            let _ = dir.remove_file(&tmp);
            return Err(BackupError::Blob(format!(
                "its blob {} is damaged (its bytes have sha256 {got}); run `skillreg fsck` on the data directory",
                source_path.display()
            )));
        }
    }
    dir.rename_over(&tmp, &dir, name)?;
    Ok(dir.sync()?)
}

/// Copies the keys, the admin token, the mirror's verified state and the
/// blobs `fsck --repair` moved aside from `from` to `to` (replacing what
/// an earlier backup held); returns how many files.
fn copy_beside(from: &Dir, to: &Dir) -> Result<usize, BackupError> {
    let mut files = 0;
    // Anything there is copied or refused: a token that is a link is not
    // silently left behind.
    if from.kind(ADMIN_TOKEN)?.is_some() {
        copy_checked(from, to, ADMIN_TOKEN, None)?;
        files += 1;
    }
    files += copy_tree(from, to, KEYS_DIR, &[])?;
    files += copy_tree(from, to, "mirror/state", &MIRROR_CACHES)?;
    // Damaged blobs are kept, never deleted: they may be all that is left
    // of a version, and what an admin needs to find out what happened.
    files += copy_tree(from, to, QUARANTINE_DIR, &[])?;
    Ok(files)
}

/// Copies the regular files below `rel` (no links followed: a folder on the
/// way that is a link is refused, links and FIFOs inside are skipped),
/// skipping folders named in `skip`.
fn copy_tree(from: &Dir, to: &Dir, rel: &str, skip: &[&str]) -> Result<usize, BackupError> {
    let dir = match from.open_dir(rel) {
        Ok(dir) => dir,
        Err(SafeFsError::NotFound { .. }) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut files = 0;
    for entry in dir.entries()? {
        let child = format!("{rel}/{}", entry.name);
        match entry.kind {
            EntryKind::Dir if !skip.contains(&entry.name.as_str()) => {
                files += copy_tree(from, to, &child, skip)?;
            }
            EntryKind::File if !entry.name.starts_with('.') => {
                copy_checked(from, to, &child, None)?;
                files += 1;
            }
            _ => {}
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
    match Dir::open(dir)?.kind(DB_FILE)? {
        Some(EntryKind::File) => {}
        None => return Err(unsound(format!("it holds no {DB_FILE}"))),
        Some(_) => {
            return Err(unsound(format!(
                "its {DB_FILE} is a link, folder or special file, never followed or read; put the real database there"
            )))
        }
    }
    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW,
    )
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
