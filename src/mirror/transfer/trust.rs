//! Trust: the pinned root, the root chain walked one root at a time, and
//! the signed digest of a manifest with the manifest it names.

use super::*;
use crate::index::sign::{ChainError, RootError, RootFileError};

/// The root an importer trusts: the exporter's root document pinned by
/// `root_key` / `--trust-root` (the output of `skillreg key export-root`).
#[derive(Clone, Debug)]
pub struct PinnedRoot {
    pub(super) root: Root,
    pub(super) payload: Vec<u8>,
    pub(super) origin: String,
}

impl PinnedRoot {
    /// Reads and checks a root envelope file (it must verify with its own root keys).
    pub fn load(path: &Path) -> Result<PinnedRoot, TransferError> {
        let file = sign::load_root_file(path, MAX_ROOT_BYTES).map_err(|e| match e {
            RootFileError::Unreadable(e) => {
                local(format!("cannot read the trust root {}: {e}", path.display()))
            }
            RootFileError::TooLarge { limit } => local(format!(
                "the trust root {} is larger than {limit} bytes; it must be the output of `skillreg key export-root`",
                path.display()
            )),
            RootFileError::Invalid(e) => local(format!(
                "the trust root {} is not a valid root document ({}); use the output of `skillreg key export-root` on the exporting registry",
                path.display(),
                root_problem(e)
            )),
        })?;
        Ok(PinnedRoot {
            root: file.root,
            payload: file.payload,
            origin: path.display().to_string(),
        })
    }

    /// The pinned root's version.
    pub fn version(&self) -> u64 {
        self.root.version
    }

    /// Where the newest root version imported under this pin is kept: a
    /// source re-pinned to another registry starts afresh.
    pub(super) fn state_key(&self) -> String {
        let digest = crate::blobs::Sha256Digest::of(&self.payload).to_hex();
        format!("{ROOT_STATE_KEY}:{}", &digest[..16])
    }
}

/// What is wrong with a root that is not a sound self-signed root, in the
/// importer's words (the client words a wrong `_type` or `spec_version`
/// its own way).
fn root_problem(e: RootError) -> sign::VerifyError {
    match e {
        RootError::Verify(e) => e,
        RootError::NotVersion1 {
            doc_type,
            spec_version,
        } => sign::VerifyError::Malformed(format!(
            "`_type` `{doc_type}` / `spec_version` `{spec_version}`: not a version-1 root"
        )),
    }
}

/// The exporter's root chain, walked one root at a time from the pinned
/// root: the one root walk of archives and bundle signatures. Roots come
/// in ascending version order. Those below the pinned version are not
/// needed and are dropped; the one at the pinned version must be the pinned
/// root byte for byte; each later one must verify with the previous root's
/// root keys and with its own ([`sign::next_root`], the rule clients follow). Only the newest
/// trusted root is kept, so a walk holds one root however many arrive.
pub(super) struct RootChain<'a> {
    pub(super) pinned: &'a PinnedRoot,
    /// The file the roots come from, in messages (`the archive`, `X.sig`).
    pub(super) what: String,
    /// The newest trusted root: the pinned one until a later root chains.
    pub(super) trusted: Root,
    /// The root at the pinned version was met, and matched.
    pub(super) met_pinned: bool,
    /// The highest version taken so far (0: none yet).
    pub(super) newest: u64,
    /// How many roots were taken.
    pub(super) count: u64,
}

impl<'a> RootChain<'a> {
    /// A walk from `pinned` over the roots carried by `what`.
    pub(super) fn new(pinned: &'a PinnedRoot, what: &str) -> RootChain<'a> {
        RootChain {
            pinned,
            what: what.to_string(),
            trusted: pinned.root.clone(),
            met_pinned: false,
            newest: 0,
            count: 0,
        }
    }

    /// Takes root `version` (its envelope bytes, as served). Refused when
    /// it breaks the order, the count or size caps, differs from the pin, or
    /// does not chain from the newest trusted root.
    pub(super) fn push(&mut self, version: u64, bytes: &[u8]) -> Result<(), TransferError> {
        self.count += 1;
        if self.count > MAX_ROOTS {
            return Err(refused(format!(
                "{} carries more than {MAX_ROOTS} roots",
                self.what
            )));
        }
        if bytes.len() as u64 > MAX_ROOT_BYTES {
            return Err(refused(format!(
                "root v{version} in {} is {} bytes, more than the {MAX_ROOT_BYTES} a root may have (a registry's root is a few KB): it was not written by `skillreg export-transfer`; refused",
                self.what,
                bytes.len()
            )));
        }
        if version <= self.newest {
            return Err(refused(format!(
                "root v{version} in {} comes after root v{}: roots must be in ascending version order, each once (as `skillreg export-transfer` writes them); export it again",
                self.what, self.newest
            )));
        }
        self.newest = version;
        let pinned = self.pinned.root.version;
        match version.cmp(&pinned) {
            // Older than the pin: the pin already vouches for what follows.
            std::cmp::Ordering::Less => Ok(()),
            std::cmp::Ordering::Equal => self.match_pinned(bytes),
            std::cmp::Ordering::Greater => self.chain(version, bytes),
        }
    }

    /// The root at the pinned version must be the pinned root.
    pub(super) fn match_pinned(&mut self, bytes: &[u8]) -> Result<(), TransferError> {
        let version = self.pinned.root.version;
        let payload = Envelope::from_bytes(bytes)
            .and_then(|e| e.payload_bytes())
            .map_err(|e| {
                refused(format!(
                    "root v{version} in {} is malformed: {e}",
                    self.what
                ))
            })?;
        if payload != self.pinned.payload {
            return Err(refused(format!(
                "{}'s root v{version} differs from the pinned root {}: it was made by another registry or for another trust root (or it is damaged); refused",
                self.what, self.pinned.origin
            )));
        }
        self.met_pinned = true;
        Ok(())
    }

    /// Root `version` above the pin must follow the newest trusted root.
    pub(super) fn chain(&mut self, version: u64, bytes: &[u8]) -> Result<(), TransferError> {
        if !self.met_pinned {
            return Err(refused(format!(
                "{} does not carry root v{} (the pinned root's version) before root v{version}: roots come in ascending version order and must include the pinned one, else nothing can be checked against {}",
                self.what, self.pinned.root.version, self.pinned.origin
            )));
        }
        let next = self.trusted.version + 1;
        let chain = |detail: String| {
            refused(format!(
                "root v{next} in {} does not chain from the pinned root: {detail}",
                self.what
            ))
        };
        if version != next {
            return Err(chain(format!(
                "root v{next} is missing (v{version} follows v{})",
                next - 1
            )));
        }
        let (root, _) = sign::next_root(&self.trusted, bytes).map_err(|e| {
            chain(match e {
                ChainError::Malformed(e) => e.to_string(),
                ChainError::NoRootRole { trusted } => format!("root v{trusted} names no root role"),
                ChainError::NotSignedByTrusted { trusted, source } => {
                    format!("it is not signed by the root keys of v{trusted}: {source}")
                }
                ChainError::NotSelfSigned(e) => {
                    format!("it is not signed by its own root keys: {}", root_problem(e))
                }
                ChainError::WrongVersion { found, .. } => format!("it says version {found}"),
            })
        })?;
        self.trusted = root;
        Ok(())
    }

    pub(super) fn without_pinned(&self) -> TransferError {
        refused(format!(
            "{} does not carry root v{} (the pinned root's version), so it cannot be checked against {}",
            self.what, self.pinned.root.version, self.pinned.origin
        ))
    }

    /// The newest trusted root, once every root was taken. Refused if none
    /// came, the newest is older than the pin or expired, or it is older than
    /// `seen.0`, the newest already imported from source `seen.1` (a rollback).
    pub(super) fn finish(&self, seen: (u64, &str)) -> Result<Root, TransferError> {
        let pinned = self.pinned.root.version;
        if self.newest == 0 {
            return Err(refused(format!(
                "{} carries no root document (roots/N.json)",
                self.what
            )));
        }
        if self.newest < pinned {
            return Err(refused(format!(
                "{}'s newest root is v{}, older than the pinned root v{pinned} ({}): it was exported before a key rotation the pinned root already follows; export it again",
                self.what, self.newest, self.pinned.origin
            )));
        }
        if !self.met_pinned {
            return Err(self.without_pinned());
        }
        let trusted = &self.trusted;
        let expires = humantime::parse_rfc3339(&trusted.expires).map_err(|e| {
            refused(format!(
                "root v{} has a malformed expiry: {e}",
                trusted.version
            ))
        })?;
        if expires <= SystemTime::now() {
            return Err(refused(format!(
                "the exporter's newest root v{} expired at {}; the exporting registry renews it when its daemon runs: start it, then export again",
                trusted.version, trusted.expires
            )));
        }
        if trusted.version < seen.0 {
            return Err(refused(format!(
                "{} was signed under the exporter's root v{}, but a transfer under root v{} was already imported from source `{}`: a retired key may have signed it; export it again",
                self.what, trusted.version, seen.0, seen.1
            )));
        }
        Ok(trusted.clone())
    }
}

/// The refusal of a format-1 transfer: its signature carries the whole
/// manifest, so it cannot be checked before the manifest is read whole.
pub(super) fn format_1(what: &str) -> TransferError {
    refused(format!(
        "{what} signs a whole manifest: this is a transfer of format 1, which this skillreg no longer reads (format {FORMAT} signs only the manifest's sha256 and size, so that nothing unverified is held in memory); export it again with this skillreg version (`skillreg export-transfer`, with --bundles for loose bundles)"
    ))
}

/// True when a signature payload looks like a whole manifest (format 1).
/// Only for the message: nothing is trusted from it.
pub(super) fn is_format_1_manifest(payload: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        _type: String,
    }
    serde_json::from_slice::<Probe>(payload).is_ok_and(|p| p._type == "transfer")
}

/// Parses a signed payload as a [`TransferDigest`] of this [`FORMAT`];
/// `what` names the signature in messages.
pub(super) fn parse_digest(payload: &[u8], what: &str) -> Result<TransferDigest, TransferError> {
    let digest: TransferDigest = match serde_json::from_slice(payload) {
        Ok(digest) => digest,
        Err(_) if is_format_1_manifest(payload) => return Err(format_1(what)),
        Err(e) => {
            return Err(refused(format!(
                "{what} does not sign a transfer digest ({e}); make the transfer with `skillreg export-transfer`"
            )))
        }
    };
    if digest._type != DIGEST_TYPE || digest.format != FORMAT {
        return Err(refused(format!(
            "{what} signs a `{}` document of format {}; this skillreg reads `{DIGEST_TYPE}` format {FORMAT}: export it again with this skillreg version",
            digest._type, digest.format
        )));
    }
    if !is_sha256_hex(&digest.manifest_sha256) {
        return Err(refused(format!(
            "{what}: `manifest_sha256` is not 64 lowercase hex digits"
        )));
    }
    Ok(digest)
}

/// Checks a digest signature with the newest root's index key (only that
/// key may sign a transfer) and returns the signed digest.
pub(super) fn verify_digest(
    envelope: &Envelope,
    root: &Root,
    what: &str,
) -> Result<TransferDigest, TransferError> {
    let index = root.roles.get("index").ok_or_else(|| {
        refused(format!(
            "the exporter's root v{} names no index role",
            root.version
        ))
    })?;
    let payload = envelope
        .verify(types::TRANSFER, "index", index, &root.keys)
        .map_err(|e| {
            refused(format!(
                "the manifest signature is refused: {e} (only the index key of the exporter's newest root v{} may sign {what})",
                root.version
            ))
        })?;
    parse_digest(&payload, what)
}

/// Refuses a manifest of `size` bytes with `sha256` that is not the one
/// `digest` signs. `what` names the signature, `manifest` the manifest.
pub(super) fn check_digest(
    digest: &TransferDigest,
    sha256: &str,
    size: u64,
    what: &str,
    manifest: &str,
) -> Result<(), TransferError> {
    if digest.manifest_size != size || digest.manifest_sha256 != sha256 {
        return Err(refused(format!(
            "{what} is signed but over other bytes than {manifest} ({} bytes with sha256 {}; {manifest} is {size} bytes with sha256 {sha256}): the manifest was changed or damaged",
            digest.manifest_size, digest.manifest_sha256
        )));
    }
    Ok(())
}

/// Parses a verified manifest and checks its own consistency; returns it
/// with each version's parsed line.
pub(super) fn check_manifest(
    manifest_bytes: &[u8],
    root: &Root,
) -> Result<(Manifest, Vec<IndexEntry>), TransferError> {
    let manifest: Manifest = serde_json::from_slice(manifest_bytes)
        .map_err(|e| refused(format!("manifest.json is malformed: {e}")))?;
    if manifest._type != "transfer" || manifest.format != FORMAT {
        return Err(refused(format!(
            "manifest.json is a `{}` document of format {}; this skillreg reads `transfer` format {FORMAT}",
            manifest._type, manifest.format
        )));
    }
    if manifest.registry.root_version != root.version {
        return Err(refused(format!(
            "the manifest names root v{} but the archive's newest root is v{}",
            manifest.registry.root_version, root.version
        )));
    }
    let mut lines = Vec::with_capacity(manifest.versions.len());
    let mut seen = HashSet::new();
    for v in &manifest.versions {
        let what = format!("{}@{}", v.name, v.version);
        let bad = |detail: &str| refused(format!("manifest.json: {what}: {detail}"));
        if !is_sha256_hex(&v.cksum) {
            return Err(bad("`cksum` is not 64 lowercase hex digits"));
        }
        if v.blob != format!("blobs/{}", v.cksum) {
            return Err(bad("`blob` is not `blobs/` followed by its cksum"));
        }
        if v.status == VersionStatus::Rejected {
            return Err(bad("a transfer carries approved or pending versions only"));
        }
        let line: IndexEntry = serde_json::from_str(&v.line)
            .map_err(|e| bad(&format!("its index line is malformed: {e}")))?;
        if line.name != v.name
            || line.vers != v.version
            || line.cksum != v.cksum
            || line.kind != v.kind
            || line.size.is_some_and(|s| s != v.size)
        {
            return Err(bad(
                "its index line names another name, version, kind, checksum or size",
            ));
        }
        if !seen.insert((package::normalize(&v.name), v.version.clone())) {
            return Err(bad("it is listed twice"));
        }
        lines.push(line);
    }
    Ok((manifest, lines))
}
