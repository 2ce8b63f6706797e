//! [`TrustError`]: every way the registry's metadata can fail to be
//! trusted, each with the advice its user needs (the install client's
//! flags, or, through [`TrustError::for_mirror`], the mirroring admin's
//! source settings).

use std::path::Path;

use crate::index::sign;

/// Why the registry's metadata was not trusted. Each message says what
/// happened and what to do; nothing is installed after any of them.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The registry URL is not usable.
    #[error("`{url}` is not a registry URL: use http://HOST:PORT or https://HOST (no path after the host other than the registry's own prefix)")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The connection failed.
    #[error("cannot reach {url}: {message}; check --registry and that the registry is running (or use --offline to install from what was verified before)")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// An unexpected HTTP status.
    #[error("{url} answered HTTP {status}{detail}{}", status_advice(*status))]
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Explanation and advice, starting with `: `.
        detail: String,
    },
    /// A response longer than allowed.
    #[error("{url} sent more than {limit} bytes (endless data), more than its signed length or the fixed cap allows; refused. The registry, or something between you and it, is misbehaving")]
    EndlessData {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Neither a trust root nor trust on first use.
    #[error("no trust root for {url}: pass --trust-root FILE (the output of `skillreg key export-root` on the registry host), or --trust-on-first-use to pin whatever root the registry serves now")]
    NoTrustRoot {
        /// The registry.
        url: String,
    },
    /// The pinned root cannot be read.
    #[error("cannot read the trust root {path}: {message}")]
    TrustRootUnreadable {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The pinned root is not a self-signed root document.
    #[error("the trust root {path} is not a valid self-signed root document: {source}; export it again with `skillreg key export-root --data DATA` on the registry host")]
    TrustRootInvalid {
        /// The file.
        path: String,
        /// Why.
        source: sign::VerifyError,
    },
    /// The registry's roots are not the pinned ones.
    #[error("foreign root: {detail}. The registry at {url} is not the one the trusted root ({pinned}) belongs to, or its keys were replaced without a rotation. Check --registry and --trust-root; if the registry was deliberately re-created, pin its new root and delete {state_dir}")]
    ForeignRoot {
        /// The registry.
        url: String,
        /// Where the trusted root came from.
        pinned: String,
        /// What differs.
        detail: String,
        /// The state directory.
        state_dir: String,
    },
    /// A root version does not continue the chain.
    #[error("root v{version} from {url} does not continue the chain of trust: {detail}. Its keys cannot be trusted; nothing was installed. Ask the registry's operator whether the keys were rotated with `skillreg key rotate`")]
    RootChain {
        /// The URL.
        url: String,
        /// The version that failed.
        version: u64,
        /// Why.
        detail: String,
    },
    /// A signature that does not verify.
    #[error("the {document} from {url} failed verification: {source}. The metadata may have been tampered with; nothing was installed")]
    Signature {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Why.
        source: sign::VerifyError,
    },
    /// Older metadata than already seen.
    #[error("rollback: {url} served {document} version {got}, older than version {seen} already verified from this registry. Someone may be replaying old metadata to hide updates; nothing was installed. If the registry was deliberately restored from a backup, delete {state_dir} to forget what was seen")]
    Rollback {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Version served.
        got: u64,
        /// Version seen before.
        seen: u64,
        /// The state directory.
        state_dir: String,
    },
    /// Expired metadata.
    #[error("freeze: the {document} from {url} expired at {expires} (it is now {now}). The registry is serving stale metadata (a freeze attack, or its daemon stopped re-signing); nothing was installed. Ask the registry's operator, or use --offline to install from what was verified before")]
    Expired {
        /// Which document.
        document: &'static str,
        /// The URL.
        url: String,
        /// Its expiry.
        expires: String,
        /// Now.
        now: String,
    },
    /// Bytes that differ from what the signed metadata lists.
    #[error("mix-and-match: {what} is {got}, but the signed {by} lists {want}. The registry is serving files that do not belong together; nothing was installed. If a publish happened just now, retry")]
    Mismatch {
        /// Which file, and its URL.
        what: String,
        /// Which document lists it.
        by: &'static str,
        /// Length and hash received.
        got: String,
        /// Length and hash listed.
        want: String,
    },
    /// Signed documents that contradict each other.
    #[error("inconsistent signed metadata from {url}: {detail}")]
    Inconsistent {
        /// The URL.
        url: String,
        /// What contradicts what, and what to do.
        detail: String,
    },
    /// Not the document it should be.
    #[error("malformed {document} from {url}: {detail}")]
    Malformed {
        /// Which document.
        document: String,
        /// The URL (or file).
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The snapshot does not list the package.
    #[error("no package named `{name}` in the registry {url} (its signed snapshot does not list `{path}`); check the spelling")]
    NotFound {
        /// The package.
        name: String,
        /// The registry.
        url: String,
        /// The index path.
        path: String,
    },
    /// A name that cannot be a package.
    #[error("`{name}` is not a valid package name: use 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter or digit")]
    BadName {
        /// The name.
        name: String,
    },
    /// Something `--offline` needs is not cached.
    #[error("offline: {what} is not in the local cache ({path}); run the same command once without --offline to fetch and verify it")]
    Offline {
        /// What is missing.
        what: String,
        /// Where it was looked for.
        path: String,
    },
    /// A local file could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Local {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What the install client tells its user to do about an HTTP status.
fn status_advice(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            " (this registry needs a token with read access: pass --token or set SKILLREG_TOKEN)"
        }
        _ => "",
    }
}

impl TrustError {
    /// The message for a mirror run reading this registry as an upstream:
    /// the same facts, with advice for the admin of the mirroring registry
    /// (the source's `url`, `root_key`, `token`; nothing was stored) instead
    /// of the install client's flags.
    pub fn for_mirror(&self) -> String {
        match self {
            TrustError::Transport { url, message } => format!(
                "cannot reach {url}: {message}; check the source's `url` and that the upstream is running; the next run tries again"
            ),
            TrustError::Status {
                url,
                status: status @ (401 | 403),
                detail,
            } => format!(
                "{url} answered HTTP {status}{detail} (the upstream needs a token with read access: set `token` in the source)"
            ),
            TrustError::ForeignRoot {
                url,
                pinned,
                detail,
                state_dir,
            } => format!(
                "foreign root: {detail}. The upstream at {url} is not the registry the source's `root_key` ({pinned}) belongs to, or its keys were replaced without a rotation. Nothing was stored. If the upstream was deliberately re-created, set `root_key` to its new root (`skillreg key export-root` there) and delete {state_dir}"
            ),
            TrustError::RootChain {
                url,
                version,
                detail,
            } => format!(
                "root v{version} from {url} does not continue the chain of trust: {detail}. Its keys cannot be trusted; nothing was stored. Ask the upstream's operator whether the keys were rotated with `skillreg key rotate`"
            ),
            TrustError::Signature {
                document,
                url,
                source,
            } => format!(
                "the {document} from {url} failed verification: {source}. The upstream's metadata may have been tampered with; nothing from it was stored"
            ),
            TrustError::Rollback {
                document,
                url,
                got,
                seen,
                state_dir,
            } => format!(
                "rollback: {url} served {document} version {got}, older than version {seen} already verified from this upstream. Someone may be replaying old metadata to hide updates; nothing was stored. If the upstream was deliberately restored from a backup, delete {state_dir} to forget what was seen"
            ),
            TrustError::Expired {
                document,
                url,
                expires,
                now,
            } => format!(
                "freeze: the {document} from {url} expired at {expires} (it is now {now}). The upstream is serving stale metadata (a freeze attack, or its daemon stopped re-signing); nothing was stored. Ask the upstream's operator"
            ),
            TrustError::Mismatch {
                what,
                by,
                got,
                want,
            } => format!(
                "mix-and-match: {what} is {got}, but the signed {by} lists {want}. The upstream is serving files that do not belong together; not stored. If it published just now, the next run tries again"
            ),
            other => other.to_string(),
        }
    }

    /// True for failures that may pass on retry: the connection, or a 5xx
    /// or 429 from the server. Verification failures are never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            TrustError::Transport { .. } => true,
            TrustError::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A [`TrustError::Local`] for `action` on `path`, for `map_err`.
pub(super) fn local<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> TrustError + 'a {
    move |source| TrustError::Local {
        action,
        path: path.display().to_string(),
        source,
    }
}
