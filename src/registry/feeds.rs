//! Keeping the agent-tool feeds in step with the index: on every change to
//! a package, its latest approved version is looked up, its zips rendered
//! (once per bundle, kept as blobs and remembered in the store), and the
//! documents re-rendered, prepared and signed into the next snapshot.
//!
//! Readers never lock the writer: documents sit in an [`IndexCache`] and the
//! zips they name in a map behind a read-write lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::{signing, RegistryError};
use crate::blobs::{BlobStore, Sha256Digest};
use crate::bundle::ArchiveLimits;
use crate::config;
use crate::feeds::{self, archive, FeedItem, StoredZip};
use crate::fsutil::unix_now;
use crate::index::{IndexCache, Prepared};
use crate::package::Kind;
use crate::store::{FeedArchiveRow, PackageRow, PublicVersion, Store};

/// The prefix of feed documents in the snapshot: index paths never start
/// with `_`, and mirrors skip such paths.
const SNAPSHOT_PREFIX: &str = "_feeds/";

/// The URL path of the Claude Code marketplace.
pub const MARKETPLACE_PATH: &str = "claude/marketplace.json";

/// A zip the feeds serve: what it is and whose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedZip {
    /// Where it is in the blob store.
    pub digest: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// Its shape.
    pub shape: archive::Shape,
    /// The version it was rendered from (downloads count against it).
    pub version_id: i64,
    /// That package.
    pub name: String,
}

/// What readers of the feeds see: documents and the zips they name.
#[derive(Default)]
pub(super) struct FeedView {
    /// Prepared documents, by URL path (no leading `/`).
    pub(super) docs: IndexCache,
    /// The zips the documents name, by hex sha256.
    pub(super) zips: RwLock<HashMap<String, Arc<FeedZip>>>,
}

/// The feeds' state, under the writer lock.
#[derive(Default)]
pub(super) struct Feeds {
    /// Latest public version per package, by normalized name, with its row id.
    items: BTreeMap<String, (FeedItem, i64)>,
    /// Whether the documents need rendering.
    dirty: bool,
}

/// The latest version the feeds show: the highest non-yanked release, or
/// the highest non-yanked pre-release when there is no release.
pub(super) fn latest(versions: &[PublicVersion]) -> Option<&PublicVersion> {
    versions
        .iter()
        .filter(|v| !v.yanked)
        .filter_map(|v| semver::Version::parse(&v.version).ok().map(|s| (s, v)))
        .max_by(|(a, _), (b, _)| (a.pre.is_empty(), a).cmp(&(b.pre.is_empty(), b)))
        .map(|(_, v)| v)
}

impl Feeds {
    /// Brings one package's item up to date with the store; renders its
    /// zips when this bundle has none yet.
    pub(super) fn package_changed(
        &mut self,
        view: &FeedView,
        store: &Store,
        blobs: &BlobStore,
        package: &PackageRow,
        limits: &ArchiveLimits,
    ) -> Result<(), RegistryError> {
        if package.kind == Kind::Crate {
            return Ok(());
        }
        let key = crate::package::normalize(&package.name);
        let versions = store.public_versions(package.id)?;
        let item = match latest(&versions) {
            None => None,
            Some(version) => Some((
                FeedItem {
                    name: package.name.clone(),
                    kind: package.kind,
                    version: version.version.clone(),
                    description: version.description.clone(),
                    source: version.source.clone(),
                    skill_zip: zip_of(
                        store,
                        blobs,
                        package,
                        version,
                        archive::Shape::Skill,
                        limits,
                    )?,
                    plugin_zip: zip_of(
                        store,
                        blobs,
                        package,
                        version,
                        archive::Shape::Plugin,
                        limits,
                    )?,
                },
                version.id,
            )),
        };
        if self.items.get(&key) == item.as_ref() {
            return Ok(());
        }
        {
            let mut zips = view.zips.write().unwrap_or_else(|e| e.into_inner());
            if let Some((old, _)) = self.items.get(&key) {
                for zip in [&old.skill_zip, &old.plugin_zip].into_iter().flatten() {
                    zips.remove(&zip.sha256);
                }
            }
            if let Some((new, version_id)) = &item {
                for (zip, shape) in [
                    (&new.skill_zip, archive::Shape::Skill),
                    (&new.plugin_zip, archive::Shape::Plugin),
                ] {
                    let Ok(zip) = zip else { continue };
                    let digest =
                        Sha256Digest::from_hex(&zip.sha256).expect("stored zip digests are hex");
                    zips.insert(
                        zip.sha256.clone(),
                        Arc::new(FeedZip {
                            digest,
                            size: zip.size,
                            shape,
                            version_id: *version_id,
                            name: new.name.clone(),
                        }),
                    );
                }
            }
        }
        match item {
            Some(item) => self.items.insert(key, item),
            None => self.items.remove(&key),
        };
        self.dirty = true;
        Ok(())
    }

    /// Renders the documents after changes, prepares them and signs a
    /// statement for each; the caller then signs the snapshot.
    pub(super) fn publish(
        &mut self,
        cfg: &config::Feeds,
        base_url: &str,
        signing: &mut signing::Signing,
        index: &IndexCache,
        view: &FeedView,
    ) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let items: Vec<&FeedItem> = self.items.values().map(|(item, _)| item).collect();
        let mut docs = vec![(
            feeds::wellknown::INDEX_PATH.to_string(),
            feeds::wellknown::render(items.iter().copied()),
        )];
        for scope in &cfg.scopes {
            docs.push((
                format!("{}/{}", scope.path, feeds::wellknown::INDEX_PATH),
                feeds::wellknown::render(
                    items.iter().copied().filter(|i| feeds::in_scope(scope, i)),
                ),
            ));
        }
        docs.push((
            MARKETPLACE_PATH.to_string(),
            feeds::marketplace::render(cfg, base_url, items.iter().copied()),
        ));
        let now = unix_now();
        for (path, body) in docs {
            let unchanged = view.docs.get(&path).is_some_and(|d| d.body[..] == body[..]);
            if unchanged {
                continue;
            }
            signing.file_changed(index, &format!("{SNAPSHOT_PREFIX}{path}"), &body);
            view.docs.put(path, Prepared::new(body, now));
        }
    }

    /// Every skill or plugin left out of a feed shape, with the reason.
    pub(super) fn left_out(&self) -> Vec<LeftOut> {
        let mut out = Vec::new();
        for (item, _) in self.items.values() {
            let shapes = [
                (item.kind == Kind::Skill, "skills", &item.skill_zip),
                (true, "claude", &item.plugin_zip),
            ];
            for (applies, feed, zip) in shapes {
                if let (true, Err(reason)) = (applies, zip) {
                    out.push(LeftOut {
                        name: item.name.clone(),
                        version: item.version.clone(),
                        feed,
                        reason: reason.clone(),
                    });
                }
            }
        }
        out
    }
}

/// A latest version that a feed cannot serve, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeftOut {
    /// The package.
    pub name: String,
    /// Its latest version.
    pub version: String,
    /// `skills` (the well-known index and ClawHub) or `claude` (the marketplace).
    pub feed: &'static str,
    /// Why, for the admin.
    pub reason: String,
}

/// The zip of `shape` for a version: remembered from an earlier render, or
/// rendered now from the stored bundle and remembered.
pub(super) fn zip_of(
    store: &Store,
    blobs: &BlobStore,
    package: &PackageRow,
    version: &PublicVersion,
    shape: archive::Shape,
    limits: &ArchiveLimits,
) -> Result<Result<StoredZip, String>, RegistryError> {
    let row = match store.feed_archive(&version.cksum, shape.as_str())? {
        Some(row) => row,
        None => {
            let digest = Sha256Digest::from_hex(&version.cksum).ok_or_else(|| {
                RegistryError::Io(std::io::Error::other("stored checksum is not hex"))
            })?;
            let bundle = std::fs::read(blobs.path(&digest))?;
            let source = archive::Source {
                bundle: &bundle,
                kind: package.kind,
                name: &package.name,
                version: &version.version,
                description: &version.description,
            };
            let row = match archive::render(&source, shape, limits) {
                Ok(zip) => {
                    let digest = blobs.put(&zip)?;
                    FeedArchiveRow::Stored {
                        cksum: digest.to_hex(),
                        size: zip.len() as u64,
                    }
                }
                Err(reason) => FeedArchiveRow::LeftOut(reason),
            };
            store.put_feed_archive(&version.cksum, shape.as_str(), &row)?;
            row
        }
    };
    Ok(match row {
        FeedArchiveRow::Stored { cksum, size } => Ok(StoredZip {
            sha256: cksum,
            size,
        }),
        FeedArchiveRow::LeftOut(reason) => Err(reason),
    })
}
