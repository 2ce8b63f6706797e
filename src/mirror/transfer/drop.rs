//! Drop directories: files appearing in a `drop` source's `path`, imported
//! and moved to `imported/` or `rejected/`; watched with `notify`.

use super::*;
use crate::safe_fs::{Dir, EntryKind, SafeFsError};

/// Why a drop directory could not be scanned, or a file in it not moved.
/// A file that was refused is not an error (it moves to `rejected/`);
/// these are local trouble, and the file stays for the next run.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    /// The configured directory is missing.
    #[error("the drop directory {} does not exist or is not a directory", .0.display())]
    NoDirectory(PathBuf),
    /// Listing it failed.
    #[error("cannot list {}: {source}", .path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The source's `root_key` cannot be used.
    #[error("{0}")]
    TrustRoot(TransferError),
    /// An imported file could not be moved to `imported/`.
    #[error("{} was imported, but moving it to {IMPORTED_DIR}/ failed: {source}", .file.display())]
    MoveImported {
        /// The file.
        file: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A refused file could not be moved to `rejected/`.
    #[error("{} was refused ({why}), and moving it to {REJECTED_DIR}/ failed: {source}", .file.display())]
    MoveRejected {
        /// The file.
        file: PathBuf,
        /// Why it was refused.
        why: String,
        /// Why the move failed.
        source: io::Error,
    },
    /// The note beside a refused file could not be written.
    #[error("cannot write the note beside {}: {source}", .moved.display())]
    Note {
        /// The refused file, moved.
        moved: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Local trouble importing a file (disk, database).
    #[error("{}: {why}; it stays for the next run", .file.display())]
    Local {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// The directory watcher failed.
    #[error("watching {}: {source}", .path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
    /// The watcher's channel closed.
    #[error("the watcher stopped")]
    WatcherStopped,
}

/// Most half pairs one run names in its detail.
pub(super) const MAX_WAITING_SHOWN: usize = 50;
/// One lock per source, so a scheduled run and the watcher never import
/// the same file twice.
pub(super) fn source_lock(name: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone()
}

/// True for a name a drop directory imports as a transfer archive.
pub fn is_archive_name(name: &str) -> bool {
    name.len() > SUFFIX.len() && name.ends_with(SUFFIX) && !name.starts_with('.')
}

/// True for a name a drop directory treats as a loose bundle.
pub fn is_bundle_name(name: &str) -> bool {
    !name.starts_with('.')
        && !is_archive_name(name)
        && BUNDLE_SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// Something in a drop directory ready to import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Candidate {
    /// A transfer archive.
    Archive(PathBuf),
    /// A loose bundle; its signature is `BUNDLE.sig` beside it.
    Bundle(PathBuf),
}

impl Candidate {
    pub(super) fn path(&self) -> &Path {
        match self {
            Candidate::Archive(p) | Candidate::Bundle(p) => p,
        }
    }
}

/// What a look at a drop directory found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Scan {
    /// Ready to import, sorted by name.
    pub(super) ready: Vec<Candidate>,
    /// Some files were too fresh to take.
    pub(super) deferred: bool,
    /// Half of a bundle pair (a bundle without its signature, or a signature
    /// without its bundle), left in place, with what it waits for.
    pub(super) waiting: Vec<String>,
}

/// Looks at a drop directory: the archives and bundle pairs ready there,
/// whether some were too fresh, and the halves of pairs still waiting.
pub(super) fn candidates(dir: &Path) -> io::Result<Scan> {
    // Regular files only (never symlinks), by name, with whether they settled.
    let handle = Dir::open(dir).map_err(io_other)?;
    let mut files: BTreeMap<String, bool> = BTreeMap::new();
    let entries = match handle.entries() {
        Ok(entries) => entries,
        Err(e) => return Err(io_other(e)),
    };
    for entry in entries {
        if entry.name.starts_with('.') || entry.kind != EntryKind::File {
            continue;
        }
        // Renamed or removed since the listing (a writer's `.part` rename).
        let Some(modified) = handle.modified(&entry.name).map_err(io_other)? else {
            continue;
        };
        let settled = SystemTime::now()
            .duration_since(modified)
            .map_or(true, |age| age >= SETTLE);
        files.insert(entry.name, settled);
    }
    let mut scan = Scan::default();
    let take = |scan: &mut Scan, settled: bool, candidate: Candidate| {
        if settled {
            scan.ready.push(candidate);
        } else {
            scan.deferred = true;
        }
    };
    for (name, settled) in &files {
        let path = dir.join(name);
        if is_archive_name(name) {
            take(&mut scan, *settled, Candidate::Archive(path));
        } else if let Some(bundle) = name
            .strip_suffix(SIGNATURE_SUFFIX)
            .filter(|b| is_bundle_name(b))
        {
            match files.get(bundle) {
                Some(bundle_settled) => take(
                    &mut scan,
                    *settled && *bundle_settled,
                    Candidate::Bundle(dir.join(bundle)),
                ),
                None => scan
                    .waiting
                    .push(format!("{name}: waiting for its bundle {bundle}")),
            }
        } else if is_bundle_name(name) && !files.contains_key(&format!("{name}{SIGNATURE_SUFFIX}"))
        {
            scan.waiting.push(format!(
                "{name}: waiting for its signature {name}{SIGNATURE_SUFFIX} (`skillreg export-transfer --bundles` writes both); an unsigned bundle is never imported"
            ));
        }
    }
    scan.ready.sort_by(|a, b| a.path().cmp(b.path()));
    if scan.waiting.len() > MAX_WAITING_SHOWN {
        let more = scan.waiting.len() - MAX_WAITING_SHOWN;
        scan.waiting.truncate(MAX_WAITING_SHOWN);
        scan.waiting.push(format!(
            "… and {more} more half pairs waiting in {}",
            dir.display()
        ));
    }
    Ok(scan)
}

/// Splits a file name into a stem and the ending a drop directory knows it by.
pub(super) fn split_known_suffix(name: &str) -> (&str, &str) {
    for suffix in std::iter::once(SUFFIX).chain(BUNDLE_SUFFIXES) {
        if let Some(stem) = name.strip_suffix(suffix).filter(|s| !s.is_empty()) {
            return (stem, suffix);
        }
    }
    (name, "")
}

/// `dir/sub` opened as a directory handle, created if missing; a link or a
/// file planted there is refused. Everything then moves into the handle,
/// never into a path looked at first, so the directory cannot be swapped
/// for a link between the check and the move.
fn own_subdir(dir: &Dir, sub: &str) -> io::Result<Dir> {
    dir.ensure_dir(sub, 0o755).map_err(|e| match e {
        SafeFsError::Symlink { path } | SafeFsError::NotADirectory { path } => io::Error::other(
            format!("`{path}` is not a directory (a symlink?); remove it, skillreg creates it"),
        ),
        other => io::Error::other(other.to_string()),
    })
}

fn io_other(e: SafeFsError) -> io::Error {
    match e {
        SafeFsError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// Moves `file` (and, for a bundle, its signature) into `dir/sub/`,
/// keeping its name unless it is taken. Moves go from the drop directory's
/// handle into the sub-directory's handle, never replacing anything there.
/// A pair is linked into place, made durable, then unlinked from the drop
/// directory (the signature last), so a crash leaves at worst a duplicate
/// or a lone signature, never a bundle that lost its signature.
pub(super) fn move_into(dir: &Path, sub: &str, candidate: &Candidate) -> io::Result<PathBuf> {
    let drop_dir = Dir::open(dir).map_err(io_other)?;
    let target_dir = own_subdir(&drop_dir, sub)?;
    let name = file_name_of(candidate.path());
    let sig = format!("{name}{SIGNATURE_SUFFIX}");
    let (stem, suffix) = split_known_suffix(&name);
    let free = |n: &str| {
        matches!(target_dir.kind(n), Ok(None))
            && matches!(target_dir.kind(&format!("{n}{SIGNATURE_SUFFIX}")), Ok(None))
    };
    let mut n = 1;
    let mut target = name.clone();
    loop {
        while !free(&target) {
            n += 1;
            target = format!("{stem}-{n}{suffix}");
        }
        let moved = match candidate {
            Candidate::Archive(_) => drop_dir.rename_new(&name, &target_dir, &target),
            Candidate::Bundle(_) => {
                drop_dir
                    .hard_link(&name, &target_dir, &target)
                    .and_then(|()| {
                        let target_sig = format!("{target}{SIGNATURE_SUFFIX}");
                        drop_dir
                            .hard_link(&sig, &target_dir, &target_sig)
                            .inspect_err(|_| {
                                let _ = target_dir.remove_file(&target);
                            })
                    })
            }
        };
        match moved.map_err(io_other) {
            Ok(()) => break,
            // Taken between the look and the move: the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    target_dir.sync().map_err(io_other)?;
    if let Candidate::Bundle(_) = candidate {
        drop_dir.remove_file(&name).map_err(io_other)?;
        drop_dir.remove_file(&sig).map_err(io_other)?;
    }
    drop_dir.sync().map_err(io_other)?;
    Ok(dir.join(sub).join(target))
}

/// Writes the note saying why `moved` (in `dir/sub/`) was refused, through
/// the sub-directory's handle.
fn write_note(dir: &Path, sub: &str, moved: &Path, text: &str) -> io::Result<PathBuf> {
    let target_dir = own_subdir(&Dir::open(dir).map_err(io_other)?, sub)?;
    let note = format!("{}.error.txt", file_name_of(moved));
    match target_dir.remove_file(&note) {
        Ok(()) => {}
        Err(SafeFsError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_other(e)),
    }
    target_dir
        .write_new(&note, text.as_bytes(), 0o644)
        .and_then(|()| target_dir.sync())
        .map_err(io_other)?;
    Ok(dir.join(sub).join(note))
}

/// Imports what is ready in a drop directory (the caller holds the source's
/// lock): each imported archive or bundle pair moves to `imported/`, each
/// refused one to `rejected/`. Local trouble stops the scan, leaving the
/// file in place.
pub(super) fn scan_locked(
    sink: &dyn TransferSink,
    source: &SourceConfig,
    ready: Vec<Candidate>,
    run: &mut SyncRun,
) -> Result<(), DropError> {
    if ready.is_empty() {
        return Ok(());
    }
    let trust = PinnedRoot::load(&source.root_key).map_err(DropError::TrustRoot)?;
    let opts = ImportOptions {
        source: source.name.clone(),
        trust,
        auto_approve: source.auto_approve,
        limits: TransferLimits::default(),
    };
    for candidate in ready {
        let file = candidate.path();
        let shown = file.display().to_string();
        let (what, result) = match &candidate {
            Candidate::Archive(_) => ("transfer archive", import_archive(sink, file, &opts, run)),
            Candidate::Bundle(_) => ("bundle", import_bundle(sink, file, &opts, run)),
        };
        match result {
            Ok(()) => {
                let to = move_into(&source.path, IMPORTED_DIR, &candidate).map_err(|source| {
                    DropError::MoveImported {
                        file: file.to_path_buf(),
                        source,
                    }
                })?;
                tracing::info!(source = %source.name, file = %to.display(), "{what} imported");
            }
            Err(TransferError::Refused(why)) => {
                run.failed += 1;
                run.detail.push(format!("{shown}: refused: {why}"));
                tracing::warn!(source = %source.name, file = %shown, error = %why, "{what} refused");
                let to = move_into(&source.path, REJECTED_DIR, &candidate).map_err(|source| {
                    DropError::MoveRejected {
                        file: file.to_path_buf(),
                        why: why.clone(),
                        source,
                    }
                })?;
                let fix = match candidate {
                    Candidate::Archive(_) => "drop a new archive (see `skillreg export-transfer`)",
                    Candidate::Bundle(_) => {
                        "drop the bundle and its .sig again (see `skillreg export-transfer --bundles`)"
                    }
                };
                let text = format!(
                    "{} was refused by source `{}` at {}:\n{why}\n\nNothing from it was stored. Fix the cause and {fix}.\n",
                    file_name_of(file),
                    source.name,
                    rfc3339(unix_now())
                );
                write_note(&source.path, REJECTED_DIR, &to, &text).map_err(|source| {
                    DropError::Note {
                        moved: to.clone(),
                        source,
                    }
                })?;
            }
            Err(TransferError::Local(why)) => {
                return Err(DropError::Local {
                    file: file.to_path_buf(),
                    why,
                });
            }
        }
    }
    Ok(())
}

/// A run of a `drop` source (scheduled or `POST /admin/v1/sync`): starts
/// the directory watcher if it is not running, then imports every ready
/// archive in `source.path`.
pub fn sync_drop(
    registry: &Arc<Registry>,
    source: &SourceConfig,
    run: &mut SyncRun,
) -> Result<(), DropError> {
    if !source.path.is_dir() {
        return Err(DropError::NoDirectory(source.path.clone()));
    }
    watch(registry, source);
    let lock = source_lock(&source.name);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let scan = candidates(&source.path).map_err(|e| DropError::List {
        path: source.path.clone(),
        source: e,
    })?;
    run.detail.extend(scan.waiting);
    scan_locked(registry.as_ref(), source, scan.ready, run)
}

/// Starts watching every `drop` source of `sources` (idempotent). The mirror
/// also starts a source's watcher at its first run.
pub fn watch_sources(registry: &Arc<Registry>, sources: &[SourceConfig]) {
    for source in sources
        .iter()
        .filter(|s| s.kind == crate::config::SourceKind::Drop)
    {
        watch(registry, source);
    }
}

/// Starts the watcher thread of a drop source unless it runs.
pub(super) fn watch(registry: &Arc<Registry>, source: &SourceConfig) {
    static WATCHED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let watched = WATCHED.get_or_init(Default::default);
    if !watched
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(source.name.clone())
    {
        return;
    }
    let (registry, source) = (registry.clone(), source.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("drop-{}", source.name))
        .spawn(move || {
            if let Err(e) = watch_loop(&registry, &source) {
                tracing::error!(source = %source.name, error = %e, "cannot watch the drop directory; it is scanned at each scheduled run");
            }
            watched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source.name);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a drop watcher");
    }
}

pub(super) fn watch_loop(registry: &Arc<Registry>, source: &SourceConfig) -> Result<(), DropError> {
    use notify::Watcher as _;
    use std::sync::mpsc::RecvTimeoutError;
    let watch_error = |e| DropError::Watch {
        path: source.path.clone(),
        source: e,
    };
    let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(watch_error)?;
    watcher
        .watch(&source.path, notify::RecursiveMode::NonRecursive)
        .map_err(watch_error)?;
    tracing::info!(source = %source.name, path = %source.path.display(), "watching the drop directory");
    // Files already there (or too fresh at the last scan) are looked at once.
    let mut retry = Some(Duration::ZERO);
    loop {
        let got = match retry {
            Some(wait) => rx.recv_timeout(wait),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if let Err(RecvTimeoutError::Disconnected) = got {
            return Err(DropError::WatcherStopped);
        }
        // Let a burst of events (create, write, rename) settle.
        std::thread::sleep(Duration::from_millis(200));
        while rx.try_recv().is_ok() {}
        retry = watched_run(registry, source);
    }
}

/// A watcher-triggered import: recorded as a sync run of the source when
/// there was something to import. Returns when to look again.
pub(super) fn watched_run(registry: &Registry, source: &SourceConfig) -> Option<Duration> {
    let lock = source_lock(&source.name);
    let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
    let Scan {
        ready,
        deferred,
        waiting,
    } = match candidates(&source.path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(source = %source.name, error = %e, "cannot list the drop directory");
            return Some(Duration::from_secs(30));
        }
    };
    let again = deferred.then_some(Duration::from_secs(1));
    if ready.is_empty() {
        return again;
    }
    let id = match registry.start_run(&source.name) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(source = %source.name, error = %e, "cannot record a sync run");
            return Some(Duration::from_secs(30));
        }
    };
    let mut run = SyncRun {
        status: "completed".into(),
        detail: waiting,
        ..Default::default()
    };
    let retry_local = match scan_locked(registry, source, ready, &mut run) {
        Ok(()) => false,
        Err(e) => {
            run.error = Some(e.to_string());
            true
        }
    };
    if run.error.is_none() && run.failed > 0 {
        run.error = Some(format!(
            "{} file(s) refused; see detail and {}/",
            run.failed, REJECTED_DIR
        ));
    }
    if run.error.is_some() {
        run.status = "failed".into();
    }
    tracing::info!(source = %source.name, run = id, added = run.added, pending = run.pending, failed = run.failed, "drop directory imported");
    if let Err(e) = registry.finish_run(id, &run) {
        tracing::error!(source = %source.name, run = id, error = %e, "cannot record the end of a sync run");
    }
    if retry_local {
        Some(Duration::from_secs(30))
    } else {
        again
    }
}
