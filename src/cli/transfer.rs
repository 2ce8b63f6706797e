//! `skillreg export-transfer` and `skillreg import`: air-gap transfer
//! archives (see [`crate::mirror::transfer`]).

use clap::Args;
use std::path::PathBuf;

use super::DataDir;
use crate::config::{Config, SourceKind};
use crate::mirror::transfer::{self, ExportOptions, ImportOptions, PinnedRoot, TransferLimits};
use crate::registry::OfflineRegistry;

/// Flags for `export-transfer`.
#[derive(Debug, Args)]
pub(super) struct ExportTransferArgs {
    /// The archive to write. For a `drop` directory name it
    /// NAME.skillreg-transfer.tar.gz and write it elsewhere on that file
    /// system (or under a name without that ending), then rename it in.
    /// With --bundles: an existing directory to write loose bundles into.
    out: PathBuf,
    #[command(flatten)]
    data: DataDir,
    /// Only versions published (or approved) since then: an RFC 3339 time
    /// (2025-01-31T00:00:00Z, 2025-01-31) or a duration back from now (7d, 12h).
    #[arg(long)]
    since: Option<String>,
    /// Leave pending (mirrored, not yet reviewed) versions out; by default
    /// approved and pending versions are exported (they arrive pending anyway).
    #[arg(long)]
    approved_only: bool,
    /// Only this package (NAME) or version (NAME@VERSION); repeatable.
    #[arg(long = "package", value_name = "NAME[@VERSION]")]
    packages: Vec<String>,
    /// Write each version as a loose bundle (NAME-VERSION.crate or
    /// NAME-VERSION.tar.gz) with its detached signature (BUNDLE.sig) into
    /// the directory OUT, instead of one archive.
    #[arg(long)]
    bundles: bool,
}

/// Flags for `import`.
#[derive(Debug, Args)]
pub(super) struct ImportArgs {
    /// The transfer archive (made by `skillreg export-transfer`), or a
    /// loose bundle with its BUNDLE.sig beside it (`export-transfer --bundles`).
    file: PathBuf,
    #[command(flatten)]
    data: DataDir,
    /// The exporting registry's root document (`skillreg key export-root`
    /// there). Defaults to the `root_key` of the drop source named by
    /// --source in --config.
    #[arg(long)]
    trust_root: Option<PathBuf>,
    /// The source name the import is recorded under (sync runs, the
    /// `mirror:NAME` owner, the newest exporter root seen). Use a drop
    /// source's name to import as that source would.
    #[arg(long, default_value = transfer::CLI_SOURCE)]
    source: String,
    /// The daemon's config file: its `[policy]` and `[limits]` apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create the data directory's database if it does not exist yet.
    #[arg(long)]
    create: bool,
    /// Largest archive (compressed and unpacked), in bytes.
    #[arg(long, default_value_t = TransferLimits::default().max_bytes)]
    max_bytes: u64,
    /// Most entries in the archive.
    #[arg(long, default_value_t = TransferLimits::default().max_entries)]
    max_entries: u64,
    /// Largest manifest.json, in bytes.
    #[arg(long, default_value_t = TransferLimits::default().max_manifest_bytes)]
    max_manifest_bytes: u64,
}

pub(super) fn export_transfer(args: ExportTransferArgs) -> Result<(), String> {
    let now = crate::fsutil::unix_now();
    let since = args
        .since
        .as_deref()
        .map(|s| transfer::parse_since(s, now))
        .transpose()
        .map_err(|e| e.to_string())?;
    let opts = ExportOptions {
        since,
        approved_only: args.approved_only,
        packages: args.packages,
    };
    if args.bundles {
        let written = transfer::export_bundles(&args.data.dir, &args.out, &opts)
            .map_err(|e| e.to_string())?;
        for w in &written {
            println!(
                "wrote {} and {} ({}{})",
                w.bundle.display(),
                w.signature
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy(),
                w.what,
                if w.pending { ", pending" } else { "" }
            );
        }
        println!(
            "{} bundle(s) in {}; carry each with its .sig (a drop directory waits for both)",
            written.len(),
            args.out.display()
        );
        return Ok(());
    }
    let summary = transfer::export(&args.data.dir, &args.out, &opts).map_err(|e| e.to_string())?;
    println!(
        "wrote {}: {} version(s) ({} pending), {} bytes of bundles, signed under root v{}, sha256:{}",
        args.out.display(),
        summary.versions,
        summary.pending,
        summary.blob_bytes,
        summary.root_version,
        summary.sha256
    );
    let name = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !transfer::is_archive_name(&name) {
        eprintln!(
            "note: a drop directory imports only files named NAME{}; rename it when you put it there",
            transfer::SUFFIX
        );
    }
    Ok(())
}

pub(super) fn import(args: ImportArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    config.data_dir = args.data.dir.clone();
    let trust_root = match args.trust_root {
        Some(path) => path,
        None => config
            .sources
            .iter()
            .find(|s| s.name == args.source && s.kind == SourceKind::Drop)
            .map(|s| s.root_key.clone())
            .ok_or_else(|| {
                "pass --trust-root FILE (the exporting registry's `skillreg key export-root`), or --source naming a drop source of --config".to_string()
            })?,
    };
    if args.source.is_empty()
        || args
            .source
            .contains(|c: char| c == '/' || c.is_whitespace())
    {
        return Err(format!(
            "--source `{}` must be non-empty, without spaces or `/`",
            args.source
        ));
    }
    let trust = PinnedRoot::load(&trust_root).map_err(|e| e.to_string())?;
    let sink = OfflineRegistry::open(&config, args.create).map_err(|e| e.to_string())?;
    let opts = ImportOptions {
        source: args.source.clone(),
        trust,
        auto_approve: false,
        limits: TransferLimits {
            max_bytes: args.max_bytes,
            max_entries: args.max_entries,
            max_manifest_bytes: args.max_manifest_bytes,
        },
    };
    let run = transfer::import_file(&sink, &args.file, &opts)
        .map_err(|e| format!("{} was not imported: {e}", args.file.display()))?;
    for line in &run.detail {
        eprintln!("warning: {line}");
    }
    println!(
        "imported {}: {} version(s): {} added ({} pending), {} unchanged, {} rejected, {} skipped",
        args.file.display(),
        run.discovered,
        run.added,
        run.pending,
        run.unchanged,
        run.rejected,
        run.skipped
    );
    if run.pending > 0 {
        println!(
            "review them with `skillreg admin pending` (or GET /admin/v1/pending) on the daemon"
        );
    }
    Ok(())
}
