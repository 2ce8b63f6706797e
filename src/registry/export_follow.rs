//! The static tree (`[export]`) follows the store off the publish path.
//!
//! A publish, yank, approval or import leaves its packages in the queue and
//! returns; the daemon's export task calls [`Registry::flush_export`], which
//! renders, signs and writes them on a store connection of its own, without
//! the writer lock. Rendering the tree's feed documents costs in proportion
//! to the registry, and writing can be slow (a bucket that drops packets
//! answers only after its client's timeouts): neither may hold up a publish
//! (`index-spec/export.md` §5.1).
//!
//! Nothing is lost to a crash: a start writes the whole tree again from the
//! store before the daemon serves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::export::Exporter;
use super::{Registry, RegistryError};
use crate::store::{PackageRow, Store};

/// The exporter, its own read connection, and the changes it has not
/// taken yet.
#[derive(Default)]
pub(super) struct TreeFollower {
    /// Whether there is a tree to follow (`[export]`).
    following: AtomicBool,
    /// `None` without `[export]`. Held by one flush at a time, and never
    /// taken while the writer lock is held (a flush takes them the other
    /// way round).
    exporter: Mutex<Option<Exporter>>,
    /// The exporter's own connection. It writes little (the next snapshot
    /// and timestamp versions, a feed zip it renders), each in a transaction
    /// of its own, which SQLite serializes with the writer's.
    store: Mutex<Option<Store>>,
    /// Packages changed since the last flush took them, by name (a later
    /// change of the same package replaces the row).
    pending: Mutex<BTreeMap<String, PackageRow>>,
    /// Changes queued so far, and how many of them the tree holds.
    queued: AtomicU64,
    written: AtomicU64,
    changes: tokio::sync::Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TreeFollower {
    /// Starts following with `exporter`, whose tree is up to date with the
    /// store, on the connection `store`.
    pub(super) fn start(&self, exporter: Exporter, store: Store) {
        tracing::info!(tree = %exporter.target(), "the static export follows every change");
        *lock(&self.exporter) = Some(exporter);
        *lock(&self.store) = Some(store);
        self.following.store(true, Ordering::SeqCst);
    }

    /// Queues `packages` for the tree and wakes the export task; returns at
    /// once.
    pub(super) fn changed(&self, packages: &[PackageRow]) {
        // Not the exporter's lock: a flush holds it while it writes.
        if !self.following.load(Ordering::SeqCst) {
            return;
        }
        let mut pending = lock(&self.pending);
        for package in packages {
            pending.insert(package.name.clone(), package.clone());
        }
        self.queued.fetch_add(1, Ordering::SeqCst);
        drop(pending);
        self.changes.notify_one();
    }

    /// Queues again packages a flush could not render, behind any newer
    /// change to them; the export task's next tick tries them again.
    fn retry_later(&self, packages: &[PackageRow]) {
        let mut pending = lock(&self.pending);
        for package in packages {
            pending
                .entry(package.name.clone())
                .or_insert_with(|| package.clone());
        }
    }

    /// The queued packages and the count of changes they cover.
    fn take(&self) -> (Vec<PackageRow>, u64) {
        let mut pending = lock(&self.pending);
        let queued = self.queued.load(Ordering::SeqCst);
        (
            std::mem::take(&mut *pending).into_values().collect(),
            queued,
        )
    }
}

impl Registry {
    /// Brings the static tree up to date with every change so far and
    /// follows key rotations and expiries into it; retries what an earlier
    /// flush could not write. Returns whether anything was written. Blocks
    /// while another flush runs; without `[export]` it does nothing.
    pub fn flush_export(&self) -> Result<bool, RegistryError> {
        let follower = &self.follower;
        let mut exporter = lock(&follower.exporter);
        let Some(exporter) = exporter.as_mut() else {
            return Ok(false);
        };
        // A key rotation may issue a root, as the daemon's own signing may:
        // under the writer lock, so that only one of them does.
        let resigned =
            exporter.refresh_signing(&self.data_dir, &mut self.writer(), &self.config.signing)?;
        let (packages, covered) = follower.take();
        let mut store = lock(&follower.store);
        let store = store
            .as_mut()
            .expect("a connection is set with the exporter");
        let (failed, placed) = if packages.is_empty() && !exporter.needs_signing() {
            (Vec::new(), Ok(()))
        } else {
            exporter.place(store, &self.blobs, &packages, &self.config.signing)
        };
        follower.retry_later(&failed);
        if exporter.needs_signing() {
            // The tree's snapshot could not be signed: writing the files
            // now would put index files beside a snapshot that does not
            // name them. The next flush signs again.
            return placed.map(|()| false);
        }
        let wrote =
            resigned || exporter.dirty() || follower.written.load(Ordering::SeqCst) < covered;
        if wrote {
            // The packages are in the exporter's cache now: were the write
            // to fail, the next flush writes them (the exporter is dirty).
            exporter.sync(store, &self.blobs)?;
        }
        // A package that would not render waits in the queue, and the
        // changes this flush took still count as not in the tree; the
        // others are written.
        if failed.is_empty() {
            follower.written.fetch_max(covered, Ordering::SeqCst);
        }
        placed.map(|()| wrote)
    }

    /// Changes not yet in the static tree (0 when it is up to date), or
    /// `None` without `[export]`.
    pub fn export_behind(&self) -> Option<u64> {
        let follower = &self.follower;
        if !follower.following.load(Ordering::SeqCst) {
            return None;
        }
        let queued = follower.queued.load(Ordering::SeqCst);
        Some(queued.saturating_sub(follower.written.load(Ordering::SeqCst)))
    }

    /// Waits until a change is queued for the static tree.
    pub async fn export_changed(&self) {
        self.follower.changes.notified().await
    }

    /// Queues `packages` for the static tree, if there is one.
    pub(super) fn export_packages(&self, packages: &[PackageRow]) {
        self.follower.changed(packages);
    }
}

#[cfg(test)]
mod tests;
