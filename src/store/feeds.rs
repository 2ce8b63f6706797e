//! What the agent-tool feeds read and keep: the approved versions of a
//! package with their facts, the zips rendered from bundles, and download
//! counts.

use super::*;

/// An approved version as the feeds show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicVersion {
    /// Row id (downloads are counted against it).
    pub id: i64,
    /// Exact version.
    pub version: String,
    /// Hex sha256 of the stored bundle.
    pub cksum: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// One-line description.
    pub description: String,
    /// Keywords, in publish order.
    pub keywords: Vec<String>,
    /// Yanked now.
    pub yanked: bool,
    /// Unix seconds of the publish (or import).
    pub published_at: i64,
    /// The publisher's login (`mirror:SOURCE` for mirrored versions).
    pub published_by: String,
    /// The `[[sources]]` name of a mirrored version.
    pub source: Option<String>,
    /// The stored index line (licence, dependencies, provenance).
    pub entry_json: String,
    /// Who approved it, for a mirrored version an admin reviewed.
    pub decided_by: Option<String>,
    /// The note the admin approved it with.
    pub decision_note: Option<String>,
}

/// A zip rendered from a bundle, or why the bundle cannot take that shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedArchiveRow {
    /// Rendered and stored as the blob `cksum` of `size` bytes.
    Stored {
        /// Hex sha256 of the zip.
        cksum: String,
        /// Its size.
        size: u64,
    },
    /// Not servable in this shape, and why.
    LeftOut(String),
}

impl Store {
    /// The approved versions of a package, oldest first.
    pub fn public_versions(&self, package_id: i64) -> Result<Vec<PublicVersion>, StoreError> {
        self.all(
            "SELECT id, version, cksum, size, description, keywords, yanked, published_at,
                    published_by, source, entry_json, decided_by, decision_note
             FROM versions WHERE package_id = ?1 AND status = 'approved' AND quarantined_at IS NULL
             ORDER BY id",
            [package_id],
            |r| {
                let keywords: String = r.get(5)?;
                Ok(PublicVersion {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    cksum: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    description: r.get(4)?,
                    keywords: keywords.split_whitespace().map(str::to_string).collect(),
                    yanked: r.get(6)?,
                    published_at: r.get(7)?,
                    published_by: r.get(8)?,
                    source: r.get(9)?,
                    entry_json: r.get(10)?,
                    decided_by: r.get(11)?,
                    decision_note: r.get(12)?,
                })
            },
        )
    }

    /// The zip of shape `shape` rendered under `key` (a hash of the bundle
    /// and every other input of the render), if it was rendered before.
    pub fn feed_archive(
        &self,
        key: &str,
        shape: &str,
    ) -> Result<Option<FeedArchiveRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT cksum, size, left_out FROM feed_archives
                 WHERE bundle_cksum = ?1 AND shape = ?2",
            )?
            .query_row(params![key, shape], |r| {
                let cksum: Option<String> = r.get(0)?;
                let size: Option<i64> = r.get(1)?;
                let left_out: Option<String> = r.get(2)?;
                Ok(match (cksum, left_out) {
                    (Some(cksum), None) => FeedArchiveRow::Stored {
                        cksum,
                        size: size.unwrap_or(0) as u64,
                    },
                    (_, reason) => FeedArchiveRow::LeftOut(reason.unwrap_or_default()),
                })
            })
            .optional()?)
    }

    /// Records the zip of shape `shape` rendered under `key` (its blob is
    /// durable before this is called). Rendering is deterministic, so
    /// recording the same key again replaces the row with an identical one.
    pub fn put_feed_archive(
        &self,
        key: &str,
        shape: &str,
        row: &FeedArchiveRow,
    ) -> Result<(), StoreError> {
        let (cksum, size, left_out) = match row {
            FeedArchiveRow::Stored { cksum, size } => {
                (Some(cksum.as_str()), Some(*size as i64), None)
            }
            FeedArchiveRow::LeftOut(reason) => (None, None, Some(reason.as_str())),
        };
        self.conn.execute(
            "INSERT OR REPLACE INTO feed_archives (bundle_cksum, shape, cksum, size, left_out)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key, shape, cksum, size, left_out],
        )?;
        Ok(())
    }

    /// Adds a batch of download counts (version id, day number, count) in
    /// one transaction.
    pub fn add_downloads(&mut self, counts: &[(i64, i64, u64)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO downloads (version_id, day, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT (version_id, day) DO UPDATE SET count = count + excluded.count",
            )?;
            for (version_id, day, count) in counts {
                stmt.execute(params![version_id, day, *count as i64])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every version's total downloads (version id → count).
    pub fn download_totals(&self) -> Result<Vec<(i64, u64)>, StoreError> {
        self.all(
            "SELECT version_id, SUM(count) FROM downloads GROUP BY version_id",
            [],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        )
    }

    /// Every written daily count: (version id, day number, count).
    pub fn all_daily_downloads(&self) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        self.all("SELECT version_id, day, count FROM downloads", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })
    }

    /// The daily downloads of one version (day number → count), oldest first.
    pub fn daily_downloads(&self, version_id: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        self.all(
            "SELECT day, count FROM downloads WHERE version_id = ?1 ORDER BY day",
            [version_id],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        )
    }
}
