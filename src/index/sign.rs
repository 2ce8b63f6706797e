//! Signed metadata: DSSE-style envelopes over canonical JSON documents.
//!
//! Every signature covers exact bytes, never a re-serialized object: the
//! signed message is DSSE's pre-authentication encoding (PAE) of the
//! document's `payloadType` and its payload bytes, so the type is a domain
//! separator and a signature for one kind of document can never verify as
//! another.
//!
//! ```text
//! PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body
//! ```
//!
//! Documents are written in canonical JSON ([`canonical`]) so that the same
//! inputs always give the same bytes (and test vectors are stable); a
//! verifier checks the payload bytes as received and only then parses them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Payload types: the domain separators of each document kind.
pub mod types {
    /// The root document.
    pub const ROOT: &str = "application/vnd.skillreg.root+json";
    /// The timestamp document.
    pub const TIMESTAMP: &str = "application/vnd.skillreg.timestamp+json";
    /// The snapshot document.
    pub const SNAPSHOT: &str = "application/vnd.skillreg.snapshot+json";
    /// A statement about one index file.
    pub const INDEX_FILE: &str = "application/vnd.skillreg.index-file+json";
    /// A publisher's statement about a bundle.
    pub const PUBLISHER: &str = "application/vnd.skillreg.publisher+json";
    /// The registry's record of an admin's decision on a mirrored version.
    pub const DECISION: &str = "application/vnd.skillreg.decision+json";
    /// The manifest of an air-gap transfer archive, signed by the index key.
    pub const TRANSFER: &str = "application/vnd.skillreg.transfer+json";
}

/// Serializes a value as canonical JSON: no insignificant whitespace,
/// object keys in byte order (serde_json's maps are sorted), integers only.
pub fn canonical<T: Serialize>(value: &T) -> Vec<u8> {
    // Through Value so struct fields are sorted like map keys.
    let value = serde_json::to_value(value).expect("documents serialize");
    serde_json::to_vec(&value).expect("values serialize")
}

/// DSSE's pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The id of a key: lowercase hex sha256 of its 32 public-key bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    crate::blobs::Sha256Digest::of(key.as_bytes()).to_hex()
}

/// A signed document as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Base64 of the document bytes.
    pub payload: String,
    /// What the payload is; part of what is signed.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// One or more signatures over `PAE(payloadType, payload bytes)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// Which key signed.
    pub keyid: String,
    /// Base64 of the 64-byte ed25519 signature.
    pub sig: String,
}

/// Why signed metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not an envelope, or not base64, or not the document it claims.
    #[error("malformed signed document: {0}")]
    Malformed(String),
    /// The envelope's type is not the expected one.
    #[error("expected a {expected} document, got {found}")]
    WrongType {
        /// Wanted.
        expected: &'static str,
        /// Got.
        found: String,
    },
    /// Too few valid signatures by keys of the role.
    #[error("the {role} signature does not verify: {valid} valid signature(s) from trusted {role} keys, {threshold} required")]
    Threshold {
        /// The role.
        role: String,
        /// Valid signatures found.
        valid: usize,
        /// Needed.
        threshold: usize,
    },
    /// Signed only by keys the root does not name.
    #[error("the {role} document is signed by unknown key id(s) {keyids}; it was not made by this registry's keys")]
    UnknownKey {
        /// The role.
        role: String,
        /// The ids seen.
        keyids: String,
    },
}

impl Envelope {
    /// Signs `payload` of `payload_type` with each key.
    pub fn sign(payload_type: &str, payload: &[u8], keys: &[&SigningKey]) -> Envelope {
        let message = pae(payload_type, payload);
        Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.to_string(),
            signatures: keys
                .iter()
                .map(|k| EnvelopeSignature {
                    keyid: key_id(&k.verifying_key()),
                    sig: B64.encode(k.sign(&message).to_bytes()),
                })
                .collect(),
        }
    }

    /// The envelope as served: canonical JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical(self)
    }

    /// Parses served bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, VerifyError> {
        serde_json::from_slice(bytes).map_err(|e| VerifyError::Malformed(e.to_string()))
    }

    /// The payload bytes, undecoded from base64 (not yet verified).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, VerifyError> {
        B64.decode(&self.payload)
            .map_err(|e| VerifyError::Malformed(format!("payload is not base64: {e}")))
    }

    /// Verifies at least `role.threshold` signatures by distinct keys of
    /// `role` and returns the payload bytes.
    pub fn verify(
        &self,
        expected_type: &'static str,
        role_name: &str,
        role: &RoleKeys,
        keys: &BTreeMap<String, PublicKey>,
    ) -> Result<Vec<u8>, VerifyError> {
        if self.payload_type != expected_type {
            return Err(VerifyError::WrongType {
                expected: expected_type,
                found: self.payload_type.clone(),
            });
        }
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let mut valid = std::collections::BTreeSet::new();
        let mut known_signer = false;
        for s in &self.signatures {
            if !role.keyids.contains(&s.keyid) {
                continue;
            }
            known_signer = true;
            // A key counts only under its true id, so one key can never
            // stand in for two in a threshold.
            let Some(key) = keys
                .get(&s.keyid)
                .and_then(|k| k.verifying_key().ok())
                .filter(|k| key_id(k) == s.keyid)
            else {
                continue;
            };
            let Ok(sig) = B64.decode(&s.sig) else {
                continue;
            };
            let Ok(sig) = Signature::from_slice(&sig) else {
                continue;
            };
            if key.verify(&message, &sig).is_ok() {
                valid.insert(s.keyid.clone());
            }
        }
        if !known_signer && !self.signatures.is_empty() {
            return Err(VerifyError::UnknownKey {
                role: role_name.to_string(),
                keyids: self
                    .signatures
                    .iter()
                    .map(|s| s.keyid.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        if valid.len() < role.threshold.max(1) {
            return Err(VerifyError::Threshold {
                role: role_name.to_string(),
                valid: valid.len(),
                threshold: role.threshold.max(1),
            });
        }
        Ok(payload)
    }
}

/// A public key as named in the root document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// Always `ed25519`.
    pub keytype: String,
    /// Lowercase hex of the 32 public-key bytes.
    pub public: String,
}

impl PublicKey {
    /// The public half of a signing key.
    pub fn of(key: &VerifyingKey) -> PublicKey {
        PublicKey {
            keytype: "ed25519".into(),
            public: hex::encode(key.as_bytes()),
        }
    }

    /// Parses it into a usable key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, VerifyError> {
        if self.keytype != "ed25519" {
            return Err(VerifyError::Malformed(format!(
                "unsupported key type {}",
                self.keytype
            )));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.public, &mut bytes)
            .map_err(|_| VerifyError::Malformed("public key is not 64 hex digits".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map_err(|e| VerifyError::Malformed(format!("bad public key: {e}")))
    }
}

/// The keys of one role and how many must sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleKeys {
    /// Key ids (see [`key_id`]).
    pub keyids: Vec<String>,
    /// Signatures needed.
    pub threshold: usize,
}

/// The root document: which keys hold which role, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// Always `root`.
    pub _type: String,
    /// Protocol version of the signed metadata, `1`.
    pub spec_version: String,
    /// Starts at 1; each rotation adds 1.
    pub version: u64,
    /// RFC 3339 UTC expiry.
    pub expires: String,
    /// Every key, by id.
    pub keys: BTreeMap<String, PublicKey>,
    /// `root`, `index` (index files and snapshot) and `timestamp`.
    pub roles: BTreeMap<String, RoleKeys>,
}

/// What the snapshot says of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileMeta {
    /// Length in bytes.
    pub length: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
}

/// The snapshot's signed top: the 16 subtrees of the hash tree that lists
/// every index file (and `config.json`) with its hash
/// ([`snapshot_tree`](super::snapshot_tree)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Always `snapshot`.
    pub _type: String,
    /// Grows with every change.
    pub version: u64,
    /// RFC 3339 UTC expiry.
    pub expires: String,
    /// The root version whose keys signed it.
    pub root_version: u64,
    /// Levels of nodes below this document; [`DEPTH`](super::snapshot_tree::DEPTH).
    pub depth: u64,
    /// Hex digit → the node whose prefix it is (absent: no file there).
    pub children: BTreeMap<String, FileMeta>,
}

/// The timestamp: the current snapshot, re-signed often, expiring soon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timestamp {
    /// Always `timestamp`.
    pub _type: String,
    /// Grows with every signing.
    pub version: u64,
    /// RFC 3339 UTC expiry.
    pub expires: String,
    /// The snapshot it vouches for.
    pub snapshot: SnapshotMeta,
}

/// The timestamp's account of the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotMeta {
    /// Snapshot version.
    pub version: u64,
    /// Length of the snapshot envelope bytes.
    pub length: u64,
    /// sha256 of the snapshot envelope bytes.
    pub sha256: String,
}

/// A signed statement about one index file (RFC 3724's per-file signature).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexFileStatement {
    /// Always `index-file`.
    pub _type: String,
    /// The path below `/index/`.
    pub path: String,
    /// Its length.
    pub length: u64,
    /// Its sha256.
    pub sha256: String,
}

/// A publisher's signed claim that it published these exact bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherStatement {
    /// Always `publisher`.
    pub _type: String,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub vers: String,
    /// Hex sha256 of the bundle.
    pub cksum: String,
}

impl PublisherStatement {
    /// The statement for `name@vers` with bundle `cksum`.
    pub fn new(name: &str, vers: &str, cksum: &str) -> PublisherStatement {
        PublisherStatement {
            _type: "publisher".into(),
            name: name.into(),
            vers: vers.into(),
            cksum: cksum.into(),
        }
    }
}

/// An admin's decision on a version, signed by the registry's index key and
/// kept as provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionStatement {
    /// Always `decision`.
    pub _type: String,
    /// Package name.
    pub name: String,
    /// Exact version.
    pub vers: String,
    /// Hex sha256 of the bundle decided on.
    pub cksum: String,
    /// `approved` or `rejected`.
    pub decision: String,
    /// The admin's login.
    pub by: String,
    /// RFC 3339 UTC time of the decision.
    pub at: String,
    /// The admin's note or reason.
    pub note: String,
}

/// Parses a verified payload as the document type `T`.
pub fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, VerifyError> {
    serde_json::from_slice(payload).map_err(|e| VerifyError::Malformed(e.to_string()))
}

/// Why root bytes are not a sound self-signed root (see [`self_signed_root`]).
///
/// The kinds are kept apart, rather than worded here, because the install
/// client and the transfer importer each say them in their own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// Not an envelope; not signed by the root keys it names; or a key
    /// listed under an id that is not its own.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// Signed, but not a version-1 root document.
    #[error("`_type` `{doc_type}` / `spec_version` `{spec_version}`: not a version-1 root")]
    NotVersion1 {
        /// The document's `_type`.
        doc_type: String,
        /// The document's `spec_version`.
        spec_version: String,
    },
}

/// Parses a root envelope and checks that it verifies with its own root
/// keys, is a version-1 root, and lists each key under its own key id.
/// Returns the root and its payload bytes (the exact bytes signed).
///
/// Every root anyone trusts passes this: a pinned root, a saved one, one
/// trusted on first use, and each step of a chain walk ([`next_root`]).
pub fn self_signed_root(bytes: &[u8]) -> Result<(Root, Vec<u8>), RootError> {
    let envelope = Envelope::from_bytes(bytes)?;
    self_signed(&envelope)
}

fn self_signed(envelope: &Envelope) -> Result<(Root, Vec<u8>), RootError> {
    // The keys to check with come from the unverified payload: a root
    // vouches for itself here, and for nothing else until this passes.
    let unverified: Root = parse(&envelope.payload_bytes()?)?;
    let root_role = unverified
        .roles
        .get("root")
        .ok_or_else(|| VerifyError::Malformed("the root names no `root` role".into()))?;
    let payload = envelope.verify(types::ROOT, "root", root_role, &unverified.keys)?;
    let root: Root = parse(&payload)?;
    if root._type != "root" || root.spec_version != "1" {
        return Err(RootError::NotVersion1 {
            doc_type: root._type,
            spec_version: root.spec_version,
        });
    }
    // A key id is the sha256 of its key: one key may not pose as two.
    for (id, key) in &root.keys {
        if key_id(&key.verifying_key()?) != *id {
            return Err(VerifyError::Malformed(format!(
                "the key listed as {id} has another key id"
            ))
            .into());
        }
    }
    Ok((root, payload))
}

/// Why a root does not continue the chain from the trusted one (see
/// [`next_root`]). Each kind carries what its caller needs to say it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The bytes are not an envelope.
    #[error("{0}")]
    Malformed(VerifyError),
    /// The trusted root names no `root` role, so nothing can chain from it.
    #[error("the trusted root v{trusted} names no `root` role")]
    NoRootRole {
        /// The trusted root's version.
        trusted: u64,
    },
    /// Not signed by the trusted root's root keys.
    #[error("it is not signed by the root keys of the trusted root v{trusted}: {source}")]
    NotSignedByTrusted {
        /// The trusted root's version.
        trusted: u64,
        /// Why the signature was refused.
        source: VerifyError,
    },
    /// Not a sound self-signed root.
    #[error("it is not signed by its own root keys: {0}")]
    NotSelfSigned(RootError),
    /// A sound root, but of another version than the one after the trusted.
    #[error("it says version {found}, not {expected}")]
    WrongVersion {
        /// The trusted root's version plus one.
        expected: u64,
        /// The version the root says.
        found: u64,
    },
}

/// The one rule of a root chain: root N+1 must verify with N's root keys
/// (the old keys hand over) and with its own (the new keys accept), and
/// say version N+1. `trusted` is root N, `bytes` the envelope served or
/// carried as N+1. Returns root N+1 and its payload bytes.
pub fn next_root(trusted: &Root, bytes: &[u8]) -> Result<(Root, Vec<u8>), ChainError> {
    let envelope = Envelope::from_bytes(bytes).map_err(ChainError::Malformed)?;
    let old_role = trusted.roles.get("root").ok_or(ChainError::NoRootRole {
        trusted: trusted.version,
    })?;
    envelope
        .verify(types::ROOT, "root", old_role, &trusted.keys)
        .map_err(|source| ChainError::NotSignedByTrusted {
            trusted: trusted.version,
            source,
        })?;
    let (root, payload) = self_signed(&envelope).map_err(ChainError::NotSelfSigned)?;
    let expected = trusted.version + 1;
    if root.version != expected {
        return Err(ChainError::WrongVersion {
            expected,
            found: root.version,
        });
    }
    Ok((root, payload))
}

/// Why a root file (a pinned trust root) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RootFileError {
    /// It could not be opened or read.
    #[error("{0}")]
    Unreadable(std::io::Error),
    /// It is larger than the caller's cap.
    #[error("it is larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// It is not a sound self-signed root.
    #[error("{0}")]
    Invalid(RootError),
}

/// A root read from a file and checked with [`self_signed_root`].
#[derive(Clone, Debug)]
pub struct RootFile {
    /// The envelope bytes, as stored.
    pub envelope: Vec<u8>,
    /// The root.
    pub root: Root,
    /// Its payload bytes (the exact bytes signed).
    pub payload: Vec<u8>,
}

/// Reads a root envelope file of at most `limit` bytes (the output of
/// `skillreg key export-root`) and checks it with [`self_signed_root`].
pub fn load_root_file(path: &std::path::Path, limit: u64) -> Result<RootFile, RootFileError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(RootFileError::Unreadable)?;
    let size = file.metadata().map_err(RootFileError::Unreadable)?.len();
    if size > limit {
        return Err(RootFileError::TooLarge { limit });
    }
    // Read under the cap too: the file may grow after its size was looked at.
    let mut envelope = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut envelope)
        .map_err(RootFileError::Unreadable)?;
    if envelope.len() as u64 > limit {
        return Err(RootFileError::TooLarge { limit });
    }
    let (root, payload) = self_signed_root(&envelope).map_err(RootFileError::Invalid)?;
    Ok(RootFile {
        envelope,
        root,
        payload,
    })
}

/// Where signed metadata lives below `/index/` (crate names start with a
/// letter, so no index path can begin with `_`).
pub mod paths {
    /// The directory.
    pub const DIR: &str = "_skillreg";
    /// The newest root.
    pub const ROOT: &str = "_skillreg/root.json";
    /// The timestamp.
    pub const TIMESTAMP: &str = "_skillreg/timestamp.json";

    /// Root version `n`.
    pub fn root(n: u64) -> String {
        format!("_skillreg/root/{n}.json")
    }

    /// Snapshot version `n`.
    pub fn snapshot(n: u64) -> String {
        format!("_skillreg/snapshot/{n}.json")
    }

    /// The snapshot-tree node with this sha256 (content-addressed).
    pub fn tree_node(sha256: &str) -> String {
        format!("_skillreg/tree/{sha256}.json")
    }

    /// The directory of the snapshot-tree nodes.
    pub const TREE_DIR: &str = "_skillreg/tree";

    /// The statement for the index file at `path`.
    pub fn statement(path: &str) -> String {
        format!("_skillreg/sig/{path}")
    }
}

#[cfg(test)]
mod tests;
