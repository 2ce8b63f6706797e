//! The `skillreg` command line: the daemon, local admin commands (tokens),
//! and the client commands (pack, publish, yank, search).

use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::api::PublishMetadata;
use crate::bundle::{self, ArchiveLimits};
use crate::client::Client;
use crate::config::Config;
use crate::registry::Registry;
use crate::store::Store;
use crate::token::Role;

mod admin;
mod install;
mod serve;
mod transfer;

/// skillreg: a private registry for agent skills, Claude Code plugins and cargo crates.
#[derive(Debug, Parser)]
#[command(name = "skillreg", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry daemon.
    Serve(ServeArgs),
    /// Back up a data directory while the daemon runs: a consistent copy of
    /// the database, the blobs it names, the keys; incremental when DEST
    /// holds an earlier backup; checked before it is called done.
    Backup {
        /// The backup directory.
        dest: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Restore a backup into a new or empty data directory (checked first).
    Restore {
        /// The backup directory.
        src: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Check a data directory (works while the daemon runs): every blob
    /// re-hashed against its name, every version's blob present, orphans
    /// and temp files listed, the root chain, every stored index line and
    /// a static tree's signed metadata re-verified. Exits 1 when anything
    /// is damaged or missing.
    Fsck {
        #[command(flatten)]
        data: DataDir,
        /// Also re-verify this static tree (default: `[export] dir` of --config).
        #[arg(long)]
        export: Option<PathBuf>,
        /// The URL that tree is served at (default: its config.json's).
        #[arg(long)]
        base_url: Option<String>,
        /// The daemon's config file (for `[export]` and signing lifetimes).
        #[arg(long)]
        config: Option<PathBuf>,
        /// With the daemon stopped: quarantine damaged and missing blobs'
        /// versions (blobs moved to DATA/quarantine/, never deleted), serve
        /// again those whose blob is back, re-render the static tree.
        #[arg(long)]
        repair: bool,
    },
    /// Manage API tokens in a data directory (works while the daemon runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write the whole signed index and its bundles as a static tree that
    /// any web server can serve at --base-url.
    ExportStatic {
        /// Output directory.
        out: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// The URL the tree will be served at.
        #[arg(long)]
        base_url: String,
        /// Config file, for signature lifetimes (`[signing]`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write the Claude Code marketplace as a folder (for a team's own git
    /// server): `.claude-plugin/marketplace.json` with relative sources and
    /// every plugin unpacked below `plugins/`.
    ExportMarketplace {
        /// Output folder: empty, absent or an earlier export.
        out: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Config file, for `[feeds]` (the marketplace's name and owner).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show, export and rotate the registry's signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Pack a skill or plugin directory into a deterministic bundle.
    Pack {
        /// The skill or plugin directory.
        dir: PathBuf,
        /// Output file (default: NAME-VERSION.tar.gz, or NAME.tar.gz).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Publish a skill or plugin (a directory or a packed bundle).
    Publish {
        /// A skill/plugin directory, or a .tar.gz made by `skillreg pack`.
        path: PathBuf,
        #[command(flatten)]
        remote: Remote,
        /// Version to publish when the manifest has none (plugin.json
        /// `version` or SKILL.md `metadata.version` win).
        #[arg(long)]
        version: Option<String>,
        /// Sign name, version and checksum with this publisher key (made by
        /// `skillreg publisher-key generate`, registered with `... register`).
        #[arg(long)]
        sign_key: Option<PathBuf>,
    },
    /// Review mirrored packages and read the audit log (admin token).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Make and register the ed25519 keys publishers sign bundles with.
    #[command(subcommand)]
    PublisherKey(PublisherKeyCommand),
    /// Yank a version (hide it from new resolutions), or undo a yank.
    Yank {
        /// NAME@VERSION.
        spec: String,
        /// Unyank instead.
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Search the registry.
    Search {
        /// Words to look for in names, descriptions and keywords.
        query: String,
        /// Most results to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        remote: Remote,
    },
    /// Install skills and plugins (and their dependencies), verifying the
    /// registry's signed metadata, into DIR/.claude/ and DIR/skillreg.lock.
    Install(install::InstallArgs),
    /// Check installed files against DIR/skillreg.lock; exits 1 on any difference.
    Verify(install::VerifyArgs),
    /// Write an air-gap transfer archive: the signed index lines, bundles
    /// and provenance of approved (and pending) versions, for `skillreg
    /// import` or a `drop` source on an air-gapped registry (or, with
    /// --bundles, each version as a loose bundle and its signature).
    ExportTransfer(transfer::ExportTransferArgs),
    /// Verify a transfer archive (or a loose bundle and its .sig) against
    /// the exporter's pinned root and import its versions (pending review) in one transaction; works with
    /// the daemon stopped or running. Importing it twice changes nothing.
    Import(transfer::ImportArgs),
}

/// Flags for `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML config file (see config/skillreg.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Listen address, e.g. 127.0.0.1:0 (overrides `listen`).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// The URL clients reach this daemon at, written into config.json
    /// (overrides `public_url`; needed when listening on 0.0.0.0 or behind a proxy).
    #[arg(long, env = "SKILLREG_PUBLIC_URL")]
    public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (alone) on stdout.
    Create {
        #[command(flatten)]
        data: DataDir,
        /// reader, publisher or admin.
        #[arg(long)]
        role: String,
        /// The login the token acts for (owners are logins).
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a token by its id (the number in `skr_<id>_…`).
    Revoke {
        #[command(flatten)]
        data: DataDir,
        /// Token id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum PublisherKeyCommand {
    /// Write a new key to FILE (mode 0600) and print its public half.
    Generate {
        /// Where to write the key; never overwritten.
        file: PathBuf,
    },
    /// Register the public half of the key in FILE with the registry.
    Register {
        /// The key file.
        file: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Print the newest root document: the trust anchor clients pin
    /// (`skillreg install --trust-root FILE`).
    ExportRoot {
        #[command(flatten)]
        data: DataDir,
    },
    /// Show the keys of each role and the root's version and expiry.
    Show {
        #[command(flatten)]
        data: DataDir,
    },
    /// Replace the key of a role (root, index or timestamp) and sign root
    /// N+1 naming it. A running daemon follows within seconds.
    Rotate {
        /// root, index or timestamp.
        role: String,
        #[command(flatten)]
        data: DataDir,
        /// Config file, for the root's lifetime (`signing.root_expiry_secs`).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DataDir {
    /// The daemon's data directory.
    #[arg(long = "data", default_value = "./skillreg-data")]
    dir: PathBuf,
}

/// Where the registry is, for client commands.
#[derive(Debug, Args)]
pub(crate) struct Remote {
    /// The registry's base URL, e.g. http://127.0.0.1:8970.
    #[arg(long, env = "SKILLREG_REGISTRY")]
    registry: String,
    /// API token.
    #[arg(long, env = "SKILLREG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM CA certificate to trust for an HTTPS registry.
    #[arg(long, env = "SKILLREG_CA_CERT")]
    ca_cert: Option<PathBuf>,
}

impl Remote {
    pub(crate) fn client(&self) -> Result<Client, String> {
        Client::new(&self.registry, self.token.clone(), self.ca_cert.as_deref())
            .map_err(|e| e.to_string())
    }
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Backup { dest, data } => {
            let done = crate::backup::backup(&data.dir, &dest).map_err(|e| e.to_string())?;
            println!(
                "backed up {} to {}: {} version(s), {} blob(s) copied, {} already there, {} other file(s); checked",
                data.dir.display(),
                dest.display(),
                done.versions,
                done.blobs_copied,
                done.blobs_kept,
                done.files
            );
            Ok(())
        }
        Command::Restore { src, data } => {
            let done = crate::backup::restore(&src, &data.dir).map_err(|e| e.to_string())?;
            println!(
                "restored {} into {}: {} version(s), {} blob(s), {} other file(s); start the daemon with --data {}",
                src.display(),
                data.dir.display(),
                done.versions,
                done.blobs_copied,
                done.files,
                data.dir.display()
            );
            Ok(())
        }
        Command::Fsck {
            data,
            export,
            base_url,
            config,
            repair,
        } => fsck(data, export, base_url, config, repair),
        Command::Token(cmd) => token(cmd),
        Command::Key(cmd) => key(cmd),
        Command::ExportMarketplace { out, data, config } => {
            let mut config = match config {
                Some(path) => Config::load(&path).map_err(|e| e.to_string())?,
                None => Config::default(),
            };
            config.data_dir = data.dir;
            let summary =
                crate::registry::export_marketplace(&config, &out).map_err(|e| e.to_string())?;
            println!(
                "exported the marketplace `{}` to {} ({} plugins, {} files); add it with `claude plugin marketplace add {}`",
                config.feeds.marketplace.name,
                out.display(),
                summary.plugins,
                summary.files,
                out.display()
            );
            Ok(())
        }
        Command::ExportStatic {
            out,
            data,
            base_url,
            config,
        } => {
            let mut config = match config {
                Some(path) => Config::load(&path).map_err(|e| e.to_string())?,
                None => Config::default(),
            };
            config.data_dir = data.dir;
            if config.auth_required {
                eprintln!(
                    "warning: this registry requires a token to read, but a static tree has no access control; restrict who can reach {base_url}"
                );
            }
            let summary = crate::registry::export_static(&config, &out, &base_url)
                .map_err(|e| e.to_string())?;
            println!(
                "exported {} packages to {} ({} files, {} new blobs) for {base_url}",
                summary.packages,
                out.display(),
                summary.files_written,
                summary.blobs_written
            );
            Ok(())
        }
        Command::Pack { dir, output } => pack(&dir, output),
        Command::Install(args) => install::install(args),
        Command::Verify(args) => install::verify(args),
        Command::ExportTransfer(args) => transfer::export_transfer(args),
        Command::Import(args) => transfer::import(args),
        Command::Publish {
            path,
            remote,
            version,
            sign_key,
        } => publish(&path, &remote, version, sign_key.as_deref()),
        Command::PublisherKey(cmd) => publisher_key(cmd),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Yank { spec, undo, remote } => {
            let (name, version) = spec
                .rsplit_once('@')
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| format!("`{spec}` is not NAME@VERSION"))?;
            remote
                .client()?
                .set_yanked(name, version, !undo)
                .map_err(|e| e.to_string())?;
            println!(
                "{} {name}@{version}",
                if undo { "unyanked" } else { "yanked" }
            );
            Ok(())
        }
        Command::Search {
            query,
            limit,
            remote,
        } => {
            let found = remote
                .client()?
                .search(&query, limit.clamp(1, 100))
                .map_err(|e| e.to_string())?;
            for c in &found.crates {
                let kind = c.kind.map(|k| format!(" ({k})")).unwrap_or_default();
                println!(
                    "{} = \"{}\"{kind}    # {}",
                    c.name, c.max_version, c.description
                );
            }
            if found.meta.total > found.crates.len() {
                println!("... and {} more", found.meta.total - found.crates.len());
            }
            Ok(())
        }
    }
}

fn token(cmd: TokenCommand) -> Result<(), String> {
    let open = |dir: &Path| {
        if !dir.join(crate::store::DB_FILE).exists() {
            return Err(format!(
                "{} holds no skillreg database; pass the daemon's --data directory",
                dir.display()
            ));
        }
        Store::open(dir).map_err(|e| e.to_string())
    };
    match cmd {
        TokenCommand::Create { data, role, name } => {
            let role = Role::parse(&role).map_err(|e| e.to_string())?;
            let mut store = open(&data.dir)?;
            let name = name.unwrap_or_else(|| format!("{role}-{}", crate::fsutil::unix_now()));
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err("--name must be a login without spaces".into());
            }
            let token = store
                .create_token(&name, role, "cli")
                .map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { data } => {
            let store = open(&data.dir)?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{:>4}  {:<20}  {:<9}  {:<20}  status",
                "id", "name", "role", "created"
            );
            for t in store.list_tokens().map_err(|e| e.to_string())? {
                let status = match t.revoked_at {
                    Some(at) => format!("revoked {}", crate::fsutil::rfc3339(at)),
                    None => "live".into(),
                };
                let _ = writeln!(
                    out,
                    "{:>4}  {:<20}  {:<9}  {:<20}  {status}",
                    t.id,
                    t.name,
                    t.role,
                    crate::fsutil::rfc3339(t.created_at)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { data, id } => {
            let mut store = open(&data.dir)?;
            store.revoke_token(id, "cli").map_err(|e| e.to_string())?;
            println!("revoked token {id}");
            Ok(())
        }
    }
}

fn key(cmd: KeyCommand) -> Result<(), String> {
    use crate::index::sign;
    let require_db = |dir: &Path| {
        if dir.join(crate::store::DB_FILE).exists() {
            Ok(())
        } else {
            Err(format!(
                "{} holds no skillreg database; pass the daemon's --data directory",
                dir.display()
            ))
        }
    };
    match cmd {
        KeyCommand::ExportRoot { data } => {
            require_db(&data.dir)?;
            let root = crate::registry::export_root(&data.dir).map_err(|e| e.to_string())?;
            // Byte-identical to /index/_skillreg/root.json, so it can be compared.
            std::io::stdout()
                .write_all(&root)
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        KeyCommand::Show { data } => {
            require_db(&data.dir)?;
            let bytes = crate::registry::export_root(&data.dir).map_err(|e| e.to_string())?;
            let envelope = sign::Envelope::from_bytes(&bytes).map_err(|e| e.to_string())?;
            let root: sign::Root =
                sign::parse(&envelope.payload_bytes().map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            println!("root version {} expires {}", root.version, root.expires);
            for (role, keys) in &root.roles {
                println!(
                    "{role:<9}  threshold {}  keys {}",
                    keys.threshold,
                    keys.keyids.join(", ")
                );
            }
            Ok(())
        }
        KeyCommand::Rotate { role, data, config } => {
            require_db(&data.dir)?;
            let role = crate::keys::KeyRole::parse(&role).map_err(|e| e.to_string())?;
            let signing = match config {
                Some(path) => Config::load(&path).map_err(|e| e.to_string())?.signing,
                None => Config::default().signing,
            };
            let done =
                crate::registry::rotate(&data.dir, role, &signing).map_err(|e| e.to_string())?;
            println!(
                "rotated the {} key: new key id {}, named by root v{}",
                done.role.as_str(),
                done.new_key_id,
                done.root_version
            );
            if role == crate::keys::KeyRole::Root {
                println!("clients that pinned an older root follow the chain; new clients should pin the output of `skillreg key export-root`");
            }
            Ok(())
        }
    }
}

/// Packs a directory or reads a bundle file, and reads its manifest.
fn load_bundle(path: &Path) -> Result<(Vec<u8>, bundle::Manifest), String> {
    let bytes = if path.is_dir() {
        if path.join("Cargo.toml").is_file()
            && !path.join("SKILL.md").is_file()
            && !path.join(bundle::plugin::PLUGIN_JSON).is_file()
        {
            return Err(format!(
                "{} is a cargo package; publish it with `cargo publish --registry NAME`",
                path.display()
            ));
        }
        bundle::pack::pack_dir(path).map_err(|e| e.to_string())?
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    let manifest =
        bundle::read_manifest(&bytes, &ArchiveLimits::default()).map_err(|e| e.to_string())?;
    Ok((bytes, manifest))
}

fn pack(dir: &Path, output: Option<PathBuf>) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let (bytes, manifest) = load_bundle(dir)?;
    let output = output.unwrap_or_else(|| match &manifest.version {
        Some(v) => PathBuf::from(format!("{}-{v}.tar.gz", manifest.name)),
        None => PathBuf::from(format!("{}.tar.gz", manifest.name)),
    });
    crate::fsutil::write_durable(&output, &bytes, 0o644)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!(
        "{} ({} {}, {} bytes, sha256:{})",
        output.display(),
        manifest.kind,
        manifest.name,
        bytes.len(),
        crate::blobs::Sha256Digest::of(&bytes)
    );
    Ok(())
}

fn read_publisher_key(file: &Path) -> Result<ed25519_dalek::SigningKey, String> {
    crate::keys::read_seed(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => format!(
            "{} is not a skillreg publisher key (64 hex digits)",
            file.display()
        ),
        _ => format!("cannot read key {}: {e}", file.display()),
    })
}

fn publisher_key(cmd: PublisherKeyCommand) -> Result<(), String> {
    match cmd {
        PublisherKeyCommand::Generate { file } => {
            if file.exists() {
                return Err(format!(
                    "{} exists; choose another file (keys are never overwritten)",
                    file.display()
                ));
            }
            let seed = crate::keys::new_key().map_err(|e| e.to_string())?;
            crate::keys::write_seed(&file, &seed)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            let key = seed.verifying_key();
            println!("public key {}", hex::encode(key.as_bytes()));
            println!("key id     {}", crate::index::sign::key_id(&key));
            Ok(())
        }
        PublisherKeyCommand::Register { file, remote } => {
            let key = read_publisher_key(&file)?.verifying_key();
            let msg = remote
                .client()?
                .register_publisher_key(&hex::encode(key.as_bytes()))
                .map_err(|e| e.to_string())?;
            println!("{msg}");
            Ok(())
        }
    }
}

fn publish(
    path: &Path,
    remote: &Remote,
    flag_version: Option<String>,
    sign_key: Option<&Path>,
) -> Result<(), String> {
    let (bytes, manifest) = load_bundle(path)?;
    let version = match (&manifest.version, flag_version) {
        (Some(m), Some(f)) if *m != f => {
            return Err(format!(
                "--version {f} differs from the version {m} in the manifest; drop the flag or change the manifest"
            ))
        }
        (Some(m), _) => m.clone(),
        (None, Some(f)) => f,
        (None, None) => {
            return Err(format!(
                "{} has no version: add `version` to plugin.json or `metadata.version` to SKILL.md, or pass --version",
                manifest.name
            ))
        }
    };
    let signature = match sign_key {
        Some(file) => {
            let key = read_publisher_key(file)?;
            let statement = crate::index::sign::PublisherStatement::new(
                &manifest.name,
                &crate::package::parse_version(&version)
                    .map_err(|e| e.to_string())?
                    .to_string(),
                &crate::blobs::Sha256Digest::of(&bytes).to_hex(),
            );
            Some(crate::index::sign::Envelope::sign(
                crate::index::sign::types::PUBLISHER,
                &crate::index::sign::canonical(&statement),
                &[&key],
            ))
        }
        None => None,
    };
    let metadata = PublishMetadata {
        name: manifest.name.clone(),
        vers: version.clone(),
        kind: Some(manifest.kind),
        signature,
        ..Default::default()
    };
    let response = remote
        .client()?
        .publish(&metadata, &bytes)
        .map_err(|e| e.to_string())?;
    for w in &response.warnings.other {
        eprintln!("warning: {w}");
    }
    println!(
        "published {}@{version} ({}, sha256:{})",
        manifest.name,
        manifest.kind,
        crate::blobs::Sha256Digest::of(&bytes)
    );
    Ok(())
}

/// Opens the registry and serves it; used by `serve` (and kept here so the
/// binary stays a one-liner).
/// `skillreg fsck`, and `--repair`.
fn fsck(
    data: DataDir,
    export: Option<PathBuf>,
    base_url: Option<String>,
    config: Option<PathBuf>,
    repair: bool,
) -> Result<(), String> {
    let mut config = match config {
        Some(path) => Config::load(&path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    config.data_dir = data.dir;
    let from_config = !config.export.dir.as_os_str().is_empty();
    let options = crate::fsck::Options {
        export: export.or_else(|| from_config.then(|| config.export.dir.clone())),
        base_url: base_url.or_else(|| {
            (from_config && !config.export.base_url.is_empty())
                .then(|| config.export.base_url.clone())
        }),
    };
    let report = if repair {
        let done = crate::fsck::repair(&config, &options).map_err(|e| e.to_string())?;
        println!("{}\n", done.before);
        for (from, to) in &done.moved {
            println!("moved {} to {}", from.display(), to.display());
        }
        for v in &done.quarantined {
            println!("quarantined {v}: not served until its blob is restored");
        }
        for v in &done.released {
            println!("released {v}: its blob is whole again, served from the next start");
        }
        if let Some(out) = &done.tree {
            println!(
                "re-rendered the static tree {} from the database",
                out.display()
            );
        }
        println!("\nafter the repair:\n{}", done.after);
        done.after
    } else {
        let report =
            crate::fsck::check_with(&config.data_dir, &options).map_err(|e| e.to_string())?;
        println!("{report}");
        report
    };
    match report.is_clean() {
        true => Ok(()),
        false => Err(format!(
            "{} is damaged; see above",
            config.data_dir.display()
        )),
    }
}

pub(crate) fn open_registry(config: &Config, base_url: &str) -> Result<Arc<Registry>, String> {
    Registry::open(config, base_url).map(Arc::new).map_err(|e| {
        format!(
            "cannot open the registry in {}: {e}",
            config.data_dir.display()
        )
    })
}
