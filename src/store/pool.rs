//! A few read-only connections for everything that only reads, so readers
//! do not queue behind one another (WAL lets them read while the writer
//! commits, each from its own consistent snapshot).
//!
//! When every connection is busy, readers wait in line: a connection given
//! back goes straight to the one who has waited longest. Without the line,
//! a thread that has just given one back takes it again at once while
//! others wait on, and a search under load waits several turns at worst.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{Store, StoreError, DB_FILE};

/// Read-only connections handed out one request at a time, in the order
/// they were asked for.
pub struct ReaderPool {
    slots: Mutex<Slots>,
    size: usize,
}

/// The free connections, and who waits for one (oldest first).
struct Slots {
    free: Vec<Store>,
    waiting: VecDeque<Arc<Handoff>>,
}

/// Where a waiting reader is handed its connection.
#[derive(Default)]
struct Handoff {
    store: Mutex<Option<Store>>,
    handed: Condvar,
}

/// A connection out of the pool; it goes back when dropped.
pub struct PooledReader<'a> {
    pool: &'a ReaderPool,
    store: Option<Store>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ReaderPool {
    /// Opens `size` (at least one) read-only connections to the store in
    /// `data_dir`, which must exist and be migrated (open the writer first).
    pub fn open(data_dir: &Path, size: usize) -> Result<ReaderPool, StoreError> {
        let free: Vec<Store> = (0..size.max(1))
            .map(|_| Store::open_read_only(&data_dir.join(DB_FILE)))
            .collect::<Result<_, _>>()?;
        Ok(ReaderPool {
            size: free.len(),
            slots: Mutex::new(Slots {
                free,
                waiting: VecDeque::new(),
            }),
        })
    }

    /// A free connection, or (when all are busy) the first one given back
    /// after those who asked earlier have theirs.
    pub fn get(&self) -> PooledReader<'_> {
        let handoff = {
            let mut slots = lock(&self.slots);
            if slots.waiting.is_empty() {
                if let Some(store) = slots.free.pop() {
                    return PooledReader {
                        pool: self,
                        store: Some(store),
                    };
                }
            }
            let handoff = Arc::new(Handoff::default());
            slots.waiting.push_back(handoff.clone());
            handoff
        };
        let mut store = lock(&handoff.store);
        loop {
            if let Some(store) = store.take() {
                return PooledReader {
                    pool: self,
                    store: Some(store),
                };
            }
            store = handoff
                .handed
                .wait(store)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives `store` to the reader who has waited longest, or back to the
    /// free list.
    fn give_back(&self, store: Store) {
        let mut slots = lock(&self.slots);
        match slots.waiting.pop_front() {
            Some(next) => {
                drop(slots);
                *lock(&next.store) = Some(store);
                next.handed.notify_one();
            }
            None => slots.free.push(store),
        }
    }

    /// How many connections there are.
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many readers wait for a connection.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        lock(&self.slots).waiting.len()
    }
}

impl Deref for PooledReader<'_> {
    type Target = Store;

    fn deref(&self) -> &Store {
        self.store.as_ref().expect("held until dropped")
    }
}

impl DerefMut for PooledReader<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.store.as_mut().expect("held until dropped")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            self.pool.give_back(store);
        }
    }
}
