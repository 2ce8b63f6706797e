//! What the fuzz targets and the seed generator share: fixed keys, the
//! root they sign, and small archive builders. Nothing here is used by the
//! registry itself.

use std::collections::BTreeMap;
use std::io::Write;

use ed25519_dalek::SigningKey;
use skillreg::index::sign::{self, canonical, key_id, types, Envelope, PublicKey, RoleKeys, Root};

/// A fixed key (the same seeds as the transfer unit tests).
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Root `version` naming `root_key` for `root` and `index` for `index`
/// and `timestamp`, signed by `signers`, expiring in 2099.
pub fn root_doc(version: u64, root_key: &SigningKey, index: &SigningKey) -> Root {
    let mut keys = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for (role, k) in [("root", root_key), ("index", index), ("timestamp", index)] {
        let id = key_id(&k.verifying_key());
        keys.insert(id.clone(), PublicKey::of(&k.verifying_key()));
        roles.insert(
            role.to_string(),
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
        expires: "2099-01-01T00:00:00Z".into(),
        keys,
        roles,
    }
}

/// The envelope of [`root_doc`], signed by `signers`.
pub fn root_envelope(
    version: u64,
    root_key: &SigningKey,
    index: &SigningKey,
    signers: &[&SigningKey],
) -> Vec<u8> {
    let doc = root_doc(version, root_key, index);
    Envelope::sign(types::ROOT, &canonical(&doc), signers).to_bytes()
}

/// The root every target trusts: version 1, root key 1, index key 2.
pub fn trusted_root() -> Vec<u8> {
    root_envelope(1, &key(1), &key(2), &[&key(1)])
}

/// The parsed [`trusted_root`].
pub fn trusted() -> Root {
    sign::self_signed_root(&trusted_root())
        .expect("the fixed root is self-signed")
        .0
}

/// A ustar tar of regular files (mode 0644).
pub fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, *data).expect("tar in memory");
    }
    tar.into_inner().expect("tar in memory")
}

/// Gzip of `bytes`.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

/// A tar.gz of regular files.
pub fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    gz(&tar(entries))
}

/// A zip (deflated) of regular files.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (path, data) in entries {
        w.start_file(*path, opts).expect("zip in memory");
        w.write_all(data).expect("zip in memory");
    }
    w.finish().expect("zip in memory").into_inner()
}

/// A scratch directory for targets whose parser reads files, made once
/// per process below `$TMPDIR` and reused (libFuzzer runs one input at a
/// time in a process).
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("skillreg-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
