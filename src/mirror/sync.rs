//! The mirror task: runs each source on its schedule and on demand, one run
//! at a time per source, recording every run in the store.
//!
//! A `registry` source is read through [`TrustedRegistry`]: the upstream's
//! root (pinned by `root_key`), timestamp and snapshot are verified before
//! anything is fetched. The sync is incremental: an index file is fetched
//! only when its hash in the upstream snapshot differs from the one recorded
//! after it was last fully processed, and a bundle only when its version is
//! not stored yet. That record is committed per file, so a run killed half
//! way resumes where it stopped. Nothing whose signature or checksum fails is
//! stored; a failing upstream never deletes or changes local data.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::verify::{self, RegistryOptions, TrustedRegistry};
use crate::config::{Config, SourceConfig, SourceKind};
use crate::fsutil::unix_now;
use crate::registry::{Imported, Offer, Registry};
use crate::store::{SyncRun, VersionStatus};

/// Largest bundle fetched when the upstream line gives no size.
const DEFAULT_BUNDLE_CAP: u64 = 50 * 1024 * 1024;

/// An upstream that sends nothing for this long fails the request (retried
/// like any transport error), instead of holding the run for the client's
/// 300 s per attempt.
const UPSTREAM_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A source's schedule and current run, for `GET /admin/v1/sources`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SourceStatus {
    /// Source name.
    pub name: String,
    /// Source kind.
    pub kind: SourceKind,
    /// `running` or `idle`.
    pub status: String,
    /// The run in progress or the last one.
    pub last_run: Option<i64>,
    /// Unix seconds of the next scheduled run; none for manual-only.
    pub next_run: Option<i64>,
    /// Seconds between runs; none for manual-only.
    pub interval_secs: Option<u64>,
    /// Approves without review.
    pub auto_approve: bool,
}

/// Why a sync could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// No such source.
    #[error("no source is named `{0}`; see GET /admin/v1/sources")]
    UnknownSource(String),
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// The mirror: sources, their schedules and runs.
pub struct Mirror {
    registry: Arc<Registry>,
    sources: Vec<SourceConfig>,
    state_home: PathBuf,
    /// Source name → id of the run in progress.
    running: Mutex<HashMap<String, i64>>,
    /// Source name → unix seconds when the next scheduled run is due.
    due: Mutex<HashMap<String, i64>>,
}

impl Mirror {
    /// Prepares the mirror for `config.sources`. Runs a crash interrupted are
    /// marked failed and their sources made due at once, so the work resumes.
    pub fn new(registry: Arc<Registry>, config: &Config) -> Result<Arc<Mirror>, MirrorError> {
        let interrupted = registry.fail_interrupted_runs()?;
        let now = unix_now();
        let mut due = HashMap::new();
        let last_started: HashMap<String, i64> = registry
            .runs(1000)?
            .into_iter()
            .rev()
            .map(|r| (r.source, r.started_at))
            .collect();
        for source in &config.sources {
            // Manual-only sources too: an interrupted run resumes on restart.
            if interrupted.contains(&source.name) {
                due.insert(source.name.clone(), now);
                continue;
            }
            let Ok(Some(interval)) = source.interval() else {
                continue;
            };
            let next = match last_started.get(&source.name) {
                Some(_) if interrupted.contains(&source.name) => now,
                Some(at) => at + interval.as_secs() as i64,
                None => now,
            };
            due.insert(source.name.clone(), next);
        }
        Ok(Arc::new(Mirror {
            state_home: config.data_dir.join("mirror").join("state"),
            registry,
            sources: config.sources.clone(),
            running: Mutex::new(HashMap::new()),
            due: Mutex::new(due),
        }))
    }

    /// Starts the scheduler; it checks once a second which sources are due.
    pub fn spawn_scheduler(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        // Drop directories are watched from the start, not from their first run.
        super::transfer::watch_sources(&self.registry, &self.sources);
        let mirror = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = unix_now();
                let due: Vec<String> = mirror
                    .due
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|(_, at)| **at <= now)
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in due {
                    if let Err(e) = mirror.start(&name) {
                        tracing::error!(source = %name, error = %e, "cannot start a sync run");
                    }
                }
            }
        })
    }

    /// Starts runs for `which` (a source name or `all`) now and returns
    /// (source, run id) pairs; a source already running returns its run.
    pub fn trigger(self: &Arc<Self>, which: &str) -> Result<Vec<(String, i64)>, MirrorError> {
        let names: Vec<String> = if which == "all" {
            self.sources.iter().map(|s| s.name.clone()).collect()
        } else if self.sources.iter().any(|s| s.name == which) {
            vec![which.to_string()]
        } else {
            return Err(MirrorError::UnknownSource(which.to_string()));
        };
        names
            .into_iter()
            .map(|name| self.start(&name).map(|id| (name, id)))
            .collect()
    }

    fn start(self: &Arc<Self>, name: &str) -> Result<i64, MirrorError> {
        let source = self
            .sources
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| MirrorError::UnknownSource(name.to_string()))?;
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = running.get(name) {
            return Ok(*id);
        }
        let id = self.registry.start_run(name)?;
        running.insert(name.to_string(), id);
        drop(running);
        if let Ok(Some(interval)) = source.interval() {
            self.due
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.to_string(), unix_now() + interval.as_secs() as i64);
        } else {
            // A manual-only source is due once at most (a resumed run).
            self.due
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
        }
        let mirror = self.clone();
        tokio::task::spawn_blocking(move || {
            let run = mirror.run_source(&source, id);
            if let Some(e) = &run.error {
                tracing::warn!(source = %source.name, run = id, error = %e, "sync run failed");
            } else {
                tracing::info!(source = %source.name, run = id, added = run.added, pending = run.pending, "sync run completed");
            }
            if let Err(e) = mirror.registry.finish_run(id, &run) {
                tracing::error!(source = %source.name, run = id, error = %e, "cannot record the end of a sync run");
            }
            mirror
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source.name);
        });
        Ok(id)
    }

    /// Every source with its schedule and runs.
    pub fn status(&self) -> Result<Vec<SourceStatus>, MirrorError> {
        let runs = self.registry.runs(1000)?;
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let due = self.due.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(self
            .sources
            .iter()
            .map(|s| SourceStatus {
                name: s.name.clone(),
                kind: s.kind,
                status: if running.contains_key(&s.name) {
                    "running"
                } else {
                    "idle"
                }
                .into(),
                last_run: runs.iter().find(|r| r.source == s.name).map(|r| r.id),
                next_run: due.get(&s.name).copied(),
                interval_secs: s.interval().ok().flatten().map(|d| d.as_secs()),
                auto_approve: s.auto_approve,
            })
            .collect())
    }

    fn run_source(&self, source: &SourceConfig, id: i64) -> SyncRun {
        let mut run = SyncRun {
            status: "completed".into(),
            ..Default::default()
        };
        let mut progress = Progress::new(&self.registry, id);
        let outcome = match source.kind {
            SourceKind::Registry => self.sync_registry(source, &mut run, &mut progress),
            SourceKind::Marketplace => super::marketplace_source::sync(
                &self.registry,
                &self.state_home.join(&source.name),
                source,
                &mut run,
                &mut progress,
            ),
            SourceKind::Drop => super::transfer::sync_drop(&self.registry, source, &mut run),
        };
        if let Err(e) = outcome {
            run.error = Some(e);
        } else if run.failed > 0 {
            run.error = Some(format!(
                "{} item(s) failed and were not stored; see detail",
                run.failed
            ));
        }
        if run.error.is_some() {
            run.status = "failed".into();
        }
        run
    }

    fn sync_registry(
        &self,
        source: &SourceConfig,
        run: &mut SyncRun,
        progress: &mut Progress<'_>,
    ) -> Result<(), String> {
        let opts = RegistryOptions {
            url: source.url.clone(),
            trust_root: Some(source.root_key.clone()),
            trust_on_first_use: false,
            offline: false,
            token: source.token.clone(),
            ca_cert: None,
            state_home: self.state_home.join(&source.name),
        };
        let open = || {
            with_retries(|| {
                TrustedRegistry::open_with_stall_timeout(&opts, Some(UPSTREAM_STALL_TIMEOUT))
            })
        };
        let mut upstream =
            open().map_err(|e| format!("cannot use the upstream: {}", e.for_mirror()))?;
        let mut refreshes = 0;
        let dl = upstream.dl().map_err(|e| e.for_mirror())?;
        let files: Vec<String> = upstream
            .snapshot()
            .files
            .keys()
            .filter(|path| *path != "config.json" && !path.starts_with('_'))
            .cloned()
            .collect();
        for path in files {
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            if !wanted(source, &name) {
                continue;
            }
            // From the snapshot in use, which a refresh below may replace.
            let Some(mut sha256) = upstream
                .snapshot()
                .files
                .get(&path)
                .map(|m| m.sha256.clone())
            else {
                run.detail.push(format!(
                    "{path}: no longer listed by the upstream's snapshot v{}; skipped",
                    upstream.snapshot().version
                ));
                continue;
            };
            let state_key = format!("file:{path}");
            let done = self
                .registry
                .mirror_state(&source.name, &state_key)
                .map_err(|e| e.to_string())?;
            if let Some((hash, count)) = done.as_deref().and_then(|v| v.split_once(' ')) {
                if hash == sha256 {
                    let count: i64 = count.parse().unwrap_or(0);
                    run.discovered += count;
                    run.unchanged += count;
                    continue;
                }
            }
            let bytes = loop {
                match with_retries(|| upstream.fetch_index_file(&path)) {
                    Ok(b) => break Some(b),
                    // The upstream published after its snapshot was read:
                    // read its newly signed metadata and take the file again.
                    // If its snapshot still lists the same hash, nothing was
                    // published: the file is not what was signed.
                    Err(
                        e @ (verify::TrustError::Mismatch { .. }
                        | verify::TrustError::EndlessData { .. }),
                    ) if refreshes < MAX_REFRESHES => {
                        refreshes += 1;
                        upstream = open().map_err(|e| {
                            format!(
                                "{path} changed upstream during the run, and re-reading the upstream's signed metadata failed (versions stored earlier in this run stay): {}",
                                e.for_mirror()
                            )
                        })?;
                        let version = upstream.snapshot().version;
                        match upstream.snapshot().files.get(&path) {
                            Some(meta) if meta.sha256 != sha256 => {
                                run.detail.push(format!(
                                    "{path}: changed upstream during the run; took it again under snapshot v{version}"
                                ));
                                sha256 = meta.sha256.clone();
                            }
                            Some(_) => {
                                run.failed += 1;
                                run.detail.push(format!(
                                    "{path}: not the file the upstream signed ({}), and its newly verified snapshot v{version} still lists the same hash, so nothing was published meanwhile. The file was tampered with on the way or on the upstream; not stored",
                                    tamper_facts(&e)
                                ));
                                break None;
                            }
                            None => {
                                run.detail.push(format!(
                                    "{path}: removed upstream during the run (snapshot v{version} no longer lists it); skipped"
                                ));
                                break None;
                            }
                        }
                    }
                    Err(e) => {
                        run.failed += 1;
                        run.detail.push(format!("{path}: {}", e.for_mirror()));
                        break None;
                    }
                }
            };
            let Some(bytes) = bytes else { continue };
            run.updated += 1;
            let lines = verify::parse_index_lines(&name, &bytes);
            let mut all_done = true;
            for line in &lines {
                run.discovered += 1;
                let entry = &line.entry;
                match self
                    .registry
                    .version_status(&entry.name, &entry.vers)
                    .map_err(|e| e.to_string())?
                {
                    Some(VersionStatus::Rejected) => {
                        run.rejected += 1;
                        continue;
                    }
                    Some(_) => {
                        run.unchanged += 1;
                        if entry.yanked {
                            self.follow_yank(source, &entry.name, &entry.vers, run)?;
                        }
                        continue;
                    }
                    None => {}
                }
                if entry.yanked {
                    run.skipped += 1;
                    run.detail.push(format!(
                        "{}@{}: yanked upstream, not mirrored",
                        entry.name, entry.vers
                    ));
                    continue;
                }
                let url = verify::download_url(&dl, &entry.name, &entry.vers, &entry.cksum);
                let bundle = match with_retries(|| {
                    upstream.fetch(&url, line.size.unwrap_or(DEFAULT_BUNDLE_CAP))
                }) {
                    Ok(b) => b,
                    Err(e) => {
                        run.failed += 1;
                        all_done = false;
                        run.detail.push(format!(
                            "{}@{}: {}",
                            entry.name,
                            entry.vers,
                            e.for_mirror()
                        ));
                        continue;
                    }
                };
                let actual = verify::sha256_hex(&bundle);
                if !actual.eq_ignore_ascii_case(&entry.cksum) {
                    run.failed += 1;
                    all_done = false;
                    run.detail.push(format!(
                        "{}@{}: the bundle's sha256 is {actual}, the signed index says {}; not stored",
                        entry.name, entry.vers, entry.cksum
                    ));
                    continue;
                }
                let offer = Offer {
                    source: &source.name,
                    auto_approve: source.auto_approve,
                    kind: entry.kind,
                    name: &entry.name,
                    version: &entry.vers,
                    bundle: &bundle,
                    upstream_line: Some(entry),
                    upstream: serde_json::json!({
                        "url": upstream.base(),
                        "index_path": path,
                        "index_sha256": sha256,
                        "snapshot_version": upstream.snapshot().version,
                        "root_version": upstream.root().version,
                        "signature": "verified",
                        "provenance": entry.provenance,
                    }),
                };
                let outcome = self
                    .registry
                    .import_mirrored(&offer)
                    .map_err(|e| e.to_string())?;
                count(run, &format!("{}@{}", entry.name, entry.vers), outcome);
            }
            if all_done {
                self.registry
                    .set_mirror_state(
                        &source.name,
                        &state_key,
                        &format!("{sha256} {}", lines.len()),
                    )
                    .map_err(|e| e.to_string())?;
            }
            progress.tick(run);
        }
        Ok(())
    }
}

/// Writes a run's counts while it goes, at most once per [`Progress::EVERY`],
/// so a run a crash interrupts still shows what it did.
pub(super) struct Progress<'a> {
    registry: &'a Registry,
    id: i64,
    last: std::time::Instant,
}

impl<'a> Progress<'a> {
    const EVERY: Duration = Duration::from_secs(1);

    fn new(registry: &'a Registry, id: i64) -> Progress<'a> {
        Progress {
            registry,
            id,
            last: std::time::Instant::now(),
        }
    }

    /// Records `run` unless it was recorded less than [`Progress::EVERY`] ago.
    pub(super) fn tick(&mut self, run: &SyncRun) {
        if self.last.elapsed() < Self::EVERY {
            return;
        }
        self.last = std::time::Instant::now();
        if let Err(e) = self.registry.record_progress(self.id, run) {
            tracing::warn!(run = self.id, error = %e, "cannot record a sync run's progress");
        }
    }
}

impl Mirror {
    /// Yanks here a version this source mirrored and its upstream yanked,
    /// once: an admin's later unyank here stands.
    fn follow_yank(
        &self,
        source: &SourceConfig,
        name: &str,
        version: &str,
        run: &mut SyncRun,
    ) -> Result<(), String> {
        let key = format!("yanked:{}@{version}", crate::package::normalize(name));
        let registry = &self.registry;
        if registry
            .mirror_state(&source.name, &key)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Ok(());
        }
        if registry
            .yank_mirrored(&source.name, name, version)
            .map_err(|e| e.to_string())?
        {
            run.detail.push(format!(
                "{name}@{version}: yanked upstream, so yanked here too"
            ));
        }
        registry
            .set_mirror_state(&source.name, &key, "1")
            .map_err(|e| e.to_string())
    }
}

/// Adds what became of one offered version to a run's counts.
pub(crate) fn count(run: &mut SyncRun, label: &str, outcome: Imported) {
    match outcome {
        Imported::Added(status) => {
            run.added += 1;
            match status {
                VersionStatus::Pending => run.pending += 1,
                VersionStatus::Rejected => {
                    run.rejected += 1;
                    run.detail.push(format!("{label}: rejected by the policy"));
                }
                VersionStatus::Approved => {}
            }
        }
        Imported::Unchanged => run.unchanged += 1,
        Imported::AlreadyRejected => run.rejected += 1,
        Imported::Skipped(why) => {
            run.skipped += 1;
            run.detail.push(why);
        }
    }
}

/// include/exclude globs (`*` any run, `?` one character).
fn wanted(source: &SourceConfig, name: &str) -> bool {
    (source.include.is_empty() || source.include.iter().any(|g| glob(g, name)))
        && !source.exclude.iter().any(|g| glob(g, name))
}

fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// What a file that does not match its signed length and hash looked like,
/// without the advice the error carries for other cases.
fn tamper_facts(e: &verify::TrustError) -> String {
    match e {
        verify::TrustError::Mismatch {
            what,
            by,
            got,
            want,
        } => format!("mix-and-match: {what} is {got}, but the signed {by} lists {want}"),
        verify::TrustError::EndlessData { url, limit } => {
            format!("{url} sent more than the {limit} bytes its signed length allows")
        }
        other => other.for_mirror(),
    }
}

/// How often one run re-reads an upstream's signed metadata after finding
/// an index file newer than its snapshot (the upstream published meanwhile).
const MAX_REFRESHES: u32 = 3;

/// Retries transient failures (transport errors, 5xx) three times with
/// exponential backoff; verification failures are never retried.
fn with_retries<T>(
    mut f: impl FnMut() -> Result<T, verify::TrustError>,
) -> Result<T, verify::TrustError> {
    let mut wait = Duration::from_millis(200);
    for attempt in 0.. {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < 3 && e.is_transient() => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("pdf-*", "pdf-tools"));
        assert!(glob("*", "x"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("pdf-*", "tools-pdf"));
    }
}
