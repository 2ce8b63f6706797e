//! Keeping the agent-tool feeds in step with the index: on every change to
//! a package, its latest approved version is looked up, its zips rendered
//! (once per bundle, kept as blobs and remembered in the store), and the
//! documents re-rendered, prepared and signed into the next snapshot.
//!
//! Readers never lock the writer: documents sit in an [`IndexCache`] and the
//! zips they name, and named before (see [`servable`]), in a map behind a
//! read-write lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::{signing, RegistryError};
use crate::blobs::{BlobStore, Sha256Digest};
use crate::bundle::ArchiveLimits;
use crate::config;
use crate::feeds::{self, archive, FeedItem, StoredZip};
use crate::fsutil::unix_now;
use crate::index::sign::FileMeta;
use crate::index::{IndexCache, Prepared};
use crate::package::Kind;
use crate::store::{FeedArchiveRow, PackageRow, PublicVersion, Store};

/// The prefix of feed documents in the snapshot and below `/index/`: index
/// paths never start with `_`, and mirrors skip such paths.
const SNAPSHOT_PREFIX: &str = "_feeds/";

/// How the reason of a zip left out by a failed render (I/O, not the
/// bundle) begins: such a zip is retried, and a client is told to retry.
pub const RENDER_FAILED: &str = "could not be rendered";

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
    /// The bytes, when small enough to serve from memory (see
    /// [`MAX_CACHED_ZIP`]); else the blob file is streamed.
    pub bytes: Option<bytes::Bytes>,
}

/// Largest zip served from memory: the feeds' zips are small (a skill is a
/// few files), and a hot one is then served like an index file, with no
/// open or read per request.
pub const MAX_CACHED_ZIP: u64 = 256 * 1024;

/// Most memory all zips served from memory take together; beyond it, zips
/// are streamed from their files.
pub const MAX_CACHED_ZIPS_TOTAL: u64 = 256 * 1024 * 1024;

/// What readers of the feeds see: documents and the zips they name.
#[derive(Default)]
pub(super) struct FeedView {
    /// Prepared documents, by URL path (no leading `/`).
    pub(super) docs: IndexCache,
    /// The zips the documents name or named (see [`servable`]), by sha256
    /// (not its hex: a registry holds a few zips for every package).
    pub(super) zips: RwLock<HashMap<Sha256Digest, Arc<FeedZip>>>,
}

/// The feeds' state, under the writer lock.
pub(super) struct Feeds {
    /// Latest public version per package, by normalized name, with its row
    /// id. Shared, so that a render can take them all without holding the
    /// lock while it renders.
    items: BTreeMap<String, (Arc<FeedItem>, i64)>,
    /// The zips each package has in [`FeedView::zips`], by normalized name.
    served: HashMap<String, Vec<Sha256Digest>>,
    /// Counts changes to the items; the documents need rendering while it
    /// is ahead of `placed` (at first too, so that a registry with nothing
    /// approved serves empty documents, not 404s).
    generation: u64,
    /// The generation the documents served now were rendered from.
    placed: u64,
    /// Bytes of the zips held in memory.
    cached: u64,
}

impl Default for Feeds {
    fn default() -> Self {
        Feeds {
            items: BTreeMap::new(),
            served: HashMap::new(),
            generation: 1,
            placed: 0,
            cached: 0,
        }
    }
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
                Arc::new(FeedItem {
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
                }),
                version.id,
            )),
        };
        // Zips first: yanking an older version changes no item but takes
        // its zips away.
        self.serve(
            view,
            blobs,
            &key,
            servable(store, package, &versions, limits)?,
        );
        if self.items.get(&key) == item.as_ref() {
            return Ok(());
        }
        match item {
            Some(item) => self.items.insert(key, item),
            None => self.items.remove(&key),
        };
        self.generation += 1;
        Ok(())
    }

    /// Makes `zips` the package's served zips, in place of those it had.
    /// Small zips are read into memory while the total allows.
    fn serve(&mut self, view: &FeedView, blobs: &BlobStore, key: &str, zips: Vec<FeedZip>) {
        let mut map = view.zips.write().unwrap_or_else(|e| e.into_inner());
        // Zips the package keeps (most, on any change) keep their bytes:
        // read once, not again on every change to the package.
        let mut held: HashMap<Sha256Digest, bytes::Bytes> = HashMap::new();
        for sha in self.served.remove(key).unwrap_or_default() {
            if let Some(old) = map.remove(&sha) {
                if let Some(bytes) = &old.bytes {
                    self.cached -= bytes.len() as u64;
                    held.insert(sha, bytes.clone());
                }
            }
        }
        let shas: Vec<Sha256Digest> = zips.iter().map(|z| z.digest).collect();
        for (sha, mut zip) in shas.iter().zip(zips) {
            if let Some(bytes) = held.remove(sha) {
                self.cached += bytes.len() as u64;
                zip.bytes = Some(bytes);
            } else if zip.size <= MAX_CACHED_ZIP && self.cached + zip.size <= MAX_CACHED_ZIPS_TOTAL
            {
                // A zip that cannot be read now is streamed (and its error
                // reported) when asked for.
                if let Ok(bytes) = blobs.read(&zip.digest) {
                    if Sha256Digest::of(&bytes) == zip.digest {
                        self.cached += bytes.len() as u64;
                        zip.bytes = Some(bytes.into());
                    }
                }
            }
            map.insert(*sha, Arc::new(zip));
        }
        if !shas.is_empty() {
            self.served.insert(key.to_string(), shas);
        }
    }

    /// Renders the documents after changes, prepares them and signs a
    /// statement for each, all at once; the caller then signs the snapshot.
    /// The daemon instead renders with [`Feeds::pending`], [`render`] and
    /// [`Feeds::place`], so that the lock is not held while it renders.
    pub(super) fn publish(
        &mut self,
        cfg: &config::Feeds,
        base_url: &str,
        signing: &mut signing::Signing,
        index: &IndexCache,
        view: &FeedView,
    ) {
        if let Some(job) = self.pending() {
            self.place(render(job, cfg, base_url), signing, index, view);
        }
    }

    /// The items to render, when the documents are behind them.
    pub(super) fn pending(&self) -> Option<RenderJob> {
        (self.generation > self.placed).then(|| RenderJob {
            generation: self.generation,
            items: self.items.values().map(|(item, _)| item.clone()).collect(),
        })
    }

    /// The generation the documents will show once rendered.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Serves rendered documents and signs a statement for each that
    /// changed; the caller then signs the snapshot. Returns whether any
    /// changed. Documents older than those served are dropped.
    pub(super) fn place(
        &mut self,
        rendered: RenderedDocs,
        signing: &mut signing::Signing,
        index: &IndexCache,
        view: &FeedView,
    ) -> bool {
        if rendered.generation <= self.placed {
            return false;
        }
        self.placed = rendered.generation;
        let mut changed = false;
        for (path, file, meta) in rendered.docs {
            let unchanged = view.docs.get(&path).is_some_and(|d| d.body == file.body);
            if unchanged {
                continue;
            }
            // Also below `/index/` at its snapshot key, so that a client
            // verifying the snapshot finds every file it lists there.
            let key = format!("{SNAPSHOT_PREFIX}{path}");
            signing.file_meta_changed(index, &key, meta);
            index.put_shared(key, file.clone());
            view.docs.put_shared(path, file);
            changed = true;
        }
        changed
    }

    /// Every zip a static tree of the feeds holds, by its path below the
    /// tree: each skill zip beside every index that lists it (URLs there are
    /// relative to the index), each plugin zip below `claude/files/`.
    pub(super) fn static_zips(
        &self,
        view: &FeedView,
        cfg: &config::Feeds,
    ) -> Vec<(String, Sha256Digest)> {
        let mut out = Vec::new();
        let index_dir = feeds::wellknown::DIR;
        let zips = view.zips.read().unwrap_or_else(|e| e.into_inner());
        // Every zip the daemon serves for the package (its superseded
        // approved versions too, which cached documents still name), below
        // every document that lists the package now.
        for (key, shas) in &self.served {
            let Some((item, _)) = self.items.get(key) else {
                continue;
            };
            let in_marketplace = item.kind == Kind::Plugin || cfg.skills_as_plugins;
            for zip in shas.iter().filter_map(|sha| zips.get(sha)) {
                let sha = zip.digest.to_hex();
                match zip.shape {
                    archive::Shape::Skill => {
                        let file = feeds::wellknown_zip_path(&sha);
                        out.push((format!("{index_dir}{file}"), zip.digest));
                        for scope in cfg.scopes.iter().filter(|s| feeds::in_scope(s, item)) {
                            out.push((format!("{}/{index_dir}{file}", scope.path), zip.digest));
                        }
                    }
                    archive::Shape::Plugin if in_marketplace => {
                        out.push((feeds::marketplace_zip_path(&sha), zip.digest));
                    }
                    archive::Shape::Plugin => {}
                }
            }
        }
        out
    }

    /// The items, by name.
    pub(super) fn items(&self) -> impl Iterator<Item = &FeedItem> {
        self.items.values().map(|(item, _)| &**item)
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

/// The zips a package serves: every zip ever rendered (so once named by a
/// document) of a version that is approved and not yanked. Not only the
/// latest's: a client fetches zips after the document that names them, and
/// Claude Code installs from a catalog it cached at `marketplace add`, so a
/// zip a document named a moment ago must not vanish when a newer version
/// is approved. A yanked version's zips go at once.
fn servable(
    store: &Store,
    package: &PackageRow,
    versions: &[PublicVersion],
    limits: &ArchiveLimits,
) -> Result<Vec<FeedZip>, RegistryError> {
    let mut zips = Vec::new();
    for version in versions.iter().filter(|v| !v.yanked) {
        for shape in [archive::Shape::Skill, archive::Shape::Plugin] {
            let Some(FeedArchiveRow::Stored { cksum, size }) =
                store.feed_archive(&render_key(package, version, limits), shape.as_str())?
            else {
                continue;
            };
            zips.push(FeedZip {
                digest: Sha256Digest::from_hex(&cksum).ok_or_else(|| {
                    RegistryError::Io(std::io::Error::other("stored zip digest is not hex"))
                })?,
                size,
                shape,
                version_id: version.id,
                bytes: None,
            });
        }
    }
    Ok(zips)
}

/// What a rendered zip depends on besides its shape, hashed: the bundle,
/// the facts of the version a skill-as-plugin manifest names, and the limits
/// that may leave it out. A zip is remembered under this key, so none is
/// served for other inputs than it was rendered from.
fn render_key(package: &PackageRow, version: &PublicVersion, limits: &ArchiveLimits) -> String {
    let facts = format!(
        "{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}",
        version.cksum,
        package.kind.as_str(),
        package.name,
        version.version,
        version.description,
        version.published_by,
        limits.max_compressed,
        limits.max_unpacked,
        limits.max_entries
    );
    Sha256Digest::of(facts.as_bytes()).to_hex()
}

/// The zip of `shape` for a version: remembered from an earlier render, or
/// rendered now from the stored bundle and remembered. A render that fails
/// on I/O (a missing blob, a full disk) leaves the zip out with the reason
/// and is not remembered, so the next change to the package tries again;
/// the change that asked for it stands.
pub(super) fn zip_of(
    store: &Store,
    blobs: &BlobStore,
    package: &PackageRow,
    version: &PublicVersion,
    shape: archive::Shape,
    limits: &ArchiveLimits,
) -> Result<Result<StoredZip, String>, RegistryError> {
    let key = render_key(package, version, limits);
    let row = match store.feed_archive(&key, shape.as_str())? {
        Some(row) => row,
        None => match render_and_keep(blobs, package, version, shape, limits) {
            Ok(row) => {
                store.put_feed_archive(&key, shape.as_str(), &row)?;
                row
            }
            Err(e) => {
                tracing::error!(package = %package.name, version = %version.version, error = %e, "rendering a feed zip failed; retrying on the next change");
                return Ok(Err(format!(
                    "{RENDER_FAILED} ({e}); retried on the next change to the package"
                )));
            }
        },
    };
    Ok(match row {
        FeedArchiveRow::Stored { cksum, size } => Ok(StoredZip {
            sha256: cksum,
            size,
        }),
        FeedArchiveRow::LeftOut(reason) => Err(reason),
    })
}

/// Reads the bundle, renders the zip and stores it as a blob.
fn render_and_keep(
    blobs: &BlobStore,
    package: &PackageRow,
    version: &PublicVersion,
    shape: archive::Shape,
    limits: &ArchiveLimits,
) -> std::io::Result<FeedArchiveRow> {
    let digest = Sha256Digest::from_hex(&version.cksum)
        .ok_or_else(|| std::io::Error::other("the stored checksum is not hex"))?;
    // The reason reaches clients (a ClawHub download says why it cannot
    // be served): the blob's name, never where the data directory is.
    let bundle = blobs.read(&digest).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("bundle blob {}: {}", digest.to_hex(), e.kind()),
        )
    })?;
    let source = archive::Source {
        bundle: &bundle,
        kind: package.kind,
        name: &package.name,
        version: &version.version,
        description: &version.description,
        publisher: &version.published_by,
    };
    Ok(match archive::render(&source, shape, limits) {
        Ok(zip) => {
            let digest = blobs.put(&zip)?;
            FeedArchiveRow::Stored {
                cksum: digest.to_hex(),
                size: zip.len() as u64,
            }
        }
        Err(reason) => FeedArchiveRow::LeftOut(reason),
    })
}

/// What a render needs: the items as they were at one generation.
pub(super) struct RenderJob {
    generation: u64,
    items: Vec<Arc<FeedItem>>,
}

/// Documents rendered and prepared (compressed, hashed) from a
/// [`RenderJob`], ready for [`Feeds::place`].
pub(super) struct RenderedDocs {
    generation: u64,
    docs: Vec<(String, Arc<Prepared>, FileMeta)>,
}

impl RenderedDocs {
    /// The generation of the items they show.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }
}

/// Renders every feed document from `job`: the well-known index, one per
/// scope, and the marketplace. Each lists every item, so this costs in
/// proportion to the registry; it takes no lock.
pub(super) fn render(job: RenderJob, cfg: &config::Feeds, base_url: &str) -> RenderedDocs {
    let items: Vec<&FeedItem> = job.items.iter().map(|item| &**item).collect();
    let mut docs = vec![(
        feeds::wellknown::INDEX_PATH.to_string(),
        feeds::wellknown::render(items.iter().copied()),
    )];
    for scope in &cfg.scopes {
        docs.push((
            format!("{}/{}", scope.path, feeds::wellknown::INDEX_PATH),
            feeds::wellknown::render(items.iter().copied().filter(|i| feeds::in_scope(scope, i))),
        ));
    }
    docs.push((
        MARKETPLACE_PATH.to_string(),
        feeds::marketplace::render(cfg, base_url, items.iter().copied()),
    ));
    let now = unix_now();
    let docs = docs
        .into_iter()
        .map(|(path, body)| {
            let meta = FileMeta {
                length: body.len() as u64,
                sha256: Sha256Digest::of(&body).to_hex(),
            };
            (path, Arc::new(Prepared::new(body, now)), meta)
        })
        .collect();
    RenderedDocs {
        generation: job.generation,
        docs,
    }
}

#[cfg(test)]
mod tests;
