//! `skillreg install` and `skillreg verify`: the verifying client.

use clap::Args;
use std::path::PathBuf;

use crate::client::install::{self, InstallOptions, LOCK_FILE};
use crate::client::verify::{self, RegistryOptions};

/// Flags for `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Packages to install: NAME or NAME@REQ, where REQ is a semver
    /// requirement (^1.2, ~1.2.3, =1.2.3, *; a bare 1.2.3 means ^1.2.3).
    #[arg(required = true, value_name = "NAME[@REQ]")]
    specs: Vec<String>,
    /// The registry's base URL, e.g. http://127.0.0.1:8970.
    #[arg(long, env = "SKILLREG_REGISTRY")]
    registry: String,
    /// The registry's root document to trust (the output of `skillreg key
    /// export-root` on the registry host). Needed the first time, unless
    /// --trust-on-first-use; later runs use the root verified before.
    #[arg(long, value_name = "FILE")]
    trust_root: Option<PathBuf>,
    /// The project directory: installs go below DIR/.claude/ and the lock
    /// is DIR/skillreg.lock.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Use only the bundle cache and the metadata verified before; no network.
    #[arg(long)]
    offline: bool,
    /// With no --trust-root and nothing verified before, pin whatever root
    /// the registry serves now (unsafe on an untrusted network).
    #[arg(long, conflicts_with = "trust_root")]
    trust_on_first_use: bool,
    /// API token, for a registry that requires one for reads.
    #[arg(long, env = "SKILLREG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM CA certificate to trust for an HTTPS registry.
    #[arg(long, env = "SKILLREG_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

/// Flags for `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The project directory holding skillreg.lock.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// `skillreg install`.
pub(super) fn install(args: InstallArgs) -> Result<(), String> {
    let specs = args
        .specs
        .iter()
        .map(|s| install::parse_spec(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut registry = RegistryOptions::new(&args.registry).map_err(|e| e.to_string())?;
    registry.trust_root = args.trust_root;
    registry.trust_on_first_use = args.trust_on_first_use;
    registry.offline = args.offline;
    registry.token = args.token;
    registry.ca_cert = args.ca_cert;
    let opts = InstallOptions {
        registry,
        project_dir: args.dir,
        cache_home: verify::default_cache_home().map_err(|e| e.to_string())?,
    };
    let report = install::install(&specs, &opts).map_err(|e| e.to_string())?;
    for p in &report.installed {
        let what = match &p.previous {
            Some(old) if *old == p.version => format!("reinstalled {}@{}", p.name, p.version),
            Some(old) => format!("upgraded {} {old} -> {}", p.name, p.version),
            None => format!("installed {}@{}", p.name, p.version),
        };
        println!(
            "{what} ({}, {} path(s)) in {}",
            p.kind,
            p.entries,
            opts.project_dir.join(&p.path).display()
        );
    }
    println!(
        "wrote {} (verified with root v{}{})",
        report.lock_path.display(),
        report.root_version,
        if report.offline {
            "; offline, from metadata verified before"
        } else {
            ""
        }
    );
    Ok(())
}

/// `skillreg verify`: exit status 1 on any difference.
pub(super) fn verify(args: VerifyArgs) -> Result<(), String> {
    let lock_path = args.dir.join(LOCK_FILE);
    let report = install::verify(&lock_path).map_err(|e| e.to_string())?;
    for d in &report.differences {
        println!("{d}");
    }
    if report.differences.is_empty() {
        println!(
            "ok: {} package(s), {} path(s) match {}",
            report.packages,
            report.files,
            lock_path.display()
        );
        Ok(())
    } else {
        Err(format!(
            "{} difference(s) between the installed files and {}; run `skillreg install NAME` again to restore them",
            report.differences.len(),
            lock_path.display()
        ))
    }
}
