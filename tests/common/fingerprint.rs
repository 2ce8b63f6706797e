//! What "a refusal changed nothing" compares: [`Daemon::fingerprint`].

use std::path::{Path, PathBuf};

use super::{get, Daemon};

impl Daemon {
    /// Everything published, every blob and every index body: proof that a
    /// refusal changed nothing.
    pub fn fingerprint(&self) -> Fingerprint {
        let store = skillreg::store::Store::open(&self.data).unwrap();
        let published = store.published().unwrap();
        let blobs = skillreg::blobs::BlobStore::open(&self.data)
            .unwrap()
            .list()
            .unwrap()
            .iter()
            .map(|d| d.to_hex())
            .collect();
        let indexes = published
            .iter()
            .map(|(name, ..)| {
                get(&format!(
                    "{}/index/{}",
                    self.url,
                    skillreg::index::path_for(name)
                ))
                .1
            })
            .collect();
        Fingerprint {
            published,
            blobs,
            indexes,
        }
    }
}

/// What [`Daemon::fingerprint`] captures.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub published: Vec<(String, String, String, bool)>,
    pub blobs: Vec<String>,
    pub indexes: Vec<String>,
}

/// Files a failed write could have left in `DATA/blobs`: anything in the
/// temp dir, and any blob file whose bytes do not hash to its name. Read
/// before anything opens the blob store (opening it clears the temp dir).
pub fn blob_debris(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data.join("blobs/tmp")) {
        out.extend(entries.map(|e| e.unwrap().path()));
    }
    if let Ok(shards) = std::fs::read_dir(data.join("blobs/sha256")) {
        for shard in shards {
            for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                let path = blob.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if skillreg::blobs::Sha256Digest::of(&bytes).to_hex() != name {
                    out.push(path);
                }
            }
        }
    }
    out
}
