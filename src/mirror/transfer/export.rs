//! Writing what crosses the air gap: an archive (`skillreg export-transfer`)
//! or loose bundles with detached signatures (`--bundles`), from a data
//! directory, while the daemon may run.

use super::*;

/// Why an export could not be written. Nothing half-written is left: an
/// archive goes through a temp file renamed when complete.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// `--since` does not parse.
    #[error("--since `{0}` is neither an RFC 3339 time (2025-01-31T00:00:00Z, 2025-01-31) nor a duration (7d, 12h)")]
    BadSince(String),
    /// The data directory has no database.
    #[error("{} holds no skillreg database; pass the daemon's --data directory", .0.display())]
    NoDatabase(PathBuf),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// No root exists yet.
    #[error("no root document yet: start the daemon once to create the keys")]
    NoRoot,
    /// A stored root does not parse.
    #[error("the stored root{} is unreadable: {source}", .version.map(|v| format!(" v{v}")).unwrap_or_default())]
    BadRoot {
        /// Its version, when known.
        version: Option<u64>,
        /// Why.
        source: sign::VerifyError,
    },
    /// No key file holds the index key the newest root names.
    #[error("no index key in {} is the one root v{root_version} names; start the daemon once (it settles key rotations) and retry", .keys_dir.display())]
    NoIndexKey {
        /// Where keys are.
        keys_dir: PathBuf,
        /// The newest root.
        root_version: u64,
    },
    /// A stored checksum is not a sha256.
    #[error("{name}@{version} has a malformed stored checksum `{cksum}`")]
    BadChecksum {
        /// Package.
        name: String,
        /// Version.
        version: String,
        /// The value stored.
        cksum: String,
    },
    /// A `--package` selects nothing.
    #[error("`{spec}` matches no exportable version in {}: it is not there, or it is yanked, rejected, pending (with --approved-only) or older than --since", .data_dir.display())]
    NoMatch {
        /// The spec.
        spec: String,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// A blob cannot be read.
    #[error("the blob of {what} ({}) cannot be read: {source}", .path.display())]
    BlobUnreadable {
        /// `NAME@VERSION`.
        what: String,
        /// The blob file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A blob does not match the store.
    #[error("the blob of {what} ({}) is damaged: {len} bytes with sha256 {sha256}, the store says {size} bytes with {cksum}", .path.display())]
    BlobDamaged {
        /// `NAME@VERSION`.
        what: String,
        /// The blob file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// Its hash.
        sha256: String,
        /// The stored size.
        size: u64,
        /// The stored hash.
        cksum: String,
    },
    /// The output path names no file.
    #[error("{} names no file", .0.display())]
    NoFileName(PathBuf),
    /// The output directory for loose bundles does not exist.
    #[error("{} is not a directory; create it first (loose bundles are written into it)", .0.display())]
    NotADirectory(PathBuf),
    /// Writing failed.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// What was written.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The finished archive could not be moved into place.
    #[error("cannot move the archive to {}: {source}", .path.display())]
    Move {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Only versions published or decided at or after this (unix seconds).
    pub since: Option<i64>,
    /// Leave pending versions out.
    pub approved_only: bool,
    /// Only these packages (`NAME`, or `NAME@VERSION`); empty = all. Each
    /// must select at least one version.
    pub packages: Vec<String>,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Versions in the manifest.
    pub versions: usize,
    /// Of which pending.
    pub pending: usize,
    /// Blob bytes carried.
    pub blob_bytes: u64,
    /// The exporter's newest root version.
    pub root_version: u64,
    /// sha256 of the archive file.
    pub sha256: String,
}

/// Parses `--since`: an RFC 3339 time (`2025-01-31T00:00:00Z`, or a date
/// `2025-01-31`) or a duration before `now` (`7d`, `12h`).
pub fn parse_since(text: &str, now: i64) -> Result<i64, ExportError> {
    let text = text.trim();
    let as_time = if text.len() == 10 {
        humantime::parse_rfc3339(&format!("{text}T00:00:00Z"))
    } else {
        humantime::parse_rfc3339_weak(text)
    };
    if let Ok(t) = as_time {
        return Ok(t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0));
    }
    match humantime::parse_duration(text) {
        Ok(d) => Ok(now.saturating_sub(d.as_secs() as i64)),
        Err(_) => Err(ExportError::BadSince(text.to_string())),
    }
}

/// The blob file of `cksum` in a data directory (the blob store's layout).
pub(super) fn blob_path(data_dir: &Path, cksum: &str) -> PathBuf {
    data_dir
        .join("blobs")
        .join("sha256")
        .join(&cksum[..2])
        .join(cksum)
}

/// The index key the newest root names (installed, or pending while a
/// rotation is being settled).
pub(super) fn index_key(
    data_dir: &Path,
    root: &Root,
) -> Result<ed25519_dalek::SigningKey, ExportError> {
    let wanted = root
        .roles
        .get("index")
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    for path in [
        keys::key_path(data_dir, KeyRole::Index),
        keys::pending_path(data_dir, KeyRole::Index),
    ] {
        if let Ok(key) = keys::read_seed(&path) {
            if wanted.contains(&key_id(&key.verifying_key())) {
                return Ok(key);
            }
        }
    }
    Err(ExportError::NoIndexKey {
        keys_dir: keys::keys_dir(data_dir),
        root_version: root.version,
    })
}

/// Parses a root envelope written by this registry (not verified).
pub(super) fn parse_root(bytes: &[u8]) -> Result<Root, sign::VerifyError> {
    sign::parse(&Envelope::from_bytes(bytes)?.payload_bytes()?)
}

/// What an export carries: the exporter's roots and index key, and the
/// versions chosen by the [`ExportOptions`].
pub(super) struct Gathered {
    pub(super) roots: Vec<(u64, Vec<u8>)>,
    pub(super) root: Root,
    pub(super) key: ed25519_dalek::SigningKey,
    pub(super) created: i64,
    pub(super) versions: Vec<ManifestVersion>,
}

impl Gathered {
    /// The manifest of `versions` (all of them, or one for a loose bundle).
    pub(super) fn manifest(
        &self,
        opts: &ExportOptions,
        versions: Vec<ManifestVersion>,
    ) -> Manifest {
        Manifest {
            _type: "transfer".into(),
            format: FORMAT,
            created: rfc3339(self.created),
            registry: Exporter {
                root_version: self.root.version,
                keyids: self
                    .root
                    .roles
                    .iter()
                    .map(|(role, keys)| (role.clone(), keys.keyids.clone()))
                    .collect(),
            },
            since: opts.since.map(rfc3339),
            approved_only: opts.approved_only,
            versions,
        }
    }
}

/// True when `spec` (`NAME` or `NAME@VERSION`) selects `v`.
pub(super) fn selects(spec: &str, v: &ManifestVersion) -> bool {
    let (name, version) = match spec.rsplit_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (spec, None),
    };
    package::normalize(name) == package::normalize(&v.name)
        && version.is_none_or(|want| want == v.version)
}

/// Reads what to export from a data directory (works while the daemon runs).
pub(super) fn gather(data_dir: &Path, opts: &ExportOptions) -> Result<Gathered, ExportError> {
    if !data_dir.join(crate::store::DB_FILE).exists() {
        return Err(ExportError::NoDatabase(data_dir.to_path_buf()));
    }
    let store = Store::open(data_dir)?;
    let roots = store.roots()?;
    let Some((_, newest)) = roots.last() else {
        return Err(ExportError::NoRoot);
    };
    let root = parse_root(newest).map_err(|source| ExportError::BadRoot {
        version: None,
        source,
    })?;
    let key = index_key(data_dir, &root)?;
    let rows = store.transfer_rows(!opts.approved_only, opts.since.unwrap_or(i64::MIN))?;
    drop(store);

    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        if !is_sha256_hex(&row.cksum) {
            return Err(ExportError::BadChecksum {
                name: row.name.clone(),
                version: row.version.clone(),
                cksum: row.cksum.clone(),
            });
        }
        let mut provenance = serde_json::Map::new();
        if let Some(decision) = &row.decision {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(decision) {
                provenance.insert("decision".into(), v);
            }
        }
        if let Some(source) = &row.source {
            provenance.insert(
                "mirrored".into(),
                serde_json::json!({
                    "source": source,
                    "upstream": serde_json::from_str::<serde_json::Value>(&row.upstream)
                        .unwrap_or(serde_json::Value::Null),
                }),
            );
        }
        versions.push(ManifestVersion {
            name: row.name.clone(),
            version: row.version.clone(),
            kind: row.kind,
            cksum: row.cksum.clone(),
            size: row.size,
            line: row.entry_json.clone(),
            status: row.status,
            published: rfc3339(row.published_at),
            provenance: (!provenance.is_empty()).then_some(serde_json::Value::Object(provenance)),
            blob: format!("blobs/{}", row.cksum),
        });
    }
    if !opts.packages.is_empty() {
        for spec in &opts.packages {
            if !versions.iter().any(|v| selects(spec, v)) {
                return Err(ExportError::NoMatch {
                    spec: spec.clone(),
                    data_dir: data_dir.to_path_buf(),
                });
            }
        }
        versions.retain(|v| opts.packages.iter().any(|spec| selects(spec, v)));
    }
    Ok(Gathered {
        roots,
        root,
        key,
        created: unix_now(),
        versions,
    })
}

/// Reads the blob of `v` from a data directory, checking it against the store.
pub(super) fn read_blob(data_dir: &Path, v: &ManifestVersion) -> Result<Vec<u8>, ExportError> {
    let path = blob_path(data_dir, &v.cksum);
    let what = format!("{}@{}", v.name, v.version);
    let mut bytes = Vec::with_capacity(v.size as usize);
    if let Err(source) = File::open(&path).and_then(|f| f.take(v.size + 1).read_to_end(&mut bytes))
    {
        return Err(ExportError::BlobUnreadable { what, path, source });
    }
    let sha256 = crate::blobs::Sha256Digest::of(&bytes).to_hex();
    if bytes.len() as u64 != v.size || sha256 != v.cksum {
        return Err(ExportError::BlobDamaged {
            what,
            path,
            len: bytes.len() as u64,
            sha256,
            size: v.size,
            cksum: v.cksum.clone(),
        });
    }
    Ok(bytes)
}

/// Writes a transfer archive of `data_dir` to `out` (through a temp file in
/// the same directory, renamed when complete, so a drop directory never sees
/// half an archive). Works while the daemon runs.
pub fn export(
    data_dir: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, ExportError> {
    let gathered = gather(data_dir, opts)?;
    let (roots, created) = (&gathered.roots, gathered.created);
    let manifest = gathered.manifest(opts, gathered.versions.clone());
    let manifest_bytes = canonical(&manifest);
    let signature = sign_digest(&manifest_bytes, &gathered.key).to_bytes();

    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = out
        .file_name()
        .ok_or_else(|| ExportError::NoFileName(out.to_path_buf()))?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{file_name}.partial-{}", std::process::id()));
    let written = write_archive(
        &tmp,
        data_dir,
        &manifest,
        &manifest_bytes,
        &signature,
        roots,
        created,
    );
    let (sha256, blob_bytes) = match written {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fs::rename(&tmp, out).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        ExportError::Move {
            path: out.to_path_buf(),
            source,
        }
    })?;
    fsutil::sync_dir(dir).map_err(|source| ExportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(ExportSummary {
        versions: manifest.versions.len(),
        pending: manifest
            .versions
            .iter()
            .filter(|v| v.status == VersionStatus::Pending)
            .count(),
        blob_bytes,
        root_version: gathered.root.version,
        sha256,
    })
}

/// Writes the archive to `tmp`: `manifest_bytes` (`manifest` in canonical
/// JSON), the signature, the roots, then each blob once, fsynced; returns
/// its sha256 and the blob bytes carried.
fn write_archive(
    tmp: &Path,
    data_dir: &Path,
    manifest: &Manifest,
    manifest_bytes: &[u8],
    signature: &[u8],
    roots: &[(u64, Vec<u8>)],
    created: i64,
) -> Result<(String, u64), ExportError> {
    let io = |source: io::Error| ExportError::Write {
        path: tmp.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(tmp)
        .map_err(io)?;
    let hashing = Hashing::new(BufWriter::new(file), u64::MAX);
    let gz = flate2::write::GzEncoder::new(hashing, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    fn add<W: Write>(
        tar: &mut tar::Builder<W>,
        path: &str,
        size: u64,
        mtime: i64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime as u64);
        header.set_size(size);
        tar.append_data(&mut header, path, data)
    }
    let len = |b: &[u8]| b.len() as u64;
    add(
        &mut tar,
        MANIFEST,
        len(manifest_bytes),
        created,
        &mut &manifest_bytes[..],
    )
    .map_err(io)?;
    add(
        &mut tar,
        SIGNATURE,
        len(signature),
        created,
        &mut &signature[..],
    )
    .map_err(io)?;
    for (version, bytes) in roots {
        let path = format!("roots/{version}.json");
        add(&mut tar, &path, len(bytes), created, &mut &bytes[..]).map_err(io)?;
    }
    let mut done = HashSet::new();
    let mut blob_bytes = 0;
    for v in &manifest.versions {
        if !done.insert(v.cksum.clone()) {
            continue;
        }
        let bytes = read_blob(data_dir, v)?;
        add(&mut tar, &v.blob, v.size, created, &mut &bytes[..]).map_err(io)?;
        blob_bytes += v.size;
    }
    let gz = tar.into_inner().map_err(io)?;
    let mut hashing = gz.finish().map_err(io)?;
    hashing.flush().map_err(io)?;
    let sha = hashing.hasher.finalize();
    let file = hashing.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok((hex::encode(sha), blob_bytes))
}

/// The detached signature of a loose bundle (`BUNDLE.sig`, format 2): a
/// one-version transfer manifest, its digest signed as an archive's is,
/// and the exporter's roots.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleSignature {
    /// Always [`BUNDLE_SIGNATURE_TYPE`].
    pub _type: String,
    /// The manifest, exactly the bytes `signature` signs the digest of
    /// (canonical JSON), naming exactly one version: the bundle beside
    /// this file.
    pub manifest: String,
    /// An envelope of type [`types::TRANSFER`] over the [`TransferDigest`]
    /// of `manifest`, signed by the exporter's index key.
    pub signature: Envelope,
    /// Every root of the exporter, by version (`"1"`, `"2"`, …), as served.
    pub roots: BTreeMap<String, Envelope>,
}

/// One loose bundle [`export_bundles`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleWritten {
    /// `NAME@VERSION`.
    pub what: String,
    /// The bundle file.
    pub bundle: PathBuf,
    /// Its signature, `BUNDLE.sig`.
    pub signature: PathBuf,
    /// Whether it is pending on the exporting side.
    pub pending: bool,
}

/// Writes each chosen version as a loose bundle and its signature
/// (`BUNDLE.sig`) into `out_dir`: the bundle first, the signature last, each
/// through a hidden temp file renamed into place. Works while the daemon runs.
pub fn export_bundles(
    data_dir: &Path,
    out_dir: &Path,
    opts: &ExportOptions,
) -> Result<Vec<BundleWritten>, ExportError> {
    let gathered = gather(data_dir, opts)?;
    if !out_dir.is_dir() {
        return Err(ExportError::NotADirectory(out_dir.to_path_buf()));
    }
    let mut roots = BTreeMap::new();
    for (version, bytes) in &gathered.roots {
        let envelope = Envelope::from_bytes(bytes).map_err(|source| ExportError::BadRoot {
            version: Some(*version),
            source,
        })?;
        roots.insert(version.to_string(), envelope);
    }
    let mut written = Vec::with_capacity(gathered.versions.len());
    for v in &gathered.versions {
        let bytes = read_blob(data_dir, v)?;
        let manifest = canonical(&gathered.manifest(opts, vec![v.clone()]));
        let signature = BundleSignature {
            _type: BUNDLE_SIGNATURE_TYPE.into(),
            signature: sign_digest(&manifest, &gathered.key),
            // Canonical JSON from serde_json is UTF-8.
            manifest: String::from_utf8(manifest).expect("serde_json writes UTF-8"),
            roots: roots.clone(),
        };
        let bundle = out_dir.join(bundle_file_name(v.kind, &v.name, &v.version));
        let signature_path = signature_path(&bundle);
        let write = |path: &Path, bytes: &[u8]| {
            fsutil::write_durable(path, bytes, 0o644).map_err(|source| ExportError::Write {
                path: path.to_path_buf(),
                source,
            })
        };
        write(&bundle, &bytes)?;
        write(&signature_path, &canonical(&signature))?;
        written.push(BundleWritten {
            what: format!("{}@{}", v.name, v.version),
            bundle,
            signature: signature_path,
            pending: v.status == VersionStatus::Pending,
        });
    }
    Ok(written)
}

/// Signs the digest of `manifest` (a `manifest.sig`, or a bundle
/// signature's `signature`) with the exporter's index key.
pub(super) fn sign_digest(manifest: &[u8], key: &ed25519_dalek::SigningKey) -> Envelope {
    Envelope::sign(
        types::TRANSFER,
        &canonical(&TransferDigest::of(manifest)),
        &[key],
    )
}
