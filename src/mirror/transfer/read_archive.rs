//! Reading a transfer archive as hostile input, with memory bounded by what
//! has been verified: the manifest streamed to a staged file, small caps on
//! the signature and each root, roots checked as they arrive, blobs staged
//! against their declared sha256 and size.

use super::*;

/// A reader that fails once more than `remaining` bytes come out of the
/// decompressor: the gzip-bomb guard.
pub(super) struct Budget<R> {
    pub(super) inner: R,
    pub(super) remaining: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            self.remaining = 0;
            return Err(io::Error::other(TooLarge));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

pub(super) fn read_error(e: io::Error, limits: &TransferLimits) -> TransferError {
    if is_too_large(&e) {
        refused(format!(
            "the archive is larger than {} bytes (compressed or unpacked); raise --max-bytes if it is genuine",
            limits.max_bytes
        ))
    } else {
        refused(format!("the archive is corrupt or truncated: {e}"))
    }
}

/// Reads a whole small entry, at most `limit` bytes.
pub(super) fn read_entry(
    entry: &mut impl Read,
    path: &str,
    size: u64,
    limit: u64,
    limits: &TransferLimits,
) -> Result<Vec<u8>, TransferError> {
    if size > limit {
        return Err(refused(format!(
            "`{path}` is {size} bytes, more than the {limit} allowed"
        )));
    }
    let mut out = Vec::with_capacity(size as usize);
    entry
        .take(size + 1)
        .read_to_end(&mut out)
        .map_err(|e| read_error(e, limits))?;
    if out.len() as u64 != size {
        return Err(refused(format!(
            "`{path}` claims {size} bytes but the archive holds {}",
            out.len()
        )));
    }
    Ok(out)
}

/// Copies an entry into the new file `to` (or only reads it, for `None`)
/// with a fixed buffer, and returns the sha256 and count of its bytes.
/// Read errors are the archive's fault; write errors are ours.
pub(super) fn copy_hashed(
    entry: &mut impl Read,
    to: Option<&Path>,
    limits: &TransferLimits,
) -> Result<(String, u64), TransferError> {
    let stage = |e: io::Error, path: &Path| local(format!("cannot stage {}: {e}", path.display()));
    let mut out = match to {
        Some(path) => Some(BufWriter::new(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| stage(e, path))?,
        )),
        None => None,
    };
    let mut hashing = Hashing::new(entry, u64::MAX);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = hashing.read(&mut buf).map_err(|e| read_error(e, limits))?;
        if n == 0 {
            break;
        }
        if let (Some(out), Some(path)) = (out.as_mut(), to) {
            out.write_all(&buf[..n]).map_err(|e| stage(e, path))?;
        }
    }
    // Not fsynced: staging is scratch; the blob store's put is durable.
    if let (Some(mut out), Some(path)) = (out, to) {
        out.flush().map_err(|e| stage(e, path))?;
    }
    let count = hashing.count;
    Ok((hashing.hex(), count))
}

/// `manifest.json` staged on disk, not yet verified.
pub(super) struct StagedManifest {
    pub(super) path: PathBuf,
    pub(super) sha256: String,
    pub(super) size: u64,
}

/// Streams `manifest.json` into the staging directory while hashing it:
/// never held in memory, at most `limits.max_manifest_bytes` on disk.
pub(super) fn stage_manifest(
    entry: &mut impl Read,
    size: u64,
    limits: &TransferLimits,
    staging: &Path,
) -> Result<StagedManifest, TransferError> {
    if size > limits.max_manifest_bytes {
        return Err(refused(format!(
            "`{MANIFEST}` is {size} bytes, more than the {} allowed; raise --max-manifest-bytes if it is genuine",
            limits.max_manifest_bytes
        )));
    }
    let path = staging.join(MANIFEST);
    let (sha256, count) = copy_hashed(entry, Some(&path), limits)?;
    if count != size {
        return Err(refused(format!(
            "`{MANIFEST}` claims {size} bytes but the archive holds {count}"
        )));
    }
    Ok(StagedManifest { path, sha256, size })
}

/// Reads `manifest.sig` (at most [`MAX_DIGEST_SIGNATURE_BYTES`]) as an
/// envelope, not yet verified. A format-1 signature is refused here, by
/// its size or by its payload, before anything else is read.
pub(super) fn read_signature(
    entry: &mut impl Read,
    size: u64,
    limits: &TransferLimits,
) -> Result<Envelope, TransferError> {
    if size > MAX_DIGEST_SIGNATURE_BYTES {
        return Err(refused(format!(
            "`{SIGNATURE}` is {size} bytes, more than the {MAX_DIGEST_SIGNATURE_BYTES} allowed: a format-{FORMAT} signature covers only the manifest's sha256 and size (a few hundred bytes); if this archive is of format 1 (its signature holds the whole manifest), export it again with this skillreg version"
        )));
    }
    let bytes = read_entry(entry, SIGNATURE, size, MAX_DIGEST_SIGNATURE_BYTES, limits)?;
    let envelope = Envelope::from_bytes(&bytes)
        .map_err(|e| refused(format!("manifest.sig is not a signed envelope: {e}")))?;
    // Unverified, but bounded: only to refuse a format-1 archive by name now.
    let payload = envelope
        .payload_bytes()
        .map_err(|e| refused(format!("manifest.sig is not a signed envelope: {e}")))?;
    parse_digest(&payload, "the archive's manifest.sig")?;
    Ok(envelope)
}

/// A blob the manifest names: its size, whether to keep it, whether seen.
pub(super) struct BlobPlan {
    pub(super) size: u64,
    pub(super) stage: bool,
    pub(super) seen: bool,
}

/// What the entries before the blobs gave: the staged manifest, its
/// signature (not yet verified) and the root walk so far.
pub(super) struct Head<'a> {
    pub(super) manifest: Option<StagedManifest>,
    pub(super) signature: Option<Envelope>,
    pub(super) chain: RootChain<'a>,
}

/// The verified head of an archive: its manifest, lines, newest trusted
/// root and the plan for its blobs.
pub(super) struct Settled {
    pub(super) manifest: Manifest,
    pub(super) lines: Vec<IndexEntry>,
    pub(super) root: Root,
    pub(super) plans: HashMap<String, BlobPlan>,
}

/// At the first blob (or the end): finishes the root walk, verifies the
/// digest signature with the newest root's index key, compares it with the
/// staged manifest, and only then reads and parses the manifest and plans
/// its blobs: those of versions over `max_blob` or `known` (already stored)
/// are checked but not staged.
pub(super) fn settle(
    head: &Head,
    seen: (u64, &str),
    max_blob: u64,
    known: &dyn Fn(&str, &str) -> bool,
) -> Result<Settled, TransferError> {
    let (Some(staged), Some(signature)) = (&head.manifest, &head.signature) else {
        return Err(refused(
            "the archive must begin with manifest.json and manifest.sig",
        ));
    };
    let root = head.chain.finish(seen)?;
    let digest = verify_digest(signature, &root, SIGNATURE)?;
    check_digest(&digest, &staged.sha256, staged.size, SIGNATURE, MANIFEST)?;
    // Verified: now it may be read, and it is as large as was signed.
    let mut bytes = Vec::with_capacity(staged.size as usize);
    File::open(&staged.path)
        .and_then(|f| f.take(staged.size + 1).read_to_end(&mut bytes))
        .map_err(|e| local(format!("cannot read the staged manifest: {e}")))?;
    if bytes.len() as u64 != staged.size {
        return Err(local("the staged manifest changed size; retry"));
    }
    let (manifest, lines) = check_manifest(&bytes, &root)?;
    drop(bytes);
    let mut plans: HashMap<String, BlobPlan> = HashMap::new();
    for v in &manifest.versions {
        let stage = v.size <= max_blob && !known(&v.name, &v.version);
        let plan = plans.entry(v.cksum.clone()).or_insert(BlobPlan {
            size: v.size,
            stage: false,
            seen: false,
        });
        if plan.size != v.size {
            return Err(refused(format!(
                "manifest.json: blob {} is listed with two sizes",
                v.cksum
            )));
        }
        plan.stage |= stage;
    }
    Ok(Settled {
        manifest,
        lines,
        root,
        plans,
    })
}

/// Streams blob `hex` (entry `path` of `size` bytes) into the staging
/// directory when its plan says so, and refuses it unless it has the signed
/// manifest's size and sha256.
pub(super) fn stage_blob(
    entry: &mut impl Read,
    path: &str,
    hex: &str,
    size: u64,
    plans: &mut HashMap<String, BlobPlan>,
    staging: &Path,
    limits: &TransferLimits,
) -> Result<(), TransferError> {
    let plan = plans
        .get_mut(hex)
        .ok_or_else(|| refused(format!("`{path}` is not named by the signed manifest")))?;
    if size != plan.size {
        return Err(refused(format!(
            "`{path}` is {size} bytes but the signed manifest says {}",
            plan.size
        )));
    }
    let staged = staging.join(hex);
    let (sha, copied) = copy_hashed(entry, plan.stage.then_some(staged.as_path()), limits)?;
    if copied != plan.size || sha != hex {
        let _ = fs::remove_file(&staged);
        return Err(refused(format!(
            "`{path}` does not match the signed manifest: its sha256 is {sha} ({copied} bytes); the archive was changed or damaged"
        )));
    }
    plan.seen = true;
    Ok(())
}

/// The gzip and tar layers over an archive file.
pub(super) type ArchiveTar =
    tar::Archive<Budget<flate2::bufread::GzDecoder<BufReader<Hashing<File>>>>>;

/// Opens an archive: a regular file (never through a symlink) within
/// `limits.max_bytes` that starts as gzip. Its bytes are hashed as they are
/// read, and what comes out of the decompressor is capped (the gzip-bomb
/// guard).
pub(super) fn open_archive(
    file: &Path,
    limits: &TransferLimits,
) -> Result<ArchiveTar, TransferError> {
    let (handle, _) = open_regular(
        file,
        "a transfer archive (raise --max-bytes if it is genuine)",
        limits.max_bytes,
    )?;
    let mut head = [0u8; 2];
    {
        let mut h = &handle;
        if h.read_exact(&mut head).is_err() || head != [0x1f, 0x8b] {
            return Err(refused(
                "not a gzip file; a transfer archive is the .tar.gz `skillreg export-transfer` writes",
            ));
        }
        io::Seek::seek(&mut h, io::SeekFrom::Start(0)).map_err(local)?;
    }
    let hashing = Hashing::new(handle, limits.max_bytes);
    let gz = flate2::bufread::GzDecoder::new(BufReader::with_capacity(64 * 1024, hashing));
    let budget = Budget {
        inner: gz,
        remaining: limits
            .max_bytes
            .saturating_add(limits.max_entries.saturating_mul(1024))
            .saturating_add(MAX_PADDING),
    };
    Ok(tar::Archive::new(budget))
}

/// What an archive entry is, by its name.
pub(super) enum Part {
    Manifest,
    Signature,
    Root(u64),
    Blob(String),
}

impl Part {
    pub(super) fn of(path: &str) -> Result<Part, TransferError> {
        if path == MANIFEST {
            Ok(Part::Manifest)
        } else if path == SIGNATURE {
            Ok(Part::Signature)
        } else if let Some(n) = path
            .strip_prefix("roots/")
            .and_then(|n| n.strip_suffix(".json"))
        {
            root_version_of(n)
                .map(Part::Root)
                .ok_or_else(|| refused(format!("`{path}` is not roots/N.json with N = 1, 2, …")))
        } else if let Some(hex) = path.strip_prefix("blobs/").filter(|h| is_sha256_hex(h)) {
            Ok(Part::Blob(hex.to_string()))
        } else {
            Err(refused(format!(
                "unexpected entry `{path}`: a transfer archive holds only manifest.json, manifest.sig, roots/N.json and blobs/SHA256"
            )))
        }
    }
}

/// The checks every tar entry passes: its count, name, kind, uniqueness
/// and the total unpacked size.
#[derive(Default)]
pub(super) struct Admission {
    pub(super) paths: HashSet<String>,
    pub(super) entries: u64,
    pub(super) files: u64,
    pub(super) unpacked: u64,
}

impl Admission {
    /// Admits one entry: its normalized path and position among the files,
    /// or `None` for one to pass over (the `roots`/`blobs` directories, a
    /// pax global header).
    pub(super) fn admit<R: Read>(
        &mut self,
        entry: &tar::Entry<R>,
        limits: &TransferLimits,
    ) -> Result<Option<(String, u64)>, TransferError> {
        self.entries += 1;
        if self.entries > limits.max_entries {
            return Err(refused(format!(
                "the archive has more than {} entries; raise --max-entries if it is genuine",
                limits.max_entries
            )));
        }
        let raw = entry.path_bytes();
        let raw = std::str::from_utf8(&raw).map_err(|_| {
            refused(format!(
                "an entry name is not UTF-8: {}",
                String::from_utf8_lossy(&raw)
            ))
        })?;
        let path = normalize_path(raw).map_err(|e| match e {
            crate::bundle::BundleError::UnsafePath { path, reason } => {
                refused(format!("hostile entry name `{path}`: {reason}"))
            }
            other => refused(format!("hostile entry name: {other}")),
        })?;
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Directory if path == "roots" || path == "blobs" => return Ok(None),
            tar::EntryType::XGlobalHeader => return Ok(None),
            other => {
                return Err(refused(format!(
                    "`{raw}` is a {other:?} entry; a transfer archive holds regular files only"
                )))
            }
        }
        if !self.paths.insert(path.clone()) {
            return Err(refused(format!("`{path}` appears twice in the archive")));
        }
        self.unpacked = self.unpacked.saturating_add(entry.size());
        if self.unpacked > limits.max_bytes {
            return Err(refused(format!(
                "the archive unpacks to more than {} bytes; raise --max-bytes if it is genuine",
                limits.max_bytes
            )));
        }
        self.files += 1;
        Ok(Some((path, self.files - 1)))
    }
}

/// After the tar end marker: only zero padding, then nothing after the
/// gzip member. Returns the sha256 of the whole file.
pub(super) fn finish_archive(
    tar: ArchiveTar,
    limits: &TransferLimits,
) -> Result<String, TransferError> {
    let mut rest = tar.into_inner();
    let mut buf = [0u8; 8192];
    let mut padding = 0u64;
    loop {
        let n = rest.read(&mut buf).map_err(|e| read_error(e, limits))?;
        if n == 0 {
            break;
        }
        padding += n as u64;
        if buf[..n].iter().any(|b| *b != 0) || padding > MAX_PADDING {
            return Err(refused("there is data after the end of the tar archive"));
        }
    }
    let mut reader = rest.inner.into_inner();
    if !reader
        .fill_buf()
        .map_err(|e| read_error(e, limits))?
        .is_empty()
    {
        return Err(refused(
            "data follows the gzip stream (a second gzip member or garbage); an archive is one gzip member",
        ));
    }
    Ok(reader.into_inner().hex())
}

/// Reads, verifies and stages an archive, holding in memory only what is
/// small or verified: the manifest is staged on disk and read only once
/// its signed digest matched; `manifest.sig` and each root have small caps;
/// the roots are walked as they arrive; blobs stream to staged files.
/// Blobs of versions `known` (already stored here) are verified but not
/// staged. An archive whose newest root is older than `seen.0` (the newest
/// imported from source `seen.1`) is a rollback: refused before any blob
/// is read.
pub(super) fn read_archive(
    file: &Path,
    pinned: &PinnedRoot,
    limits: &TransferLimits,
    max_blob: u64,
    staging: &Path,
    known: &dyn Fn(&str, &str) -> bool,
    seen: (u64, &str),
) -> Result<Verified, TransferError> {
    let mut tar = open_archive(file, limits)?;
    let mut admission = Admission::default();
    let mut head = Head {
        manifest: None,
        signature: None,
        chain: RootChain::new(pinned, "the archive"),
    };
    let mut settled: Option<Settled> = None;
    for entry in tar.entries().map_err(|e| read_error(e, limits))? {
        let mut entry = entry.map_err(|e| read_error(e, limits))?;
        let Some((path, position)) = admission.admit(&entry, limits)? else {
            continue;
        };
        let size = entry.size();
        match Part::of(&path)? {
            Part::Manifest if position != 0 => {
                return Err(refused("manifest.json must be the first entry"))
            }
            Part::Manifest => {
                head.manifest = Some(stage_manifest(&mut entry, size, limits, staging)?)
            }
            Part::Signature if position != 1 => {
                return Err(refused("manifest.sig must be the second entry"))
            }
            Part::Signature => head.signature = Some(read_signature(&mut entry, size, limits)?),
            Part::Root(_) if settled.is_some() || position < 2 => {
                return Err(refused(
                    "roots/N.json must follow manifest.sig and precede every blob",
                ))
            }
            Part::Root(_) if size > MAX_ROOT_BYTES => {
                return Err(refused(format!(
                    "`{path}` is {size} bytes, more than the {MAX_ROOT_BYTES} allowed for a root (a registry's root is a few KB): this is not an archive `skillreg export-transfer` wrote; refused"
                )))
            }
            Part::Root(version) => {
                let bytes = read_entry(&mut entry, &path, size, MAX_ROOT_BYTES, limits)?;
                head.chain.push(version, &bytes)?;
            }
            Part::Blob(hex) => {
                let plans = match &mut settled {
                    Some(s) => &mut s.plans,
                    None => &mut settled.insert(settle(&head, seen, max_blob, known)?).plans,
                };
                stage_blob(&mut entry, &path, &hex, size, plans, staging, limits)?;
            }
        }
    }
    let settled = match settled {
        Some(s) => s,
        None => settle(&head, seen, max_blob, known)?,
    };
    if let Some((hex, _)) = settled.plans.iter().find(|(_, p)| !p.seen) {
        return Err(refused(format!(
            "blobs/{hex}, named by the signed manifest, is missing from the archive"
        )));
    }
    let sha256 = finish_archive(tar, limits)?;
    Ok(Verified {
        manifest: settled.manifest,
        lines: settled.lines,
        root: settled.root,
        sha256,
    })
}
