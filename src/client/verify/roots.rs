//! Roots: the pinned root, and the client's wording of a root that is not
//! sound. The rule of a root chain itself is [`sign::next_root`], shared
//! with the transfer importer.

use std::collections::BTreeMap;
use std::path::Path;

use super::{TrustError, MAX_METADATA_BYTES};
use crate::index::sign::{self, Root, RootError, RootFileError};

/// Most root versions walked in one refresh (a registry rotating more often
/// than this between two installs is misbehaving).
pub(super) const MAX_ROOT_STEPS: u64 = 1024;

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
pub(super) struct TrustedRoot {
    pub(super) root: Root,
    pub(super) envelope: Vec<u8>,
    pub(super) payload: Vec<u8>,
    pub(super) origin: String,
}

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
