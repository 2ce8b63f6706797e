//! Keeping the signed metadata current: root documents, one statement per
//! index file, the snapshot and the timestamp (see `index-spec/signing.md`).
//!
//! [`Signing`] lives under the registry's writer lock, so every change to
//! the index and the documents that vouch for it happens in one order.

use std::collections::BTreeMap;
use std::path::Path;

use super::RegistryError;
use crate::config;
use crate::fsutil::{rfc3339, unix_now};
use crate::index::sign::{
    self, canonical, key_id, paths, types, Envelope, FileMeta, IndexFileStatement, PublicKey,
    RoleKeys, Root, Snapshot, SnapshotMeta, Timestamp,
};
use crate::index::snapshot_tree::{SnapshotTree, DEPTH};
use crate::index::{IndexCache, Prepared};
use crate::keys::{self, KeyRing, KeyRole};
use crate::store::Store;

/// Signed-metadata state.
pub(super) struct Signing {
    keys: KeyRing,
    root: Root,
    /// Every file below `/index/` the snapshot lists, as a hash tree whose
    /// nodes are served from the cache (`index-spec/signing.md` §6.2).
    tree: SnapshotTree,
    /// What earlier snapshots left behind, oldest first: each superseded
    /// snapshot and the nodes only it named, still served for clients
    /// holding a timestamp before the current one (see [`Superseded`]).
    superseded: std::collections::VecDeque<Superseded>,
    /// Current snapshot version and expiry.
    snapshot: Option<(u64, i64)>,
    timestamp_expires: i64,
}

/// A snapshot one publish superseded, with the tree nodes it retired. Kept
/// served for `signing.superseded_grace_secs` (and at least until the next
/// snapshot), then dropped. Versions come from a counter shared with the
/// static export, so they are not consecutive.
struct Superseded {
    /// When it was superseded (unix seconds).
    at: i64,
    /// The snapshot version it was, if there was one.
    snapshot: Option<u64>,
    /// The nodes the snapshot after it no longer named.
    nodes: Vec<String>,
}

/// The newest root document in the store, parsed (it was written by this
/// registry, so it is read without verification).
fn latest_root(store: &Store) -> Result<Option<Root>, RegistryError> {
    let Some((_, bytes)) = store.roots()?.pop() else {
        return Ok(None);
    };
    let envelope = Envelope::from_bytes(&bytes).map_err(corrupt)?;
    Ok(Some(
        sign::parse(&envelope.payload_bytes().map_err(corrupt)?).map_err(corrupt)?,
    ))
}

/// When the signed documents clients verify stop being valid (unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiries {
    /// The timestamp document (the shortest-lived; re-signed at half its life).
    pub timestamp: i64,
    /// The snapshot document, if one has been signed.
    pub snapshot: Option<i64>,
    /// The newest root document.
    pub root: i64,
}

impl Signing {
    /// The expiries of the documents served now.
    pub fn expiries(&self) -> Expiries {
        Expiries {
            timestamp: self.timestamp_expires,
            snapshot: self.snapshot.map(|(_, expires)| expires),
            root: expires_unix(&self.root.expires),
        }
    }
}

fn corrupt(e: sign::VerifyError) -> RegistryError {
    RegistryError::Io(std::io::Error::other(format!(
        "stored root document is unreadable: {e}"
    )))
}

fn load_keys(data_dir: &Path, root: Option<&Root>) -> Result<KeyRing, RegistryError> {
    Ok(KeyRing::load_or_create(data_dir, root.is_some(), |id| {
        root.is_some_and(|r| r.keys.contains_key(id))
    })?)
}

/// A root document naming `keys`, version `version`.
fn build_root(version: u64, expires: i64, keys: &KeyRing) -> Root {
    let mut all = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for role in KeyRole::ALL {
        let public = keys.get(role).verifying_key();
        let id = key_id(&public);
        all.insert(id.clone(), PublicKey::of(&public));
        roles.insert(
            role.as_str().to_string(),
            RoleKeys {
                keyids: vec![id],
                threshold: 1,
            },
        );
    }
    Root {
        _type: "root".into(),
        spec_version: "1".into(),
        version,
        expires: rfc3339(expires),
        keys: all,
        roles,
    }
}

/// True when `root` names exactly the keys of `keys` in each role.
fn names(root: &Root, keys: &KeyRing) -> bool {
    KeyRole::ALL.iter().all(|role| {
        root.roles
            .get(role.as_str())
            .is_some_and(|r| r.keyids == [key_id(&keys.get(*role).verifying_key())])
    })
}

fn expires_unix(doc_expires: &str) -> i64 {
    humantime::parse_rfc3339(doc_expires)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Signs and stores the next root, naming `keys`, signed by `keys.root` and
/// by every extra signer (the outgoing root key during a root rotation).
fn issue_root(
    store: &mut Store,
    keys: &KeyRing,
    extra_signers: &[&ed25519_dalek::SigningKey],
    cfg: &config::Signing,
    actor: &str,
) -> Result<Root, RegistryError> {
    let version = latest_root(store)?.map_or(1, |r| r.version + 1);
    let root = build_root(version, unix_now() + cfg.root_expiry_secs as i64, keys);
    let mut signers: Vec<&ed25519_dalek::SigningKey> = extra_signers.to_vec();
    signers.push(&keys.root);
    let envelope = Envelope::sign(types::ROOT, &canonical(&root), &signers);
    store.insert_root(version, &envelope.to_bytes(), actor)?;
    Ok(root)
}

impl Signing {
    /// Loads keys and roots, issuing root v1 on first start and a new root
    /// when the keys on disk differ from the newest root or it nears expiry.
    pub(super) fn open(
        data_dir: &Path,
        store: &mut Store,
        cfg: &config::Signing,
    ) -> Result<Signing, RegistryError> {
        let stored = latest_root(store)?;
        let keys = load_keys(data_dir, stored.as_ref())?;
        let root = match stored {
            None => issue_root(store, &keys, &[], cfg, "bootstrap")?,
            Some(root) if !names(&root, &keys) => {
                tracing::warn!(
                    "the keys in {} differ from root v{}; issuing a new root (use `skillreg key rotate` to rotate keys)",
                    keys::keys_dir(data_dir).display(),
                    root.version
                );
                issue_root(store, &keys, &[], cfg, "daemon")?
            }
            Some(root)
                if expires_unix(&root.expires) - unix_now() < cfg.root_expiry_secs as i64 / 4 =>
            {
                issue_root(store, &keys, &[], cfg, "daemon")?
            }
            Some(root) => root,
        };
        Ok(Signing {
            keys,
            root,
            tree: SnapshotTree::default(),
            snapshot: None,
            superseded: std::collections::VecDeque::new(),
            timestamp_expires: 0,
        })
    }

    /// Publishes every root document into the cache.
    pub(super) fn put_roots(&self, store: &Store, cache: &IndexCache) -> Result<(), RegistryError> {
        let roots = store.roots()?;
        let now = unix_now();
        for (version, bytes) in &roots {
            cache.put(paths::root(*version), Prepared::new(bytes.clone(), now));
        }
        if let Some((_, bytes)) = roots.last() {
            cache.put(paths::ROOT.to_string(), Prepared::new(bytes.clone(), now));
        }
        Ok(())
    }

    /// Records a changed file below `/index/` (an index file or `config.json`)
    /// and signs a statement for it.
    pub(super) fn file_changed(&mut self, cache: &IndexCache, path: &str, body: &[u8]) {
        let meta = FileMeta {
            length: body.len() as u64,
            sha256: crate::blobs::Sha256Digest::of(body).to_hex(),
        };
        self.file_meta_changed(cache, path, meta);
    }

    /// [`Signing::file_changed`] for a body already hashed (a large feed
    /// document, hashed outside the lock).
    pub(super) fn file_meta_changed(&mut self, cache: &IndexCache, path: &str, meta: FileMeta) {
        let statement = IndexFileStatement {
            _type: "index-file".into(),
            path: path.to_string(),
            length: meta.length,
            sha256: meta.sha256.clone(),
        };
        let envelope = Envelope::sign(
            types::INDEX_FILE,
            &canonical(&statement),
            &[&self.keys.index],
        );
        cache.put(
            paths::statement(path),
            Prepared::new(envelope.to_bytes(), unix_now()),
        );
        self.tree.set(path, meta);
    }

    /// Forgets a file that no longer exists (a package with no approved
    /// version left) and its statement.
    pub(super) fn file_removed(&mut self, cache: &IndexCache, path: &str) {
        cache.remove(&paths::statement(path));
        self.tree.remove(path);
    }

    /// Signs a decision statement with the index key.
    pub(super) fn sign_decision(&self, statement: &sign::DecisionStatement) -> Vec<u8> {
        Envelope::sign(types::DECISION, &canonical(statement), &[&self.keys.index]).to_bytes()
    }

    /// Signs a new snapshot of every recorded file, then a new timestamp.
    /// Only the tree nodes on the paths of files changed since the last
    /// snapshot are re-hashed and added to the cache.
    pub(super) fn publish(
        &mut self,
        store: &mut Store,
        cache: &IndexCache,
        cfg: &config::Signing,
    ) -> Result<(), RegistryError> {
        let version = store.next_counter("snapshot")?;
        let now = unix_now();
        let expires = now + cfg.snapshot_expiry_secs as i64;
        let changes = self.tree.commit();
        for (sha256, bytes) in changes.added {
            cache.put(paths::tree_node(&sha256), Prepared::new(bytes, now));
        }
        self.superseded.push_back(Superseded {
            at: now,
            snapshot: self.snapshot.map(|(v, _)| v),
            nodes: changes.retired,
        });
        self.drop_superseded(cache, now, cfg.superseded_grace_secs as i64);
        let snapshot = Snapshot {
            _type: "snapshot".into(),
            version,
            expires: rfc3339(expires),
            root_version: self.root.version,
            depth: DEPTH as u64,
            children: self.tree.children(),
        };
        let bytes =
            Envelope::sign(types::SNAPSHOT, &canonical(&snapshot), &[&self.keys.index]).to_bytes();
        cache.put(paths::snapshot(version), Prepared::new(bytes, now));
        self.snapshot = Some((version, expires));
        self.sign_timestamp(store, cache, cfg, version)
    }

    /// Stops serving what snapshots superseded more than `grace` seconds
    /// ago; the one superseded just now always stays. A node a later
    /// change brought back (the same bytes) stays, and so does one a later
    /// snapshot retired again.
    fn drop_superseded(&mut self, cache: &IndexCache, now: i64, grace: i64) {
        let expired = |s: &Superseded| s.at + grace <= now;
        let count = self
            .superseded
            .iter()
            .take(self.superseded.len().saturating_sub(1))
            .take_while(|s| expired(s))
            .count();
        if count == 0 {
            return;
        }
        let gone: Vec<Superseded> = self.superseded.drain(..count).collect();
        let kept: std::collections::HashSet<&str> = self
            .superseded
            .iter()
            .flat_map(|s| s.nodes.iter().map(String::as_str))
            .collect();
        for superseded in &gone {
            if let Some(version) = superseded.snapshot {
                cache.remove(&paths::snapshot(version));
            }
            for sha256 in &superseded.nodes {
                if !self.tree.is_live(sha256) && !kept.contains(sha256.as_str()) {
                    cache.remove(&paths::tree_node(sha256));
                }
            }
        }
    }

    fn sign_timestamp(
        &mut self,
        store: &mut Store,
        cache: &IndexCache,
        cfg: &config::Signing,
        snapshot_version: u64,
    ) -> Result<(), RegistryError> {
        let bytes = cache
            .get(&paths::snapshot(snapshot_version))
            .map(|p| p.body.clone())
            .ok_or_else(|| {
                RegistryError::Io(std::io::Error::other(
                    "the current snapshot is not prepared",
                ))
            })?;
        let snapshot = SnapshotMeta {
            version: snapshot_version,
            length: bytes.len() as u64,
            sha256: crate::blobs::Sha256Digest::of(&bytes).to_hex(),
        };
        let version = store.next_counter("timestamp")?;
        let now = unix_now();
        let expires = now + cfg.timestamp_expiry_secs as i64;
        let timestamp = Timestamp {
            _type: "timestamp".into(),
            version,
            expires: rfc3339(expires),
            snapshot,
        };
        let bytes = Envelope::sign(
            types::TIMESTAMP,
            &canonical(&timestamp),
            &[&self.keys.timestamp],
        )
        .to_bytes();
        cache.put(paths::TIMESTAMP.to_string(), Prepared::new(bytes, now));
        self.timestamp_expires = expires;
        Ok(())
    }

    /// Periodic upkeep: follows a key rotation done by `skillreg key rotate`,
    /// and re-signs documents past half their lifetime. Returns true when
    /// anything was re-signed.
    pub(super) fn refresh(
        &mut self,
        data_dir: &Path,
        store: &mut Store,
        cache: &IndexCache,
        cfg: &config::Signing,
    ) -> Result<bool, RegistryError> {
        let now = unix_now();
        let newest = latest_root(store)?;
        if let Some(newest) = newest.filter(|r| r.version > self.root.version) {
            self.keys = load_keys(data_dir, Some(&newest))?;
            tracing::info!(
                root_version = newest.version,
                "following a new root; re-signing the index"
            );
            self.root = newest;
            self.put_roots(store, cache)?;
            let files: Vec<String> = self.tree.paths().cloned().collect();
            for path in files {
                if let Some(file) = cache.get(&path) {
                    self.file_changed(cache, &path, &file.body);
                }
            }
            self.publish(store, cache, cfg)?;
            return Ok(true);
        }
        if expires_unix(&self.root.expires) - now < cfg.root_expiry_secs as i64 / 4 {
            self.root = issue_root(store, &self.keys, &[], cfg, "daemon")?;
            self.put_roots(store, cache)?;
            self.publish(store, cache, cfg)?;
            return Ok(true);
        }
        let snapshot_due = self
            .snapshot
            .is_none_or(|(_, expires)| expires - now < cfg.snapshot_expiry_secs as i64 / 2);
        if snapshot_due {
            self.publish(store, cache, cfg)?;
            return Ok(true);
        }
        if self.timestamp_expires - now < cfg.timestamp_expiry_secs as i64 / 2 {
            let (version, _) = self.snapshot.expect("checked above");
            self.sign_timestamp(store, cache, cfg, version)?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// What a key rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The role rotated.
    pub role: KeyRole,
    /// The new key's id.
    pub new_key_id: String,
    /// The root version that names it.
    pub root_version: u64,
}

/// Rotates the key of `role` in `data_dir`: a new key, and root N+1 naming
/// it, signed by the current root key (and, for the root role, by the new
/// root key too). Safe while the daemon runs: it follows the new root.
pub fn rotate(
    data_dir: &Path,
    role: KeyRole,
    cfg: &config::Signing,
) -> Result<Rotation, RegistryError> {
    let mut store = Store::open(data_dir)?;
    let stored = latest_root(&store)?;
    let current = load_keys(data_dir, stored.as_ref())?;
    // Held until the new key is installed: a running daemon settling
    // pending keys waits, so it never moves this one half-way.
    let _lock = keys::KeysLock::acquire(data_dir)?;
    let fresh = keys::create_pending(data_dir, role)?;
    let next = KeyRing {
        root: if role == KeyRole::Root {
            fresh.clone()
        } else {
            current.root.clone()
        },
        index: if role == KeyRole::Index {
            fresh.clone()
        } else {
            current.index.clone()
        },
        timestamp: if role == KeyRole::Timestamp {
            fresh.clone()
        } else {
            current.timestamp.clone()
        },
    };
    // Root N+1 must verify with root N's keys and with its own.
    let outgoing: Vec<&ed25519_dalek::SigningKey> = if role == KeyRole::Root {
        vec![&current.root]
    } else {
        vec![]
    };
    let root = match issue_root(&mut store, &next, &outgoing, cfg, "cli") {
        Ok(root) => root,
        Err(e) => {
            let _ = std::fs::remove_file(keys::pending_path(data_dir, role));
            return Err(e);
        }
    };
    keys::install_pending(data_dir, role)?;
    Ok(Rotation {
        role,
        new_key_id: key_id(&fresh.verifying_key()),
        root_version: root.version,
    })
}

/// The newest root envelope: the trust anchor a client pins.
pub fn export_root(data_dir: &Path) -> Result<Vec<u8>, RegistryError> {
    let store = Store::open(data_dir)?;
    store.roots()?.pop().map(|(_, bytes)| bytes).ok_or_else(|| {
        RegistryError::BadRequest(
            "no root document yet: start the daemon once to create the keys".into(),
        )
    })
}
