//! A few read-only connections for everything that only reads, so readers
//! do not queue behind one another (WAL lets them read while the writer
//! commits, each from its own consistent snapshot).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::{Store, StoreError, DB_FILE};

/// Read-only connections handed out one request at a time.
pub struct ReaderPool {
    readers: Vec<Mutex<Store>>,
    next: AtomicUsize,
}

impl ReaderPool {
    /// Opens `size` (at least one) read-only connections to the store in
    /// `data_dir`, which must exist and be migrated (open the writer first).
    pub fn open(data_dir: &Path, size: usize) -> Result<ReaderPool, StoreError> {
        let readers = (0..size.max(1))
            .map(|_| Store::open_read_only(&data_dir.join(DB_FILE)).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(ReaderPool {
            readers,
            next: AtomicUsize::new(0),
        })
    }

    /// A free connection, or (when all are busy) the next in turn, waited
    /// for. Starting from a rotating place spreads the waits.
    pub fn get(&self) -> MutexGuard<'_, Store> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(store) = self.readers[(start + i) % n].try_lock() {
                return store;
            }
        }
        self.readers[start % n]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// How many connections there are.
    pub fn size(&self) -> usize {
        self.readers.len()
    }
}
