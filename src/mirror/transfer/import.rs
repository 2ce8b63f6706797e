//! Importing what was verified: options, the staging directory, and one
//! store transaction per archive or bundle; `skillreg import`.

use super::*;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The source name runs, owners (`mirror:NAME`) and state are kept under.
    pub source: String,
    /// The exporter's pinned root.
    pub trust: PinnedRoot,
    /// Approve versions the exporter had approved (a `drop` source's
    /// `auto_approve`); pending ones stay pending.
    pub auto_approve: bool,
    /// Reading limits.
    pub limits: TransferLimits,
}

/// A verified, staged archive.
pub(super) struct Verified {
    pub(super) manifest: Manifest,
    pub(super) lines: Vec<IndexEntry>,
    pub(super) root: Root,
    pub(super) sha256: String,
}

/// A unique staging directory below the data dir, removed on drop.
pub(super) struct Staging {
    pub(super) dir: PathBuf,
}

impl Staging {
    pub(super) fn new(data_dir: &Path) -> io::Result<Staging> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let parent = data_dir.join("mirror").join("transfer-staging");
        fsutil::create_private_dir(&parent)?;
        // Debris of a crash: staging dirs untouched for a day.
        if let Ok(entries) = fs::read_dir(&parent) {
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(24 * 3600));
                if old {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = parent.join(format!(
            "{}-{}-{}",
            std::process::id(),
            unix_now(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fsutil::create_private_dir(&dir)?;
        Ok(Staging { dir })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Adds an import outcome to a run's counts.
pub(super) fn tally(run: &mut SyncRun, what: &str, outcome: &Imported) {
    crate::mirror::count(run, what, outcome.clone());
}

/// The newest exporter root imported under `opts.trust` from `opts.source`.
pub(super) fn seen_root(
    sink: &dyn TransferSink,
    opts: &ImportOptions,
) -> Result<u64, TransferError> {
    Ok(sink
        .state(&opts.source, &opts.trust.state_key())
        .map_err(local)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

pub(super) fn staging(sink: &dyn TransferSink) -> Result<Staging, TransferError> {
    Staging::new(sink.data_dir()).map_err(|e| {
        local(format!(
            "cannot create a staging directory in {}: {e}",
            sink.data_dir().display()
        ))
    })
}

/// Verifies `file` against `opts.trust`, stages its blobs and imports every
/// version in one store transaction, adding the outcome to `run`. On error
/// nothing was stored (a blob may have been put in the content-addressed
/// store only when the transaction itself failed).
pub fn import_archive(
    sink: &dyn TransferSink,
    file: &Path,
    opts: &ImportOptions,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let seen = seen_root(sink, opts)?;
    let staging = staging(sink)?;
    let known = |name: &str, version: &str| sink.status(name, version).ok().flatten().is_some();
    let verified = read_archive(
        file,
        &opts.trust,
        &opts.limits,
        sink.config().limits.max_bundle_bytes,
        &staging.dir,
        &known,
        (seen, &opts.source),
    )?;
    let carrier = serde_json::json!({
        "archive": file_name_of(file),
        "archive_sha256": verified.sha256,
    });
    store_verified(sink, opts, &staging, verified, carrier, seen, run)
}

/// Verifies `file` against `trust` as [`import_archive`] does, without a
/// registry and without importing: the same reader (every entry, the root
/// chain, the signed manifest, each blob against its sha256 and size, at
/// most `max_blob` bytes each), with the blobs staged below `staging` (an
/// existing, empty directory the caller removes). Returns the verified
/// manifest. A check of an archive before it is carried or dropped, and
/// the reader's entry point for the fuzz targets (see `RELIABILITY.md`).
pub fn verify_archive(
    file: &Path,
    trust: &PinnedRoot,
    limits: &TransferLimits,
    max_blob: u64,
    staging: &Path,
) -> Result<Manifest, TransferError> {
    let verified = read_archive(
        file,
        trust,
        limits,
        max_blob,
        staging,
        &|_, _| false,
        (0, ""),
    )?;
    Ok(verified.manifest)
}

/// Verifies a loose bundle and its signature (`BUNDLE.sig`) against
/// `opts.trust`, then imports the version as [`import_archive`] does.
pub fn import_bundle(
    sink: &dyn TransferSink,
    bundle: &Path,
    opts: &ImportOptions,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let seen = seen_root(sink, opts)?;
    let staging = staging(sink)?;
    let signature = signature_path(bundle);
    let verified = read_bundle(
        bundle,
        &signature,
        &opts.trust,
        sink.config().limits.max_bundle_bytes,
        &staging.dir,
        (seen, &opts.source),
    )?;
    let carrier = serde_json::json!({
        "bundle": file_name_of(bundle),
        "signature": file_name_of(&signature),
        "signature_sha256": verified.sha256,
    });
    store_verified(sink, opts, &staging, verified, carrier, seen, run)
}

/// Imports the versions of a verified archive or bundle whose blobs are in
/// `staging`, in one store transaction, and remembers the exporter root.
pub(super) fn store_verified(
    sink: &dyn TransferSink,
    opts: &ImportOptions,
    staging: &Staging,
    verified: Verified,
    carrier: serde_json::Value,
    seen_root: u64,
    run: &mut SyncRun,
) -> Result<(), TransferError> {
    let max_blob = sink.config().limits.max_bundle_bytes;
    let mut exporter = serde_json::json!({
        "created": verified.manifest.created,
        "root_version": verified.root.version,
        "index_keyids": verified.root.roles.get("index").map(|r| r.keyids.clone()),
    });
    if let (Some(exporter), serde_json::Value::Object(carrier)) =
        (exporter.as_object_mut(), carrier)
    {
        exporter.extend(carrier);
    }
    let mut items = Vec::new();
    let mut outcomes: Vec<(String, Option<Imported>)> = Vec::new();
    for (v, line) in verified.manifest.versions.iter().zip(verified.lines) {
        let what = format!("{}@{}", v.name, v.version);
        run.discovered += 1;
        if v.size > max_blob {
            outcomes.push((
                what.clone(),
                Some(Imported::Skipped(format!(
                    "{what}: its bundle is {} bytes, more than this registry's max_bundle_bytes ({max_blob})",
                    v.size
                ))),
            ));
            continue;
        }
        if line.yanked {
            outcomes.push((
                what.clone(),
                Some(Imported::Skipped(format!(
                    "{what}: yanked upstream, not imported"
                ))),
            ));
            continue;
        }
        items.push(TransferItem {
            kind: v.kind,
            name: v.name.clone(),
            version: v.version.clone(),
            blob: staging.dir.join(&v.cksum),
            line,
            line_text: v.line.clone(),
            auto_approve: opts.auto_approve && v.status == VersionStatus::Approved,
            upstream: serde_json::json!({
                "transfer": exporter,
                "signature": "verified",
                "upstream_status": v.status,
                "published": v.published,
                "provenance": v.provenance,
            }),
        });
        outcomes.push((what, None));
    }
    let imported = sink.import_batch(&opts.source, &items).map_err(|e| {
        local(format!(
            "storing the archive's versions failed (nothing was stored): {e}"
        ))
    })?;
    let mut imported = imported.into_iter();
    for (what, outcome) in outcomes {
        let outcome = match outcome {
            Some(o) => o,
            None => imported.next().expect("one outcome per item"),
        };
        tally(run, &what, &outcome);
    }
    if verified.root.version > seen_root {
        sink.set_state(
            &opts.source,
            &opts.trust.state_key(),
            &verified.root.version.to_string(),
        )
        .map_err(local)?;
    }
    Ok(())
}

/// `skillreg import`: imports one archive, or one loose bundle (`file` is
/// `BUNDLE` with `BUNDLE.sig` beside it, or `BUNDLE.sig`), and records it as
/// a sync run of `opts.source`. Returns the run.
pub fn import_file(
    sink: &dyn TransferSink,
    file: &Path,
    opts: &ImportOptions,
) -> Result<SyncRun, TransferError> {
    let id = sink.begin_run(&opts.source).map_err(local)?;
    let mut run = SyncRun {
        status: "completed".into(),
        ..Default::default()
    };
    let bundle = match file_name_of(file).strip_suffix(SIGNATURE_SUFFIX) {
        Some(bundle) if !bundle.is_empty() => Some(file.with_file_name(bundle)),
        _ => fs::symlink_metadata(signature_path(file))
            .is_ok()
            .then(|| file.to_path_buf()),
    };
    let result = match &bundle {
        Some(bundle) => import_bundle(sink, bundle, opts, &mut run),
        None => import_archive(sink, file, opts, &mut run).map_err(|e| match e {
            TransferError::Refused(why) if is_bundle_name(&file_name_of(file)) => refused(format!(
                "{why} (if it is a loose bundle, put its signature {} beside it)",
                file_name_of(&signature_path(file))
            )),
            other => other,
        }),
    };
    if let Err(e) = &result {
        run.status = "failed".into();
        run.failed += 1;
        run.error = Some(e.to_string());
        run.detail.push(format!("{}: {e}", file.display()));
    }
    sink.end_run(id, &run).map_err(local)?;
    result.map(|()| run)
}
