//! Configuration: built-in defaults, overridden by a TOML file, overridden by
//! command-line flags. `config/skillreg.toml` documents every key; a test keeps
//! it equal to [`Config::default`].

mod feeds;

pub use feeds::{Feeds, Marketplace, Scope, RESERVED_MARKETPLACE_NAMES};

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The documented default configuration file, embedded in the binary.
pub const DOCUMENTED_DEFAULTS: &str = include_str!("../config/skillreg.toml");

/// Everything the daemon can be told.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the database, blobs and keys.
    pub data_dir: PathBuf,
    /// Base URL clients use; empty derives it from the bound address.
    pub public_url: String,
    /// Index, downloads and search need a reader token.
    pub auth_required: bool,
    /// Size and time limits.
    pub limits: Limits,
    /// Request rate limits.
    pub rate_limit: RateLimit,
    /// Optional HTTPS.
    pub tls: Tls,
    /// Lifetimes of signed metadata.
    pub signing: Signing,
    /// A static tree kept up to date on every change.
    pub export: Export,
    /// How buckets are reached (`[s3]`).
    pub s3: crate::bucket::S3Config,
    /// Where blobs are kept besides the data directory (`[storage]`).
    pub storage: Storage,
    /// Upstream catalogs to mirror (`[[sources]]`).
    pub sources: Vec<SourceConfig>,
    /// What mirrored versions are checked for (`[policy]`).
    pub policy: crate::policy::PolicyConfig,
    /// What the agent tools read (`[feeds]`).
    pub feeds: Feeds,
    /// A token that may read `/metrics` (besides admin tokens); empty: admin
    /// tokens only.
    pub metrics_token: String,
    /// Serve `/metrics` on this address only, off the public listener.
    pub metrics_listen: Option<SocketAddr>,
    /// How often the daemon re-checks every blob in the background, as
    /// `skillreg fsck` does (`"0"`: never).
    pub fsck_interval: String,
}

/// The kind of an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Another skillreg (signed index verified from `root_key`).
    Registry,
    /// A Claude Code plugin marketplace checkout.
    Marketplace,
    /// A directory watched for transfer archives.
    Drop,
    /// Any cargo sparse index (crates.io, Kellnr, a static tree): the
    /// crates `crates` and `lockfiles` select, with their dependencies.
    Sparse,
    /// An Agent Skills discovery index (`/.well-known/agent-skills/`).
    Wellknown,
    /// A ClawHub registry, through its REST API.
    Clawhub,
}

/// One `[[sources]]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name, used in the admin API and audit log.
    pub name: String,
    /// What the upstream is.
    pub kind: SourceKind,
    /// Approve every mirrored version without review.
    #[serde(default)]
    pub auto_approve: bool,
    /// How often to sync, e.g. `1h`, `30m`; `0` syncs only on demand.
    #[serde(default = "default_interval")]
    pub interval: String,
    /// `registry`, `sparse`, `wellknown`, `clawhub`: the upstream's base URL.
    #[serde(default)]
    pub url: String,
    /// `registry`, `drop`: the upstream's trust anchor (a root envelope file).
    #[serde(default)]
    pub root_key: PathBuf,
    /// `registry`, `sparse`, `wellknown`, `clawhub`: a token for an upstream
    /// that requires one (sent only to URLs below `url`).
    #[serde(default)]
    pub token: Option<String>,
    /// `registry`, `wellknown`, `clawhub`: only names matching one of these
    /// globs (`*`, `?`).
    #[serde(default)]
    pub include: Vec<String>,
    /// `registry`, `wellknown`, `clawhub`: never names matching one of
    /// these globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `marketplace`, `drop`: a local directory.
    #[serde(default)]
    pub path: PathBuf,
    /// `marketplace`: a git URL to clone with the system git.
    #[serde(default)]
    pub git: String,
    /// `marketplace`: the hosts remote plugin sources (`github`, `url`,
    /// `git-subdir`) may be fetched from: `host` or `host:port` for https,
    /// `http://host` and `ssh://host` to allow those schemes. Empty (the
    /// default): remote plugins are skipped with the reason.
    #[serde(default)]
    pub remote_hosts: Vec<String>,
    /// `marketplace`: the largest disk use of all the source's git clones.
    #[serde(default = "default_git_max_bytes")]
    pub git_max_bytes: u64,
    /// `marketplace`: the longest all git work of one run may take.
    #[serde(default = "default_git_timeout")]
    pub git_timeout: String,
    /// `sparse`: crates to mirror with their dependencies: `NAME` (the
    /// newest version) or `NAME@REQ` (`serde@^1`, `tokio@=1.40.0`).
    #[serde(default)]
    pub crates: Vec<String>,
    /// `sparse`: `Cargo.lock` files (`*` and `?` globs per path
    /// component): exactly the versions they lock from this upstream.
    #[serde(default)]
    pub lockfiles: Vec<String>,
    /// `sparse`: follow dev-dependencies too when resolving `crates`.
    #[serde(default)]
    pub dev_dependencies: bool,
    /// `sparse`: a file of `SHA256  PATH` lines (`sha256sum` output, paths
    /// relative to the index root): every index file fetched must match.
    #[serde(default)]
    pub index_pins: PathBuf,
    /// `sparse`, `wellknown`, `clawhub`: PEM certificates HTTPS to the
    /// upstream trusts instead of the system's.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// `sparse`: the lockfile `source` values this upstream stands for
    /// (default: crates.io's two spellings); `sparse+URL` of the source's
    /// own `url` always counts.
    #[serde(default)]
    pub lock_sources: Vec<String>,
    /// `clawhub`: the slugs to mirror.
    #[serde(default)]
    pub slugs: Vec<String>,
    /// `clawhub`: a search query whose results are mirrored too.
    #[serde(default)]
    pub search: String,
}

fn default_interval() -> String {
    "1h".into()
}

fn default_git_max_bytes() -> u64 {
    256 * 1024 * 1024
}

fn default_git_timeout() -> String {
    "10m".into()
}

impl SourceConfig {
    /// The sync interval; `None` for manual-only (`0`).
    pub fn interval(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        if self.interval.trim() == "0" {
            return Ok(None);
        }
        humantime::parse_duration(self.interval.trim())
            .map(Some)
            .map_err(|e| ConfigError::Invalid {
                key: "sources.interval",
                reason: format!(
                    "source `{}`: `{}` is not a duration like 1h or 30m: {e}",
                    self.name, self.interval
                ),
            })
    }

    /// `git_timeout` as a duration.
    pub fn git_timeout(&self) -> Result<std::time::Duration, ConfigError> {
        humantime::parse_duration(self.git_timeout.trim())
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ConfigError::Invalid {
                key: "sources.git_timeout",
                reason: format!(
                    "source `{}`: `{}` is not a duration like 10m or 90s",
                    self.name, self.git_timeout
                ),
            })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            key: "sources",
            reason,
        };
        if self.name.is_empty() || self.name.contains(|c: char| c == '/' || c.is_whitespace()) {
            return Err(invalid(format!(
                "source name `{}` must be non-empty, without spaces or `/`",
                self.name
            )));
        }
        self.interval()?;
        match self.kind {
            SourceKind::Registry => {
                check_url("sources.url", &self.url)?;
                if self.url.is_empty() || self.root_key.as_os_str().is_empty() {
                    return Err(invalid(format!(
                        "registry source `{}` needs `url` and `root_key` (the upstream's `skillreg key export-root`)",
                        self.name
                    )));
                }
            }
            SourceKind::Marketplace => {
                if self.path.as_os_str().is_empty() == self.git.is_empty() {
                    return Err(invalid(format!(
                        "marketplace source `{}` needs exactly one of `path` or `git`",
                        self.name
                    )));
                }
                self.git_timeout()?;
                for host in &self.remote_hosts {
                    let bare = host
                        .strip_prefix("https://")
                        .or_else(|| host.strip_prefix("http://"))
                        .or_else(|| host.strip_prefix("ssh://"))
                        .unwrap_or(host);
                    if bare.is_empty() || bare.contains(['/', '@', ' ']) || bare.contains("://") {
                        return Err(ConfigError::Invalid {
                            key: "sources.remote_hosts",
                            reason: format!(
                                "source `{}`: `{host}` must be `host`, `host:port`, `http://host` or `ssh://host`",
                                self.name
                            ),
                        });
                    }
                }
            }
            SourceKind::Drop => {
                if self.path.as_os_str().is_empty() || self.root_key.as_os_str().is_empty() {
                    return Err(invalid(format!(
                        "drop source `{}` needs `path` and `root_key`",
                        self.name
                    )));
                }
            }
            SourceKind::Sparse => {
                check_url("sources.url", &self.url)?;
                if self.url.is_empty() {
                    return Err(invalid(format!(
                        "sparse source `{}` needs `url` (the index root, e.g. https://index.crates.io/)",
                        self.name
                    )));
                }
                if self.crates.is_empty() && self.lockfiles.is_empty() {
                    return Err(invalid(format!(
                        "sparse source `{}` selects nothing: a sparse index cannot be listed, so give `crates = [\"serde\", \"tokio@^1\"]` or `lockfiles = [\"/srv/projects/*/Cargo.lock\"]`",
                        self.name
                    )));
                }
                for spec in &self.crates {
                    crate::package::CrateSpec::parse(spec).map_err(|e| ConfigError::Invalid {
                        key: "sources.crates",
                        reason: format!("source `{}`: {e}", self.name),
                    })?;
                }
            }
            SourceKind::Wellknown => {
                check_url("sources.url", &self.url)?;
                if self.url.is_empty() {
                    return Err(invalid(format!(
                        "wellknown source `{}` needs `url` (the base its `.well-known/agent-skills/index.json` is below)",
                        self.name
                    )));
                }
            }
            SourceKind::Clawhub => {
                check_url("sources.url", &self.url)?;
                if self.url.is_empty() || (self.slugs.is_empty() && self.search.trim().is_empty()) {
                    return Err(invalid(format!(
                        "clawhub source `{}` needs `url` and `slugs = [\"…\"]` or `search = \"…\"` (ClawHub cannot be listed in full)",
                        self.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Where to keep a static export of the signed index (see
/// `skillreg export-static`): a directory or a bucket, with the URL it is
/// served at. All empty: none.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Export {
    /// Directory of the tree.
    pub dir: PathBuf,
    /// A bucket for the tree instead of a directory, `s3://BUCKET/PREFIX`
    /// (reached as `[s3]` says).
    pub target: String,
    /// URL the tree is served at (written into its config.json).
    pub base_url: String,
    /// The most objects the bucket's prefix may hold when the daemon lists
    /// it at start (memory is bounded by this, not by the bucket).
    pub max_listed_objects: usize,
}

impl Default for Export {
    fn default() -> Self {
        Export {
            dir: PathBuf::new(),
            target: String::new(),
            base_url: String::new(),
            // About three times a registry of 100,000 packages × 3
            // versions (index files, statements, blobs, nodes, zips).
            max_listed_objects: 2_000_000,
        }
    }
}

/// The bucket a setting names (`s3://…`), or `None` when it is empty.
fn bucket_setting(
    key: &'static str,
    value: &str,
) -> Result<Option<crate::bucket::BucketUrl>, ConfigError> {
    if value.is_empty() {
        return Ok(None);
    }
    crate::bucket::BucketUrl::parse(value)
        .map(Some)
        .map_err(|e| ConfigError::Invalid {
            key,
            reason: e.to_string(),
        })
}

/// Where blobs are kept besides `DATA/blobs`.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// A bucket that holds every blob too, `s3://BUCKET/PREFIX` (reached as
    /// `[s3]` says); empty: the data directory only.
    pub blobs: String,
}

impl Storage {
    /// The bucket of `blobs`, when one is set.
    pub fn bucket(&self) -> Result<Option<crate::bucket::BucketUrl>, ConfigError> {
        bucket_setting("storage.blobs", &self.blobs)
    }
}

impl Export {
    /// The bucket of `target`, when one is set.
    pub fn bucket(&self) -> Result<Option<crate::bucket::BucketUrl>, ConfigError> {
        bucket_setting("export.target", &self.target)
    }

    /// True when a tree is to be kept (in a directory or a bucket).
    pub fn enabled(&self) -> bool {
        !self.dir.as_os_str().is_empty() || !self.target.is_empty()
    }
}

/// How long signed documents stay valid; each is re-signed when less than
/// half of its lifetime is left (a quarter for the root).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Signing {
    /// Lifetime of a timestamp: how long a client may keep trusting a
    /// frozen view of the registry.
    pub timestamp_expiry_secs: u64,
    /// Lifetime of a snapshot.
    pub snapshot_expiry_secs: u64,
    /// Lifetime of a root document.
    pub root_expiry_secs: u64,
    /// How long a superseded snapshot and the tree nodes only it names stay
    /// served (at least until the next snapshot): a client that read the
    /// timestamp before is still walking them. A publish signs two
    /// snapshots (its own, then the feeds'), so a count would not do.
    pub superseded_grace_secs: u64,
    /// Package kinds whose every publish must carry a publisher signature.
    pub require_publisher_signature: Vec<crate::package::Kind>,
}

impl Default for Signing {
    fn default() -> Self {
        Signing {
            timestamp_expiry_secs: 24 * 3600,
            snapshot_expiry_secs: 30 * 24 * 3600,
            root_expiry_secs: 365 * 24 * 3600,
            superseded_grace_secs: 60,
            require_publisher_signature: Vec::new(),
        }
    }
}

/// Size and time limits that protect the daemon from hostile clients.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest compressed bundle accepted on publish.
    pub max_bundle_bytes: u64,
    /// Largest total unpacked size of a bundle.
    pub max_unpacked_bytes: u64,
    /// Most entries in a bundle.
    pub max_entries: u64,
    /// Largest JSON metadata part of a publish.
    pub max_metadata_bytes: u64,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Seconds to send a complete request head.
    pub header_read_timeout_secs: u64,
    /// Seconds to send a complete request body.
    pub body_read_timeout_secs: u64,
    /// Seconds without traffic before a connection is closed.
    pub idle_timeout_secs: u64,
    /// Seconds shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// Publishes one token may have in progress at once (0: no cap); the
    /// next one gets 429 before its body is read.
    pub max_concurrent_uploads_per_token: usize,
    /// Publishes one client IP address may have in progress at once (0: no
    /// cap), whatever their tokens.
    pub max_concurrent_uploads_per_ip: usize,
}

/// Per-IP and per-token request rates; 0 turns a limit off.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second per client IP.
    pub per_ip_per_second: u32,
    /// Extra requests per client IP allowed at once.
    pub per_ip_burst: u32,
    /// Sustained requests per second per token.
    pub per_token_per_second: u32,
    /// Extra requests per token allowed at once.
    pub per_token_burst: u32,
}

/// PEM certificate chain and private key for HTTPS.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Certificate chain file; empty for plain HTTP.
    pub cert: PathBuf,
    /// Private key file; empty for plain HTTP.
    pub key: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8970)),
            data_dir: PathBuf::from("./skillreg-data"),
            public_url: String::new(),
            auth_required: false,
            limits: Limits::default(),
            rate_limit: RateLimit::default(),
            tls: Tls::default(),
            signing: Signing::default(),
            export: Export::default(),
            s3: crate::bucket::S3Config::default(),
            storage: Storage::default(),
            sources: Vec::new(),
            policy: crate::policy::PolicyConfig::default(),
            feeds: Feeds::default(),
            metrics_token: String::new(),
            metrics_listen: None,
            fsck_interval: "24h".into(),
        }
    }
}

impl Limits {
    /// What a bundle may hold under these limits.
    pub fn archive(&self) -> crate::bundle::ArchiveLimits {
        crate::bundle::ArchiveLimits {
            max_compressed: self.max_bundle_bytes,
            max_unpacked: self.max_unpacked_bytes,
            max_entries: self.max_entries,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let archive = crate::bundle::ArchiveLimits::default();
        Limits {
            max_bundle_bytes: archive.max_compressed,
            max_unpacked_bytes: archive.max_unpacked,
            max_entries: archive.max_entries,
            max_metadata_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 60,
            idle_timeout_secs: 60,
            shutdown_grace_secs: 30,
            max_concurrent_uploads_per_token: 2,
            max_concurrent_uploads_per_ip: 4,
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_ip_per_second: 200,
            per_ip_burst: 1000,
            per_token_per_second: 100,
            per_token_burst: 500,
        }
    }
}

/// A configuration file that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for skillreg.
    #[error("config file {path} is invalid: {message}(see config/skillreg.toml for every key)")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("config value {key} is invalid: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A `[policy]` value is unusable (the message names the key).
    #[error("config value policy is invalid: {0}")]
    Policy(#[from] crate::policy::PolicyConfigError),
}

/// An optional URL setting: empty, or http(s).
fn check_url(key: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.is_empty() || url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        key,
        reason: format!("`{url}` must start with http:// or https://"),
    })
}

impl Config {
    /// Reads `path` on top of the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses TOML text on top of the defaults; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.limits.max_header_bytes < 8192 {
            return Err(ConfigError::Invalid {
                key: "limits.max_header_bytes",
                reason: "must be at least 8192".into(),
            });
        }
        let s = &self.signing;
        if s.timestamp_expiry_secs < 2 || s.snapshot_expiry_secs < 2 || s.root_expiry_secs < 2 {
            return Err(ConfigError::Invalid {
                key: "signing",
                reason: "every lifetime must be at least 2 seconds".into(),
            });
        }
        if !self.export.dir.as_os_str().is_empty() && !self.export.target.is_empty() {
            return Err(ConfigError::Invalid {
                key: "export",
                reason: "set export.dir or export.target, not both".into(),
            });
        }
        if self.export.enabled() == self.export.base_url.is_empty() {
            return Err(ConfigError::Invalid {
                key: "export",
                reason: "set export.base_url with export.dir or export.target, or none of them"
                    .into(),
            });
        }
        self.export.bucket()?;
        self.storage.bucket()?;
        check_url("export.base_url", &self.export.base_url)?;
        let mut names = std::collections::HashSet::new();
        for source in &self.sources {
            source.check()?;
            if !names.insert(source.name.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "sources",
                    reason: format!("two sources are named `{}`", source.name),
                });
            }
        }
        self.policy.check()?;
        self.feeds.check()?;
        if self.tls.cert.as_os_str().is_empty() != self.tls.key.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "tls",
                reason: "set both tls.cert and tls.key, or neither".into(),
            });
        }
        check_url("public_url", &self.public_url)?;
        if !self.metrics_token.is_empty() && self.metrics_token.len() < 16 {
            return Err(ConfigError::Invalid {
                key: "metrics_token",
                reason: "must be empty or at least 16 characters (e.g. `openssl rand -hex 16`)"
                    .into(),
            });
        }
        self.fsck_interval()?;
        Ok(())
    }

    /// The background fsck's interval; `None` when it is off (`"0"`).
    pub fn fsck_interval(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        let text = self.fsck_interval.trim();
        if text == "0" {
            return Ok(None);
        }
        match humantime::parse_duration(text) {
            Ok(d) if d >= std::time::Duration::from_secs(1) => Ok(Some(d)),
            _ => Err(ConfigError::Invalid {
                key: "fsck_interval",
                reason: format!(
                    "`{text}` is not a duration of at least 1 s (like `24h` or `30m`), or `0` for never"
                ),
            }),
        }
    }

    /// True when both TLS files are configured.
    pub fn tls_enabled(&self) -> bool {
        !self.tls.cert.as_os_str().is_empty()
    }

    /// The base URL clients use, without a trailing slash.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        if !self.public_url.is_empty() {
            return self.public_url.trim_end_matches('/').to_string();
        }
        let scheme = if self.tls_enabled() { "https" } else { "http" };
        format!("{scheme}://{bound}")
    }
}

#[cfg(test)]
mod tests;
