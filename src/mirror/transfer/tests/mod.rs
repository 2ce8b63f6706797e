//! Unit tests of transfer archives and loose bundles, with their fixtures.

mod archives;
mod bundles;
mod drop;
mod import;

use super::export::*;

use super::*;
use crate::index::sign::{PublicKey, RoleKeys};
use ed25519_dalek::SigningKey;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Root `version` naming `root` and `index` keys, signed by `signers`.
fn root(
    version: u64,
    root_key: &SigningKey,
    index: &SigningKey,
    signers: &[&SigningKey],
) -> Vec<u8> {
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
    let doc = Root {
        _type: "root".into(),
        spec_version: "1".into(),
        version,
        expires: rfc3339(unix_now() + 3600),
        keys,
        roles,
    };
    Envelope::sign(types::ROOT, &canonical(&doc), signers).to_bytes()
}

fn pinned(bytes: &[u8]) -> PinnedRoot {
    let (root, payload) = self_signed_root(bytes).unwrap();
    PinnedRoot {
        root,
        payload,
        origin: "test".into(),
    }
}

fn version(name: &str, vers: &str, blob: &[u8]) -> ManifestVersion {
    let cksum = crate::blobs::Sha256Digest::of(blob).to_hex();
    let entry = IndexEntry {
        name: name.into(),
        vers: vers.into(),
        deps: Vec::new(),
        cksum: cksum.clone(),
        features: Default::default(),
        features2: None,
        yanked: false,
        links: None,
        v: 1,
        rust_version: None,
        pubtime: rfc3339(0),
        kind: Kind::Skill,
        description: None,
        license: None,
        size: Some(blob.len() as u64),
        provenance: None,
    };
    ManifestVersion {
        name: name.into(),
        version: vers.into(),
        kind: Kind::Skill,
        cksum: cksum.clone(),
        size: blob.len() as u64,
        line: crate::index::line(&entry),
        status: VersionStatus::Approved,
        published: rfc3339(0),
        provenance: None,
        blob: format!("blobs/{cksum}"),
    }
}

fn manifest(root_version: u64, versions: Vec<ManifestVersion>) -> Vec<u8> {
    canonical(&Manifest {
        _type: "transfer".into(),
        format: FORMAT,
        created: rfc3339(0),
        registry: Exporter {
            root_version,
            keyids: BTreeMap::new(),
        },
        since: None,
        approved_only: false,
        versions,
    })
}

/// A format-2 `manifest.sig`: the digest of `manifest`, signed by `by`.
fn sig(manifest: &[u8], by: &SigningKey) -> Vec<u8> {
    sign_digest(manifest, by).to_bytes()
}

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, *data).unwrap();
    }
    gz(&tar.into_inner().unwrap())
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
    root_key: SigningKey,
    index: SigningKey,
    root1: Vec<u8>,
    blob: Vec<u8>,
    manifest: Vec<u8>,
}

fn fixture() -> Fixture {
    let (root_key, index) = (key(1), key(2));
    let root1 = root(1, &root_key, &index, &[&root_key]);
    let blob = b"pretend this is a bundle".to_vec();
    let manifest = manifest(1, vec![version("demo", "1.0.0", &blob)]);
    Fixture {
        dir: tempfile::tempdir().unwrap(),
        root_key,
        index,
        root1,
        blob,
        manifest,
    }
}

impl Fixture {
    fn blob_path(&self) -> String {
        format!(
            "blobs/{}",
            crate::blobs::Sha256Digest::of(&self.blob).to_hex()
        )
    }

    fn good(&self) -> Vec<(String, Vec<u8>)> {
        vec![
            (MANIFEST.into(), self.manifest.clone()),
            (SIGNATURE.into(), sig(&self.manifest, &self.index)),
            ("roots/1.json".into(), self.root1.clone()),
            (self.blob_path(), self.blob.clone()),
        ]
    }

    fn read(&self, entries: &[(String, Vec<u8>)], pin: &[u8]) -> Result<Verified, TransferError> {
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        self.read_bytes(&tar_gz(&refs), pin)
    }

    fn read_bytes(&self, archive: &[u8], pin: &[u8]) -> Result<Verified, TransferError> {
        let file = self.dir.path().join(format!("a{SUFFIX}"));
        fs::write(&file, archive).unwrap();
        let staging = self.dir.path().join("staging");
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).unwrap();
        read_archive(
            &file,
            &pinned(pin),
            &TransferLimits::default(),
            1 << 20,
            &staging,
            &|_, _| false,
            (0, "test"),
        )
    }

    fn refused(&self, entries: &[(String, Vec<u8>)], want: &str) {
        let m = self.refusal(entries, &self.root1);
        assert!(m.contains(want), "{m:?} lacks {want:?}");
    }

    /// The refusal of `entries` under the pin `pin`.
    fn refusal(&self, entries: &[(String, Vec<u8>)], pin: &[u8]) -> String {
        match self.read(entries, pin) {
            Err(TransferError::Refused(m)) => m,
            Err(e) => panic!("not refused but {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }
}

/// The fixture's one-version manifest in another `format`.
fn manifest_of_format(format: u32, versions: Vec<ManifestVersion>) -> Vec<u8> {
    let mut m: Manifest = serde_json::from_slice(&manifest(1, versions)).unwrap();
    m.format = format;
    canonical(&m)
}

/// `bytes` (JSON) padded with trailing spaces to `len` bytes: still the
/// same document, only larger.
fn padded(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.resize(len, b' ');
    out
}
