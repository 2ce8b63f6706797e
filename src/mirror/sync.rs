//! The mirror task: runs each source on its schedule and on demand, one run
//! at a time per source, recording every run in the store. What a run of
//! each kind does is in its own file: `registry_source`,
//! `marketplace_source`, `sparse`, `wellknown_source`, `clawhub_source`,
//! and `transfer` for `drop` sources.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::progress::Progress;
use super::sparse::Extra;
use super::status::SourceStatus;
use crate::config::{Config, SourceConfig, SourceKind};
use crate::fsutil::unix_now;
use crate::registry::Registry;
use crate::store::SyncRun;

/// Why a sync could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// No such source.
    #[error("no source is named `{0}`; see GET /admin/v1/sources")]
    UnknownSource(String),
    /// A lockfile was sent to a source that is not a `sparse` one.
    #[error("source `{0}` is not a `sparse` source; lockfiles are mirrored through one (kind = \"sparse\")")]
    NotSparse(String),
    /// The source runs already; a lockfile needs a run of its own.
    #[error("source `{0}` is syncing now; send the lockfile again when its run ends (GET /admin/v1/sync-runs)")]
    Busy(String),
    /// The lockfile cannot be used.
    #[error("{0}")]
    Lockfile(#[from] super::sparse::selection::SelectionError),
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
                    if let Err(e) = mirror.start(&name, None) {
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
            .map(|name| self.start(&name, None).map(|id| (name, id)))
            .collect()
    }

    /// Starts a run of the `sparse` source `name` that mirrors, besides its
    /// configured selection, the versions `lockfile` (from `origin`) locks.
    pub fn trigger_lockfile(
        self: &Arc<Self>,
        name: &str,
        origin: &str,
        lockfile: &str,
    ) -> Result<i64, MirrorError> {
        let source = self
            .sources
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| MirrorError::UnknownSource(name.to_string()))?;
        if source.kind != SourceKind::Sparse {
            return Err(MirrorError::NotSparse(name.to_string()));
        }
        // Refuse a lockfile that does not parse before starting anything.
        super::sparse::selection::Selection::default().add_lockfile(
            lockfile,
            origin,
            &super::sparse::lock_sources(source),
        )?;
        let extra = Extra {
            lockfiles: vec![(origin.to_string(), lockfile.to_string())],
        };
        self.start(name, Some(extra))
    }

    fn start(self: &Arc<Self>, name: &str, extra: Option<Extra>) -> Result<i64, MirrorError> {
        let source = self
            .sources
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .ok_or_else(|| MirrorError::UnknownSource(name.to_string()))?;
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = running.get(name) {
            return match extra {
                None => Ok(*id),
                Some(_) => Err(MirrorError::Busy(name.to_string())),
            };
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
        let source_name = source.name.clone();
        // A thread of its own, not the runtime's blocking pool: a run lasts
        // as long as its upstream takes, and the pool is kept small for
        // requests (`cli/serve.rs`, BLOCKING_THREADS).
        let spawned = std::thread::Builder::new()
            .name(format!("sync-{id}"))
            .spawn(move || {
            let run = mirror.run_source(&source, id, &extra.unwrap_or_default());
            if let Some(e) = &run.error {
                tracing::warn!(source = %source.name, run = id, error = %e, "sync run failed");
            } else {
                tracing::info!(source = %source.name, run = id, added = run.added, pending = run.pending, "sync run completed");
            }
            crate::crash_point::crash_point("mirror.before_finish");
            if let Err(e) = mirror.registry.finish_run(id, &run) {
                tracing::error!(source = %source.name, run = id, error = %e, "cannot record the end of a sync run");
            }
            mirror
                .running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source.name);
        });
        if let Err(e) = spawned {
            self.running
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&source_name);
            let error = format!("cannot start a thread for the run: {e}");
            tracing::error!(source = %source_name, run = id, %error, "sync run not started");
            let failed = SyncRun {
                status: "failed".into(),
                error: Some(error),
                ..Default::default()
            };
            if let Err(e) = self.registry.finish_run(id, &failed) {
                tracing::error!(source = %source_name, run = id, error = %e, "cannot record the end of a sync run");
            }
        }
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
                running: running.contains_key(&s.name),
                last_run: runs.iter().find(|r| r.source == s.name).map(|r| r.id),
                next_run: due.get(&s.name).copied(),
                interval: s.interval().ok().flatten(),
                auto_approve: s.auto_approve,
            })
            .collect())
    }

    fn run_source(&self, source: &SourceConfig, id: i64, extra: &Extra) -> SyncRun {
        let mut run = SyncRun {
            status: "completed".into(),
            ..Default::default()
        };
        let mut progress = Progress::new(&self.registry, id);
        let (registry, state) = (&self.registry, self.state_home.join(&source.name));
        let outcome = match source.kind {
            SourceKind::Registry => {
                super::registry_source::sync(registry, &state, source, &mut run, &mut progress)
                    .map_err(|e| e.to_string())
            }
            SourceKind::Marketplace => {
                super::marketplace_source::sync(registry, &state, source, &mut run, &mut progress)
                    .map_err(|e| e.to_string())
            }
            SourceKind::Drop => super::transfer::sync_drop(&self.registry, source, &mut run)
                .map_err(|e| e.to_string()),
            SourceKind::Sparse => {
                super::sparse::sync(registry, &state, source, extra, id, &mut run, &mut progress)
                    .map_err(|e| e.to_string())
            }
            SourceKind::Wellknown => {
                super::wellknown_source::sync(registry, &state, source, id, &mut run, &mut progress)
                    .map_err(|e| e.to_string())
            }
            SourceKind::Clawhub => {
                super::clawhub_source::sync(registry, &state, source, id, &mut run, &mut progress)
                    .map_err(|e| e.to_string())
            }
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
}
