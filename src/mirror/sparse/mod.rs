//! A `sparse` source: any cargo sparse index (crates.io, Kellnr,
//! Artifactory, a static tree). Nothing is signed with skillreg's keys, so
//! trust is TLS to the upstream, each `.crate`'s sha256 against the
//! `cksum` of its index line, and, when the admin carries in a pins file,
//! each index file's sha256 against its pin.
//!
//! A sparse index cannot be listed: a run mirrors what its selection
//! ([`selection`]) names and the dependencies those need ([`resolve`]).
//! Index lines are stored byte for byte as served
//! ([`crate::index::verbatim`]); only `yanked` follows the upstream. Every
//! index file is revalidated with its ETag, and `config.json` is read only
//! when something must be downloaded, so a run with nothing new costs one
//! conditional request per crate.

pub mod resolve;
pub mod selection;

use std::path::Path;
use std::sync::Arc;

use super::progress::{count, follow_upstream_yank, Progress};
use super::upstream_http::{is_internal_host, url_host, FetchError, UpstreamHttp};
use crate::blobs::Sha256Digest;
use crate::client::verify::{self, IndexLine};
use crate::config::SourceConfig;
use crate::index::verbatim::VerbatimLine;
use crate::package::Kind;
use crate::registry::{Imported, Offer, Registry};
use crate::store::{SyncRun, VersionStatus};
use resolve::{Follow, IndexFile, Needed};
use selection::{Pins, Selection, SelectionError, CRATES_IO_LOCK_SOURCES};

/// Largest index file read (crates.io's largest are a few MB).
const MAX_INDEX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Largest `config.json` read.
const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// The most versions one run resolves (and index files it fetches).
const MAX_VERSIONS: usize = 20_000;
/// The most index-file bytes one run reads: what it keeps in memory and in
/// its cache is bounded by this, whatever the upstream declares.
const MAX_RUN_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// Why a sparse source's run stopped (a crate that cannot be resolved,
/// fetched or verified is not an error: it is counted and named in the
/// run's detail).
#[derive(Debug, thiserror::Error)]
pub enum SparseSourceError {
    /// The selection cannot be read.
    #[error("{0}")]
    Selection(#[from] SelectionError),
    /// The HTTP client cannot be set up.
    #[error("{0}")]
    Http(FetchError),
    /// The upstream's `config.json` is unusable.
    #[error("the upstream's config.json at {url}: {reason}")]
    Config {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// What one run is asked for beyond the source's configuration: the
/// lockfile an admin sent (`skillreg admin mirror-lockfile`).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// `(origin, text)` of each lockfile.
    pub lockfiles: Vec<(String, String)>,
}

/// The lockfile `source` values this upstream stands for.
pub fn lock_sources(source: &SourceConfig) -> Vec<String> {
    let mut out: Vec<String> = if source.lock_sources.is_empty() {
        CRATES_IO_LOCK_SOURCES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        source.lock_sources.clone()
    };
    out.push(format!("sparse+{}", index_root(&source.url)));
    out
}

/// The index root with exactly one trailing `/`.
fn index_root(url: &str) -> String {
    format!("{}/", url.trim_end_matches('/'))
}

/// Reads what `source` (and `extra`) selects.
pub fn selection(source: &SourceConfig, extra: &Extra) -> Result<Selection, SelectionError> {
    let mut selection = Selection::default();
    for spec in &source.crates {
        selection
            .specs
            .push(crate::package::CrateSpec::parse(spec).map_err(|e| {
                SelectionError::Lockfile {
                    origin: "crates".into(),
                    reason: e.to_string(),
                }
            })?);
    }
    let sources = lock_sources(source);
    for pattern in &source.lockfiles {
        selection.add_lockfile_glob(pattern, &sources)?;
    }
    for (origin, text) in &extra.lockfiles {
        selection.add_lockfile(text, origin, &sources)?;
    }
    Ok(selection)
}

/// One run of a sparse source.
struct SparseSync<'a> {
    registry: &'a Registry,
    source: &'a SourceConfig,
    http: UpstreamHttp,
    root: String,
    pins: Option<Pins>,
    /// `dl` from config.json, read at the first download.
    dl: Option<String>,
    /// Index-file bytes read so far (at most [`MAX_RUN_INDEX_BYTES`]).
    index_bytes: std::cell::Cell<u64>,
}

/// Syncs `source` into `registry` (run `run_id`); `state` is the source's
/// own state directory (its HTTP cache).
pub(super) fn sync(
    registry: &Registry,
    state: &Path,
    source: &SourceConfig,
    extra: &Extra,
    run_id: i64,
    run: &mut SyncRun,
    progress: &mut Progress<'_>,
) -> Result<(), SparseSourceError> {
    let selection = selection(source, extra)?;
    let pins = match source.index_pins.as_os_str().is_empty() {
        true => None,
        false => Some(Pins::read(&source.index_pins)?),
    };
    let root = index_root(&source.url);
    let token = source.token.clone().map(|t| (root.clone(), t));
    // No redirects: an upstream cannot send a request on to a host the
    // source did not name (its `dl` host is checked on its own).
    let http = UpstreamHttp::new(state, source.ca_cert.as_deref(), token, &root)
        .map_err(SparseSourceError::Http)?;
    let mut sync = SparseSync {
        registry,
        source,
        http,
        root,
        pins,
        dl: None,
        index_bytes: std::cell::Cell::new(0),
    };
    run.detail.extend(selection.notes.iter().cloned());
    let follow = Follow {
        dev_dependencies: source.dev_dependencies,
        max_versions: MAX_VERSIONS,
    };
    let resolved = resolve::resolve(&selection, follow, |name| sync.index_file(name, run));
    for failure in resolved.failures {
        run.failed += 1;
        run.detail.push(failure);
    }
    run.detail.extend(resolved.notes);
    // A version stored here that its upstream yanked is yanked here, whether
    // or not the selection still needs it.
    for file in &resolved.files {
        for line in file.lines.iter().filter(|l| l.entry.yanked) {
            if registry
                .version_status(&line.entry.name, &line.entry.vers)?
                .is_some()
            {
                sync.follow_yank(line, run)?;
            }
        }
    }
    let mut seen = Vec::new();
    for needed in resolved.needed.values() {
        run.discovered += 1;
        if sync.version(needed, run)? {
            seen.push((
                needed.line.entry.name.clone(),
                needed.line.entry.vers.clone(),
            ));
        }
        progress.tick(run);
    }
    registry.record_run_versions(run_id, &seen)?;
    sync.http.end_run(run);
    Ok(())
}

impl SparseSync<'_> {
    /// A crate's index file, revalidated, checked against its pin.
    fn index_file(&self, name: &str, run: &mut SyncRun) -> Result<Option<Arc<IndexFile>>, String> {
        crate::package::PackageName::parse(Kind::Crate, name).map_err(|e| e.to_string())?;
        let path = crate::index::path_for(name);
        let url = format!("{}{path}", self.root);
        let doc = match self.http.get_document(&url, MAX_INDEX_FILE_BYTES) {
            Ok(doc) => doc,
            Err(FetchError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let read = self.index_bytes.get() + doc.body.len() as u64;
        self.index_bytes.set(read);
        if read > MAX_RUN_INDEX_BYTES {
            return Err(format!(
                "not read: the run has read {MAX_RUN_INDEX_BYTES} bytes of index files, the most one run reads; the rest waits for the next run"
            ));
        }
        let sha256 = Sha256Digest::of(&doc.body).to_hex();
        if let Some(pins) = &self.pins {
            match pins.get(&path) {
                Some(pin) if pin == sha256 => {}
                Some(pin) => {
                    return Err(format!(
                        "{path} has sha256 {sha256}, but the pins file says {pin}; not used"
                    ))
                }
                None => return Err(format!("{path} is not in the pins file; not used")),
            }
        }
        if doc.changed {
            run.updated += 1;
        }
        Ok(Some(Arc::new(IndexFile {
            lines: verify::parse_index_lines(name, &doc.body),
            path,
            sha256,
        })))
    }

    /// One needed version: counted if stored (its upstream yank
    /// followed), else downloaded, checked against its line's cksum and
    /// offered with its line kept verbatim. Returns whether it is stored.
    fn version(&mut self, needed: &Needed, run: &mut SyncRun) -> Result<bool, SparseSourceError> {
        let entry = &needed.line.entry;
        let what = format!("{}@{}", entry.name, entry.vers);
        match self.registry.stored_by(&entry.name, &entry.vers)? {
            Some((_, by)) if by.as_deref() != Some(self.source.name.as_str()) => {
                // Another source's or a publisher's: never this run's to
                // count, compare or decide.
                run.skipped += 1;
                run.detail.push(format!(
                    "{what}: already stored here by {}; not this source's",
                    by.map_or("a publisher".to_string(), |s| format!("source `{s}`"))
                ));
                return Ok(false);
            }
            Some((VersionStatus::Rejected, _)) => {
                run.rejected += 1;
                return Ok(false);
            }
            Some(_) => {
                if let Some(changed) = self.changed_line(needed)? {
                    run.failed += 1;
                    run.detail.push(format!("{what}: {changed}"));
                    return Ok(true);
                }
                run.unchanged += 1;
                self.follow_yank(&needed.line, run)?;
                return Ok(true);
            }
            None => {}
        }
        if let Err(why) = own_line(&needed.line) {
            run.failed += 1;
            run.detail.push(format!("{what}: {why}; not stored"));
            return Ok(false);
        }
        let bundle = match self.download(&needed.line) {
            Ok(bundle) => bundle,
            Err(reason) => {
                run.failed += 1;
                run.detail.push(format!("{what}: {reason}"));
                return Ok(false);
            }
        };
        let offer = Offer {
            source: &self.source.name,
            auto_approve: self.source.auto_approve,
            kind: Kind::Crate,
            name: &entry.name,
            version: &entry.vers,
            bundle: &bundle,
            // Nothing but the verbatim text is taken from an unsigned line:
            // the licence and description come from the verified .crate.
            upstream_line: None,
            verbatim_line: Some(&needed.line.raw),
            upstream: serde_json::json!({
                "url": self.root,
                "index_path": needed.file.path,
                "index_sha256": needed.file.sha256,
                "index_pinned": self.pins.is_some(),
                "signature": "none (sparse index: TLS and the index line's cksum)",
                "selected_by": needed.why,
            }),
        };
        let outcome = self.registry.import_mirrored(&offer)?;
        let stored = matches!(outcome, Imported::Added(_) | Imported::Unchanged);
        count(run, &what, outcome);
        if stored {
            self.follow_yank(&needed.line, run)?;
        }
        Ok(stored)
    }

    /// Why the upstream's line for a stored version is not the line stored
    /// (published lines never change but for `yanked`), or `None`.
    fn changed_line(&self, needed: &Needed) -> Result<Option<String>, SparseSourceError> {
        let entry = &needed.line.entry;
        let Some(stored) = self.registry.stored_line(&entry.name, &entry.vers)? else {
            return Ok(None);
        };
        let served = match VerbatimLine::new(&needed.line.raw) {
            Ok(line) => line.stored,
            Err(e) => return Ok(Some(format!("{e}; the stored version is kept"))),
        };
        if served == stored {
            return Ok(None);
        }
        let stored_cksum = serde_json::from_str::<crate::index::IndexEntry>(&stored)
            .map(|e| e.cksum)
            .unwrap_or_default();
        Ok(Some(if stored_cksum.eq_ignore_ascii_case(&entry.cksum) {
            format!(
                "the upstream changed this version's index line (in {}) since it was stored; published lines never change but for `yanked`, so the stored line is kept",
                needed.file.path
            )
        } else {
            format!(
                "the upstream's index line now gives cksum {}, but the stored .crate has {stored_cksum}: the upstream replaced a published crate; the stored one is kept",
                entry.cksum
            )
        }))
    }

    fn follow_yank(&self, line: &IndexLine, run: &mut SyncRun) -> Result<(), SparseSourceError> {
        if line.entry.yanked {
            let (name, vers) = (&line.entry.name, &line.entry.vers);
            follow_upstream_yank(self.registry, &self.source.name, name, vers, run)?;
        }
        Ok(())
    }

    /// Downloads a `.crate` (at most the registry's bundle limit) and
    /// checks it against the line's cksum.
    fn download(&mut self, line: &IndexLine) -> Result<Vec<u8>, String> {
        let dl = self.dl().map_err(|e| e.to_string())?;
        let entry = &line.entry;
        let url = verify::download_url(&dl, &entry.name, &entry.vers, &entry.cksum);
        let limit = self.registry.config().limits.max_bundle_bytes;
        let bundle = self.http.get(&url, limit).map_err(|e| e.to_string())?;
        let actual = Sha256Digest::of(&bundle).to_hex();
        if !actual.eq_ignore_ascii_case(&entry.cksum) {
            return Err(format!(
                "the .crate's sha256 is {actual}, its index line says {}; not stored",
                entry.cksum
            ));
        }
        Ok(bundle)
    }

    /// `dl` from the upstream's config.json (read once per run).
    fn dl(&mut self) -> Result<String, SparseSourceError> {
        if let Some(dl) = &self.dl {
            return Ok(dl.clone());
        }
        let url = format!("{}config.json", self.root);
        let bad = |reason: String| SparseSourceError::Config {
            url: url.clone(),
            reason,
        };
        let doc = self
            .http
            .get_document(&url, MAX_CONFIG_BYTES)
            .map_err(|e| bad(e.to_string()))?;
        #[derive(serde::Deserialize)]
        struct Config {
            dl: String,
        }
        let config: Config =
            serde_json::from_slice(&doc.body).map_err(|e| bad(format!("no `dl`: {e}")))?;
        let dl = config.dl.trim_end_matches('/').to_string();
        if !(dl.starts_with("https://") || dl.starts_with("http://")) {
            return Err(bad(format!("`dl` {dl} is not an http(s) URL")));
        }
        let (index_host, dl_host) = (url_host(&self.root), url_host(&dl));
        if dl_host != index_host && is_internal_host(&dl_host) {
            return Err(bad(format!(
                "`dl` {dl} points at the internal address `{dl_host}` while the index is at `{index_host}`; refused (an upstream may not aim the registry at hosts on its own network)"
            )));
        }
        self.dl = Some(dl.clone());
        Ok(dl)
    }
}

/// Why a line from this (unsigned) upstream cannot be stored.
fn own_line(line: &IndexLine) -> Result<(), String> {
    let cksum = &line.entry.cksum;
    if cksum.len() != 64
        || !cksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "its index line's cksum `{}` is not 64 lowercase hex digits (cargo would refuse it)",
            cksum.escape_debug()
        ));
    }
    crate::index::verbatim::refuse_own_fields(&line.raw).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
