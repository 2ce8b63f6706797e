//! Roots: choosing the root to start from (pinned, saved, or trusted on
//! first use), refusing a registry whose roots are not the trusted ones (a
//! foreign root), and walking the chain from there to the newest root. The
//! rule of one chain step is [`sign::next_root`], shared with the transfer
//! importer; this file says its failures in the install client's words.

use std::collections::BTreeMap;
use std::path::Path;

use super::expiry::check_expiry;
use super::fetch::Http;
use super::{TrustError, MAX_METADATA_BYTES};
use crate::index::sign::{self, paths, ChainError, Envelope, Root, RootError, RootFileError};

/// Most root versions walked in one refresh (a registry rotating more often
/// than this between two installs is misbehaving).
const MAX_ROOT_STEPS: u64 = 1024;

/// What is wrong with a root that is not a sound self-signed root
/// ([`sign::self_signed_root`]), in the client's words.
pub(super) fn root_problem(e: RootError) -> sign::VerifyError {
    match e {
        RootError::Verify(e) => e,
        RootError::NotVersion1 { doc_type, .. } if doc_type != "root" => {
            sign::VerifyError::Malformed(format!("`_type` is `{doc_type}`, not `root`"))
        }
        RootError::NotVersion1 { spec_version, .. } => sign::VerifyError::Malformed(format!(
            "`spec_version` is `{spec_version}`; this skillreg understands only `1`"
        )),
    }
}

/// The key ids of each role of a root.
pub fn role_key_ids(root: &Root) -> BTreeMap<String, Vec<String>> {
    root.roles
        .iter()
        .map(|(name, r)| (name.clone(), r.keyids.clone()))
        .collect()
}

/// A trusted root: the document, its envelope bytes, its payload bytes.
#[derive(Clone)]
pub(super) struct TrustedRoot {
    /// The root document.
    pub(super) root: Root,
    /// Its envelope, as served or stored (what the state directory keeps).
    pub(super) envelope: Vec<u8>,
    /// Its payload bytes: what a served root is compared with.
    pub(super) payload: Vec<u8>,
    /// Where it came from, in messages (a file, or a URL).
    pub(super) origin: String,
}

/// Reads `--trust-root`: a self-signed root envelope file.
pub(super) fn load_pinned(path: &Path) -> Result<TrustedRoot, TrustError> {
    let file = sign::load_root_file(path, MAX_METADATA_BYTES).map_err(|e| match e {
        RootFileError::Unreadable(e) => TrustError::TrustRootUnreadable {
            path: path.display().to_string(),
            message: e.to_string(),
        },
        RootFileError::TooLarge { limit } => TrustError::TrustRootUnreadable {
            path: path.display().to_string(),
            message: format!("it is larger than {limit} bytes"),
        },
        RootFileError::Invalid(e) => TrustError::TrustRootInvalid {
            path: path.display().to_string(),
            source: root_problem(e),
        },
    })?;
    Ok(TrustedRoot {
        root: file.root,
        envelope: file.envelope,
        payload: file.payload,
        origin: path.display().to_string(),
    })
}

/// The root the chain walk starts from.
///
/// A pinned root and a saved one must each be what the registry serves at
/// their versions (see [`check_not_foreign`]); the newer of the two is the
/// start. With neither, `trust_on_first_use` pins whatever the registry
/// serves now, loudly; without it there is nothing to trust.
pub(super) fn starting_root(
    http: &Http,
    state_dir: &Path,
    pinned: Option<TrustedRoot>,
    saved: Option<TrustedRoot>,
    trust_on_first_use: bool,
) -> Result<(TrustedRoot, Provenance), TrustError> {
    match (pinned, saved) {
        // A root this registry was verified against before: whether it is
        // still this registry shows in the verification that follows, so
        // it is asked (one request) only to explain a failure.
        (Some(pinned), Some(saved)) if saved.root.version > pinned.root.version => {
            Ok((saved, Provenance::VerifiedBefore))
        }
        (Some(pinned), Some(_)) => Ok((pinned, Provenance::VerifiedBefore)),
        (None, Some(saved)) => Ok((saved, Provenance::VerifiedBefore)),
        (Some(pinned), None) => {
            check_not_foreign(http, state_dir, &pinned)?;
            Ok((pinned, Provenance::Checked))
        }
        (None, None) if trust_on_first_use => Ok((first_use(http)?, Provenance::Checked)),
        (None, None) => Err(TrustError::NoTrustRoot {
            url: http.base().to_string(),
        }),
    }
}

/// Whether the starting root was checked against what the registry serves
/// now, or only verified against it before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Provenance {
    /// The registry served it byte for byte just now.
    Checked,
    /// From this client's state or pin, verified against this registry
    /// before: a warm client spends no request on it.
    VerifiedBefore,
}

/// Why verification from `start` failed: a registry that no longer serves
/// `start` at its version is another registry (or one whose keys were
/// replaced without a rotation), which says more than the failed
/// signature `error`. Verification succeeding proves it is not (its
/// documents are signed by keys `start` delegates to), so this is asked
/// only on failure.
pub(super) fn explain_failure(
    http: &Http,
    state_dir: &Path,
    start: &TrustedRoot,
    provenance: Provenance,
    error: TrustError,
) -> TrustError {
    if provenance == Provenance::VerifiedBefore {
        if let Err(foreign @ TrustError::ForeignRoot { .. }) =
            check_not_foreign(http, state_dir, start)
        {
            return foreign;
        }
    }
    error
}

/// Refuses a registry that does not serve `trusted` at its version, byte
/// for byte: anything else is another registry (or one whose keys were
/// replaced without a rotation).
fn check_not_foreign(
    http: &Http,
    state_dir: &Path,
    trusted: &TrustedRoot,
) -> Result<(), TrustError> {
    let url = http.index_url(&paths::root(trusted.root.version));
    let fail = |detail: String| TrustError::ForeignRoot {
        url: http.base().to_string(),
        pinned: trusted.origin.clone(),
        detail,
        state_dir: state_dir.display().to_string(),
    };
    let Some(bytes) = http.get(&url, MAX_METADATA_BYTES)? else {
        return Err(fail(format!(
            "the registry serves no root v{} (your trusted root's version)",
            trusted.root.version
        )));
    };
    let served = Envelope::from_bytes(&bytes)
        .and_then(|e| e.payload_bytes())
        .map_err(|e| TrustError::Malformed {
            document: format!("root v{}", trusted.root.version),
            url: url.clone(),
            detail: e.to_string(),
        })?;
    if served != trusted.payload {
        let ids = |r: &Root| {
            r.roles
                .get("root")
                .map(|r| r.keyids.join(", "))
                .unwrap_or_default()
        };
        // Only for the message: nothing is trusted from the served root.
        let served_ids = sign::parse::<Root>(&served)
            .map(|r| ids(&r))
            .unwrap_or_else(|_| "(unreadable)".into());
        return Err(fail(format!(
            "the registry's root v{} names root key(s) {served_ids}, but the trusted root v{} names {}",
            trusted.root.version,
            trusted.root.version,
            ids(&trusted.root)
        )));
    }
    Ok(())
}

/// Trust on first use: the registry's current root, if it is sound, with a
/// warning naming its keys (whoever answered could have served their own).
fn first_use(http: &Http) -> Result<TrustedRoot, TrustError> {
    let url = http.index_url(paths::ROOT);
    let bytes = http.need(
        &url,
        MAX_METADATA_BYTES,
        "the registry serves no root document; is it a skillreg daemon with signed metadata?",
    )?;
    let (root, payload) = sign::self_signed_root(&bytes).map_err(|e| TrustError::Signature {
        document: "root",
        url: url.clone(),
        source: root_problem(e),
    })?;
    let keys = role_key_ids(&root)
        .into_iter()
        .map(|(role, ids)| format!("{role} {}", ids.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    eprintln!(
        "warning: TRUST ON FIRST USE: pinning root v{} of {} without checking it against anything.\n\
         warning: its keys: {keys}\n\
         warning: whoever answered this request could have served their own keys. Compare these ids with\n\
         warning: `skillreg key show` on the registry host, or pass --trust-root with the output of `skillreg key export-root`.",
        root.version,
        http.base()
    );
    Ok(TrustedRoot {
        root,
        envelope: bytes,
        payload,
        origin: format!("{url}, trusted on first use"),
    })
}

/// Walks the root chain from `trusted` to the newest root the registry
/// serves (each step by [`sign::next_root`]) and checks that the newest has
/// not expired.
pub(super) fn walk_chain(http: &Http, mut trusted: TrustedRoot) -> Result<TrustedRoot, TrustError> {
    for _ in 0..MAX_ROOT_STEPS {
        let next = trusted.root.version + 1;
        let url = http.index_url(&paths::root(next));
        let Some(bytes) = http.get(&url, MAX_METADATA_BYTES)? else {
            break;
        };
        let (root, payload) =
            sign::next_root(&trusted.root, &bytes).map_err(|e| chain_error(e, &url, next))?;
        trusted = TrustedRoot {
            root,
            envelope: bytes,
            payload,
            origin: url,
        };
    }
    check_expiry(
        "root",
        &http.index_url(&paths::root(trusted.root.version)),
        &trusted.root.expires,
    )?;
    Ok(trusted)
}

/// Why root `version`, served at `url`, does not continue the chain, in
/// the client's words.
fn chain_error(e: ChainError, url: &str, version: u64) -> TrustError {
    let chain = |detail: String| TrustError::RootChain {
        url: url.to_string(),
        version,
        detail,
    };
    match e {
        ChainError::Malformed(e) => chain(e.to_string()),
        ChainError::NoRootRole { trusted } => TrustError::Malformed {
            document: format!("root v{trusted}"),
            url: url.to_string(),
            detail: "it names no `root` role".into(),
        },
        ChainError::NotSignedByTrusted { trusted, source } => chain(format!(
            "it is not signed by the root keys of the trusted root v{trusted}: {source}"
        )),
        ChainError::NotSelfSigned(e) => chain(format!(
            "it is not signed by its own root keys: {}",
            root_problem(e)
        )),
        ChainError::WrongVersion { expected, found } => chain(format!(
            "it is served as version {expected} but says version {found}"
        )),
    }
}
