//! A `marketplace` source: a Claude Code marketplace checkout (a local
//! `path`, or a clone of the admin's `git` URL) and the remote plugins its
//! entries pin, each packed and offered behind approval.
//!
//! The checkout is the upstream's: it is read through [`crate::safe_fs`]
//! (no link followed) and no git process ever runs in it (its commit is
//! read from `.git` files). Remote plugins (`github`, `url`, `git-subdir`)
//! are fetched only from the hosts the admin lists in `remote_hosts`, with
//! git run as an untrusted program ([`super::git`]), into clones of their
//! own under the mirror's state directory, one per URL; nothing from a
//! checkout is ever copied anywhere.

use std::path::Path;

use super::fallback::FallbackVersions;
use super::git::{self, Git, GitLimits, GitUrl};
use super::marketplace::{CatalogItem, Fetched, FetchedPlugin, Marketplace, RemoteSource};
use super::progress::{count, Progress};
use crate::blobs::Sha256Digest;
use crate::config::SourceConfig;
use crate::registry::{Offer, Registry};
use crate::safe_fs::Dir;
use crate::store::SyncRun;

/// Why a marketplace source's run stopped (an item that cannot be mirrored
/// is not an error: it is skipped and named in the run's detail).
#[derive(Debug, thiserror::Error)]
pub enum MarketplaceSourceError {
    /// The source's configuration is unusable.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The local checkout cannot be opened.
    #[error("cannot open the marketplace checkout: {0}")]
    Checkout(crate::safe_fs::SafeFsError),
    /// The admin's `git` URL is refused.
    #[error("the source's `git` URL is refused: {0}")]
    GitUrl(git::GitError),
    /// The clone of the admin's `git` URL cannot be brought up to date.
    #[error("cannot update the clone of {url}: {source}")]
    Clone {
        /// The URL.
        url: String,
        /// Why.
        source: git::GitError,
    },
    /// The catalog cannot be read.
    #[error("cannot read the marketplace at {origin}: {source}")]
    Catalog {
        /// The checkout or URL.
        origin: String,
        /// Why.
        source: super::marketplace::MarketplaceError,
    },
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// Reads the checkout, fetches the allowed remote plugins, and offers every
/// package. `state` is the source's own state directory.
pub(super) fn sync(
    registry: &Registry,
    state: &Path,
    source: &SourceConfig,
    run: &mut SyncRun,
    progress: &mut Progress<'_>,
) -> Result<(), MarketplaceSourceError> {
    let limits = GitLimits {
        max_bytes: source.git_max_bytes,
        timeout: source.git_timeout()?,
    };
    let git = Git::new(state.join("git-home"), state.to_path_buf(), limits);
    let (root, origin) = open_checkout(&git, state, source)?;
    let commit = git::read_head(&root);
    let market = Marketplace::open(root).map_err(|e| MarketplaceSourceError::Catalog {
        origin: origin.clone(),
        source: e,
    })?;
    let fetched = fetch_remotes(
        &git,
        &market.remote_sources(),
        source,
        &state.join("remotes"),
    );
    let history = FallbackVersions::new(registry, &source.name);
    // Each package is offered as soon as it is read, so one bundle at a
    // time is in memory; a store failure stops the offers and the run.
    let served_as = market.served_as();
    let mut stored: Result<(), MarketplaceSourceError> = Ok(());
    let catalog = market.read_each(&fetched, commit.as_deref(), &history, &mut |item| {
        if stored.is_ok() {
            let upstream = Upstream {
                marketplace: &served_as,
                origin: &origin,
                commit: commit.as_deref(),
            };
            stored = offer(registry, source, &upstream, item, run);
            progress.tick(run);
        }
    });
    stored?;
    for note in &catalog.notes {
        run.detail.push(format!("catalog: {note}"));
    }
    for skipped in &catalog.skipped {
        run.discovered += 1;
        run.skipped += 1;
        run.detail.push(format!(
            "{} {}: {}",
            skipped.kind, skipped.name, skipped.reason
        ));
    }
    Ok(())
}

/// Where the packages of a run come from, as each version records it.
struct Upstream<'a> {
    /// The name the marketplace is served as.
    marketplace: &'a str,
    /// The checkout or URL.
    origin: &'a str,
    /// The upstream commit, if known.
    commit: Option<&'a str>,
}

/// Offers one package, unless upstream changed its content under an
/// unchanged version (stored bundles are immutable).
fn offer(
    registry: &Registry,
    source: &SourceConfig,
    upstream: &Upstream<'_>,
    item: CatalogItem,
    run: &mut SyncRun,
) -> Result<(), MarketplaceSourceError> {
    run.discovered += 1;
    if let Some(stored) = registry.stored_cksum(&item.name, &item.version)? {
        if stored != item.content_sha256 {
            run.skipped += 1;
            run.detail.push(format!(
                "{} {}@{}: upstream changed its content without a new version; the stored bundle is kept",
                item.kind, item.name, item.version
            ));
            return Ok(());
        }
    }
    let offer = Offer {
        source: &source.name,
        auto_approve: source.auto_approve,
        kind: item.kind,
        name: &item.name,
        version: &item.version,
        bundle: &item.bundle,
        upstream_line: None,
        verbatim_line: None,
        upstream: serde_json::json!({
            "marketplace": upstream.marketplace,
            "origin": upstream.origin,
            "commit": upstream.commit,
            "source_path": item.source_path,
            "plugin": item.plugin,
            "notes": item.notes,
            "signature": "none (marketplace)",
        }),
    };
    let outcome = registry.import_mirrored(&offer)?;
    count(
        run,
        &format!("{} {}@{}", item.kind, item.name, item.version),
        outcome,
    );
    Ok(())
}

/// The checkout's directory handle and how to name it: the admin's `path`,
/// or the clone of the admin's `git` URL brought to its default branch.
fn open_checkout(
    git: &Git,
    state: &Path,
    source: &SourceConfig,
) -> Result<(Dir, String), MarketplaceSourceError> {
    if source.git.is_empty() {
        let dir = Dir::open(&source.path).map_err(MarketplaceSourceError::Checkout)?;
        return Ok((dir, source.path.display().to_string()));
    }
    let url = GitUrl::configured(&source.git).map_err(MarketplaceSourceError::GitUrl)?;
    let clone = state.join("checkout");
    git.fetch_pinned(&url, None, &clone)
        .map_err(|e| MarketplaceSourceError::Clone {
            url: source.git.clone(),
            source: e,
        })?;
    let dir = Dir::open(&clone).map_err(MarketplaceSourceError::Checkout)?;
    Ok((dir, source.git.clone()))
}

/// Fetches each remote plugin whose host the source allows, into its own
/// clone below `remotes`; every other one gets the reason it was not.
fn fetch_remotes(
    git: &Git,
    remotes: &[RemoteSource],
    source: &SourceConfig,
    clones: &Path,
) -> Fetched {
    let mut fetched = Fetched::new();
    let mut used = std::collections::BTreeSet::new();
    for remote in remotes {
        let pin = remote.pin.as_deref().unwrap_or("HEAD");
        let clone = clones.join(clone_name(remote));
        used.insert(clone.clone());
        let result = fetch_remote(git, remote, &source.remote_hosts, &clone)
            .map_err(|e| format!("remote source {}@{pin} not fetched: {e}", remote.url));
        fetched.insert(remote.index, result);
    }
    remove_unused_clones(clones, &used);
    fetched
}

/// Why one remote plugin was not fetched (its entry is skipped with this).
#[derive(Debug, thiserror::Error)]
enum RemoteError {
    /// git refused or failed (a URL that is not allowed at all, a fetch).
    #[error("{0}")]
    Git(#[from] git::GitError),
    /// The host is not in `remote_hosts`.
    #[error("the host `{host}` over {scheme} is not in this source's `remote_hosts` ({}); add it there to fetch from it", listed(.allowed))]
    NotAllowed {
        /// The URL's host.
        host: String,
        /// Its scheme.
        scheme: &'static str,
        /// What the source allows.
        allowed: Vec<String>,
    },
    /// The `git-subdir` path names `.git`.
    #[error("the git-subdir path `{0}` names the repository's `.git`")]
    GitDir(String),
    /// The `git-subdir` path (or the clone) cannot be opened.
    #[error("the git-subdir path `{path}` {}", .source.reason())]
    Subdir {
        /// The path.
        path: String,
        /// Why.
        source: crate::safe_fs::SafeFsError,
    },
    /// The clone cannot be opened.
    #[error("{0}")]
    Open(crate::safe_fs::SafeFsError),
}

/// `remote_hosts` as a message shows it.
fn listed(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "none are listed".to_string()
    } else {
        format!("it lists {}", allowed.join(", "))
    }
}

/// The clone directory of a remote: one per URL and pin, so two entries
/// pinning two commits of one repository never share a work tree (and a
/// marketplace that changes an entry's URL never fetches from the old one).
fn clone_name(remote: &RemoteSource) -> String {
    let key = format!("{}\0{}", remote.url, remote.pin.as_deref().unwrap_or(""));
    Sha256Digest::of(key.as_bytes()).to_hex()[..24].to_string()
}

/// Removes the clones of remotes the catalog no longer names, so a
/// source's disk use follows its current catalog.
fn remove_unused_clones(clones: &Path, used: &std::collections::BTreeSet<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(clones) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !used.contains(&path) {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove an unused clone");
            }
        }
    }
}

fn fetch_remote(
    git: &Git,
    remote: &RemoteSource,
    allowed: &[String],
    clone: &Path,
) -> Result<FetchedPlugin, RemoteError> {
    let url = GitUrl::upstream(&remote.url)?;
    if !url.allowed_by(allowed) {
        return Err(RemoteError::NotAllowed {
            host: url.host,
            scheme: url.scheme.protocol(),
            allowed: allowed.to_vec(),
        });
    }
    if let Some(sub) = &remote.path {
        let parts = crate::safe_fs::components(sub).map_err(|source| RemoteError::Subdir {
            path: sub.clone(),
            source,
        })?;
        if parts
            .iter()
            .any(|c| crate::bundle::archive::is_git_dir_name(c))
        {
            return Err(RemoteError::GitDir(sub.clone()));
        }
    }
    let commit = git.fetch_pinned(&url, remote.pin.as_deref(), clone)?;
    let root = Dir::open(clone).map_err(RemoteError::Open)?;
    match &remote.path {
        None => Ok(FetchedPlugin {
            dir: root,
            label: format!("{}@{commit}", remote.url),
        }),
        Some(sub) => {
            let dir = root.open_dir(sub).map_err(|source| RemoteError::Subdir {
                path: sub.clone(),
                source,
            })?;
            Ok(FetchedPlugin {
                dir,
                label: format!("{}@{commit}/{sub}", remote.url),
            })
        }
    }
}
