//! The registry's ed25519 signing key, created on first start.
//!
//! Stored as 64 hex digits (the 32-byte seed) in `DATA/keys/registry.ed25519`,
//! mode 0600, in a 0700 directory. Signed metadata builds on it.

use ed25519_dalek::SigningKey;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil;

/// Where the signing key lives inside a data dir.
pub fn signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("registry.ed25519")
}

/// Loads the signing key, creating it (durably, 0600) when absent.
pub fn load_or_create(data_dir: &Path) -> io::Result<SigningKey> {
    let path = signing_key_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a 64-hex-digit ed25519 seed", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(io::Error::other)?;
            fsutil::create_private_dir(path.parent().expect("key path has a dir"))?;
            fsutil::write_durable(&path, format!("{}\n", hex::encode(seed)).as_bytes(), 0o600)?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(e) => Err(e),
    }
}

fn parse(text: &str) -> Option<SigningKey> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut seed).ok()?;
    Some(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        let mode = std::fs::metadata(signing_key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
