//! Content-addressed blob storage: `DATA/blobs/sha256/ab/abcdef…`.
//!
//! A blob is written to a temp file, fsynced, renamed into place and its
//! directory fsynced before [`BlobStore::put`] returns, so a version that
//! names a blob never outlives a crash without it.

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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

/// The blob directory of a data dir.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
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
        Ok(BlobStore { root, tmp })
    }

    /// Opens `DATA/blobs` from a second process (a CLI command) while the
    /// daemon may be running: like [`BlobStore::open`], but leaves
    /// `DATA/blobs/tmp` alone, since the daemon's temp files may be in flight.
    pub fn attach(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("blobs");
        let tmp = root.join("tmp");
        fsutil::create_private_dir(&root.join("sha256"))?;
        fsutil::create_private_dir(&tmp)?;
        Ok(BlobStore { root, tmp })
    }

    /// Where the blob with `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` durably and returns their digest. Storing the same
    /// bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> io::Result<Sha256Digest> {
        let digest = Sha256Digest::of(bytes);
        let path = self.path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        let shard = path.parent().expect("blob path has a shard dir");
        if !shard.exists() {
            fsutil::create_private_dir(shard)?;
            fsutil::sync_dir(shard.parent().expect("shard has a parent"))?;
        }
        fsutil::write_durable_via(&self.tmp, &path, bytes, 0o644)?;
        Ok(digest)
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
            self.sync_batch(dirs.iter().map(PathBuf::as_path))
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

/// A process-wide counter that keeps [`BlobStore::put_many`]'s temp names
/// unique when batches run at once.
fn batch_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests;
