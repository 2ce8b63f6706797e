//! Versions: inserting (durable before visible), yanking, the index entries of a package, blobs.

use super::*;
use crate::crash_point::crash_point;

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

    pub(super) fn parse(s: &str) -> VersionStatus {
        match s {
            "pending" => VersionStatus::Pending,
            "rejected" => VersionStatus::Rejected,
            _ => VersionStatus::Approved,
        }
    }
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

impl Store {
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

    /// The index entries of a package, in publish order.
    pub fn entries(&self, package_id: i64) -> Result<Vec<EntryRow>, StoreError> {
        self.all(
            "SELECT entry_json, yanked FROM versions
             WHERE package_id = ?1 AND status = 'approved' AND quarantined_at IS NULL
             ORDER BY id",
            [package_id],
            |r| {
                Ok(EntryRow {
                    entry_json: r.get(0)?,
                    yanked: r.get(1)?,
                })
            },
        )
    }

    /// The blob of `name@version` (exact version string, newest row), the
    /// version's row id, whether it is approved (only approved blobs are
    /// public), and why `skillreg fsck --repair` quarantined it, if it did.
    #[allow(clippy::type_complexity)]
    pub fn blob_of(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<(BlobRef, i64, VersionStatus, Option<String>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT v.cksum, v.size, v.id, v.status, v.quarantine_reason
                 FROM versions v JOIN packages p ON p.id = v.package_id
                 WHERE p.normalized = ?1 AND v.version = ?2
                 ORDER BY v.id DESC LIMIT 1",
            )?
            .query_row(params![crate::package::normalize(name), version], |r| {
                Ok((
                    BlobRef {
                        cksum: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                    },
                    r.get(2)?,
                    VersionStatus::parse(&r.get::<_, String>(3)?),
                    r.get(4)?,
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
        crash_point(if new.mirror.is_some() {
            "mirror.before_commit"
        } else {
            "publish.before_commit"
        });
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
        crash_point("publish.before_commit");
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
        super::search::refresh_in(tx, package_id)?;
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
        super::search::refresh_in(&tx, package.id)?;
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
        crash_point("yank.before_commit");
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
        super::search::refresh_in(&tx, package.id)?;
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
    /// Every blob the store names: `(sha256 hex, what names it)`, for each
    /// version (`name@version (status)`) not quarantined and each rendered
    /// feed zip.
    pub fn blob_references(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut refs: Vec<(String, String)> = self.all(
            "SELECT v.cksum, p.name || '@' || v.version || ' (' || v.status || ')' FROM versions v
             JOIN packages p ON p.id = v.package_id
             WHERE v.quarantined_at IS NULL ORDER BY p.name, v.id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        refs.extend(self.all(
            "SELECT cksum, 'the ' || shape || ' zip of bundle ' || bundle_cksum FROM feed_archives
             WHERE cksum IS NOT NULL ORDER BY bundle_cksum, shape",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?);
        Ok(refs)
    }

    /// Hex checksums of every approved version (what a static export serves).
    pub fn approved_cksums(&self) -> Result<Vec<String>, StoreError> {
        self.all(
            "SELECT DISTINCT cksum FROM versions WHERE status = 'approved' AND quarantined_at IS NULL
             ORDER BY cksum",
            [],
            |r| r.get(0),
        )
    }

    /// The stored file list of an approved version (`[{path, kind, size,
    /// sha256, …}]` as JSON), by row id; `None` for any other version.
    pub fn version_files(&self, version_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT files FROM versions
                 WHERE id = ?1 AND status = 'approved' AND quarantined_at IS NULL",
            )?
            .query_row([version_id], |r| r.get(0))
            .optional()?)
    }
}
