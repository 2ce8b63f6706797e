//! Keeping a static export of the signed index: once on demand
//! (`skillreg export-static`) or after every change (`[export] dir`).
//!
//! An [`Exporter`] has its own prepared cache and its own [`Signing`] state:
//! the tree's `config.json` differs from the daemon's (downloads come from
//! `/blobs/`), so its snapshot and timestamp are its own, while index files
//! and their statements are byte-identical to the daemon's.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::catalog::Catalog;
use super::clawhub::tree;
use super::downloads::Downloads;
use super::feeds::{FeedView, Feeds};
use super::signing::Signing;
use super::{Registry, RegistryError};
use crate::blobs::{BlobStore, Sha256Digest};
use crate::config::{self, Config};
use crate::index::export::{self, TreeTarget};
use crate::index::{IndexCache, Prepared};
use crate::store::{PackageRow, Store};

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Index files (one per package).
    pub packages: usize,
    /// Blob files newly copied.
    pub blobs_written: usize,
    /// Files below `index/` written.
    pub files_written: usize,
}

/// A static tree kept in step with the store.
pub(super) struct Exporter {
    target: TreeTarget,
    cache: IndexCache,
    signing: Signing,
    /// ETag of each file as last written, to write only what changed.
    written: HashMap<String, Vec<u8>>,
    /// A write failed; everything is re-checked at the next sync.
    dirty: bool,
    /// Packages are placed in the cache that no signed snapshot names yet.
    unsigned: bool,
    /// The feeds of the tree: their marketplace names the tree's base URL.
    feeds: Feeds,
    feed_view: FeedView,
    base_url: String,
    feeds_config: config::Feeds,
    limits: crate::bundle::ArchiveLimits,
    /// The approved packages, for the tree's ClawHub files.
    catalog: Catalog,
    /// Packages whose ClawHub files are not written since they changed.
    clawhub_changed: BTreeSet<String>,
}

/// The tree `[export]` asks for: its directory, or its bucket (listed
/// once, so that an update sends only what changed).
pub(super) fn configured_target(config: &Config) -> Result<Option<TreeTarget>, RegistryError> {
    let bad_config = |e: config::ConfigError| RegistryError::Io(std::io::Error::other(e));
    if let Some(url) = config.export.bucket().map_err(bad_config)? {
        let bucket = crate::bucket::Bucket::open(&url, &config.s3).map_err(std::io::Error::from)?;
        return Ok(Some(TreeTarget::Bucket(export::BucketTree::open(
            bucket,
            config.export.max_listed_objects,
        )?)));
    }
    Ok((!config.export.dir.as_os_str().is_empty())
        .then(|| TreeTarget::Dir(config.export.dir.clone())))
}

impl Exporter {
    /// Where the tree is written.
    pub(super) fn target(&self) -> &TreeTarget {
        &self.target
    }

    /// Builds the whole tree in `target` for clients reaching it at
    /// `base_url`.
    pub(super) fn open(
        config: &Config,
        store: &mut Store,
        blobs: &BlobStore,
        target: TreeTarget,
        base_url: &str,
    ) -> Result<(Exporter, ExportSummary), RegistryError> {
        let (data_dir, cfg) = (&config.data_dir, &config.signing);
        let mut exporter = Exporter {
            target,
            cache: IndexCache::default(),
            signing: Signing::open(data_dir, store, cfg)?,
            written: HashMap::new(),
            dirty: false,
            unsigned: false,
            feeds: Feeds::default(),
            feed_view: FeedView::default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            feeds_config: config.feeds.clone(),
            limits: config.limits.archive(),
            catalog: Catalog::default(),
            clawhub_changed: BTreeSet::new(),
        };
        // A crash while the tree was written leaves temp files beside the
        // files they were to replace; nothing else removes them.
        let swept = exporter.target.sweep_temps()?;
        if swept > 0 {
            tracing::info!(tree = %exporter.target, swept, "removed temp files an interrupted export left");
        }
        let config_json = export::config_json(base_url);
        exporter
            .signing
            .file_changed(&exporter.cache, "config.json", &config_json);
        exporter.cache.put(
            "config.json".into(),
            Prepared::new(config_json, crate::fsutil::unix_now()),
        );
        // Statement by statement, not in one transaction: `export-static`
        // runs beside a daemon that writes, which must not wait for it.
        let packages = store.packages()?;
        for package in &packages {
            let (path, body) = Registry::render_package(store, package)?;
            super::place_index_file(
                &exporter.cache,
                &mut exporter.signing,
                path,
                body,
                package.updated_at,
            );
            exporter.feed_changed(store, blobs, package)?;
        }
        exporter.signing.put_roots(store, &exporter.cache)?;
        exporter.sign_snapshot(store, cfg)?;
        let mut summary = exporter.sync(store, blobs)?;
        // Snapshots and nodes an earlier run left are stale once the new
        // timestamp is in place (not before: until then the old timestamp
        // names one of them).
        for name in exporter.target.list_dir("index/_skillreg/snapshot")? {
            let path = format!("_skillreg/snapshot/{name}");
            if exporter.cache.get(&path).is_none() {
                exporter.target.remove(&format!("index/{path}"))?;
            }
        }
        let cache = &exporter.cache;
        let swept = exporter
            .target
            .sweep_tree_nodes(|path| cache.get(path).is_some())?;
        if swept > 0 {
            tracing::debug!(tree = %exporter.target, swept, "removed snapshot-tree nodes of earlier runs");
        }
        summary.packages = packages.len();
        Ok((exporter, summary))
    }

    /// Re-renders packages into the tree's cache after a publish, yank or
    /// import, and signs the tree's snapshot once (with the writer's
    /// connection: it takes the next snapshot version); [`Exporter::sync`]
    /// then writes them. A package that fails to render does not keep the
    /// others out: each is placed, and those that failed are returned, for
    /// the caller to try again, with the first error once the snapshot is
    /// signed.
    pub(super) fn place(
        &mut self,
        store: &mut Store,
        blobs: &BlobStore,
        packages: &[PackageRow],
        cfg: &config::Signing,
    ) -> (Vec<PackageRow>, Result<(), RegistryError>) {
        self.unsigned = true;
        let mut failed = Vec::new();
        let mut first_error = None;
        for package in packages {
            if let Err(e) = self.package_changed(store, blobs, package) {
                tracing::warn!(package = %package.name, error = %e, "could not render a package for the static export; it is tried again");
                failed.push(package.clone());
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.sign_snapshot(store, cfg) {
            return (failed, Err(e));
        }
        self.unsigned = false;
        (failed, first_error.map_or(Ok(()), Err))
    }

    /// Whether the tree's cache holds changes its snapshot does not sign
    /// yet (signing failed), or files not yet written (a write failed).
    pub(super) fn needs_signing(&self) -> bool {
        self.unsigned
    }

    /// Whether a write to the tree failed and waits for the next sync.
    pub(super) fn dirty(&self) -> bool {
        self.dirty
    }

    /// Places one package's index file and feeds.
    fn package_changed(
        &mut self,
        store: &mut Store,
        blobs: &BlobStore,
        package: &PackageRow,
    ) -> Result<(), RegistryError> {
        let (path, body) = Registry::render_package(store, package)?;
        super::place_index_file(
            &self.cache,
            &mut self.signing,
            path,
            body,
            package.updated_at,
        );
        self.feed_changed(store, blobs, package)
    }

    fn feed_changed(
        &mut self,
        store: &Store,
        blobs: &BlobStore,
        package: &PackageRow,
    ) -> Result<(), RegistryError> {
        self.feeds
            .package_changed(&self.feed_view, store, blobs, package, &self.limits)?;
        self.catalog
            .package_changed(store, blobs, package, &self.limits)?;
        self.clawhub_changed.insert(package.name.clone());
        Ok(())
    }

    /// Renders changed feed documents, then signs the tree's snapshot.
    fn sign_snapshot(
        &mut self,
        store: &mut Store,
        cfg: &config::Signing,
    ) -> Result<(), RegistryError> {
        self.feeds.publish(
            &self.feeds_config,
            &self.base_url,
            &mut self.signing,
            &self.cache,
            &self.feed_view,
        );
        self.signing.publish(store, &self.cache, cfg)
    }

    /// Writes the feeds' zips (content-addressed: new paths, which no
    /// document names yet).
    fn write_feed_zips(&self, blobs: &BlobStore) -> Result<(), RegistryError> {
        let wanted = self.feeds.static_zips(&self.feed_view, &self.feeds_config);
        for (path, digest) in &wanted {
            self.target.copy_blob(path, blobs, digest)?;
        }
        Ok(())
    }

    /// Writes the feeds' documents (outside `index/`, at the paths the
    /// daemon serves them), replacing the ones there, before the snapshot
    /// that vouches for them.
    fn write_feed_docs(&self) -> Result<(), RegistryError> {
        for (path, file) in self.feed_view.docs.entries() {
            self.target.write_at(&path, &file.body)?;
        }
        Ok(())
    }

    /// Writes ClawHub's files (`index-spec/export.md` §8): each changed
    /// package's zips, then its documents, then the catalog's. They are not
    /// signed (the CLI checks no signature), so they come after the signed
    /// tree, and a failure to write them never holds that back; a failed
    /// write leaves the package to the next sync.
    fn write_clawhub(&mut self, store: &Store, blobs: &BlobStore) -> Result<(), RegistryError> {
        let downloads = Downloads::open(store)?;
        for name in &self.clawhub_changed {
            let Some(package) = self.catalog.get(name) else {
                continue;
            };
            for (path, digest) in tree::package_zips(package) {
                self.target.copy_blob(&path, blobs, &digest)?;
            }
            for (path, bytes) in tree::package_files(store, &downloads, package, &self.base_url)? {
                self.target.write_at(&path, &bytes)?;
            }
        }
        self.clawhub_changed.clear();
        let totals = downloads.totals();
        for (path, bytes) in tree::catalog_files(self.catalog.packages(), &totals, &self.base_url) {
            self.target.write_at(&path, &bytes)?;
        }
        Ok(())
    }

    /// Removes the zips of versions no longer served (yanked since), found
    /// in the tree's zip folders, so a tree written by an earlier run or
    /// process is pruned too.
    fn prune_feed_zips(&mut self) -> Result<(), RegistryError> {
        let wanted: std::collections::BTreeSet<String> = self
            .feeds
            .static_zips(&self.feed_view, &self.feeds_config)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        let index_dir = crate::feeds::wellknown::DIR;
        let mut dirs = vec![format!("{index_dir}files"), "claude/files".to_string()];
        for scope in &self.feeds_config.scopes {
            dirs.push(format!("{}/{index_dir}files", scope.path));
        }
        for dir in dirs {
            for name in self.target.list_dir(&dir)? {
                let path = format!("{dir}/{name}");
                if name.ends_with(".zip") && !wanted.contains(&path) {
                    self.target.remove(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Follows rotations and re-signs before expiry, like the daemon's own
    /// documents (with the writer's connection: a rotation may issue a
    /// root). Returns whether anything was re-signed, for a sync to write.
    pub(super) fn refresh_signing(
        &mut self,
        data_dir: &Path,
        store: &mut Store,
        cfg: &config::Signing,
    ) -> Result<bool, RegistryError> {
        self.signing.refresh(data_dir, store, &self.cache, cfg)
    }

    /// Writes every blob the index names and every file whose bytes
    /// changed. It only reads the store, so it runs on a connection of its
    /// own, without the writer lock: a slow target holds up no publish.
    pub(super) fn sync(
        &mut self,
        store: &Store,
        blobs: &BlobStore,
    ) -> Result<ExportSummary, RegistryError> {
        self.dirty = true;
        let mut summary = ExportSummary::default();
        for cksum in store.approved_cksums()? {
            let digest = Sha256Digest::from_hex(&cksum).ok_or_else(|| {
                RegistryError::Io(std::io::Error::other("stored checksum is not hex"))
            })?;
            if self.target.write_blob(blobs, &digest)? {
                summary.blobs_written += 1;
            }
        }
        self.write_feed_zips(blobs)?;
        let mut changed = Vec::new();
        for (path, file) in self.cache.entries() {
            if self.written.get(&path).map(Vec::as_slice) != Some(file.etag.as_bytes()) {
                changed.push(path);
            }
        }
        // Files at paths this exporter has not written yet come first: the
        // tree's current snapshot names none of them, so a write that keeps
        // failing here (a full disk, a file in the way) leaves the tree as
        // verifiable as it was (`index-spec/export.md` §4, step 2).
        // (At start, `written` is empty: the target says what it holds.)
        let (fresh, replaced): (Vec<String>, Vec<String>) =
            changed.iter().cloned().partition(|path| {
                !export::is_signed_top(path)
                    && !self.written.contains_key(path)
                    && !self.target.holds(&format!("index/{path}"))
            });
        self.target.write_files(&self.cache, &fresh)?;
        self.write_feed_docs()?;
        self.target.write_files(&self.cache, &replaced)?;
        for path in &changed {
            if let Some(file) = self.cache.get(path) {
                self.written
                    .insert(path.clone(), file.etag.as_bytes().to_vec());
            }
        }
        // Snapshots the cache dropped are dropped from the tree too.
        let stale: Vec<String> = self
            .written
            .keys()
            .filter(|p| self.cache.get(p).is_none())
            .cloned()
            .collect();
        for path in stale {
            self.target.remove(&format!("index/{path}"))?;
            self.written.remove(&path);
        }
        self.prune_feed_zips()?;
        summary.files_written = changed.len();
        if let Err(e) = self.write_clawhub(store, blobs) {
            // The signed tree is written; only ClawHub's files wait.
            tracing::error!(error = %e, tree = %self.target, "writing the static tree's ClawHub files failed; retrying every second");
            return Ok(summary);
        }
        self.dirty = false;
        Ok(summary)
    }
}

/// `skillreg export-static`: writes the complete signed tree for `base_url`
/// into `out`, from the data dir in `config`. Safe while the daemon runs.
pub fn export_static(
    config: &Config,
    out: &Path,
    base_url: &str,
) -> Result<ExportSummary, RegistryError> {
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(RegistryError::BadRequest(format!(
            "--base-url `{base_url}` must start with http:// or https://"
        )));
    }
    let data_dir = &config.data_dir;
    if !data_dir.join(crate::store::DB_FILE).exists() {
        return Err(RegistryError::BadRequest(format!(
            "{} holds no skillreg database; pass the daemon's --data directory",
            data_dir.display()
        )));
    }
    let mut store = Store::open(data_dir)?;
    // `attach`: the daemon may be running, with temp files in flight; the
    // export may store zips the feeds render.
    let blobs = BlobStore::attach(data_dir)?;
    let target = TreeTarget::Dir(out.to_path_buf());
    let (_, summary) = Exporter::open(config, &mut store, &blobs, target, base_url)?;
    Ok(summary)
}
