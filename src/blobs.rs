//! Content-addressed blob storage: `DATA/blobs/sha256/ab/abcdef…`.
//!
//! A blob is written to a temp file, fsynced, renamed into place and its
//! directory fsynced before [`BlobStore::put`] returns, so a version that
//! names a blob never outlives a crash without it.

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io;
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

#[cfg(test)]
mod tests;
