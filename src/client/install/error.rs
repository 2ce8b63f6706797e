//! Why an install or a check of an installation failed, with what to do.

use super::*;

/// Why an install or a verification failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The registry's metadata was not trusted.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// A command-line package spec that does not parse.
    #[error("`{spec}` is not NAME or NAME@REQ: {reason}")]
    BadSpec {
        /// The spec.
        spec: String,
        /// Why.
        reason: String,
    },
    /// No package named.
    #[error("nothing to install: name at least one package")]
    NothingToInstall,
    /// A package (or dependency) the registry does not have.
    #[error(
        "no package named `{name}` (required by {by}) in the registry {url}; check the spelling"
    )]
    NotFound {
        /// The package.
        name: String,
        /// Who asked for it.
        by: String,
        /// The registry.
        url: String,
    },
    /// No version matches.
    #[error("no version of `{name}` matches `{req}` (required by {by}): {available}")]
    NoMatch {
        /// The package.
        name: String,
        /// The requirement.
        req: String,
        /// Who asked.
        by: String,
        /// What exists.
        available: String,
    },
    /// Two requirements no single version meets.
    #[error("conflicting requirements on `{name}`: {first} and {second} cannot both be met by one version{detail}; change one of the requirements")]
    Conflict {
        /// The package.
        name: String,
        /// First requirement and who made it.
        first: String,
        /// Second requirement and who made it.
        second: String,
        /// Which versions exist.
        detail: String,
    },
    /// A crate.
    #[error("`{name}` is a cargo crate (required by {by}); add it to Cargo.toml and build with cargo. skillreg install installs skills and plugins")]
    Crate {
        /// The crate.
        name: String,
        /// Who asked.
        by: String,
    },
    /// A dependency that cannot be followed.
    #[error("`{name}@{version}` has a dependency skillreg cannot install: `{dep}` {reason}")]
    BadDependency {
        /// The dependent.
        name: String,
        /// Its version.
        version: String,
        /// The dependency.
        dep: String,
        /// Why.
        reason: String,
    },
    /// A downloaded bundle whose hash is not the signed one.
    #[error("the bundle of `{package}` from {url} has sha256 {got}, but the signed index says {want}: it was tampered with or corrupted on the way; nothing was installed")]
    BlobMismatch {
        /// NAME@VERSION.
        package: String,
        /// Where it came from.
        url: String,
        /// Its hash.
        got: String,
        /// The signed hash.
        want: String,
    },
    /// A signed checksum that is not a sha256.
    #[error("the index line of `{name}@{version}` has `cksum` `{cksum}`, which is not 64 hex digits; the registry is broken")]
    BadChecksum {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// The value.
        cksum: String,
    },
    /// A bundle that fails the archive checks.
    #[error(
        "the bundle of `{name}@{version}` is unsafe or broken: {source}; nothing was installed"
    )]
    Bundle {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// Why.
        source: BundleError,
    },
    /// A bundle whose layout is not its kind's.
    #[error("the bundle of `{name}@{version}` is listed as a {kind} but has no `{manifest}`; nothing was installed")]
    WrongLayout {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// The listed kind.
        kind: Kind,
        /// The manifest expected.
        manifest: &'static str,
    },
    /// `--offline` without the bundle cached.
    #[error("offline: the bundle of `{name}@{version}` is not in the cache ({path}); run once without --offline to download it")]
    OfflineBlob {
        /// The package.
        name: String,
        /// Its version.
        version: String,
        /// Where it was looked for.
        path: String,
    },
    /// A local file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// A lock file that cannot be read.
    #[error("{path} is not a skillreg lock file this version understands ({detail}); fix it or move it away")]
    BadLock {
        /// The lock.
        path: String,
        /// Why.
        detail: String,
    },
    /// No lock file.
    #[error(
        "no lock file at {path}: run `skillreg install` in that directory first (or pass --dir)"
    )]
    NoLock {
        /// Where it was looked for.
        path: String,
    },
}

pub(super) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> InstallError + 'a {
    move |source| InstallError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}
