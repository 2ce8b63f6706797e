//! Reading a loose bundle and its detached signature (`BUNDLE.sig`).

use super::*;

/// Opens a file of a drop directory or the command line through
/// [`crate::safe_fs`]: never through a symlink, never a FIFO or device, and
/// only a regular file of at most `limit` bytes (else refused).
pub(super) fn open_regular(
    path: &Path,
    what: &str,
    limit: u64,
) -> Result<(File, u64), TransferError> {
    use crate::safe_fs::{Dir, SafeFsError};
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = file_name_of(path);
    let shown = path.display();
    let opened = Dir::open(parent).and_then(|dir| dir.open_file(&name, limit));
    match opened {
        Ok(file) => Ok((file.file, file.len)),
        Err(SafeFsError::Symlink { .. }) => Err(refused(format!(
            "{shown} is a symbolic link; {what} must be a regular file"
        ))),
        Err(SafeFsError::NotAFile { kind, .. }) => Err(refused(format!(
            "{shown} is a {kind}, not a regular file; {what} must be one"
        ))),
        Err(SafeFsError::TooLarge { size, limit, .. }) => Err(refused(format!(
            "{shown} is {size} bytes, more than the {limit} allowed for {what}"
        ))),
        Err(e) => Err(local(format!("cannot open {shown}: {}", e.reason()))),
    }
}

/// Parses a bundle signature file; a format-1 one (whose `manifest` is an
/// envelope over the whole manifest) gets its own message.
pub(super) fn parse_bundle_signature(
    bytes: &[u8],
    sig_name: &str,
) -> Result<BundleSignature, TransferError> {
    /// The shape of a format-1 `BUNDLE.sig`, only to name it.
    #[derive(serde::Deserialize)]
    struct Format1 {
        _type: String,
        #[allow(dead_code)]
        manifest: Envelope,
    }
    let detached: BundleSignature = serde_json::from_slice(bytes).map_err(|e| {
        match serde_json::from_slice::<Format1>(bytes) {
            Ok(old) if old._type == BUNDLE_SIGNATURE_TYPE => format_1(sig_name),
            _ => refused(format!(
                "{sig_name} is not a bundle signature ({e}); make one with `skillreg export-transfer --bundles`"
            )),
        }
    })?;
    if detached._type != BUNDLE_SIGNATURE_TYPE {
        return Err(refused(format!(
            "{sig_name} is a `{}` document, not a `{BUNDLE_SIGNATURE_TYPE}`",
            detached._type
        )));
    }
    Ok(detached)
}

/// Reads a bundle signature (at most [`MAX_SIGNATURE_BYTES`]) and verifies
/// it as an archive's head is verified: the roots in version order through
/// the one root walk, the digest signature with the newest root's index
/// key, the manifest against the digest, then the manifest itself, which
/// must name exactly one version. Returns it with the file's sha256.
pub(super) fn verify_bundle_signature(
    signature: &Path,
    pinned: &PinnedRoot,
    seen: (u64, &str),
) -> Result<(Manifest, Vec<IndexEntry>, Root, String), TransferError> {
    let sig_name = file_name_of(signature);
    let (handle, len) = open_regular(signature, "a bundle signature", MAX_SIGNATURE_BYTES)?;
    let mut sig_bytes = Vec::with_capacity(len as usize);
    handle
        .take(MAX_SIGNATURE_BYTES)
        .read_to_end(&mut sig_bytes)
        .map_err(|e| local(format!("cannot read {}: {e}", signature.display())))?;
    let detached = parse_bundle_signature(&sig_bytes, &sig_name)?;
    // A JSON object is keyed as text ("10" < "2"): walk them by number.
    let mut roots = Vec::with_capacity(detached.roots.len());
    for (n, envelope) in &detached.roots {
        let version = root_version_of(n).ok_or_else(|| {
            refused(format!(
                "{sig_name}: root key `{n}` is not a version 1, 2, …"
            ))
        })?;
        roots.push((version, envelope));
    }
    roots.sort_by_key(|(version, _)| *version);
    let mut chain = RootChain::new(pinned, &sig_name);
    for (version, envelope) in roots {
        chain.push(version, &envelope.to_bytes())?;
    }
    let root = chain.finish(seen)?;
    let digest = verify_digest(&detached.signature, &root, &sig_name)?;
    let manifest_bytes = detached.manifest.as_bytes();
    let sha256 = crate::blobs::Sha256Digest::of(manifest_bytes).to_hex();
    let what = format!("the manifest in {sig_name}");
    check_digest(
        &digest,
        &sha256,
        manifest_bytes.len() as u64,
        &sig_name,
        &what,
    )?;
    let (manifest, lines) = check_manifest(manifest_bytes, &root)?;
    if manifest.versions.len() != 1 {
        return Err(refused(format!(
            "{sig_name} names {} versions; a bundle signature names exactly one",
            manifest.versions.len()
        )));
    }
    let file_sha = crate::blobs::Sha256Digest::of(&sig_bytes).to_hex();
    Ok((manifest, lines, root, file_sha))
}

/// Stages a loose bundle, hashing the bytes it copies (so a file changed
/// meanwhile cannot slip through); refused unless they are `v`'s signed
/// size and sha256.
pub(super) fn stage_bundle(
    bundle: &Path,
    v: &ManifestVersion,
    staging: &Path,
) -> Result<(), TransferError> {
    let what = format!("{}@{}", v.name, v.version);
    let (handle, len) = open_regular(bundle, "a bundle", u64::MAX)?;
    if len != v.size {
        return Err(refused(format!(
            "{} is {len} bytes but its signature says {what} is {} bytes; the file was changed or truncated",
            bundle.display(),
            v.size
        )));
    }
    let staged = staging.join(&v.cksum);
    let mut out = BufWriter::new(File::create(&staged).map_err(local)?);
    let mut hashing = Hashing::new(handle.take(v.size + 1), u64::MAX);
    io::copy(&mut hashing, &mut out).map_err(|e| {
        local(format!(
            "cannot stage {} in {}: {e}",
            bundle.display(),
            staging.display()
        ))
    })?;
    out.flush().map_err(local)?;
    let count = hashing.count;
    let sha = hashing.hex();
    if count != v.size || sha != v.cksum {
        let _ = fs::remove_file(&staged);
        return Err(refused(format!(
            "{} does not match its signature: its sha256 is {sha} ({count} bytes), {what} is signed as {} ({} bytes); the file was changed or damaged",
            bundle.display(),
            v.cksum,
            v.size
        )));
    }
    Ok(())
}

/// Reads and verifies a loose bundle's signature, then stages the bundle.
pub(super) fn read_bundle(
    bundle: &Path,
    signature: &Path,
    pinned: &PinnedRoot,
    max_blob: u64,
    staging: &Path,
    seen: (u64, &str),
) -> Result<Verified, TransferError> {
    let (manifest, lines, root, sha256) = verify_bundle_signature(signature, pinned, seen)?;
    // A bundle too large for this registry is not read: the import skips it.
    if let Some(v) = manifest.versions.first().filter(|v| v.size <= max_blob) {
        stage_bundle(bundle, v, staging)?;
    }
    Ok(Verified {
        manifest,
        lines,
        root,
        sha256,
    })
}
