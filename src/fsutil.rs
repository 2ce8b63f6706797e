//! Durable file writes: write a temp file, fsync it, rename it into place,
//! fsync the directory. A reader sees the old file or the new one, never half.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically and durably with the given Unix mode.
///
/// The temp file lives in the same directory so the rename never crosses a
/// file system.
pub fn write_durable(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_dir(path);
    write_durable_via(dir, path, bytes, mode)
}

/// Like [`write_durable`], with the temp file in `tmp_dir` (same file system
/// as `path`), so a crash leaves debris only where it is swept.
pub fn write_durable_via(tmp_dir: &Path, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic(tmp_dir, path, bytes, mode, true, None)
}

/// Like [`write_durable`], passing the test hook `point` (see
/// [`crate::crash_point`]) once the temp file is durable and before it is
/// renamed, so a test can stop there.
pub fn write_durable_at(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    point: &'static str,
) -> io::Result<()> {
    write_atomic(parent_dir(path), path, bytes, mode, true, Some(point))
}

/// Temp file in `tmp_dir`, then rename over `path`; with `durable`, the file
/// and then the directory are fsynced so the new content survives a crash.
fn write_atomic(
    tmp_dir: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durable: bool,
    point: Option<&'static str>,
) -> io::Result<()> {
    let dir = parent_dir(path);
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = tmp_dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        unique_suffix()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        if let Some(point) = point {
            crate::crash_point::crash_point(point);
        }
        fs::rename(&tmp, path)?;
        if durable {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The process id in the name of a temp file [`write_durable`] makes
/// (`.NAME.tmp-PID-N`), or `None` for any other name.
pub fn temp_file_writer(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp-")?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether a temp file named `file_name` was left by a process that is gone
/// (or by this one in an earlier life, when a pid is reused): one a crash
/// left, which nothing will rename. A live other process's may be in flight.
pub fn is_abandoned_temp(file_name: &str) -> bool {
    match temp_file_writer(file_name) {
        Some(pid) if pid == std::process::id() => true,
        Some(pid) => !Path::new("/proc").join(pid.to_string()).exists(),
        None => false,
    }
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` atomically (temp file, rename) without fsyncing: for
/// caches whose content is verified again on every use, where losing the
/// newest copy in a crash only means fetching it again.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic(parent_dir(path), path, bytes, mode, false, None)
}

/// Fsyncs a directory so that a rename or create inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a directory (and its parents) with mode 0700 if it does not exist.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Seconds since the Unix epoch, the time unit stored in the database.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (cargo's `pubtime`).
pub fn rfc3339(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A `flock` on `DATA/daemon.lock`: every running daemon holds it shared,
/// and `skillreg fsck --repair` exclusive, so a repair never runs beside a
/// daemon that serves (and caches) what it changes. Released when dropped
/// or when the process dies.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// The lock file's name in the data directory.
pub const DATA_DIR_LOCK: &str = "daemon.lock";

impl DataDirLock {
    /// Takes the lock without waiting: shared (a daemon) or exclusive (a
    /// repair). `Ok(None)` when another process holds it the other way.
    pub fn try_take(data_dir: &Path, exclusive: bool) -> io::Result<Option<DataDirLock>> {
        use std::os::fd::AsRawFd;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            // A link planted here would make a root-run repair create a
            // file wherever it points (`/etc/nologin`): refused (ELOOP).
            .custom_flags(libc::O_NOFOLLOW)
            .open(data_dir.join(DATA_DIR_LOCK))?;
        let how = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a descriptor this function owns; released when it closes.
        if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Ok(None);
            }
            return Err(e);
        }
        Ok(Some(DataDirLock { _file: file }))
    }
}

#[cfg(test)]
mod tests;
