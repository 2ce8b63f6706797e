//! A `registry` source: another skillreg, read through [`TrustedRegistry`]
//! from the upstream's pinned root (`root_key`): its timestamp and snapshot
//! are verified before anything is fetched.
//!
//! The sync is incremental: it walks the upstream snapshot's hash tree
//! (`index-spec/signing.md` §6.2) and descends only into subtrees whose hash
//! differs from the one recorded after it was last fully processed, so an
//! unchanged upstream costs its timestamp and nothing more; an index file is
//! fetched only when its hash differs from the one recorded for it, and a
//! bundle only when its version is not stored yet. Those records are
//! committed per subtree and per file, so a run killed half way resumes
//! where it stopped. Nothing whose signature or checksum fails is stored; a
//! failing upstream never deletes or changes local data.

use std::path::Path;
use std::time::Duration;

use super::progress::{count, follow_upstream_yank, Progress};
use crate::client::verify::{self, IndexLine, RegistryOptions, TrustError, TrustedRegistry};
use crate::config::SourceConfig;
use crate::index::sign::FileMeta;
use crate::index::snapshot_tree::Node;
use crate::package::glob_matches;
use crate::registry::{Offer, Registry};
use crate::store::{SyncRun, VersionStatus};

/// Largest bundle fetched when the upstream line gives no size.
const DEFAULT_BUNDLE_CAP: u64 = 50 * 1024 * 1024;

/// An upstream that sends nothing for this long fails the request (retried
/// like any transport error), instead of holding the run for the client's
/// 300 s per attempt.
const UPSTREAM_STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often one run re-reads an upstream's signed metadata after finding
/// an index file newer than its snapshot (the upstream published meanwhile).
const MAX_REFRESHES: u32 = 3;

/// Why a registry source's run stopped (a failing index file or bundle is
/// not an error: it is counted and named in the run's detail).
#[derive(Debug, thiserror::Error)]
pub enum RegistrySourceError {
    /// The upstream's signed metadata could not be used.
    #[error("cannot use the upstream: {}", .0.for_mirror())]
    Open(TrustError),
    /// An index file changed mid-run and the metadata could not be re-read.
    #[error("{path} changed upstream during the run, and re-reading the upstream's signed metadata failed (versions stored earlier in this run stay): {}", .source.for_mirror())]
    Refresh {
        /// The index file.
        path: String,
        /// Why.
        source: TrustError,
    },
    /// The upstream's download URL cannot be known.
    #[error("{}", .0.for_mirror())]
    Download(TrustError),
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// One run of a registry source.
struct RegistrySync<'a> {
    registry: &'a Registry,
    source: &'a SourceConfig,
    opts: RegistryOptions,
    upstream: TrustedRegistry,
    refreshes: u32,
    /// Subtrees whose every file was handled: (mirror-state key, value),
    /// children before their parents.
    done_subtrees: Vec<(String, String)>,
}

/// Syncs `source` into `registry`; `state` is the source's own state
/// directory (the verifying client's cache of the upstream's metadata).
pub(super) fn sync(
    registry: &Registry,
    state: &Path,
    source: &SourceConfig,
    run: &mut SyncRun,
    progress: &mut Progress<'_>,
) -> Result<(), RegistrySourceError> {
    let opts = RegistryOptions {
        url: source.url.clone(),
        trust_root: Some(source.root_key.clone()),
        trust_on_first_use: false,
        offline: false,
        token: source.token.clone(),
        ca_cert: None,
        state_home: state.to_path_buf(),
    };
    let upstream = open(&opts).map_err(RegistrySourceError::Open)?;
    let mut sync = RegistrySync {
        registry,
        source,
        opts,
        upstream,
        refreshes: 0,
        done_subtrees: Vec::new(),
    };
    let filters = filters_digest(source);
    for (digit, meta) in sync.upstream.snapshot().children.clone() {
        sync.subtree(&digit, &meta, &filters, run, progress)?;
    }
    // Subtrees are recorded as done only by a run without a failure: each
    // file's own record already lets a failed or killed run resume, and a
    // run that stored nothing leaves nothing behind.
    if run.failed == 0 {
        for (key, value) in &sync.done_subtrees {
            registry.set_mirror_state(&source.name, key, value)?;
        }
    }
    Ok(())
}

/// What the include/exclude globs select, as a short digest: a subtree
/// recorded as done under other globs is walked again.
fn filters_digest(source: &SourceConfig) -> String {
    let globs = format!("{:?}\0{:?}", source.include, source.exclude);
    crate::blobs::Sha256Digest::of(globs.as_bytes()).to_hex()[..16].to_string()
}

/// Opens the upstream, retrying transient failures.
fn open(opts: &RegistryOptions) -> Result<TrustedRegistry, TrustError> {
    with_retries(|| TrustedRegistry::open_with_stall_timeout(opts, Some(UPSTREAM_STALL_TIMEOUT)))
}

impl RegistrySync<'_> {
    /// The subtree of the upstream's snapshot at `prefix`, pinned by its
    /// parent with `meta`: skipped without a request when that hash is the
    /// one recorded as done (under the same globs), else its node fetched
    /// and each child or index file taken in turn. Noted as done, with its
    /// count of lines, when everything in it was (see [`sync`] for when
    /// that note is recorded). Returns that count, or `None` when something
    /// in it must be tried again.
    fn subtree(
        &mut self,
        prefix: &str,
        meta: &FileMeta,
        filters: &str,
        run: &mut SyncRun,
        progress: &mut Progress<'_>,
    ) -> Result<Option<i64>, RegistrySourceError> {
        let state_key = format!("tree:{prefix}");
        let done = self.registry.mirror_state(&self.source.name, &state_key)?;
        let recorded = done.as_deref().map(|v| v.split(' ').collect::<Vec<_>>());
        if let Some([hash, globs, count]) = recorded.as_deref() {
            if *hash == meta.sha256 && globs == &filters {
                let count: i64 = count.parse().unwrap_or(0);
                run.discovered += count;
                run.unchanged += count;
                return Ok(Some(count));
            }
        }
        let node = match with_retries(|| self.upstream.node(prefix, meta)) {
            Ok(node) => node,
            Err(e) => {
                run.failed += 1;
                run.detail
                    .push(format!("snapshot node `{prefix}`: {}", e.for_mirror()));
                return Ok(None);
            }
        };
        let mut total = Some(0i64);
        let add = |total: Option<i64>, part: Option<i64>| Some(total? + part?);
        match node {
            Node::Interior(children) => {
                for (digit, child) in children {
                    let part =
                        self.subtree(&format!("{prefix}{digit}"), &child, filters, run, progress)?;
                    total = add(total, part);
                }
            }
            Node::Bin(files) => {
                for path in files.keys() {
                    if path == "config.json" || path.starts_with('_') {
                        continue;
                    }
                    let name = path.rsplit('/').next().unwrap_or(path).to_string();
                    let part = if wanted(self.source, &name) {
                        let lines = self.index_file(path, &name, run)?;
                        progress.tick(run);
                        lines
                    } else {
                        Some(0)
                    };
                    total = add(total, part);
                }
            }
        }
        if let Some(lines) = total {
            self.done_subtrees
                .push((state_key, format!("{} {filters} {lines}", meta.sha256)));
        }
        Ok(total)
    }

    /// One index file: skipped when its signed hash is the one recorded as
    /// done, else fetched and every line offered; recorded as done when
    /// every line was. Returns its count of lines when done.
    fn index_file(
        &mut self,
        path: &str,
        name: &str,
        run: &mut SyncRun,
    ) -> Result<Option<i64>, RegistrySourceError> {
        // From the snapshot in use, which a refresh may replace.
        let sha256 = match with_retries(|| self.upstream.file_meta(path)) {
            Ok(Some(meta)) => meta.sha256,
            Ok(None) => {
                run.detail.push(format!(
                    "{path}: no longer listed by the upstream's snapshot v{}; skipped",
                    self.upstream.snapshot().version
                ));
                return Ok(None);
            }
            Err(e) => {
                run.failed += 1;
                run.detail.push(format!("{path}: {}", e.for_mirror()));
                return Ok(None);
            }
        };
        let state_key = format!("file:{path}");
        let done = self.registry.mirror_state(&self.source.name, &state_key)?;
        if let Some((hash, count)) = done.as_deref().and_then(|v| v.split_once(' ')) {
            if hash == sha256 {
                let count: i64 = count.parse().unwrap_or(0);
                run.discovered += count;
                run.unchanged += count;
                return Ok(Some(count));
            }
        }
        let Some((bytes, sha256)) = self.fetch_index_file(path, sha256, run)? else {
            return Ok(None);
        };
        run.updated += 1;
        let dl = self.upstream.dl().map_err(RegistrySourceError::Download)?;
        let lines = verify::parse_index_lines(name, &bytes);
        let mut all_done = true;
        for line in &lines {
            all_done &= self.line(line, &dl, path, &sha256, run)?;
        }
        if !all_done {
            return Ok(None);
        }
        self.registry.set_mirror_state(
            &self.source.name,
            &state_key,
            &format!("{sha256} {}", lines.len()),
        )?;
        Ok(Some(lines.len() as i64))
    }

    /// Fetches an index file against its signed hash. If it is newer than
    /// the snapshot (the upstream published after the snapshot was read),
    /// the signed metadata is read again and the file taken again; if the
    /// new snapshot still lists the same hash, nothing was published: the
    /// file is not what was signed. Returns the bytes and the hash they
    /// match, or `None` (reported in `run`).
    fn fetch_index_file(
        &mut self,
        path: &str,
        mut sha256: String,
        run: &mut SyncRun,
    ) -> Result<Option<(Vec<u8>, String)>, RegistrySourceError> {
        loop {
            match with_retries(|| self.upstream.fetch_index_file(path)) {
                Ok(b) => return Ok(Some((b, sha256))),
                Err(e @ (TrustError::Mismatch { .. } | TrustError::EndlessData { .. }))
                    if self.refreshes < MAX_REFRESHES =>
                {
                    self.refreshes += 1;
                    self.upstream =
                        open(&self.opts).map_err(|source| RegistrySourceError::Refresh {
                            path: path.to_string(),
                            source,
                        })?;
                    let version = self.upstream.snapshot().version;
                    let listed = match with_retries(|| self.upstream.file_meta(path)) {
                        Ok(listed) => listed,
                        Err(e) => {
                            run.failed += 1;
                            run.detail.push(format!("{path}: {}", e.for_mirror()));
                            return Ok(None);
                        }
                    };
                    match listed {
                        Some(meta) if meta.sha256 != sha256 => {
                            run.detail.push(format!(
                                "{path}: changed upstream during the run; took it again under snapshot v{version}"
                            ));
                            sha256 = meta.sha256.clone();
                        }
                        Some(_) => {
                            run.failed += 1;
                            run.detail.push(format!(
                                "{path}: not the file the upstream signed ({}), and its newly verified snapshot v{version} still lists the same hash, so nothing was published meanwhile. The file was tampered with on the way or on the upstream; not stored",
                                tamper_facts(&e)
                            ));
                            return Ok(None);
                        }
                        None => {
                            run.detail.push(format!(
                                "{path}: removed upstream during the run (snapshot v{version} no longer lists it); skipped"
                            ));
                            return Ok(None);
                        }
                    }
                }
                Err(e) => {
                    run.failed += 1;
                    run.detail.push(format!("{path}: {}", e.for_mirror()));
                    return Ok(None);
                }
            }
        }
    }

    /// One index line: counted if stored (its upstream yank followed),
    /// skipped if yanked, else its bundle fetched, checked against the
    /// signed line's cksum and offered. Returns false when it failed and
    /// must be tried again by a later run.
    fn line(
        &self,
        line: &IndexLine,
        dl: &str,
        path: &str,
        sha256: &str,
        run: &mut SyncRun,
    ) -> Result<bool, RegistrySourceError> {
        run.discovered += 1;
        let entry = &line.entry;
        match self.registry.version_status(&entry.name, &entry.vers)? {
            Some(VersionStatus::Rejected) => {
                run.rejected += 1;
                return Ok(true);
            }
            Some(_) => {
                run.unchanged += 1;
                if entry.yanked {
                    follow_upstream_yank(
                        self.registry,
                        &self.source.name,
                        &entry.name,
                        &entry.vers,
                        run,
                    )?;
                }
                return Ok(true);
            }
            None => {}
        }
        if entry.yanked {
            run.skipped += 1;
            run.detail.push(format!(
                "{}@{}: yanked upstream, not mirrored",
                entry.name, entry.vers
            ));
            return Ok(true);
        }
        let what = format!("{}@{}", entry.name, entry.vers);
        let url = verify::download_url(dl, &entry.name, &entry.vers, &entry.cksum);
        let bundle = match with_retries(|| {
            self.upstream
                .fetch(&url, line.size.unwrap_or(DEFAULT_BUNDLE_CAP))
        }) {
            Ok(b) => b,
            Err(e) => {
                run.failed += 1;
                run.detail.push(format!("{what}: {}", e.for_mirror()));
                return Ok(false);
            }
        };
        let actual = crate::blobs::Sha256Digest::of(&bundle).to_hex();
        if !actual.eq_ignore_ascii_case(&entry.cksum) {
            run.failed += 1;
            run.detail.push(format!(
                "{what}: the bundle's sha256 is {actual}, the signed index says {}; not stored",
                entry.cksum
            ));
            return Ok(false);
        }
        let offer = Offer {
            source: &self.source.name,
            auto_approve: self.source.auto_approve,
            kind: entry.kind,
            name: &entry.name,
            version: &entry.vers,
            bundle: &bundle,
            upstream_line: Some(entry),
            // A crate passes through mirrors of mirrors unchanged.
            verbatim_line: (entry.kind == crate::package::Kind::Crate).then_some(line.raw.as_str()),
            upstream: serde_json::json!({
                "url": self.upstream.base(),
                "index_path": path,
                "index_sha256": sha256,
                "snapshot_version": self.upstream.snapshot().version,
                "root_version": self.upstream.root().version,
                "signature": "verified",
                "provenance": entry.provenance,
            }),
        };
        let outcome = self.registry.import_mirrored(&offer)?;
        count(run, &what, outcome);
        Ok(true)
    }
}

/// include/exclude globs (`*` any run, `?` one character); the
/// `wellknown` and `clawhub` sources select by them too.
pub(super) fn wanted(source: &SourceConfig, name: &str) -> bool {
    (source.include.is_empty() || source.include.iter().any(|g| glob_matches(g, name)))
        && !source.exclude.iter().any(|g| glob_matches(g, name))
}

/// What a file that does not match its signed length and hash looked like,
/// without the advice the error carries for other cases.
fn tamper_facts(e: &verify::TrustError) -> String {
    match e {
        verify::TrustError::Mismatch {
            what,
            by,
            got,
            want,
        } => format!("mix-and-match: {what} is {got}, but the signed {by} lists {want}"),
        verify::TrustError::EndlessData { url, limit } => {
            format!("{url} sent more than the {limit} bytes its signed length allows")
        }
        other => other.for_mirror(),
    }
}

/// Retries transient failures (transport errors, 5xx) three times with
/// exponential backoff; verification failures are never retried.
fn with_retries<T>(
    mut f: impl FnMut() -> Result<T, verify::TrustError>,
) -> Result<T, verify::TrustError> {
    let mut wait = Duration::from_millis(200);
    for attempt in 0.. {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if attempt < 3 && e.is_transient() => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests;
