//! The SQLite store: packages, versions, owners, tokens and the audit log.
//!
//! One file, `DATA/skillreg.db`, in WAL mode with `synchronous = FULL`, so a
//! committed transaction survives a crash. Every multi-step change runs in one
//! transaction. The schema evolves through [`MIGRATIONS`], tracked by
//! `PRAGMA user_version`.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

use crate::fsutil::unix_now;
use crate::package::{Kind, PackageName};
use crate::token::{self, Identity, Role};

mod audit;
mod feeds;
mod packages;
mod pool;
mod publisher_keys;
mod quarantine;
mod review;
mod roots;
mod schema;
mod search;
mod stats;
mod sync_runs;
mod tokens;
mod transfer;
mod versions;

pub use audit::AuditRecord;
pub use feeds::{FeedArchiveRow, PublicVersion};
pub use packages::{PackageRow, SearchHit};
pub use pool::{PooledReader, ReaderPool};
pub use publisher_keys::PublisherKey;
pub use quarantine::VersionCheck;
pub use review::ReviewRow;
pub use schema::MIGRATIONS;
pub use search::{
    NameMatch, QueryError, SearchFilter, SearchPage, SearchRow, SearchText, MAX_QUERY_CHARS,
    MAX_QUERY_WORDS,
};
pub use stats::{StoreStats, SyncRunTotals};
pub use sync_runs::{SyncRun, SyncRunRow};
pub use tokens::{TokenInfo, TokenRecord};
pub use transfer::TransferRow;
pub use versions::{BlobRef, EntryRow, MirrorFacts, NewVersion, VersionStatus};

use audit::audit;
use packages::package_row;

/// Turns off SQLite's memory statistics, process-wide. Keeping them takes
/// one global mutex on every allocation, so readers searching at once
/// queue on it (a profile of 64 concurrent searches spent more time
/// waiting there than searching); skillreg never reads them. Call it first
/// thing in `main`: SQLite allows this only before its first connection,
/// and it must not run while another thread uses SQLite.
pub fn configure_sqlite() {
    // SAFETY: called from `main` before any other thread exists and before
    // any connection (after one, SQLite refuses with SQLITE_MISUSE and
    // changes nothing); SQLITE_CONFIG_MEMSTATUS takes one int argument.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::warn!(rc, "SQLite memory statistics stay on");
    }
}

/// The database file name inside the data dir.
pub const DB_FILE: &str = "skillreg.db";

/// A store failure. Conflicts carry enough to tell the user what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite itself failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer skillreg.
    #[error("the database schema is version {found}, newer than this skillreg understands ({known}); upgrade skillreg")]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest this build knows.
        known: i64,
    },
    /// The name (or a spelling that normalizes the same) belongs to another package.
    #[error("the name `{wanted}` is taken by the {kind} `{existing}` (names are unique across kinds, ignoring case and `-`/`_`); choose another name")]
    NameTaken {
        /// The name asked for.
        wanted: String,
        /// The package that has it.
        existing: String,
        /// That package's kind.
        kind: Kind,
    },
    /// The version (ignoring build metadata) was already published.
    #[error("{name}@{existing} already exists; versions are immutable: publish a new version (yank the old one if it is broken)")]
    VersionExists {
        /// The package.
        name: String,
        /// The version already stored (may differ in build metadata).
        existing: String,
    },
    /// The package or version does not exist.
    #[error("{0} was not found in this registry")]
    NotFound(String),
    /// A refused change to owners.
    #[error("{0}")]
    Owners(String),
    /// A change that conflicts with what is stored (e.g. a root version gap).
    #[error("{0}")]
    Conflict(String),
    /// The version was taken out of service by `skillreg fsck --repair`.
    #[error("{name} is quarantined by `skillreg fsck --repair` ({reason}) and is not served; an operator restores its blob from a backup and runs `skillreg fsck --repair` again")]
    Quarantined {
        /// `name@version`.
        name: String,
        /// Why.
        reason: String,
    },
}

/// One connection to the store.
pub struct Store {
    conn: Connection,
}
impl Store {
    /// Opens (creating and migrating) `DATA/skillreg.db`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the database file `db` read-only, as it is (no migration, no
    /// journal change): for checks and backups of a store another process
    /// may be writing.
    pub fn open_read_only(db: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Store { conn })
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(sql)?;
            schema::after(&tx, i + 1)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs a query and collects every row through `row`.
    fn all<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `pass` inside one write transaction, committed when it
    /// succeeds (rolled back when it fails): for a pass over many packages
    /// at start-up, so that its thousands of queries take SQLite's file
    /// locks once and the rows it caches on the way (feed zips) cost one
    /// commit, not one fsync each. `BEGIN IMMEDIATE` takes the write lock
    /// up front: a deferred read that later writes would fail outright
    /// (`SQLITE_BUSY_SNAPSHOT`) if another process committed in between.
    /// Other writers wait (the busy timeout) while it runs, so callers keep
    /// each pass short. `pass` must not start a transaction of its own.
    pub fn in_one_transaction<T, E: From<StoreError>>(
        &self,
        pass: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        match pass(self) {
            Ok(out) => {
                if let Err(e) = self.conn.execute_batch("COMMIT") {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err(StoreError::from(e).into());
                }
                Ok(out)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// A number that changes whenever another connection commits: the
    /// daemon's cue to reload cached tokens.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests;
