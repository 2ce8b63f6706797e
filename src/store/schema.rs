//! Schema migrations, applied in order; `PRAGMA user_version` counts how many ran.
//! Never edit a released migration: append a new one.

/// Each entry upgrades the schema by one version.
pub const MIGRATIONS: &[&str] = &[
    // 1: packages, versions, owners, tokens, audit.
    "CREATE TABLE packages (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        normalized  TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL CHECK (kind IN ('skill', 'plugin', 'crate')),
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    );
    CREATE TABLE versions (
        id           INTEGER PRIMARY KEY,
        package_id   INTEGER NOT NULL REFERENCES packages(id),
        version      TEXT NOT NULL,
        version_key  TEXT NOT NULL,
        cksum        TEXT NOT NULL,
        size         INTEGER NOT NULL,
        entry_json   TEXT NOT NULL,
        description  TEXT NOT NULL DEFAULT '',
        keywords     TEXT NOT NULL DEFAULT '',
        yanked       INTEGER NOT NULL DEFAULT 0,
        published_by TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        UNIQUE (package_id, version_key)
    );
    CREATE TABLE owners (
        package_id INTEGER NOT NULL REFERENCES packages(id),
        login      TEXT NOT NULL,
        added_at   INTEGER NOT NULL,
        PRIMARY KEY (package_id, login)
    );
    CREATE TABLE tokens (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('reader', 'publisher', 'admin')),
        hash       BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at      INTEGER NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT ''
    );
    CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // 2: signed metadata: every root document ever issued, and the
    // monotonic counters of snapshot and timestamp versions.
    "CREATE TABLE signed_roots (
        version    INTEGER PRIMARY KEY,
        envelope   BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );",
    // 3: publishers' ed25519 keys, for signed publishes.
    "CREATE TABLE publisher_keys (
        login      TEXT NOT NULL,
        keyid      TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (login, keyid)
    );",
    // 4: mirroring behind approval. A version is approved (public), pending
    // (mirrored, waiting for an admin) or rejected; mirrored ones remember
    // their source, upstream facts, policy findings and file list. Sync runs
    // and per-source state make the mirror incremental and resumable.
    "ALTER TABLE versions ADD COLUMN status TEXT NOT NULL DEFAULT 'approved'
        CHECK (status IN ('approved', 'pending', 'rejected'));
    ALTER TABLE versions ADD COLUMN source TEXT;
    ALTER TABLE versions ADD COLUMN upstream TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE versions ADD COLUMN findings TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE versions ADD COLUMN files TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE versions ADD COLUMN decided_by TEXT;
    ALTER TABLE versions ADD COLUMN decided_at INTEGER;
    ALTER TABLE versions ADD COLUMN decision_note TEXT;
    CREATE INDEX versions_by_status ON versions (status);
    CREATE TABLE approvals (
        version_id INTEGER PRIMARY KEY REFERENCES versions(id),
        statement  BLOB NOT NULL
    );
    CREATE TABLE sync_runs (
        id          INTEGER PRIMARY KEY,
        source      TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        discovered  INTEGER NOT NULL DEFAULT 0,
        added       INTEGER NOT NULL DEFAULT 0,
        updated     INTEGER NOT NULL DEFAULT 0,
        unchanged   INTEGER NOT NULL DEFAULT 0,
        pending     INTEGER NOT NULL DEFAULT 0,
        rejected    INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        error       TEXT,
        detail      TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE mirror_state (
        source TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (source, key)
    );",
    // 5: index files render a package's approved versions; without this
    // index SQLite scans every approved version of every package.
    "CREATE INDEX versions_by_package_status ON versions (package_id, status, id);",
    // 6: what the agent tools download. Each approved bundle is re-rendered
    // once into the zip shapes those tools take (a skill with SKILL.md at
    // the root; a Claude Code plugin), kept as blobs; `left_out` says why a
    // bundle cannot be served in a shape. `bundle_cksum` holds the render
    // key: a hash of the bundle's sha256 and every other input of the render. Downloads are counted per version
    // and per day, flushed in batches.
    "CREATE TABLE feed_archives (
        bundle_cksum TEXT NOT NULL,
        shape        TEXT NOT NULL,
        cksum        TEXT,
        size         INTEGER,
        left_out     TEXT,
        PRIMARY KEY (bundle_cksum, shape)
    );
    CREATE TABLE downloads (
        version_id INTEGER NOT NULL REFERENCES versions(id),
        day        INTEGER NOT NULL,
        count      INTEGER NOT NULL,
        PRIMARY KEY (version_id, day)
    );",
    // The versions each sync run resolved (stored by it or found stored),
    // so an admin can approve a whole run's selection, such as a
    // lockfile's closure, in one call.
    "CREATE TABLE sync_run_versions (
        run_id     INTEGER NOT NULL REFERENCES sync_runs(id),
        version_id INTEGER NOT NULL REFERENCES versions(id),
        PRIMARY KEY (run_id, version_id)
    );",
    // 8: versions `skillreg fsck --repair` took out of service: their blob was
    // damaged or missing (moved to `DATA/quarantine/`). A quarantined
    // version is in no index, catalog or feed, and its download answers
    // 410 until a repair finds its blob whole again and clears the mark.
    "ALTER TABLE versions ADD COLUMN quarantined_at INTEGER;
    ALTER TABLE versions ADD COLUMN quarantine_reason TEXT;",
    // 9: search without scanning (src/store/search.rs). `search_docs` holds
    // one row per package that has a visible version (approved, not yanked,
    // not quarantined), describing its latest one; the Rust code that
    // changes versions rewrites a package's row in the same transaction
    // (which version is the latest is SemVer precedence, which SQL cannot
    // compute), and it is filled for existing packages right after this
    // migration, in its transaction. The FTS5 index `search_fts` takes its
    // text from `search_docs` and follows it through triggers, so the two
    // cannot drift. `package_downloads` sums `downloads` per package, kept
    // by triggers on the batched download flushes (the hot download path
    // stays write-free), so that ties rank by downloads without a scan.
    // Every search word is a prefix query; the prefix indexes answer words
    // of up to 8 characters from one doclist each (without them FTS5 merges
    // the doclists of every term the word begins: at 100,000 packages
    // named `bench-…`, 15 ms for `bench`* against 0.1 ms).
    "CREATE TABLE search_docs (
        package_id  INTEGER PRIMARY KEY REFERENCES packages(id),
        name        TEXT NOT NULL,
        normalized  TEXT NOT NULL,
        kind        TEXT NOT NULL,
        max_version TEXT NOT NULL,
        description TEXT NOT NULL,
        keywords    TEXT NOT NULL,
        source      TEXT NOT NULL
    );
    CREATE INDEX search_docs_by_name ON search_docs (normalized);
    CREATE VIRTUAL TABLE search_fts USING fts5 (
        normalized, description, keywords,
        content = 'search_docs', content_rowid = 'package_id',
        tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6 7 8'
    );
    CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts (rowid, normalized, description, keywords)
            VALUES (new.package_id, new.normalized, new.description, new.keywords);
    END;
    CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, normalized, description, keywords)
            VALUES ('delete', old.package_id, old.normalized, old.description, old.keywords);
    END;
    CREATE TRIGGER search_docs_update AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, normalized, description, keywords)
            VALUES ('delete', old.package_id, old.normalized, old.description, old.keywords);
        INSERT INTO search_fts (rowid, normalized, description, keywords)
            VALUES (new.package_id, new.normalized, new.description, new.keywords);
    END;
    CREATE TABLE package_downloads (
        package_id INTEGER PRIMARY KEY REFERENCES packages(id),
        total      INTEGER NOT NULL
    );
    INSERT INTO package_downloads (package_id, total)
        SELECT v.package_id, SUM(d.count) FROM downloads d JOIN versions v ON v.id = d.version_id
        GROUP BY v.package_id;
    CREATE TRIGGER downloads_insert AFTER INSERT ON downloads BEGIN
        INSERT INTO package_downloads (package_id, total)
            SELECT package_id, new.count FROM versions WHERE id = new.version_id
            ON CONFLICT (package_id) DO UPDATE SET total = total + excluded.total;
    END;
    CREATE TRIGGER downloads_update AFTER UPDATE OF count ON downloads BEGIN
        UPDATE package_downloads SET total = total + new.count - old.count
            WHERE package_id = (SELECT package_id FROM versions WHERE id = new.version_id);
    END;",
];

/// Work a migration needs beyond its SQL, run right after it in the same
/// transaction: `after(tx, n)` once migration `n` (1-based) has run.
pub(super) fn after(
    tx: &rusqlite::Transaction<'_>,
    migration: usize,
) -> Result<(), super::StoreError> {
    match migration {
        // Fill the search index for the packages stored before it existed.
        9 => super::search::rebuild_in(tx),
        _ => Ok(()),
    }
}
