//! A static tree in an S3-compatible bucket (`index-spec/export.md` §5.3).
//!
//! The bucket's listing is read once when the tree is opened, keeping each
//! object's size and ETag (S3 and Garage: the MD5 of a single-part upload);
//! after that the tree knows what it wrote, so an update sends only the
//! objects whose bytes changed, and a blob already there with its size is
//! not sent again. An object S3 acknowledged is durable and replaces the
//! old one whole, so the write order alone keeps readers consistent.
//!
//! What the listing says is checked against the tree's own bytes, not
//! trusted for being named by a digest: the bucket may be shared, and an
//! object another writer deleted or replaced is written again at the next
//! start.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use md5::{Digest, Md5};

use crate::blobs::{BlobStore, Sha256Digest};
use crate::bucket::{Bucket, ObjectKind};
use crate::crash_point::crash_point;

/// A tree below a bucket URL, and what is known to be in it.
#[derive(Debug)]
pub struct BucketTree {
    bucket: Bucket,
    /// Key (below the URL's prefix) → what is known of the object there.
    present: Mutex<HashMap<String, Known>>,
}

/// An object in the bucket as listed or written.
#[derive(Debug)]
struct Known {
    size: u64,
    /// MD5 hex of its bytes, when the ETag is one.
    md5: Option<String>,
}

impl BucketTree {
    /// Lists what the bucket already holds below the URL's prefix, refusing
    /// a listing of over `max_objects` (`export.max_listed_objects`). The
    /// tree's own keys are under 150 bytes (about 300 MB at 2,000,000);
    /// other writers' keys in the same prefix may be up to S3's 1,024 bytes
    /// each, so give the tree a prefix of its own.
    pub fn open(bucket: Bucket, max_objects: usize) -> io::Result<BucketTree> {
        let listing = bucket.list("", max_objects)?;
        if let Some(why) = &listing.cut_short {
            // What was not listed is written again (a fresh bucket's cost),
            // and what it holds of earlier runs is not pruned this time.
            tracing::warn!(bucket = %bucket.url(), error = %why, "the listing stopped at another writer's key; objects after it are written again");
        }
        let present = listing
            .objects
            .into_iter()
            .map(|(key, listed)| {
                let md5 = listed.etag.filter(|t| is_md5_hex(t));
                let known = Known {
                    size: listed.size,
                    md5: md5.map(|t| t.to_ascii_lowercase()),
                };
                (key, known)
            })
            .collect();
        Ok(BucketTree {
            bucket,
            present: Mutex::new(present),
        })
    }

    /// The bucket this tree is in.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    fn present(&self) -> std::sync::MutexGuard<'_, HashMap<String, Known>> {
        self.present.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when the tree holds an object at `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.present().contains_key(key)
    }

    /// Writes `bytes` at `key` unless the object there already holds them.
    pub fn write_at(&self, key: &str, bytes: &[u8], kind: ObjectKind) -> io::Result<bool> {
        let md5 = hex::encode(Md5::digest(bytes));
        if self
            .present()
            .get(key)
            .is_some_and(|known| known.md5.as_deref() == Some(&md5))
        {
            return Ok(false);
        }
        self.bucket.put(key, bytes.to_vec(), kind)?;
        crash_point("export.after_put");
        let size = bytes.len() as u64;
        let known = Known {
            size,
            md5: Some(md5),
        };
        self.present().insert(key.to_string(), known);
        Ok(true)
    }

    /// Copies a blob to `key` unless an object of its size is there (one
    /// the tree wrote, or listed at start: reading every blob to compare
    /// its MD5 would cost a start as much as the first export), checking it
    /// against its name on the way.
    pub fn copy_blob(
        &self,
        key: &str,
        blobs: &BlobStore,
        digest: &Sha256Digest,
    ) -> io::Result<bool> {
        let path = blobs.local_path(digest)?;
        let size = std::fs::metadata(&path)?.len();
        if self.present().get(key).is_some_and(|k| k.size == size) {
            return Ok(false);
        }
        let bytes = std::fs::read(&path)?;
        if Sha256Digest::of(&bytes) != *digest {
            return Err(io::Error::other(format!(
                "blob {digest} in the store does not match its name"
            )));
        }
        self.write_at(key, &bytes, ObjectKind::Immutable)
    }

    /// The names of the objects directly in folder `dir`.
    pub fn list_dir(&self, dir: &str) -> Vec<String> {
        let folder = format!("{}/", dir.trim_end_matches('/'));
        self.present()
            .keys()
            .filter_map(|key| key.strip_prefix(&folder))
            .filter(|name| !name.contains('/'))
            .map(str::to_string)
            .collect()
    }

    /// Deletes the object at `key`, if any.
    pub fn remove(&self, key: &str) -> io::Result<()> {
        self.bucket.delete(key)?;
        self.present().remove(key);
        Ok(())
    }
}

fn is_md5_hex(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}
