//! The registry's ed25519 keys, one per role, in `DATA/keys/` (0700):
//!
//! | file | role | signs |
//! |---|---|---|
//! | `registry.ed25519` | root | root documents |
//! | `index.ed25519` | index | index-file statements and snapshots |
//! | `timestamp.ed25519` | timestamp | timestamps |
//!
//! Each file holds the 32-byte seed as 64 hex digits, mode 0600. A rotation
//! writes the new key as `ROLE.ed25519.new`, records the root document that
//! names it, then renames it into place; [`KeyRing::load_or_create`] finishes
//! or discards a rotation a crash interrupted, by asking which key the newest
//! root names. Retired keys move to `keys/retired/`.

use ed25519_dalek::SigningKey;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::index::sign::key_id;

/// A signing role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// Signs root documents; the trust anchor.
    Root,
    /// Signs index-file statements and snapshots.
    Index,
    /// Signs timestamps.
    Timestamp,
}

/// A word that names no key role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key role `{0}`: use root, index or timestamp")]
pub struct UnknownKeyRole(pub String);

impl KeyRole {
    /// Every role.
    pub const ALL: [KeyRole; 3] = [KeyRole::Root, KeyRole::Index, KeyRole::Timestamp];

    /// The role's name in root documents.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Root => "root",
            KeyRole::Index => "index",
            KeyRole::Timestamp => "timestamp",
        }
    }

    /// Parses `root`, `index` or `timestamp`.
    pub fn parse(s: &str) -> Result<KeyRole, UnknownKeyRole> {
        match s {
            "root" => Ok(KeyRole::Root),
            "index" => Ok(KeyRole::Index),
            "timestamp" => Ok(KeyRole::Timestamp),
            other => Err(UnknownKeyRole(other.to_string())),
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            KeyRole::Root => "registry.ed25519",
            KeyRole::Index => "index.ed25519",
            KeyRole::Timestamp => "timestamp.ed25519",
        }
    }
}

/// The keys directory of a data dir.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Where a role's key lives.
pub fn key_path(data_dir: &Path, role: KeyRole) -> PathBuf {
    keys_dir(data_dir).join(role.file_name())
}

/// Where a role's key waits during a rotation.
pub fn pending_path(data_dir: &Path, role: KeyRole) -> PathBuf {
    keys_dir(data_dir).join(format!("{}.new", role.file_name()))
}

/// The registry's signing keys.
pub struct KeyRing {
    /// Root key.
    pub root: SigningKey,
    /// Index (and snapshot) key.
    pub index: SigningKey,
    /// Timestamp key.
    pub timestamp: SigningKey,
}

impl KeyRing {
    /// The key of a role.
    pub fn get(&self, role: KeyRole) -> &SigningKey {
        match role {
            KeyRole::Root => &self.root,
            KeyRole::Index => &self.index,
            KeyRole::Timestamp => &self.timestamp,
        }
    }

    /// Loads every key, creating missing ones. `named_by_root` says whether
    /// the newest root document names a key id; it settles rotations a crash
    /// interrupted (a pending key the root names is installed, else dropped).
    /// With `roots_exist`, a missing root key is an error: a new one would
    /// sign a root no client can accept.
    pub fn load_or_create(
        data_dir: &Path,
        roots_exist: bool,
        named_by_root: impl Fn(&str) -> bool,
    ) -> io::Result<KeyRing> {
        fsutil::create_private_dir(&keys_dir(data_dir))?;
        let _lock = KeysLock::acquire(data_dir)?;
        if roots_exist
            && !key_path(data_dir, KeyRole::Root).exists()
            && !pending_path(data_dir, KeyRole::Root).exists()
        {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the root key {} is missing; restore it from a backup (a new root key would break every client's trust)",
                    key_path(data_dir, KeyRole::Root).display()
                ),
            ));
        }
        for role in KeyRole::ALL {
            let pending = pending_path(data_dir, role);
            if pending.exists() {
                let key = read_seed(&pending)?;
                if named_by_root(&key_id(&key.verifying_key())) {
                    retire(data_dir, role)?;
                    std::fs::rename(&pending, key_path(data_dir, role))?;
                } else {
                    std::fs::remove_file(&pending)?;
                }
                fsutil::sync_dir(&keys_dir(data_dir))?;
            }
        }
        Ok(KeyRing {
            root: load_or_create_key(&key_path(data_dir, KeyRole::Root))?,
            index: load_or_create_key(&key_path(data_dir, KeyRole::Index))?,
            timestamp: load_or_create_key(&key_path(data_dir, KeyRole::Timestamp))?,
        })
    }
}

/// An exclusive lock on `DATA/keys/` (flock on `keys/.lock`), held by every
/// step that installs or settles keys, so `skillreg key rotate` and a
/// running daemon never move the same key file at once.
pub struct KeysLock {
    _file: std::fs::File,
}

impl KeysLock {
    /// Blocks until the lock is held.
    pub fn acquire(data_dir: &Path) -> io::Result<KeysLock> {
        use std::os::unix::io::AsRawFd;
        fsutil::create_private_dir(&keys_dir(data_dir))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(keys_dir(data_dir).join(".lock"))?;
        // SAFETY: flock on a file descriptor we own; released when it closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(KeysLock { _file: file })
    }
}

/// Writes a fresh key for `role` as pending and returns it.
pub fn create_pending(data_dir: &Path, role: KeyRole) -> io::Result<SigningKey> {
    let key = new_key()?;
    write_seed(&pending_path(data_dir, role), &key)?;
    Ok(key)
}

/// Installs the pending key of `role`, retiring the current one.
pub fn install_pending(data_dir: &Path, role: KeyRole) -> io::Result<()> {
    retire(data_dir, role)?;
    std::fs::rename(pending_path(data_dir, role), key_path(data_dir, role))?;
    fsutil::sync_dir(&keys_dir(data_dir))
}

fn retire(data_dir: &Path, role: KeyRole) -> io::Result<()> {
    let current = key_path(data_dir, role);
    if !current.exists() {
        return Ok(());
    }
    let key = read_seed(&current)?;
    let retired = keys_dir(data_dir).join("retired");
    fsutil::create_private_dir(&retired)?;
    let target = retired.join(format!(
        "{}-{}.ed25519",
        role.as_str(),
        &key_id(&key.verifying_key())[..16]
    ));
    std::fs::rename(&current, target)?;
    fsutil::sync_dir(&retired)
}

/// A new random ed25519 key.
pub fn new_key() -> io::Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(io::Error::other)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes `key`'s seed to `path` (64 hex digits, mode 0600), durably.
pub fn write_seed(path: &Path, key: &SigningKey) -> io::Result<()> {
    fsutil::write_durable(
        path,
        format!("{}\n", hex::encode(key.to_bytes())).as_bytes(),
        0o600,
    )
}

/// Reads a key file: the 32-byte seed as 64 hex digits (the one format of
/// every key skillreg writes: the registry's roles and publishers' keys).
/// A file that is not one is `InvalidData`, naming the file.
pub fn read_seed(path: &Path) -> io::Result<SigningKey> {
    let text = std::fs::read_to_string(path)?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a 64-hex-digit ed25519 seed", path.display()),
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn load_or_create_key(path: &Path) -> io::Result<SigningKey> {
    match read_seed(path) {
        Ok(key) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = new_key()?;
            write_seed(path, &key)?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
