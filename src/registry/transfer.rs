//! The registry side of air-gap transfers (`skillreg import`, `drop`
//! sources): storing every version of a verified archive in ONE store
//! transaction, with the same checks as a mirrored version
//! ([`Registry::import_mirrored`]): validated like a publish, checked by the
//! policy, pending unless auto-approved, a rejected version stays rejected,
//! a version already here is left as it is.
//!
//! Reading and verifying the archive is [`crate::mirror::transfer`]'s job;
//! what arrives here is already checked against the signed manifest.
//!
//! Blobs are put in the (content-addressed, durable) blob store before the
//! transaction, as a publish does: a crash in between leaves only
//! unreferenced blobs, never a version without its blob.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::imports::{check_offer, mirror_identity, store_verdict, Checked};
use super::{mirror_login, Imported, Offer, Registry, RegistryError};
use crate::blobs::BlobStore;
use crate::config::Config;
use crate::index::IndexEntry;
use crate::package::{self, Kind};
use crate::store::{PackageRow, Store, SyncRun, VersionStatus};

/// One version of a verified transfer archive, offered for import.
#[derive(Debug, Clone)]
pub struct TransferItem {
    /// Package kind.
    pub kind: Kind,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// The staged blob, already checked against the manifest's sha256 and size.
    pub blob: PathBuf,
    /// The exporter's index line (kept: deps, features, provenance…).
    pub line: IndexEntry,
    /// That line's text as the exporter served it: a crate's is stored
    /// byte for byte ([`crate::index::verbatim`]).
    pub line_text: String,
    /// Approve without review (a `drop` source with `auto_approve`, and only
    /// for versions the exporter had approved).
    pub auto_approve: bool,
    /// Facts for reviewers: archive, exporter root, upstream status, provenance.
    pub upstream: serde_json::Value,
}

/// Where a transfer is imported: the daemon's [`Registry`] (a `drop`
/// source) or an [`OfflineRegistry`] (`skillreg import`).
pub trait TransferSink {
    /// The data directory (staging lives below it, on the blob store's file system).
    fn data_dir(&self) -> &Path;
    /// The configuration (limits, policy).
    fn config(&self) -> &Config;
    /// The status of `name@version` if it is stored.
    fn status(&self, name: &str, version: &str) -> Result<Option<VersionStatus>, RegistryError>;
    /// A mirror-state value of a source.
    fn state(&self, source: &str, key: &str) -> Result<Option<String>, RegistryError>;
    /// Sets a mirror-state value, durably.
    fn set_state(&self, source: &str, key: &str, value: &str) -> Result<(), RegistryError>;
    /// Starts a sync run.
    fn begin_run(&self, source: &str) -> Result<i64, RegistryError>;
    /// Records the end of a sync run.
    fn end_run(&self, id: i64, run: &SyncRun) -> Result<(), RegistryError>;
    /// Imports every item in one store transaction; one outcome per item, in order.
    fn import_batch(
        &self,
        source: &str,
        items: &[TransferItem],
    ) -> Result<Vec<Imported>, RegistryError>;
}

/// An item after the checks that need no lock: an outcome already, or a
/// version ready for the store checks and the insert.
enum Step {
    Done(Imported),
    Ready {
        checked: Box<Checked>,
        kind: Kind,
        upstream: String,
    },
}

/// Validates each item and runs the policy, outside any lock, one bundle in
/// memory at a time; a version already stored is not read at all. The blob
/// of every version that may be inserted is put in the blob store.
fn prepare(
    config: &Config,
    blobs: &BlobStore,
    source: &str,
    items: &[TransferItem],
    status_of: impl Fn(&str, &str) -> Result<Option<VersionStatus>, RegistryError>,
) -> Result<Vec<Step>, RegistryError> {
    let mut steps = Vec::with_capacity(items.len());
    for item in items {
        match status_of(&item.name, &item.version)? {
            Some(VersionStatus::Rejected) => {
                steps.push(Step::Done(Imported::AlreadyRejected));
                continue;
            }
            Some(_) => {
                steps.push(Step::Done(Imported::Unchanged));
                continue;
            }
            None => {}
        }
        let bundle = std::fs::read(&item.blob)?;
        let offer = Offer {
            source,
            auto_approve: item.auto_approve,
            kind: item.kind,
            name: &item.name,
            version: &item.version,
            bundle: &bundle,
            upstream_line: Some(&item.line),
            verbatim_line: (item.kind == Kind::Crate).then_some(item.line_text.as_str()),
            upstream: item.upstream.clone(),
        };
        match check_offer(config, &offer) {
            Ok(checked) => {
                blobs.put(&bundle)?;
                steps.push(Step::Ready {
                    checked: Box::new(checked),
                    kind: item.kind,
                    upstream: item.upstream.to_string(),
                });
            }
            Err(outcome) => steps.push(Step::Done(outcome)),
        }
    }
    Ok(steps)
}

/// Runs the store checks and inserts every version that passes in one
/// transaction (all or none). Returns the outcomes and the packages that
/// gained an approved version (to re-render).
fn commit(
    store: &mut Store,
    source: &str,
    steps: Vec<Step>,
) -> Result<(Vec<Imported>, Vec<PackageRow>), RegistryError> {
    let owner = mirror_login(source);
    let identity = mirror_identity(&owner);
    let mut outcomes: Vec<Option<Imported>> = Vec::with_capacity(steps.len());
    let mut ready: Vec<(usize, Box<Checked>, Kind, String)> = Vec::new();
    // Packages this batch creates (not in the store until the commit), and
    // every version key it inserts: the same checks store_verdict makes
    // against the store, made against the batch.
    let mut batch_names: HashMap<String, (String, Kind)> = HashMap::new();
    let mut batch_versions: HashSet<(String, String)> = HashSet::new();
    for (i, step) in steps.into_iter().enumerate() {
        let (checked, kind, upstream) = match step {
            Step::Done(outcome) => {
                outcomes.push(Some(outcome));
                continue;
            }
            Step::Ready {
                checked,
                kind,
                upstream,
            } => (checked, kind, upstream),
        };
        if let Some(outcome) = store_verdict(store, source, kind, &checked)? {
            outcomes.push(Some(outcome));
            continue;
        }
        let skipped = |why: String| {
            Some(Imported::Skipped(format!(
                "{}@{}: {why}",
                checked.name, checked.version
            )))
        };
        let normalized = checked.name.normalized();
        if let Some((name, other_kind)) = batch_names.get(&normalized) {
            if name != checked.name.as_str() || *other_kind != kind {
                outcomes.push(skipped(format!(
                    "the archive also holds the {other_kind} `{name}`, whose name clashes"
                )));
                continue;
            }
        }
        let key = (normalized.clone(), package::version_key(&checked.version));
        if !batch_versions.insert(key) {
            outcomes.push(skipped(
                "the archive holds this version twice (versions differing in build metadata clash)"
                    .into(),
            ));
            continue;
        }
        batch_names.insert(normalized, (checked.name.to_string(), kind));
        outcomes.push(None);
        ready.push((i, checked, kind, upstream));
    }
    let news: Vec<_> = ready
        .iter()
        .map(|(_, checked, kind, upstream)| checked.new_version(*kind, &identity, source, upstream))
        .collect();
    let rows = if news.is_empty() {
        Vec::new()
    } else {
        store.insert_versions(&news)?
    };
    let mut approved: Vec<PackageRow> = Vec::new();
    for ((i, checked, ..), row) in ready.iter().zip(rows) {
        outcomes[*i] = Some(Imported::Added(checked.status));
        if checked.status == VersionStatus::Approved {
            // The last row of a package carries its newest updated_at.
            approved.retain(|p| p.id != row.id);
            approved.push(row);
        }
    }
    Ok((
        outcomes
            .into_iter()
            .map(|o| o.expect("every step has an outcome"))
            .collect(),
        approved,
    ))
}

impl Registry {
    /// The configuration the registry runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Imports the versions of a verified transfer archive in one store
    /// transaction; approved ones (auto-approve) are rendered and signed
    /// once, at the end.
    pub fn import_transfer(
        &self,
        source: &str,
        items: &[TransferItem],
    ) -> Result<Vec<Imported>, RegistryError> {
        let steps = prepare(&self.config, &self.blobs, source, items, |n, v| {
            self.version_status(n, v)
        })?;
        let mut store = self.writer();
        let (outcomes, approved) = commit(&mut store, source, steps)?;
        if !approved.is_empty() {
            let mut signing = self.signing();
            for package in &approved {
                self.render(&store, &mut signing, package)?;
            }
            self.sign_snapshot(&mut store, &mut signing)?;
            self.export_packages(&approved);
        }
        Ok(outcomes)
    }
}

impl TransferSink for Registry {
    fn data_dir(&self) -> &Path {
        Registry::data_dir(self)
    }
    fn config(&self) -> &Config {
        &self.config
    }
    fn status(&self, name: &str, version: &str) -> Result<Option<VersionStatus>, RegistryError> {
        self.version_status(name, version)
    }
    fn state(&self, source: &str, key: &str) -> Result<Option<String>, RegistryError> {
        self.mirror_state(source, key)
    }
    fn set_state(&self, source: &str, key: &str, value: &str) -> Result<(), RegistryError> {
        self.set_mirror_state(source, key, value)
    }
    fn begin_run(&self, source: &str) -> Result<i64, RegistryError> {
        self.start_run(source)
    }
    fn end_run(&self, id: i64, run: &SyncRun) -> Result<(), RegistryError> {
        self.finish_run(id, run)
    }
    fn import_batch(
        &self,
        source: &str,
        items: &[TransferItem],
    ) -> Result<Vec<Imported>, RegistryError> {
        self.import_transfer(source, items)
    }
}

/// A data directory opened by the CLI (`skillreg import`), with or without
/// a daemon running on it: SQLite (WAL, busy timeout) serializes the writes,
/// and nothing is rendered or signed. Versions arrive pending (never
/// auto-approved), and a running daemon's index holds approved versions
/// only, so it needs no re-render; admins review them through its API.
pub struct OfflineRegistry {
    data_dir: PathBuf,
    config: Config,
    store: Mutex<Store>,
    blobs: BlobStore,
}

impl OfflineRegistry {
    /// Opens `config.data_dir`; with `create`, a missing data directory is
    /// created (the daemon adds keys and the admin token at its first start).
    pub fn open(config: &Config, create: bool) -> Result<OfflineRegistry, RegistryError> {
        let data_dir = config.data_dir.clone();
        if !data_dir.join(crate::store::DB_FILE).exists() {
            if !create {
                return Err(RegistryError::BadRequest(format!(
                    "{} holds no skillreg database; pass the daemon's --data directory (or --create to start a new one)",
                    data_dir.display()
                )));
            }
            crate::fsutil::create_private_dir(&data_dir)?;
        }
        Ok(OfflineRegistry {
            store: Mutex::new(Store::open(&data_dir)?),
            blobs: BlobStore::attach(&data_dir)?,
            config: config.clone(),
            data_dir,
        })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TransferSink for OfflineRegistry {
    fn data_dir(&self) -> &Path {
        &self.data_dir
    }
    fn config(&self) -> &Config {
        &self.config
    }
    fn status(&self, name: &str, version: &str) -> Result<Option<VersionStatus>, RegistryError> {
        Ok(self.store().review_row(name, version)?.map(|r| r.status))
    }
    fn state(&self, source: &str, key: &str) -> Result<Option<String>, RegistryError> {
        Ok(self.store().mirror_state(source, key)?)
    }
    fn set_state(&self, source: &str, key: &str, value: &str) -> Result<(), RegistryError> {
        Ok(self.store().set_mirror_state(source, key, value)?)
    }
    fn begin_run(&self, source: &str) -> Result<i64, RegistryError> {
        Ok(self.store().start_run(source)?)
    }
    fn end_run(&self, id: i64, run: &SyncRun) -> Result<(), RegistryError> {
        Ok(self.store().finish_run(id, run)?)
    }
    fn import_batch(
        &self,
        source: &str,
        items: &[TransferItem],
    ) -> Result<Vec<Imported>, RegistryError> {
        // Nothing here re-renders a running daemon's index: never approve.
        let items: Vec<TransferItem> = items
            .iter()
            .map(|i| TransferItem {
                auto_approve: false,
                ..i.clone()
            })
            .collect();
        let steps = prepare(&self.config, &self.blobs, source, &items, |n, v| {
            self.status(n, v)
        })?;
        let (outcomes, approved) = commit(&mut self.store(), source, steps)?;
        debug_assert!(approved.is_empty());
        Ok(outcomes)
    }
}
