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
];
