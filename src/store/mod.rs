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

mod schema;
pub use schema::MIGRATIONS;

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
}

/// A package as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRow {
    /// Row id.
    pub id: i64,
    /// Name as first published.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Unix seconds of the last publish or yank (the index file's Last-Modified).
    pub updated_at: i64,
}

/// A version ready to be inserted.
#[derive(Debug)]
pub struct NewVersion<'a> {
    /// The package name.
    pub name: &'a PackageName,
    /// The kind.
    pub kind: Kind,
    /// The exact version.
    pub version: &'a semver::Version,
    /// Hex sha256 of the blob (cargo's `cksum`).
    pub cksum: &'a str,
    /// Blob size in bytes.
    pub size: u64,
    /// The index entry JSON, fixed forever except `yanked`.
    pub entry_json: &'a str,
    /// One-line description for search.
    pub description: &'a str,
    /// Keywords for search.
    pub keywords: &'a [String],
    /// Who publishes.
    pub publisher: &'a Identity,
    /// The bundle's files as JSON (`[{path, size, sha256, …}]`), for diffs.
    pub files_json: &'a str,
    /// Set for mirrored versions: where they came from and their state.
    pub mirror: Option<MirrorFacts<'a>>,
}

/// What a mirrored version carries besides its bundle.
#[derive(Debug, Clone, Copy)]
pub struct MirrorFacts<'a> {
    /// The `[[sources]]` name.
    pub source: &'a str,
    /// `pending`, or `approved` when the source or policy approves it.
    pub status: VersionStatus,
    /// JSON: upstream URL, commit or index hash, signature status.
    pub upstream: &'a str,
    /// JSON: the policy's findings.
    pub findings: &'a str,
}

/// Whether a version is public.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionStatus {
    /// In the index, downloadable.
    Approved,
    /// Mirrored, waiting for an admin; hidden from clients.
    Pending,
    /// Refused by an admin or the policy; stays refused across re-syncs.
    Rejected,
}

impl VersionStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Approved => "approved",
            VersionStatus::Pending => "pending",
            VersionStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> VersionStatus {
        match s {
            "pending" => VersionStatus::Pending,
            "rejected" => VersionStatus::Rejected,
            _ => VersionStatus::Approved,
        }
    }
}

/// A version waiting for (or past) an admin's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRow {
    /// Version row id.
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// Mirror source, if mirrored.
    pub source: Option<String>,
    /// Upstream facts (JSON).
    pub upstream: String,
    /// Findings (JSON).
    pub findings: String,
    /// Files (JSON).
    pub files: String,
    /// Bundle checksum.
    pub cksum: String,
    /// Current status.
    pub status: VersionStatus,
}

/// One version's index entry and yank state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    /// The stored entry JSON.
    pub entry_json: String,
    /// Whether it is yanked now.
    pub yanked: bool,
}

/// A version's blob, for downloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// Hex sha256.
    pub cksum: String,
    /// Size in bytes.
    pub size: u64,
}

/// A search result in cargo's shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SearchHit {
    /// Package name.
    pub name: String,
    /// Highest non-yanked version.
    pub max_version: String,
    /// Description of that version.
    pub description: String,
    /// Package kind (a skillreg extension).
    pub kind: Kind,
}

/// A token as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Row id (the number inside the token).
    pub id: i64,
    /// The login it acts for.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// The counts and outcome of one sync run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncRun {
    /// `running`, `completed` or `failed`.
    pub status: String,
    /// Versions seen upstream (after include/exclude).
    pub discovered: i64,
    /// New versions stored.
    pub added: i64,
    /// Index files that changed upstream and were re-read.
    pub updated: i64,
    /// Versions already here.
    pub unchanged: i64,
    /// New versions waiting for review.
    pub pending: i64,
    /// Versions rejected (before, or by the policy now).
    pub rejected: i64,
    /// Versions skipped, each with its reason in `detail`.
    pub skipped: i64,
    /// Versions that failed (download, checksum), each in `detail`.
    pub failed: i64,
    /// Why the run failed.
    pub error: Option<String>,
    /// One line per skipped or failed item.
    pub detail: Vec<String>,
}

/// One version as an air-gap transfer exports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRow {
    /// Package name.
    pub name: String,
    /// Kind.
    pub kind: Kind,
    /// Exact version.
    pub version: String,
    /// Hex sha256 of the blob.
    pub cksum: String,
    /// Blob size.
    pub size: u64,
    /// The stored index line.
    pub entry_json: String,
    /// Approved or pending.
    pub status: VersionStatus,
    /// Unix seconds.
    pub published_at: i64,
    /// The mirror source it came from here, if mirrored.
    pub source: Option<String>,
    /// Upstream facts (JSON), for mirrored versions.
    pub upstream: String,
    /// The signed decision statement, if an admin decided.
    pub decision: Option<Vec<u8>>,
}

/// A stored run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRunRow {
    /// Run id.
    pub id: i64,
    /// Source name.
    pub source: String,
    /// Counts and outcome.
    pub run: SyncRun,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, when finished.
    pub finished_at: Option<i64>,
}

/// One audit-log entry: who did what, when, to what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// The login (or `cli`, `bootstrap`) that acted.
    pub actor: String,
    /// `publish`, `yank`, `unyank`, `owner-add`, `token-create`, …
    pub action: String,
    /// What it acted on (`name@version`, `token 3`, …).
    pub subject: String,
    /// Extra facts (kind and checksum, role, …).
    pub detail: String,
}

/// A live token's stored hash, for the daemon's authentication cache.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// The login.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// sha256 of the secret.
    pub hash: Vec<u8>,
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

    /// A number that changes whenever another connection commits: the
    /// daemon's cue to reload cached tokens.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// Finds a package by any spelling of its name.
    pub fn package(&self, name: &str) -> Result<Option<PackageRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, kind, updated_at FROM packages WHERE normalized = ?1",
                [crate::package::normalize(name)],
                package_row,
            )
            .optional()?)
    }

    /// The stored version of `package_id` equal to `version` ignoring build
    /// metadata, if any.
    pub fn clashing_version(
        &self,
        package_id: i64,
        version: &semver::Version,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT version FROM versions WHERE package_id = ?1 AND version_key = ?2",
            )?
            .query_row(
                params![package_id, crate::package::version_key(version)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Registers a publisher key for `login` (idempotent).
    pub fn add_publisher_key(
        &mut self,
        login: &str,
        keyid: &str,
        public_key: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO publisher_keys (login, keyid, public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![login, keyid, public_key, unix_now()],
        )?;
        if added > 0 {
            audit(&tx, login, "publisher-key-add", login, keyid)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The keys registered by `login`.
    pub fn publisher_keys(&self, login: &str) -> Result<Vec<crate::api::PublisherKey>, StoreError> {
        self.all(
            "SELECT keyid, public_key, created_at FROM publisher_keys WHERE login = ?1 ORDER BY created_at, keyid",
            [login],
            |r| {
                Ok(crate::api::PublisherKey {
                    keyid: r.get(0)?,
                    public_key: r.get(1)?,
                    created_at: r.get(2)?,
                })
            },
        )
    }

    /// Versions with `status`, oldest first.
    pub fn versions_with_status(
        &self,
        status: VersionStatus,
    ) -> Result<Vec<ReviewRow>, StoreError> {
        self.all(
            "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status
             FROM versions v JOIN packages p ON p.id = v.package_id
             WHERE v.status = ?1 ORDER BY v.id",
            [status.as_str()],
            review_row,
        )
    }

    /// One version for review. When a claim superseded an older row with
    /// the same exact version, this is the newest (live) one.
    pub fn review_row(&self, name: &str, version: &str) -> Result<Option<ReviewRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status
                 FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.version = ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(name), version], review_row)
            .optional()?)
    }

    /// The newest approved version of a package other than `except`, for diffs.
    pub fn last_approved(
        &self,
        package_name: &str,
        except: i64,
    ) -> Result<Option<ReviewRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.id, p.name, v.version, p.kind, v.source, v.upstream, v.findings, v.files, v.cksum, v.status
                 FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.status = 'approved' AND v.id != ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(package_name), except], review_row)
            .optional()?)
    }

    /// Records an admin's decision on a pending version in one transaction:
    /// the status, who, when, why, the signed statement and the audit entry.
    /// Deciding twice the same way is refused, so a stale click shows.
    pub fn decide(
        &mut self,
        version_id: i64,
        status: VersionStatus,
        actor: &str,
        note: &str,
        statement: &[u8],
    ) -> Result<PackageRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (current, name, version, package_id): (String, String, String, i64) = tx.query_row(
            "SELECT v.status, p.name, v.version, p.id FROM versions v JOIN packages p ON p.id = v.package_id
             WHERE v.id = ?1",
            [version_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        if current == status.as_str() {
            return Err(StoreError::Conflict(format!(
                "{name}@{version} is already {current}"
            )));
        }
        let now = unix_now();
        tx.execute(
            "UPDATE versions SET status = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5 WHERE id = ?1",
            params![version_id, status.as_str(), actor, now, note],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO approvals (version_id, statement) VALUES (?1, ?2)",
            params![version_id, statement],
        )?;
        tx.execute(
            "UPDATE packages SET updated_at = ?2 WHERE id = ?1",
            params![package_id, now],
        )?;
        let action = match status {
            VersionStatus::Approved => "approve",
            VersionStatus::Rejected => "reject",
            VersionStatus::Pending => "reopen",
        };
        audit(&tx, actor, action, &format!("{name}@{version}"), note)?;
        let row = tx.query_row(
            "SELECT id, name, kind, updated_at FROM packages WHERE id = ?1",
            [package_id],
            package_row,
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// The signed decision statement of a version, if any.
    pub fn decision_statement(&self, version_id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT statement FROM approvals WHERE version_id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Hex checksums of every approved version (what a static export serves).
    pub fn approved_cksums(&self) -> Result<Vec<String>, StoreError> {
        self.all(
            "SELECT DISTINCT cksum FROM versions WHERE status = 'approved' ORDER BY cksum",
            [],
            |r| r.get(0),
        )
    }

    /// The versions an air-gap transfer carries: approved (and, with
    /// `include_pending`, pending) versions that are not yanked, published
    /// or decided at or after `since` (unix seconds), by package then age.
    pub fn transfer_rows(
        &self,
        include_pending: bool,
        since: i64,
    ) -> Result<Vec<TransferRow>, StoreError> {
        self.all(
            "SELECT p.name, p.kind, v.version, v.cksum, v.size, v.entry_json, v.status,
                    v.published_at, v.source, v.upstream, a.statement
             FROM versions v JOIN packages p ON p.id = v.package_id
             LEFT JOIN approvals a ON a.version_id = v.id
             WHERE v.yanked = 0
               AND (v.status = 'approved' OR (?1 AND v.status = 'pending'))
               AND MAX(v.published_at, COALESCE(v.decided_at, 0)) >= ?2
             ORDER BY p.normalized, v.id",
            params![include_pending, since],
            |r| {
                let kind: String = r.get(1)?;
                Ok(TransferRow {
                    name: r.get(0)?,
                    kind: Kind::parse(&kind).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    version: r.get(2)?,
                    cksum: r.get(3)?,
                    size: r.get::<_, i64>(4)? as u64,
                    entry_json: r.get(5)?,
                    status: VersionStatus::parse(&r.get::<_, String>(6)?),
                    published_at: r.get(7)?,
                    source: r.get(8)?,
                    upstream: r.get(9)?,
                    decision: r.get(10)?,
                })
            },
        )
    }

    /// Starts a sync run for `source` and returns its id.
    pub fn start_run(&mut self, source: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO sync_runs (source, status, started_at) VALUES (?1, 'running', ?2)",
            params![source, unix_now()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run.
    pub fn finish_run(&mut self, id: i64, run: &SyncRun) -> Result<(), StoreError> {
        self.update_run(id, run, true)
    }

    /// Records the counts and detail of a run still going (its status stays
    /// `running`), so a run a crash interrupts shows what it had done.
    pub fn record_progress(&mut self, id: i64, run: &SyncRun) -> Result<(), StoreError> {
        self.update_run(id, run, false)
    }

    fn update_run(&mut self, id: i64, run: &SyncRun, finished: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE sync_runs SET status = CASE WHEN ?14 THEN ?2 ELSE status END,
                 finished_at = CASE WHEN ?14 THEN ?3 ELSE finished_at END,
                 discovered = ?4, added = ?5, updated = ?6,
                 unchanged = ?7, pending = ?8, rejected = ?9, skipped = ?10, failed = ?11, error = ?12, detail = ?13
             WHERE id = ?1 AND (?14 OR status = 'running')",
            params![
                id,
                run.status,
                unix_now(),
                run.discovered,
                run.added,
                run.updated,
                run.unchanged,
                run.pending,
                run.rejected,
                run.skipped,
                run.failed,
                run.error,
                serde_json::to_string(&run.detail).expect("strings serialize"),
                finished,
            ],
        )?;
        Ok(())
    }

    /// Marks runs left `running` by a crash as failed; returns their sources.
    pub fn fail_interrupted_runs(&mut self) -> Result<Vec<String>, StoreError> {
        let sources = self.all(
            "SELECT DISTINCT source FROM sync_runs WHERE status = 'running'",
            [],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "UPDATE sync_runs SET status = 'failed', finished_at = ?1,
                 error = 'interrupted: the daemon stopped during this run; the next run resumes it'
             WHERE status = 'running'",
            [unix_now()],
        )?;
        Ok(sources)
    }

    /// Sync runs, newest first (at most `limit`).
    pub fn runs(&self, limit: usize) -> Result<Vec<SyncRunRow>, StoreError> {
        self.all(
            "SELECT id, source, status, started_at, finished_at, discovered, added, updated, unchanged,
                    pending, rejected, skipped, failed, error, detail
             FROM sync_runs ORDER BY id DESC LIMIT ?1",
            [limit as i64],
            |r| {
                Ok(SyncRunRow {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    run: SyncRun {
                        status: r.get(2)?,
                        discovered: r.get(5)?,
                        added: r.get(6)?,
                        updated: r.get(7)?,
                        unchanged: r.get(8)?,
                        pending: r.get(9)?,
                        rejected: r.get(10)?,
                        skipped: r.get(11)?,
                        failed: r.get(12)?,
                        error: r.get(13)?,
                        detail: serde_json::from_str(&r.get::<_, String>(14)?).unwrap_or_default(),
                    },
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                })
            },
        )
    }

    /// A mirror-state value of `source`.
    pub fn mirror_state(&self, source: &str, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM mirror_state WHERE source = ?1 AND key = ?2")?
            .query_row(params![source, key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a mirror-state value (committed at once, so a crash keeps it).
    pub fn set_mirror_state(
        &mut self,
        source: &str,
        key: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO mirror_state (source, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT(source, key) DO UPDATE SET value = excluded.value",
            params![source, key, value],
        )?;
        Ok(())
    }

    /// The owners' logins of a package by name (for mirror ownership checks).
    pub fn owners_of(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.package(name)? {
            Some(p) => self.owners(p.id),
            None => Ok(Vec::new()),
        }
    }

    /// How many packages exist, whatever their versions' status.
    pub fn package_count(&self) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM packages", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// How many packages have at least one approved version: the public
    /// count. A package that only has pending or rejected (mirrored)
    /// versions is not counted, so `/healthz` does not reveal it.
    pub fn public_package_count(&self) -> Result<usize, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(DISTINCT package_id) FROM versions WHERE status = 'approved'",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Whether a package has at least one approved version, i.e. whether
    /// anyone but an admin may know that it exists.
    pub fn has_approved(&self, package_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM versions WHERE package_id = ?1 AND status = 'approved')",
            )?
            .query_row([package_id], |r| r.get(0))?)
    }

    /// Every root document, oldest first: (version, envelope bytes).
    pub fn roots(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.all(
            "SELECT version, envelope FROM signed_roots ORDER BY version",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )
    }

    /// Records root document `version`; versions must follow each other.
    pub fn insert_root(
        &mut self,
        version: u64,
        envelope: &[u8],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM signed_roots",
            [],
            |r| r.get(0),
        )?;
        if version as i64 != latest + 1 {
            return Err(StoreError::Conflict(format!(
                "root version {version} does not follow the newest root {latest}; another rotation ran at the same time, retry"
            )));
        }
        tx.execute(
            "INSERT INTO signed_roots (version, envelope, created_at) VALUES (?1, ?2, ?3)",
            params![version as i64, envelope, unix_now()],
        )?;
        audit(&tx, actor, "root-sign", &format!("root v{version}"), "")?;
        tx.commit()?;
        Ok(())
    }

    /// Adds one to a named counter and returns the new value (starting at 1).
    pub fn next_counter(&mut self, name: &str) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1",
            [name],
        )?;
        let value: i64 =
            tx.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        Ok(value as u64)
    }

    /// Every package, for rendering the whole index at start-up.
    pub fn packages(&self) -> Result<Vec<PackageRow>, StoreError> {
        self.all(
            "SELECT id, name, kind, updated_at FROM packages ORDER BY id",
            [],
            package_row,
        )
    }

    /// The index entries of a package, in publish order.
    pub fn entries(&self, package_id: i64) -> Result<Vec<EntryRow>, StoreError> {
        self.all(
            "SELECT entry_json, yanked FROM versions
             WHERE package_id = ?1 AND status = 'approved' ORDER BY id",
            [package_id],
            |r| {
                Ok(EntryRow {
                    entry_json: r.get(0)?,
                    yanked: r.get(1)?,
                })
            },
        )
    }

    /// The blob of `name@version` (exact version string, newest row) and
    /// whether it is approved (only approved blobs are public).
    pub fn blob_of(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<(BlobRef, VersionStatus)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.cksum, v.size, v.status FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.version = ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(name), version], |r| {
                Ok((
                    BlobRef {
                        cksum: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                    },
                    VersionStatus::parse(&r.get::<_, String>(2)?),
                ))
            })
            .optional()?)
    }

    /// Inserts a version (and its package, owned by the publisher, when new)
    /// in one transaction, with an audit record. Refuses name collisions and
    /// existing versions; the caller has already checked ownership.
    pub fn insert_version(&mut self, new: &NewVersion<'_>) -> Result<PackageRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = Store::insert_version_in(&tx, new)?;
        tx.commit()?;
        Ok(row)
    }

    /// Inserts several versions in ONE transaction (an air-gap transfer):
    /// all of them, or on any error none. Returns each version's package.
    pub fn insert_versions(
        &mut self,
        news: &[NewVersion<'_>],
    ) -> Result<Vec<PackageRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = news
            .iter()
            .map(|new| Store::insert_version_in(&tx, new))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(rows)
    }

    /// A local publish claims a name that only mirrored, unreviewed versions
    /// hold (`package`, which must have no approved version), in ONE
    /// transaction: every pending version is rejected with `note` (audited
    /// by actor `registry`); every version not approved stops blocking its
    /// version number (its `version_key` is made unique, the row and its
    /// blob stay for admins); the `mirror:*` owners are removed, so the
    /// sources skip the name from now on; the publisher becomes an owner;
    /// and `new` is inserted as by [`Store::insert_version`]. Returns the
    /// package and the versions it rejected.
    pub fn claim_and_insert_version(
        &mut self,
        package: &PackageRow,
        new: &NewVersion<'_>,
        note: &str,
    ) -> Result<(PackageRow, Vec<String>), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let approved: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM versions WHERE package_id = ?1 AND status = 'approved')",
            [package.id],
            |r| r.get(0),
        )?;
        if approved {
            // Another writer approved or published meanwhile; the caller's
            // checks no longer hold.
            return Err(StoreError::Conflict(format!(
                "`{}` changed while it was being published; retry the publish",
                new.name
            )));
        }
        let now = unix_now();
        let rejected = Store::supersede_in(&tx, package, note, now)?;
        tx.execute(
            "INSERT OR IGNORE INTO owners (package_id, login, added_at) VALUES (?1, ?2, ?3)",
            params![package.id, new.publisher.login, now],
        )?;
        audit(
            &tx,
            "registry",
            "owner-add",
            &package.name,
            &new.publisher.login,
        )?;
        let row = Store::insert_version_in(&tx, new)?;
        tx.commit()?;
        Ok((row, rejected))
    }

    /// The superseding half of a claim, inside the caller's transaction:
    /// rejects the pending versions, frees the version numbers of every
    /// version not approved and removes the `mirror:*` owners, each audited
    /// by actor `registry`. Returns the versions it rejected.
    fn supersede_in(
        tx: &rusqlite::Transaction<'_>,
        package: &PackageRow,
        note: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let pending: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, version FROM versions WHERE package_id = ?1 AND status = 'pending' ORDER BY id",
            )?;
            let rows = stmt.query_map([package.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, version) in &pending {
            tx.execute(
                "UPDATE versions SET status = 'rejected', decided_by = 'registry', decided_at = ?2,
                     decision_note = ?3 WHERE id = ?1",
                params![id, now, note],
            )?;
            audit(
                tx,
                "registry",
                "reject",
                &format!("{}@{version}", package.name),
                note,
            )?;
        }
        tx.execute(
            "UPDATE versions SET version_key = version_key || '#superseded-' || id
             WHERE package_id = ?1 AND status != 'approved'",
            [package.id],
        )?;
        let mirror_owners: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT login FROM owners WHERE package_id = ?1 AND substr(login, 1, 7) = 'mirror:'
                 ORDER BY login",
            )?;
            let rows = stmt.query_map([package.id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for login in &mirror_owners {
            tx.execute(
                "DELETE FROM owners WHERE package_id = ?1 AND login = ?2",
                params![package.id, login],
            )?;
            audit(tx, "registry", "owner-remove", &package.name, login)?;
        }
        Ok(pending.into_iter().map(|(_, v)| v).collect())
    }

    /// The body of [`Store::insert_version`], inside the caller's transaction.
    fn insert_version_in(
        tx: &rusqlite::Transaction<'_>,
        new: &NewVersion<'_>,
    ) -> Result<PackageRow, StoreError> {
        let now = unix_now();
        let normalized = new.name.normalized();
        let existing = tx
            .query_row(
                "SELECT id, name, kind, updated_at FROM packages WHERE normalized = ?1",
                [&normalized],
                package_row,
            )
            .optional()?;
        let package_id = match existing {
            Some(p) if p.name != new.name.as_str() || p.kind != new.kind => {
                return Err(StoreError::NameTaken {
                    wanted: new.name.to_string(),
                    existing: p.name,
                    kind: p.kind,
                })
            }
            Some(p) => p.id,
            None => {
                tx.execute(
                    "INSERT INTO packages (name, normalized, kind, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![new.name.as_str(), normalized, new.kind.as_str(), now],
                )?;
                let id = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO owners (package_id, login, added_at) VALUES (?1, ?2, ?3)",
                    params![id, new.publisher.login, now],
                )?;
                id
            }
        };
        let key = crate::package::version_key(new.version);
        let clash: Option<String> = tx
            .query_row(
                "SELECT version FROM versions WHERE package_id = ?1 AND version_key = ?2",
                params![package_id, key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(existing) = clash {
            return Err(StoreError::VersionExists {
                name: new.name.to_string(),
                existing,
            });
        }
        tx.execute(
            "INSERT INTO versions (package_id, version, version_key, cksum, size, entry_json,
                 description, keywords, yanked, published_by, published_at,
                 status, source, upstream, findings, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                package_id,
                new.version.to_string(),
                key,
                new.cksum,
                new.size as i64,
                new.entry_json,
                new.description,
                new.keywords.join(" "),
                new.publisher.login,
                now,
                new.mirror.map_or("approved", |m| m.status.as_str()),
                new.mirror.map(|m| m.source),
                new.mirror.map_or("{}", |m| m.upstream),
                new.mirror.map_or("[]", |m| m.findings),
                new.files_json,
            ],
        )?;
        tx.execute(
            "UPDATE packages SET updated_at = ?2 WHERE id = ?1",
            params![package_id, now],
        )?;
        audit(
            tx,
            &new.publisher.login,
            if new.mirror.is_some() {
                "mirror"
            } else {
                "publish"
            },
            &format!("{}@{}", new.name, new.version),
            &match new.mirror {
                Some(m) => format!(
                    "{} sha256:{} from {} ({})",
                    new.kind,
                    new.cksum,
                    m.source,
                    m.status.as_str()
                ),
                None => format!("{} sha256:{}", new.kind, new.cksum),
            },
        )?;
        let row = tx.query_row(
            "SELECT id, name, kind, updated_at FROM packages WHERE id = ?1",
            [package_id],
            package_row,
        )?;
        Ok(row)
    }

    /// Sets the yank flag of `name@version`. Returns the package, for re-rendering.
    pub fn set_yanked(
        &mut self,
        name: &str,
        version: &str,
        yanked: bool,
        actor: &str,
    ) -> Result<PackageRow, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = unix_now();
        let package = tx
            .query_row(
                "SELECT id, name, kind, updated_at FROM packages WHERE normalized = ?1",
                [crate::package::normalize(name)],
                package_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("package `{name}`")))?;
        // The newest row with this exact version is the live one (older
        // ones were superseded by a claim; see `claim_and_insert_version`).
        let changed = tx.execute(
            "UPDATE versions SET yanked = ?3 WHERE id =
                 (SELECT MAX(id) FROM versions WHERE package_id = ?1 AND version = ?2)",
            params![package.id, version, yanked],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("{}@{version}", package.name)));
        }
        tx.execute(
            "UPDATE packages SET updated_at = ?2 WHERE id = ?1",
            params![package.id, now],
        )?;
        audit(
            &tx,
            actor,
            if yanked { "yank" } else { "unyank" },
            &format!("{}@{version}", package.name),
            "",
        )?;
        let row = tx.query_row(
            "SELECT id, name, kind, updated_at FROM packages WHERE id = ?1",
            [package.id],
            package_row,
        )?;
        tx.commit()?;
        Ok(row)
    }

    /// Yanks `name@version` because its upstream yanked it, if source
    /// `source` stored that version, `owner` (its mirror login) owns the
    /// package, and the version is not yanked yet; audited as `owner yank
    /// name@version` with `reason`. Returns the package when something changed.
    pub fn yank_mirrored(
        &mut self,
        source: &str,
        owner: &str,
        name: &str,
        version: &str,
        reason: &str,
    ) -> Result<Option<PackageRow>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let package = tx
            .query_row(
                "SELECT p.id, p.name, p.kind, p.updated_at FROM packages p
                 JOIN owners o ON o.package_id = p.id AND o.login = ?2
                 WHERE p.normalized = ?1",
                params![crate::package::normalize(name), owner],
                package_row,
            )
            .optional()?;
        let Some(package) = package else {
            return Ok(None);
        };
        let changed = tx.execute(
            "UPDATE versions SET yanked = 1
             WHERE package_id = ?1 AND version = ?2 AND source = ?3 AND yanked = 0",
            params![package.id, version, source],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        tx.execute(
            "UPDATE packages SET updated_at = ?2 WHERE id = ?1",
            params![package.id, unix_now()],
        )?;
        audit(
            &tx,
            owner,
            "yank",
            &format!("{}@{version}", package.name),
            reason,
        )?;
        tx.commit()?;
        Ok(Some(package))
    }

    /// Packages whose name, description or keywords contain `query`
    /// (case-insensitive), each with its highest non-yanked version.
    /// Returns one page and the total count.
    pub fn search(
        &self,
        query: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, usize), StoreError> {
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let normalized_pattern = pattern.replace("\\_", "-");
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.name, p.kind, v.version, v.description, v.yanked,
                    (p.normalized LIKE ?2 ESCAPE '\\' OR lower(v.description) LIKE ?1 ESCAPE '\\'
                     OR lower(v.keywords) LIKE ?1 ESCAPE '\\')
             FROM packages p JOIN versions v ON v.package_id = p.id
             WHERE v.status = 'approved'
             ORDER BY p.id, v.id",
        )?;
        let rows = stmt.query_map(params![pattern, normalized_pattern], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, bool>(6)?,
            ))
        })?;
        // Group by package; a package matches when its newest live version does.
        let mut hits: Vec<(SearchHit, semver::Version, bool)> = Vec::new();
        let mut last_id = None;
        for row in rows {
            let (id, name, kind, version, description, yanked, matched) = row?;
            if yanked {
                continue;
            }
            let Ok(parsed) = semver::Version::parse(&version) else {
                continue;
            };
            let kind = Kind::parse(&kind).unwrap_or(Kind::Crate);
            if last_id != Some(id) {
                last_id = Some(id);
                hits.push((
                    SearchHit {
                        name,
                        max_version: version,
                        description,
                        kind,
                    },
                    parsed,
                    matched,
                ));
            } else if let Some(last) = hits.last_mut() {
                if parsed > last.1 {
                    *last = (
                        SearchHit {
                            name,
                            max_version: version,
                            description,
                            kind,
                        },
                        parsed,
                        matched,
                    );
                }
            }
        }
        let wanted = crate::package::normalize(query);
        let mut matched: Vec<SearchHit> = hits
            .into_iter()
            .filter(|(_, _, m)| *m)
            .map(|(h, _, _)| h)
            .collect();
        matched.sort_by(|a, b| {
            let exact_a = crate::package::normalize(&a.name) != wanted;
            let exact_b = crate::package::normalize(&b.name) != wanted;
            (exact_a, &a.name).cmp(&(exact_b, &b.name))
        });
        let total = matched.len();
        let page = matched.into_iter().skip(offset).take(limit).collect();
        Ok((page, total))
    }

    /// The logins owning a package.
    pub fn owners(&self, package_id: i64) -> Result<Vec<String>, StoreError> {
        self.all(
            "SELECT login FROM owners WHERE package_id = ?1 ORDER BY added_at, login",
            [package_id],
            |r| r.get(0),
        )
    }

    /// Adds owners (idempotent). Each login must belong to a live token.
    pub fn add_owners(
        &mut self,
        package: &PackageRow,
        logins: &[String],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = unix_now();
        for login in logins {
            let known: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM tokens WHERE name = ?1 AND revoked_at IS NULL
                               AND role IN ('publisher', 'admin'))",
                [login],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::Owners(format!(
                    "`{login}` has no live publisher token, so as an owner it could do nothing; create one with `skillreg token create --name {login} --role publisher`"
                )));
            }
            tx.execute(
                "INSERT OR IGNORE INTO owners (package_id, login, added_at) VALUES (?1, ?2, ?3)",
                params![package.id, login, now],
            )?;
            audit(&tx, actor, "owner-add", &package.name, login)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes owners; a package always keeps at least one.
    pub fn remove_owners(
        &mut self,
        package: &PackageRow,
        logins: &[String],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for login in logins {
            let removed = tx.execute(
                "DELETE FROM owners WHERE package_id = ?1 AND login = ?2",
                params![package.id, login],
            )?;
            if removed == 0 {
                return Err(StoreError::Owners(format!(
                    "`{login}` is not an owner of `{}`",
                    package.name
                )));
            }
            audit(&tx, actor, "owner-remove", &package.name, login)?;
        }
        let left: i64 = tx.query_row(
            "SELECT COUNT(*) FROM owners WHERE package_id = ?1",
            [package.id],
            |r| r.get(0),
        )?;
        if left == 0 {
            return Err(StoreError::Owners(format!(
                "`{}` would have no owner left; add the new owner before removing the last one",
                package.name
            )));
        }
        tx.commit()?;
        Ok(())
    }

    /// Creates a token and returns its full text (shown once, never stored).
    pub fn create_token(
        &mut self,
        name: &str,
        role: Role,
        actor: &str,
    ) -> Result<String, StoreError> {
        let secret = token::new_secret();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                name,
                role.as_str(),
                &token::hash_secret(&secret)[..],
                unix_now()
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            actor,
            "token-create",
            &format!("token {id}"),
            &format!("name={name} role={role}"),
        )?;
        tx.commit()?;
        Ok(token::format_token(id, &secret))
    }

    /// Every token, newest last, without secrets.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.all(
            "SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY id",
            [],
            |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            },
        )
    }

    /// Revokes a token by id. Revoking twice is refused, so a typo shows.
    pub fn revoke_token(&mut self, id: i64, actor: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, unix_now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "live token {id} (see `skillreg token list`)"
            )));
        }
        audit(&tx, actor, "token-revoke", &format!("token {id}"), "")?;
        tx.commit()?;
        Ok(())
    }

    /// Every live token's hash, for the authentication cache.
    pub fn live_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(
            "SELECT id, name, role, hash FROM tokens WHERE revoked_at IS NULL",
            [],
            |r| {
                let role: String = r.get(2)?;
                Ok(TokenRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Reader),
                    hash: r.get(3)?,
                })
            },
        )
    }

    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.all(
            "SELECT at, actor, action, subject, detail FROM audit ORDER BY id",
            [],
            |r| {
                Ok(AuditRecord {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    detail: r.get(4)?,
                })
            },
        )
    }

    /// Every (name, version, cksum, yanked), sorted: a fingerprint of what is
    /// published, used by tests to prove a refusal changed nothing.
    pub fn published(&self) -> Result<Vec<(String, String, String, bool)>, StoreError> {
        self.all(
            "SELECT p.name, v.version, v.cksum, v.yanked FROM versions v
             JOIN packages p ON p.id = v.package_id ORDER BY p.name, v.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    }
}

fn review_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewRow> {
    let kind: String = r.get(3)?;
    Ok(ReviewRow {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        kind: Kind::parse(&kind).unwrap_or(Kind::Crate),
        source: r.get(4)?,
        upstream: r.get(5)?,
        findings: r.get(6)?,
        files: r.get(7)?,
        cksum: r.get(8)?,
        status: VersionStatus::parse(&r.get::<_, String>(9)?),
    })
}

fn package_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PackageRow> {
    let kind: String = r.get(2)?;
    Ok(PackageRow {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: Kind::parse(&kind).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        updated_at: r.get(3)?,
    })
}

fn audit(
    tx: &rusqlite::Transaction<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![unix_now(), actor, action, subject, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
