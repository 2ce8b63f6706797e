//! A static tree in an S3-compatible bucket (`index-spec/export.md` §5.3).
//!
//! The bucket's listing is read once when the tree is opened, keeping each
//! object's ETag (S3 and Garage: the MD5 of a single-part upload); after
//! that the tree knows what it wrote, so an update sends only the objects
//! whose bytes changed and a content-addressed object already there is
//! never sent again. An object S3 acknowledged is durable and replaces the
//! old one whole, so the write order alone keeps readers consistent.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use md5::{Digest, Md5};

use crate::blobs::{BlobStore, Sha256Digest};
use crate::bucket::{Bucket, ObjectKind};
use crate::crash_point::crash_point;

/// The most objects a tree's prefix may hold when it is opened: about
/// three times a registry of 100,000 packages × 3 versions (index files,
/// statements, blobs, nodes, zips), and about 300 MB of keys at most.
pub const MAX_LISTED_OBJECTS: usize = 2_000_000;

/// A tree below a bucket URL, and what is known to be in it.
#[derive(Debug)]
pub struct BucketTree {
    bucket: Bucket,
    /// Key (below the URL's prefix) → MD5 hex of its bytes, when known.
    present: Mutex<HashMap<String, Option<String>>>,
}

impl BucketTree {
    /// Lists what the bucket already holds below the URL's prefix.
    pub fn open(bucket: Bucket) -> io::Result<BucketTree> {
        let present = bucket
            .list("", MAX_LISTED_OBJECTS)?
            .into_iter()
            .map(|(key, listed)| (key, listed.etag.filter(|t| is_md5_hex(t))))
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

    fn present(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<String>>> {
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
            .is_some_and(|t| t.as_deref() == Some(&md5))
        {
            return Ok(false);
        }
        self.bucket.put(key, bytes.to_vec(), kind)?;
        crash_point("export.after_put");
        self.present().insert(key.to_string(), Some(md5));
        Ok(true)
    }

    /// Copies a blob to `key` unless an object is there (content-addressed:
    /// it holds these bytes), checking it against its name on the way.
    pub fn copy_blob(
        &self,
        key: &str,
        blobs: &BlobStore,
        digest: &Sha256Digest,
    ) -> io::Result<bool> {
        if self.contains(key) {
            return Ok(false);
        }
        let bytes = blobs.read(digest)?;
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
