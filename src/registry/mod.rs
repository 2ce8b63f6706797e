//! The registry service: the one place where a request's validated input is
//! stored and the index re-rendered. Data flows one way:
//! request (server) → validate (bundle, package) → store + blobs → render (index).
//!
//! Every method is synchronous (SQLite and fsync); the server calls them on
//! tokio's blocking pool. Writes serialize on one writer connection.

mod catalog;
pub mod clawhub;
mod downloads;
mod export;
mod export_follow;
mod feeds;
mod imports;
mod marketplace_export;
mod publish;
mod review;
mod signing;
#[cfg(test)]
mod test_support;
mod transfer;

pub use catalog::{
    CatalogError, CatalogFile, CatalogHit, CatalogPackage, CatalogPage, CatalogQuery,
    CatalogVersion, Catalogue, SkillZip, Sort, TagCount, MAX_FILE_BYTES,
};
pub use export::{export_static, ExportSummary};
pub use feeds::{FeedZip, LeftOut, MARKETPLACE_PATH};
pub use imports::{mirror_login, Imported, Offer};
pub use marketplace_export::{export_marketplace, MarketplaceExport};
pub use publish::{PublishDep, PublishMetadata, Published};
pub use review::{FileDiff, PendingVersion, ReviewFile};
pub use signing::{export_root, rotate, Expiries, Rotation};
pub use transfer::{OfflineRegistry, TransferItem, TransferSink};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::blobs::{BlobStore, Sha256Digest};
use crate::bundle::{self, ArchiveLimits, BundleError};
use crate::config::Config;
use crate::fsutil;
use crate::index::{self, sign, IndexCache, Prepared};
use crate::package::NameError;
use crate::store::{
    PackageRow, PooledReader, ReaderPool, SearchHit, SearchText, Store, StoreError, VersionStatus,
};
use crate::token::{Identity, Role};

/// The file holding the bootstrap admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Read-only connections in the pool: searches, downloads, review pages and
/// owner lookups each hold one for a moment, so a few keep any one slow read
/// from queueing the rest on two cores.
const READERS: usize = 4;

/// Packages rendered per transaction at start-up: about a tenth of a
/// second of a restart's work, so another process's write waits no longer.
const START_PASS_CHUNK: usize = 1000;

/// Why a registry operation failed. The server maps each to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A name or version breaks the rules.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The bundle was refused.
    #[error("{0}")]
    Bundle(#[from] BundleError),
    /// A store conflict or failure.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A non-admin publish to a name that a package waiting for review
    /// holds under another spelling or kind: it cannot be claimed, and the
    /// message names nothing of that package.
    #[error("the name `{0}` cannot be published right now: a name that differs only in case, `-`/`_` or kind is waiting for an admin's review; ask an admin")]
    NameInReview(String),
    /// Disk trouble.
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether `login` is a source's mirror login (`mirror:SOURCE`), which
/// owns what that source stores but is nobody's real ownership.
fn is_mirror_login(login: &str) -> bool {
    login.starts_with(&mirror_login(""))
}

/// An open registry: store, blobs, prepared index.
pub struct Registry {
    data_dir: PathBuf,
    config: Config,
    writer: Mutex<Store>,
    /// Locked only while `writer` is held, so documents follow the index in order.
    signing: Mutex<signing::Signing>,
    /// The static tree kept in step (`[export]`), off the publish path.
    follower: export_follow::TreeFollower,
    /// Read-only connections for everything that only reads.
    readers: ReaderPool,
    blobs: BlobStore,
    index: IndexCache,
    /// The agent-tool feeds' items, locked like `signing`.
    feeds: Mutex<feeds::Feeds>,
    /// Their documents and zips, for readers.
    feed_view: feeds::FeedView,
    /// Feed documents are rendered off the publish path (see
    /// [`Registry::flush_feeds`]); this tells the daemon's renderer.
    feed_changes: tokio::sync::Notify,
    /// One render at a time, so documents are placed in order.
    feed_render: Mutex<()>,
    /// The feeds' generation the last snapshot left behind, and the one the
    /// served documents show: documents are stale while the first is ahead.
    feeds_wanted: AtomicU64,
    feeds_placed: AtomicU64,
    /// What clients use to reach the daemon (the marketplace names it).
    base_url: String,
    /// Download counts, flushed in batches.
    downloads: downloads::Downloads,
    /// Every approved version's facts, locked like `signing`.
    catalog: Mutex<catalog::Catalog>,
    /// Their snapshot, for readers.
    catalog_view: catalog::CatalogView,
}

impl Registry {
    /// Opens (or creates) the registry in `config.data_dir`. On first start
    /// this creates the database, blob store, signing key and the bootstrap
    /// admin token. `base_url` is what clients use to reach the daemon.
    pub fn open(config: &Config, base_url: &str) -> Result<Registry, RegistryError> {
        let data_dir = config.data_dir.clone();
        fsutil::create_private_dir(&data_dir)?;
        let mut writer = Store::open(&data_dir)?;
        let readers = ReaderPool::open(&data_dir, READERS)?;
        let blobs = open_blobs(config, &data_dir)?;
        bootstrap_admin_token(&data_dir, &mut writer)?;
        let signing = signing::Signing::open(&data_dir, &mut writer, &config.signing)?;
        let downloads = downloads::Downloads::open(&readers.get())?;
        let registry = Registry {
            data_dir,
            config: config.clone(),
            writer: Mutex::new(writer),
            signing: Mutex::new(signing),
            follower: export_follow::TreeFollower::default(),
            readers,
            blobs,
            index: IndexCache::default(),
            feeds: Mutex::new(feeds::Feeds::default()),
            feed_view: feeds::FeedView::default(),
            feed_changes: tokio::sync::Notify::new(),
            feed_render: Mutex::new(()),
            feeds_wanted: AtomicU64::new(0),
            feeds_placed: AtomicU64::new(0),
            base_url: base_url.trim_end_matches('/').to_string(),
            downloads,
            catalog: Mutex::new(catalog::Catalog::default()),
            catalog_view: catalog::CatalogView::default(),
        };
        {
            let mut store = registry.writer();
            let mut signing = registry.signing();
            // config.json lives in the cache like any index file, so it is
            // signed, snapshotted and re-signed after a rotation like them.
            let config_json = index::config_json(base_url, config.auth_required);
            signing.file_changed(&registry.index, "config.json", &config_json);
            registry.index.put(
                "config.json".into(),
                Prepared::new(config_json, fsutil::unix_now()),
            );
            // In transactions of a bounded number of packages: one per
            // package costs a lock round and (on a fresh start) an fsync
            // each; one for all would keep other processes' writers (a
            // `skillreg token` command) waiting for the whole pass.
            for chunk in store.packages()?.chunks(START_PASS_CHUNK) {
                store.in_one_transaction(|store| {
                    for package in chunk {
                        registry.render(store, &mut signing, package)?;
                    }
                    Ok::<_, RegistryError>(())
                })?;
            }
            signing.put_roots(&store, &registry.index)?;
            // The first documents are rendered before the daemon serves.
            registry.feeds().publish(
                &config.feeds,
                &registry.base_url,
                &mut signing,
                &registry.index,
                &registry.feed_view,
            );
            let placed = registry.feeds().generation();
            registry.feeds_placed.store(placed, Ordering::SeqCst);
            registry.sign_snapshot(&mut store, &mut signing)?;
            if let Some(target) = export::configured_target(config)? {
                let (exporter, summary) = export::Exporter::open(
                    config,
                    &mut store,
                    &registry.blobs,
                    target,
                    &config.export.base_url,
                )?;
                tracing::info!(tree = %exporter.target(), packages = summary.packages, "static export is up to date");
                registry
                    .follower
                    .start(exporter, Store::open(&registry.data_dir)?);
            }
        }
        Ok(registry)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The prepared `config.json`.
    pub fn config_json(&self) -> Arc<Prepared> {
        self.index
            .get("config.json")
            .expect("config.json is prepared at open")
    }

    /// The prepared index file at `path`, if a package lives there.
    pub fn index_file(&self, path: &str) -> Option<Arc<Prepared>> {
        self.index.get(path)
    }

    /// Number of packages with at least one approved version (what
    /// `/healthz` reports; packages waiting for review are not counted).
    pub fn public_package_count(&self) -> Result<usize, RegistryError> {
        Ok(self.reader().public_package_count()?)
    }

    fn writer(&self) -> MutexGuard<'_, Store> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn signing(&self) -> MutexGuard<'_, signing::Signing> {
        self.signing.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn feeds(&self) -> MutexGuard<'_, feeds::Feeds> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn catalog_state(&self) -> MutexGuard<'_, catalog::Catalog> {
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows readers the catalog as it is now, then signs a new snapshot and
    /// timestamp naming every index file and the feed documents served now.
    /// Feed documents list every skill, so rendering them costs in
    /// proportion to the registry: when they are behind, the daemon's
    /// renderer is told instead (see [`Registry::flush_feeds`]).
    fn sign_snapshot(
        &self,
        store: &mut Store,
        signing: &mut signing::Signing,
    ) -> Result<(), RegistryError> {
        let wanted = self.feeds().generation();
        if wanted > self.feeds_wanted.swap(wanted, Ordering::SeqCst) {
            self.feed_changes.notify_one();
        }
        self.catalog_state().publish(&self.catalog_view);
        signing.publish(store, &self.index, &self.config.signing)
    }

    /// Whether a change is not yet in the feed documents served.
    pub fn feeds_stale(&self) -> bool {
        self.feeds_wanted.load(Ordering::SeqCst) > self.feeds_placed.load(Ordering::SeqCst)
    }

    /// Waits until a change leaves the feed documents behind.
    pub async fn feeds_changed(&self) {
        self.feed_changes.notified().await
    }

    /// Brings the feed documents up to date with every change so far:
    /// renders them without holding the writer lock (publishes go on),
    /// then serves them and signs a snapshot naming them. Changes made
    /// during the render are left for the next call, and so is a snapshot
    /// that could not be signed (the documents stay served and stale
    /// until it is). Returns whether anything was rendered. Blocks while
    /// another render runs.
    pub fn flush_feeds(&self) -> Result<bool, RegistryError> {
        let _one_render = self.feed_render.lock().unwrap_or_else(|e| e.into_inner());
        let (job, generation) = {
            let feeds = self.feeds();
            (feeds.pending(), feeds.generation())
        };
        let Some(job) = job else {
            if self.feeds_placed.load(Ordering::SeqCst) < generation {
                // The last render was placed (its documents are served),
                // but signing its snapshot failed: sign it now, or the
                // signed snapshot lists other bytes than those served
                // until some later publish.
                let mut store = self.writer();
                self.signing()
                    .publish(&mut store, &self.index, &self.config.signing)?;
            }
            self.feeds_placed.fetch_max(generation, Ordering::SeqCst);
            return Ok(false);
        };
        let rendered = feeds::render(job, &self.config.feeds, &self.base_url);
        let mut store = self.writer();
        let mut signing = self.signing();
        let (changed, placed) = {
            let mut feeds = self.feeds();
            let generation = rendered.generation();
            let changed = feeds.place(rendered, &mut signing, &self.index, &self.feed_view);
            (changed, generation)
        };
        if changed {
            signing.publish(&mut store, &self.index, &self.config.signing)?;
        }
        self.feeds_placed.fetch_max(placed, Ordering::SeqCst);
        Ok(true)
    }

    /// A prepared feed document, by URL path without the leading `/`
    /// (`.well-known/agent-skills/index.json`, `teams/data/…`,
    /// [`MARKETPLACE_PATH`]).
    ///
    /// A daemon first waits out a stale document ([`Registry::feeds_stale`],
    /// [`Registry::flush_feeds`]) so that a client reads its own change.
    pub fn feed_document(&self, path: &str) -> Option<Arc<Prepared>> {
        self.feed_view.docs.get(path)
    }

    /// A zip a feed document names, by its hex sha256 (lowercase, as the
    /// documents spell it), with where its blob is.
    pub fn feed_zip(&self, sha256: &str) -> Option<(Arc<FeedZip>, PathBuf)> {
        if sha256.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let digest = Sha256Digest::from_hex(sha256)?;
        let zip = self
            .feed_view
            .zips
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned()?;
        // A zip's blob the data directory lost comes back from the bucket
        // of `[storage] blobs`; without one it is a 404, as an unknown zip.
        match self.blobs.local_path(&zip.digest) {
            Ok(path) => Some((zip, path)),
            Err(e) => {
                tracing::error!(zip = %zip.digest, error = %e, "a feed's zip cannot be read");
                None
            }
        }
    }

    /// Counts one download of a version (a row id), in memory.
    pub fn count_download(&self, version_id: i64) {
        self.downloads.count(version_id);
    }

    /// All downloads of a version so far, flushed or not.
    pub fn downloads_of(&self, version_id: i64) -> u64 {
        self.downloads.total(version_id)
    }

    /// The downloads of the versions `version_ids` per day over the last
    /// `days` days (UTC, today included): `(YYYY-MM-DD, count)`, oldest
    /// first, days without downloads left out.
    pub fn daily_downloads(&self, version_ids: &[i64], days: i64) -> Vec<(String, u64)> {
        self.downloads.by_day(version_ids, days)
    }

    /// Writes the counted downloads to the store in one batch; the server
    /// calls this every few seconds and at shutdown.
    pub fn flush_downloads(&self) -> Result<usize, RegistryError> {
        Ok(self.downloads.flush(&mut self.writer())?)
    }

    /// The latest skills and plugins a feed cannot serve, with the reasons.
    pub fn feed_left_out(&self) -> Vec<LeftOut> {
        self.feeds().left_out()
    }

    /// When the served timestamp, snapshot and root expire.
    pub fn expiries(&self) -> Expiries {
        self.signing().expiries()
    }

    /// Periodic upkeep of signed metadata: follows key rotations and
    /// re-signs documents past half their lifetime. Returns true when
    /// something was re-signed.
    pub fn refresh_signatures(&self) -> Result<bool, RegistryError> {
        let mut store = self.writer();
        let mut signing = self.signing();
        let resigned = signing.refresh(
            &self.data_dir,
            &mut store,
            &self.index,
            &self.config.signing,
        )?;
        Ok(resigned)
    }

    fn reader(&self) -> PooledReader<'_> {
        self.readers.get()
    }

    fn archive_limits(&self) -> ArchiveLimits {
        self.config.limits.archive()
    }

    /// Registers a publisher's ed25519 public key (hex).
    pub fn register_publisher_key(
        &self,
        who: &Identity,
        public_key_hex: &str,
    ) -> Result<String, RegistryError> {
        if !who.has(Role::Publisher) {
            return Err(RegistryError::Forbidden(format!(
                "the token for `{}` has the role {}; registering a signing key needs a publisher token",
                who.login, who.role
            )));
        }
        let public = sign::PublicKey {
            keytype: "ed25519".into(),
            public: public_key_hex.trim().to_ascii_lowercase(),
        };
        let key = public.verifying_key().map_err(|e| {
            RegistryError::BadRequest(format!(
                "`public_key` must be 64 hex digits of an ed25519 key: {e}"
            ))
        })?;
        let keyid = sign::key_id(&key);
        self.writer()
            .add_publisher_key(&who.login, &keyid, &public.public)?;
        Ok(keyid)
    }

    /// The publisher keys of `who`.
    pub fn publisher_keys(
        &self,
        who: &Identity,
    ) -> Result<Vec<crate::store::PublisherKey>, RegistryError> {
        Ok(self.reader().publisher_keys(&who.login)?)
    }

    /// Yanks or unyanks `name@version`; the index changes before this returns.
    /// A package waiting for review is unknown to all but admins.
    pub fn set_yanked(
        &self,
        who: &Identity,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> Result<(), RegistryError> {
        let mut store = self.writer();
        let package = visible_package(&store, Some(who), name)?;
        self.check_owner(&store, who, &package)?;
        let package = store.set_yanked(&package.name, version, yanked, &who.login)?;
        crate::crash_point::crash_point("yank.after_commit");
        self.render_and_sign(&mut store, &package, "yank.after_render")?;
        tracing::info!(package = %package.name, %version, yanked, by = %who.login, "yank state changed");
        Ok(())
    }

    /// Where the blob of `name@version` lives, if that version exists.
    /// Only approved versions are public; an admin may fetch any (to review
    /// a pending one). Others get the same answer as for a missing version.
    pub fn download(
        &self,
        who: Option<&Identity>,
        name: &str,
        version: &str,
    ) -> Result<(PathBuf, u64, String), RegistryError> {
        let (blob, version_id, status, quarantined) = self
            .reader()
            .blob_of(name, version)?
            .filter(|(_, _, status, _)| {
                *status == VersionStatus::Approved || who.is_some_and(|w| w.has(Role::Admin))
            })
            .ok_or_else(|| StoreError::NotFound(format!("{name}@{version}")))?;
        // Its blob was damaged or lost: refuse rather than serve other bytes.
        if let Some(reason) = quarantined {
            return Err(StoreError::Quarantined {
                name: format!("{name}@{version}"),
                reason,
            }
            .into());
        }
        // An admin reviewing a pending version is not a download.
        if status == VersionStatus::Approved {
            self.downloads.count(version_id);
        }
        let digest = Sha256Digest::from_hex(&blob.cksum).ok_or_else(|| {
            RegistryError::Io(std::io::Error::other("stored checksum is not hex"))
        })?;
        Ok((self.blobs.local_path(&digest)?, blob.size, blob.cksum))
    }

    /// The cargo-style search, one page at a time; a text longer than a
    /// search needs is a bad request.
    pub fn search(
        &self,
        query: &str,
        page: usize,
        per_page: usize,
    ) -> Result<(Vec<SearchHit>, usize), RegistryError> {
        let text =
            SearchText::parse(query).map_err(|e| RegistryError::BadRequest(e.to_string()))?;
        let offset = page.saturating_sub(1).saturating_mul(per_page);
        Ok(self.reader().search(&text, offset, per_page)?)
    }

    /// The owners of a package, as `who` (if it sent a valid token) may
    /// see them: a package waiting for review is unknown to all but admins.
    pub fn owners(&self, who: Option<&Identity>, name: &str) -> Result<Vec<String>, RegistryError> {
        let store = self.reader();
        let package = visible_package(&store, who, name)?;
        Ok(store.owners(package.id)?)
    }

    /// Adds or removes owners; only an owner or an admin may. A package
    /// waiting for review is unknown to all but admins.
    pub fn change_owners(
        &self,
        who: &Identity,
        name: &str,
        logins: &[String],
        add: bool,
    ) -> Result<(), RegistryError> {
        if logins.is_empty() {
            return Err(RegistryError::BadRequest(
                "name at least one login in `users`".into(),
            ));
        }
        let mut store = self.writer();
        let package = visible_package(&store, Some(who), name)?;
        self.check_owner(&store, who, &package)?;
        if add {
            store.add_owners(&package, logins, &who.login)?;
        } else {
            store.remove_owners(&package, logins, &who.login)?;
        }
        Ok(())
    }

    fn check_owner(
        &self,
        store: &Store,
        who: &Identity,
        package: &PackageRow,
    ) -> Result<(), RegistryError> {
        if !who.has(Role::Publisher) {
            return Err(RegistryError::Forbidden(format!(
                "the token for `{}` has the role {}; this needs a publisher or admin token",
                who.login, who.role
            )));
        }
        if who.has(Role::Admin) || store.owners(package.id)?.contains(&who.login) {
            return Ok(());
        }
        Err(RegistryError::Forbidden(format!(
            "`{}` is not an owner of `{}`; ask an owner to add you with `cargo owner --add {} {}`",
            who.login, package.name, who.login, package.name
        )))
    }

    /// Re-renders one package's index file from the store and signs a
    /// statement for it; the caller then signs a new snapshot.
    fn render(
        &self,
        store: &Store,
        signing: &mut signing::Signing,
        package: &PackageRow,
    ) -> Result<(), RegistryError> {
        let (path, body) = Registry::render_package(store, package)?;
        place_index_file(&self.index, signing, path, body, package.updated_at);
        self.feeds().package_changed(
            &self.feed_view,
            store,
            &self.blobs,
            package,
            &self.archive_limits(),
        )?;
        self.catalog_state()
            .package_changed(store, &self.blobs, package, &self.archive_limits())
    }

    /// A package's index path and file bytes, rendered from the store.
    fn render_package(
        store: &Store,
        package: &PackageRow,
    ) -> Result<(String, Vec<u8>), RegistryError> {
        let entries = store.entries(package.id)?;
        let body =
            index::render(&entries).map_err(|e| RegistryError::Io(std::io::Error::other(e)))?;
        Ok((index::path_for(&package.name), body))
    }

    /// Re-renders a package and publishes a new snapshot and timestamp, then
    /// queues the package for the static export, which the daemon's export
    /// task writes after the change is acknowledged (see
    /// [`Registry::flush_export`]).
    /// `after_render` is the caller's test hook between the two (see
    /// [`crate::crash_point`]).
    fn render_and_sign(
        &self,
        store: &mut Store,
        package: &PackageRow,
        after_render: &'static str,
    ) -> Result<(), RegistryError> {
        let mut signing = self.signing();
        self.render(store, &mut signing, package)?;
        self.sign_snapshot(store, &mut signing)?;
        crate::crash_point::crash_point(after_render);
        self.export_packages(std::slice::from_ref(package));
        Ok(())
    }

    /// Opens another store connection (for the token cache).
    pub fn open_store(&self) -> Result<Store, RegistryError> {
        Ok(Store::open(&self.data_dir)?)
    }
}

/// The package `name` (any spelling) as `who` may know it. A package with
/// no approved version (only pending or rejected mirrored ones) exists for
/// admins alone, who review it; to anyone else, even a login that owns it
/// (such as its `mirror:SOURCE` login), it is exactly a name that does not
/// exist: the same `NotFound`, naming `name` as asked.
fn visible_package(
    store: &Store,
    who: Option<&Identity>,
    name: &str,
) -> Result<PackageRow, RegistryError> {
    let not_found = || RegistryError::from(StoreError::NotFound(format!("package `{name}`")));
    let package = store.package(name)?.ok_or_else(not_found)?;
    if who.is_some_and(|w| w.has(Role::Admin)) || store.has_approved(package.id)? {
        Ok(package)
    } else {
        Err(not_found())
    }
}

/// Puts a rendered index file (and its statement) in a cache, or removes
/// both when the package has no approved version left.
fn place_index_file(
    cache: &IndexCache,
    signing: &mut signing::Signing,
    path: String,
    body: Vec<u8>,
    updated_at: i64,
) {
    if body.is_empty() {
        signing.file_removed(cache, &path);
        cache.remove(&path);
    } else {
        signing.file_changed(cache, &path, &body);
        cache.put(path, Prepared::new(body, updated_at));
    }
}

/// The files of a checked bundle as stored JSON (for review diffs).
fn files_json(archive: &bundle::Archive) -> String {
    serde_json::to_string(&archive.entries.values().collect::<Vec<_>>()).expect("entries serialize")
}

/// Creates the bootstrap admin token on first start (when no token exists)
/// and writes it to `DATA/admin.token` with mode 0600. Never logged.
/// The data directory's blob store, writing through to the bucket of
/// `[storage] blobs` when one is set (checked to answer before the daemon
/// serves).
fn open_blobs(config: &Config, data_dir: &Path) -> Result<BlobStore, RegistryError> {
    let blobs = BlobStore::open(data_dir)?;
    let Some(url) = config
        .storage
        .bucket()
        .map_err(|e| RegistryError::Io(std::io::Error::other(e)))?
    else {
        return Ok(blobs);
    };
    let bucket = crate::bucket::Bucket::open(&url, &config.s3).map_err(std::io::Error::from)?;
    // A zip rendered from a bundle holds its files again, so a blob read
    // back is at most the larger of the two limits.
    let limits = &config.limits;
    let max_bytes = limits.max_bundle_bytes.max(limits.max_unpacked_bytes);
    Ok(blobs.with_bucket(bucket, max_bytes)?)
}

fn bootstrap_admin_token(data_dir: &Path, store: &mut Store) -> Result<(), RegistryError> {
    if !store.list_tokens()?.is_empty() {
        return Ok(());
    }
    let token = store.create_token("admin", Role::Admin, "bootstrap")?;
    fsutil::write_durable(
        &data_dir.join(ADMIN_TOKEN_FILE),
        format!("{token}\n").as_bytes(),
        0o600,
    )?;
    tracing::info!(path = %data_dir.join(ADMIN_TOKEN_FILE).display(), "created the bootstrap admin token");
    Ok(())
}
