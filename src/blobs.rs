//! Content-addressed blob storage: `DATA/blobs/sha256/ab/abcdef…`.
//!
//! A blob is written to a temp file, fsynced, renamed into place and its
//! directory fsynced before [`BlobStore::put`] returns, so a version that
//! names a blob never outlives a crash without it.
//!
//! With `[storage] blobs = "s3://…"` ([`BlobStore::with_bucket`]) every
//! blob is also written to a bucket (`PREFIX/sha256/ab/abcdef…`) before
//! `put` returns, so the bucket holds a second durable copy of everything a
//! version names; a blob missing from the directory (a lost disk, a
//! restore without blobs) is fetched back from the bucket when it is read,
//! checked against its name, and kept in the directory again.

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::bucket::{Bucket, ObjectKind};
use crate::fsutil;

/// A sha256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Hashes bytes.
    pub fn of(bytes: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, as cargo's `cksum`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Sha256Digest> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Sha256Digest(out))
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

/// The blob directory of a data dir, and the bucket that also keeps its
/// blobs, if any.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
    bucket: Option<RemoteBlobs>,
}

/// The bucket of `[storage] blobs`, and the largest blob read back from it.
#[derive(Clone, Debug)]
struct RemoteBlobs {
    bucket: Bucket,
    max_bytes: u64,
}

impl BlobStore {
    /// Opens (and creates) `DATA/blobs`, removing temp files a crash left in
    /// `DATA/blobs/tmp` (they were never renamed, so nothing refers to them).
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("blobs");
        let tmp = root.join("tmp");
        fsutil::create_private_dir(&root.join("sha256"))?;
        fsutil::create_private_dir(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(BlobStore {
            root,
            tmp,
            bucket: None,
        })
    }

    /// Opens `DATA/blobs` from a second process (a CLI command) while the
    /// daemon may be running: like [`BlobStore::open`], but leaves
    /// `DATA/blobs/tmp` alone, since the daemon's temp files may be in flight.
    pub fn attach(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("blobs");
        let tmp = root.join("tmp");
        fsutil::create_private_dir(&root.join("sha256"))?;
        fsutil::create_private_dir(&tmp)?;
        Ok(BlobStore {
            root,
            tmp,
            bucket: None,
        })
    }

    /// Also keeps every blob in `bucket` (`[storage] blobs`); blobs read
    /// back from it may be at most `max_bytes` long. Checks first that the
    /// bucket answers with these credentials.
    pub fn with_bucket(mut self, bucket: Bucket, max_bytes: u64) -> io::Result<BlobStore> {
        bucket.exists(&remote_key(&Sha256Digest([0; 32])))?;
        self.bucket = Some(RemoteBlobs { bucket, max_bytes });
        Ok(self)
    }

    /// Where the blob with `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` durably and returns their digest. Storing the same
    /// bytes twice is a no-op.
    ///
    /// With a bucket, the blob is in the bucket too when this returns (a
    /// blob already in the directory is sent unless the bucket has it).
    pub fn put(&self, bytes: &[u8]) -> io::Result<Sha256Digest> {
        let digest = Sha256Digest::of(bytes);
        let path = self.path(&digest);
        let known = path.exists();
        if !known {
            self.write_local(&path, bytes)?;
        }
        if let Some(remote) = &self.bucket {
            let key = remote_key(&digest);
            if !known || !remote.bucket.exists(&key)? {
                remote
                    .bucket
                    .put(&key, bytes.to_vec(), ObjectKind::Immutable)?;
            }
        }
        Ok(digest)
    }

    fn write_local(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let shard = path.parent().expect("blob path has a shard dir");
        if !shard.exists() {
            fsutil::create_private_dir(shard)?;
            fsutil::sync_dir(shard.parent().expect("shard has a parent"))?;
        }
        fsutil::write_durable_via(&self.tmp, path, bytes, 0o644)
    }

    /// The blob's file, fetched back from the bucket (checked against its
    /// name, and kept) when the directory lacks it.
    ///
    /// Without a bucket this is [`BlobStore::path`], with no file-system
    /// call: a download opens the file anyway, and fails there if it is gone.
    pub fn local_path(&self, digest: &Sha256Digest) -> io::Result<PathBuf> {
        let path = self.path(digest);
        let Some(remote) = &self.bucket else {
            return Ok(path);
        };
        if path.is_file() {
            return Ok(path);
        }
        let key = remote_key(digest);
        let bytes = remote.bucket.get(&key, remote.max_bytes)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "blob {digest} is neither in {} nor in {}",
                    self.root.display(),
                    remote.bucket.url()
                ),
            )
        })?;
        if Sha256Digest::of(&bytes) != *digest {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}/{key} does not hold blob {digest} (its bytes hash differently); not kept",
                    remote.bucket.url()
                ),
            ));
        }
        tracing::warn!(blob = %digest, bucket = %remote.bucket.url(), "a blob missing from the data directory was fetched back from the bucket");
        self.write_local(&path, &bytes)?;
        Ok(path)
    }

    /// The blob's bytes (see [`BlobStore::local_path`]).
    pub fn read(&self, digest: &Sha256Digest) -> io::Result<Vec<u8>> {
        fs::read(self.local_path(digest)?)
    }

    /// Stores many blobs durably with two file-system syncs for the whole
    /// batch instead of two fsyncs per blob (for bulk loads such as
    /// `examples/mirror_bench_seed.rs`); returns their digests in order.
    /// Each blob is written to `DATA/blobs/tmp` unsynced, then one sync
    /// makes every temp file durable, then they are renamed into place and a
    /// second sync makes the renames durable. So, as with [`BlobStore::put`],
    /// a blob's name never exists without its whole content, and everything
    /// is durable when this returns; a crash before the renames leaves only
    /// temp files, which [`BlobStore::open`] sweeps. Blobs already stored
    /// (or repeated in the batch) are skipped.
    ///
    /// On Linux the sync is one `syncfs(2)` of the blob directory's file
    /// system, which also flushes whatever else is dirty there; elsewhere
    /// each temp file and directory is fsynced.
    pub fn put_many<B: AsRef<[u8]>>(&self, blobs: &[B]) -> io::Result<Vec<Sha256Digest>> {
        let mut digests = Vec::with_capacity(blobs.len());
        let mut pending: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let result = (|| {
            for bytes in blobs {
                let bytes = bytes.as_ref();
                let digest = Sha256Digest::of(bytes);
                digests.push(digest);
                let path = self.path(&digest);
                if !seen.insert(digest.0) || path.exists() {
                    continue;
                }
                let tmp = self.tmp.join(format!(
                    ".{}.tmp-{}-{}",
                    digest.to_hex(),
                    std::process::id(),
                    batch_suffix()
                ));
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .open(&tmp)?;
                pending.push((tmp, path));
                file.write_all(bytes)?;
            }
            self.sync_batch(pending.iter().map(|(tmp, _)| tmp.as_path()))?;
            let mut dirs = std::collections::BTreeSet::new();
            for (tmp, path) in &pending {
                let shard = path.parent().expect("blob path has a shard dir");
                if dirs.insert(shard.to_path_buf()) && !shard.exists() {
                    fsutil::create_private_dir(shard)?;
                }
                fs::rename(tmp, path)?;
            }
            dirs.insert(self.root.join("sha256"));
            self.sync_batch(dirs.iter().map(PathBuf::as_path))?;
            if let Some(remote) = &self.bucket {
                for bytes in blobs {
                    let bytes = bytes.as_ref();
                    let key = remote_key(&Sha256Digest::of(bytes));
                    remote
                        .bucket
                        .put(&key, bytes.to_vec(), ObjectKind::Immutable)?;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            for (tmp, _) in &pending {
                let _ = fs::remove_file(tmp);
            }
        }
        result.map(|()| digests)
    }

    /// Makes `paths` (files or directories below the blob root) durable:
    /// one `syncfs` on Linux, an fsync of each elsewhere.
    fn sync_batch<'a>(&self, paths: impl Iterator<Item = &'a Path>) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let _ = paths;
            rustix::fs::syncfs(fs::File::open(&self.root)?).map_err(io::Error::from)
        }
        #[cfg(not(target_os = "linux"))]
        {
            for path in paths {
                fs::File::open(path)?.sync_all()?;
            }
            Ok(())
        }
    }

    /// True when the blob is present.
    pub fn contains(&self, digest: &Sha256Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Every stored digest, sorted (for checks and tests).
    pub fn list(&self) -> io::Result<Vec<Sha256Digest>> {
        let mut out = Vec::new();
        for shard in fs::read_dir(self.root.join("sha256"))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for blob in fs::read_dir(shard.path())? {
                let name = blob?.file_name();
                if let Some(d) = name.to_str().and_then(Sha256Digest::from_hex) {
                    out.push(d);
                }
            }
        }
        out.sort_by_key(|d| d.0);
        Ok(out)
    }
}

/// The key of a blob in the bucket, below its URL's prefix: the layout of
/// the directory (`sha256/ab/abcdef…`).
pub fn remote_key(digest: &Sha256Digest) -> String {
    let hex = digest.to_hex();
    format!("sha256/{}/{hex}", &hex[..2])
}

/// A process-wide counter that keeps [`BlobStore::put_many`]'s temp names
/// unique when batches run at once.
fn batch_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests;
