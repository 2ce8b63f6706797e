//! `skillreg serve`: config layering, logging, signals, and private modes
//! on the data directory.

use std::ffi::CString;
use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::ServeArgs;
use crate::config::Config;

/// The most a directory of the data dir may allow: the daemon's user only.
const PRIVATE_DIR: u32 = 0o700;

/// Threads of the runtime's blocking pool, which runs all registry work
/// (requests that read SQLite or blobs, publishes, syncs, the background
/// check). Tokio's default is 512: under load, every request that waits for
/// one of the four reader connections or the writer takes a thread of its
/// own, and each extra thread keeps its stack and an allocator arena after
/// the surge (the soak's RSS growth, `RELIABILITY.md`). Beyond this many,
/// work queues instead, which is what it would do on the locks anyway.
const BLOCKING_THREADS: usize = 16;
/// The most a database or key file may allow.
const PRIVATE_FILE: u32 = 0o600;

pub(super) fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.public_url {
        config.public_url = url;
    }
    config.check().map_err(|e| e.to_string())?;
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let base_url = config.base_url(bound);
        // Before the registry opens the database: closing any descriptor
        // of a file drops every POSIX lock this process holds on it, so
        // SQLite's locks must not exist yet when the files are checked.
        crate::fsutil::create_private_dir(&config.data_dir).map_err(|e| {
            format!(
                "cannot create the data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        tighten_modes(&config.data_dir);
        // Held while the daemon runs: `skillreg fsck --repair` refuses then.
        let _data_lock = crate::fsutil::DataDirLock::try_take(&config.data_dir, false)
            .map_err(|e| format!("cannot lock {}: {e}", config.data_dir.display()))?
            .ok_or_else(|| {
                format!(
                    "`skillreg fsck --repair` is running on {}; start the daemon when it is done",
                    config.data_dir.display()
                )
            })?;
        let registry = super::open_registry(&config, &base_url)?;
        let mut server = crate::server::Server::new(registry, config.clone(), base_url.clone())
            .map_err(|e| e.to_string())?;
        let mut metrics_bound = None;
        if let Some(addr) = config.metrics_listen {
            let metrics = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} (metrics_listen): {e}"))?;
            metrics_bound = Some(metrics.local_addr().map_err(|e| e.to_string())?);
            server = server.with_metrics_listener(metrics);
        }
        let scheme = if config.tls_enabled() {
            "https"
        } else {
            "http"
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {scheme}://{bound}");
            if let Some(metrics) = metrics_bound {
                let _ = writeln!(out, "metrics on http://{metrics}/metrics");
            }
            let _ = out.flush();
        }
        tracing::info!(%bound, %base_url, data = %config.data_dir.display(), "skillreg serving");
        if config.public_url.is_empty() && bound.ip().is_unspecified() {
            tracing::warn!(
                "listening on {bound} without public_url: config.json tells clients to use {base_url}, \
                 which they cannot reach; set public_url (or --public-url / SKILLREG_PUBLIC_URL)"
            );
        }
        server
            .run(listener, shutdown_signal())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    });
    // A write to the static tree still stuck on a silent bucket (the final
    // flush gave up on it after the grace period) runs on a blocking
    // thread that dropping the runtime would wait for without end.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    served
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKILLREG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

/// What [`tighten_modes`] did to one path (each is also logged).
#[derive(Debug, PartialEq, Eq)]
enum Tightened {
    /// Its mode was changed.
    Changed {
        /// The path.
        path: PathBuf,
        /// Permission bits before.
        from: u32,
        /// Permission bits after.
        to: u32,
    },
    /// Left as it was, and why (a symlink, not the expected kind, an error).
    Skipped {
        /// The path.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// Makes the data directory private, however it was made: the directory,
/// `keys/` and the directories below it allow at most 0700; the database
/// (`skillreg.db` and its `-wal` and `-shm`), `admin.token` and every file
/// below `keys/` at most 0600. Each path is opened relative to its opened
/// parent with `O_NOFOLLOW` and changed on that handle (`fchmod`), so a
/// symlink planted in the data directory is never followed; it is left
/// alone with a warning. (Components of the configured `data_dir` path
/// above the directory itself are the operator's and are followed.) Missing
/// files are fine; a change that fails is a warning, not a refusal to start.
///
/// A missing database is created here, empty (SQLite reads that as a new
/// database) and 0600: SQLite would create it with the umask's mode (often
/// 0644), and it gives `-wal` and `-shm` the database's mode.
///
/// Must run before this process opens the database (see `serve`).
fn tighten_modes(data_dir: &Path) -> Vec<Tightened> {
    let mut done = Vec::new();
    let Some(data) = tighten(None, data_dir, data_dir, true, &mut done) else {
        return done;
    };
    let db = crate::store::DB_FILE;
    if let Err(e) = create_private_file(&data, Path::new(db)) {
        tracing::warn!(path = %data_dir.join(db).display(), error = %e, "could not create the database with mode 0600; SQLite will create it");
    }
    for name in [
        db.to_string(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        crate::registry::ADMIN_TOKEN_FILE.to_string(),
    ] {
        tighten(
            Some(&data),
            Path::new(&name),
            &data_dir.join(&name),
            false,
            &mut done,
        );
    }
    let keys = crate::keys::keys_dir(data_dir);
    if let Some(dir) = tighten(Some(&data), Path::new("keys"), &keys, true, &mut done) {
        tighten_below(&dir, &keys, 2, &mut done);
    }
    done
}

/// Tightens every entry of the opened directory `dir` (at `path`), going
/// `depth` levels down (`keys/retired/`).
fn tighten_below(dir: &File, path: &Path, depth: usize, done: &mut Vec<Tightened>) {
    // The listing only supplies names: each is opened relative to `dir`.
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let child = path.join(&name);
        // `file_type` does not follow a symlink; `tighten` refuses one anyway.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let Some(sub) = tighten(Some(dir), Path::new(&name), &child, is_dir, done) {
            if is_dir && depth > 1 {
                tighten_below(&sub, &child, depth - 1, done);
            }
        }
    }
}

/// Opens `name` (relative to `parent`, or as given without one) without
/// following a symlink, checks it is a directory (`dir`) or a regular file,
/// and takes away the permission bits beyond [`PRIVATE_DIR`] or
/// [`PRIVATE_FILE`] on the open handle. Returns the handle, for a directory
/// to open its entries from; `None` when missing or skipped.
fn tighten(
    parent: Option<&File>,
    name: &Path,
    path: &Path,
    dir: bool,
    done: &mut Vec<Tightened>,
) -> Option<File> {
    let mut skip = |why: String| {
        tracing::warn!(path = %path.display(), "not made private: {why}");
        done.push(Tightened::Skipped {
            path: path.to_path_buf(),
            why,
        });
        None
    };
    let file = match open_nofollow(parent, name, dir) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return skip(format!(
                "it is a symbolic link, which skillreg does not follow to change modes; put the real {} there (or point data_dir at it)",
                if dir { "directory" } else { "file" }
            ))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return skip("it should be a directory".into())
        }
        Err(e) => return skip(format!("cannot open it ({e}); check its owner and mode")),
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(e) => return skip(format!("cannot read its mode ({e})")),
    };
    if !dir && !meta.is_file() {
        return skip("it should be a regular file".into());
    }
    let from = meta.permissions().mode() & 0o7777;
    let to = from & if dir { PRIVATE_DIR } else { PRIVATE_FILE };
    if to != from {
        if let Err(e) = file.set_permissions(Permissions::from_mode(to)) {
            return skip(format!(
                "cannot change its mode {from:04o} ({e}); run skillreg as its owner, or chmod it to {to:04o}"
            ));
        }
        tracing::info!(path = %path.display(), "made private: mode {from:04o} -> {to:04o}");
        done.push(Tightened::Changed {
            path: path.to_path_buf(),
            from,
            to,
        });
    }
    Some(file)
}

/// Creates `name` in `dir`, empty and 0600, unless something is there
/// already (`O_EXCL`: nothing existing is opened, a symlink included).
fn create_private_file(dir: &File, name: &Path) -> io::Result<()> {
    let c_name = CString::new(name.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `c_name` is NUL-terminated and `dir` stays open for the call.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c_name.as_ptr(), flags, PRIVATE_FILE) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        };
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    // The umask may have taken bits away, never added any; this is exact.
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    file.sync_all()?;
    drop(file);
    dir.sync_all()
}

/// `openat(parent, name, O_RDONLY | O_NOFOLLOW | …)`: fails with `ELOOP` on
/// a symlink instead of following it, and with `O_NONBLOCK` never hangs on
/// a FIFO planted where a file should be.
fn open_nofollow(parent: Option<&File>, name: &Path, dir: bool) -> io::Result<File> {
    let c_name = CString::new(name.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the path"))?;
    let mut flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    if dir {
        flags |= libc::O_DIRECTORY;
    }
    let at = parent.map_or(libc::AT_FDCWD, |p| p.as_raw_fd());
    // SAFETY: `c_name` is a valid NUL-terminated string and `at` is either
    // AT_FDCWD or a descriptor `parent` keeps open for this call.
    let fd = unsafe { libc::openat(at, c_name.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests;
