//! The signed-metadata test vectors in `index-spec/vectors/`.
//!
//! Every vector is rebuilt here in memory with the library's own functions
//! (never a second implementation of the format) and compared byte for byte
//! with the committed files, so the files and the code cannot drift apart.
//! `SKILLREG_WRITE_VECTORS=1 cargo test --test vectors` writes the files
//! instead; the committed files must then pass without the variable.
//!
//! Keys come from fixed seeds and ed25519 signatures are deterministic, so
//! every byte, signatures included, is fixed. See
//! `index-spec/vectors/README.md` and `index-spec/signing.md` §13.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use skillreg::blobs::Sha256Digest;
use skillreg::index::sign::{
    self, canonical, key_id, pae, paths, types, Envelope, FileMeta, IndexFileStatement, PublicKey,
    RoleKeys, Root, Snapshot, SnapshotMeta, Timestamp, VerifyError,
};
use skillreg::index::{config_json, line, path_for, render, IndexEntry};
use skillreg::store::EntryRow;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Seeds: 32 bytes of one value each.
const ROOT_SEED: u8 = 0x01;
const INDEX_SEED: u8 = 0x02;
const TIMESTAMP_SEED: u8 = 0x03;
/// The root key of root v2 in `rotation/` (a root-key rotation).
const ROOT2_SEED: u8 = 0x04;

const BASE_URL: &str = "https://registry.example";
const EXPORT_BASE_URL: &str = "https://mirror.example/reg";
const ROOT_EXPIRES: &str = "2030-01-01T00:00:00Z";
const ROOT2_EXPIRES: &str = "2031-01-01T00:00:00Z";
const SNAPSHOT_EXPIRES: &str = "2029-06-01T00:00:00Z";
const TIMESTAMP_EXPIRES: &str = "2029-01-02T00:00:00Z";
/// The stand-in bundle whose sha256 is the index line's `cksum`.
const BUNDLE: &[u8] = b"skillreg test vector: the bundle of hello 1.0.0\n";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn id(k: &SigningKey) -> String {
    key_id(&k.verifying_key())
}

fn sha256(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_hex()
}

/// A root naming `root_key` for the root role and the fixed index and
/// timestamp keys, the way the daemon builds one (one key per role,
/// threshold 1).
fn root_doc(version: u64, expires: &str, root_key: &SigningKey) -> Root {
    let mut keys = BTreeMap::new();
    let mut roles = BTreeMap::new();
    for (role, k) in [
        ("root", root_key.clone()),
        ("index", key(INDEX_SEED)),
        ("timestamp", key(TIMESTAMP_SEED)),
    ] {
        keys.insert(id(&k), PublicKey::of(&k.verifying_key()));
        roles.insert(
            role.to_string(),
            RoleKeys {
                keyids: vec![id(&k)],
                threshold: 1,
            },
        );
    }
    Root {
        _type: "root".into(),
        spec_version: "1".into(),
        version,
        expires: expires.into(),
        keys,
        roles,
    }
}

/// One index line as the server writes it at publish (an unsigned publish:
/// no `provenance`).
fn hello_entry() -> IndexEntry {
    // Built from JSON so that optional fields added to `IndexEntry` later
    // (with serde defaults) keep this vector compiling and unchanged.
    serde_json::from_value(serde_json::json!({
        "name": "hello",
        "vers": "1.0.0",
        "deps": [],
        "cksum": sha256(BUNDLE),
        "features": {},
        "yanked": false,
        "links": null,
        "v": 1,
        "rust_version": null,
        "pubtime": "2026-01-01T00:00:00Z",
        "kind": "skill",
        "description": "Says hello.",
        "license": "MIT",
        "size": BUNDLE.len(),
    }))
    .expect("a valid index entry")
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap();
    out.push(b'\n');
    out
}

/// A signed document and the files that show how it was made.
struct Signed {
    payload: Vec<u8>,
    envelope: Vec<u8>,
}

fn signed(payload_type: &str, payload: Vec<u8>, signers: &[&SigningKey]) -> Signed {
    let envelope = Envelope::sign(payload_type, &payload, signers).to_bytes();
    Signed { payload, envelope }
}

/// Every vector file: (path below `index-spec/vectors/`, bytes).
fn vectors() -> Vec<(String, Vec<u8>)> {
    let (root_key, index_key, timestamp_key, root2_key) = (
        key(ROOT_SEED),
        key(INDEX_SEED),
        key(TIMESTAMP_SEED),
        key(ROOT2_SEED),
    );
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |path: &str, bytes: Vec<u8>| files.push((path.to_string(), bytes));

    // Keys.
    let mut keys = serde_json::Map::new();
    for (name, seed, k) in [
        ("root", ROOT_SEED, &root_key),
        ("index", INDEX_SEED, &index_key),
        ("timestamp", TIMESTAMP_SEED, &timestamp_key),
        ("root-v2", ROOT2_SEED, &root2_key),
    ] {
        keys.insert(
            name.into(),
            serde_json::json!({
                "seed": hex::encode([seed; 32]),
                "public": PublicKey::of(&k.verifying_key()).public,
                "keyid": id(k),
            }),
        );
    }
    add("keys.json", pretty(&serde_json::Value::Object(keys)));

    // The index: one package file and config.json.
    add("bundle.bin", BUNDLE.to_vec());
    let hello_path = path_for("hello");
    assert_eq!(hello_path, "he/ll/hello");
    let hello = render(&[EntryRow {
        entry_json: line(&hello_entry()),
        yanked: false,
    }])
    .unwrap();
    let config = config_json(BASE_URL, false);
    add(&hello_path, hello.clone());
    add("config.json", config.clone());
    // The config.json of a static tree (export.md §2); the trailing `/` of
    // the base URL is dropped.
    add(
        "export/config.json",
        skillreg::index::export::config_json(&format!("{EXPORT_BASE_URL}/")),
    );

    // Statements, one per file the snapshot lists.
    let mut snapshot_files = BTreeMap::new();
    for (path, body, name) in [
        (hello_path.as_str(), &hello, "he-ll-hello"),
        ("config.json", &config, "config"),
    ] {
        let statement = IndexFileStatement {
            _type: "index-file".into(),
            path: path.into(),
            length: body.len() as u64,
            sha256: sha256(body),
        };
        let s = signed(types::INDEX_FILE, canonical(&statement), &[&index_key]);
        add(
            &format!("pae-statement-{name}.bin"),
            pae(types::INDEX_FILE, &s.payload),
        );
        add(&format!("statement-{name}.payload.json"), s.payload);
        // Served at /index/_skillreg/sig/{path}.
        add(
            paths::statement(path).trim_start_matches("_skillreg/"),
            s.envelope,
        );
        snapshot_files.insert(
            path.to_string(),
            FileMeta {
                length: body.len() as u64,
                sha256: sha256(body),
            },
        );
    }

    // Root v1, signed by the root key.
    let root = signed(
        types::ROOT,
        canonical(&root_doc(1, ROOT_EXPIRES, &root_key)),
        &[&root_key],
    );
    add("pae-root.bin", pae(types::ROOT, &root.payload));
    add("root.payload.json", root.payload);
    add("root.json", root.envelope);

    // Snapshot v1, signed by the index key.
    let snapshot = signed(
        types::SNAPSHOT,
        canonical(&Snapshot {
            _type: "snapshot".into(),
            version: 1,
            expires: SNAPSHOT_EXPIRES.into(),
            root_version: 1,
            files: snapshot_files,
        }),
        &[&index_key],
    );
    add("pae-snapshot.bin", pae(types::SNAPSHOT, &snapshot.payload));
    add("snapshot.payload.json", snapshot.payload);
    let snapshot_meta = SnapshotMeta {
        version: 1,
        length: snapshot.envelope.len() as u64,
        sha256: sha256(&snapshot.envelope),
    };
    add("snapshot.json", snapshot.envelope);

    // Timestamp v1, signed by the timestamp key.
    let timestamp = signed(
        types::TIMESTAMP,
        canonical(&Timestamp {
            _type: "timestamp".into(),
            version: 1,
            expires: TIMESTAMP_EXPIRES.into(),
            snapshot: snapshot_meta,
        }),
        &[&timestamp_key],
    );
    add(
        "pae-timestamp.bin",
        pae(types::TIMESTAMP, &timestamp.payload),
    );
    add("timestamp.payload.json", timestamp.payload.clone());
    add("timestamp.json", timestamp.envelope.clone());

    // A root-key rotation: root v2 names the new root key and is signed by
    // the outgoing root key and the new one (in that order, as `skillreg key
    // rotate root` signs it).
    let root2_payload = canonical(&root_doc(2, ROOT2_EXPIRES, &root2_key));
    let root2 = signed(types::ROOT, root2_payload.clone(), &[&root_key, &root2_key]);
    add("rotation/root-2.payload.json", root2.payload);
    add("rotation/root-2.json", root2.envelope);

    // Negative cases.
    let mut flipped = timestamp.payload.clone();
    flipped[2] ^= 0x01; // `_type` becomes `^type`
    let mut bad = Envelope::from_bytes(&timestamp.envelope).unwrap();
    bad.payload = B64.encode(&flipped);
    add("negative/timestamp-payload-flipped.json", bad.to_bytes());
    add(
        "negative/timestamp-signed-by-index-key.json",
        Envelope::sign(types::TIMESTAMP, &timestamp.payload, &[&index_key]).to_bytes(),
    );
    add(
        "negative/root-2-signed-by-new-key-only.json",
        Envelope::sign(types::ROOT, &root2_payload, &[&root2_key]).to_bytes(),
    );
    files
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("index-spec/vectors")
}

fn file(files: &[(String, Vec<u8>)], path: &str) -> Vec<u8> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no vector {path}"))
        .1
        .clone()
}

#[test]
fn vectors_match_the_committed_files() {
    let dir = vectors_dir();
    let files = vectors();
    if std::env::var("SKILLREG_WRITE_VECTORS").as_deref() == Ok("1") {
        for (path, bytes) in &files {
            let target = dir.join(path);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, bytes).unwrap();
        }
        return;
    }
    for (path, bytes) in &files {
        let committed = std::fs::read(dir.join(path)).unwrap_or_else(|e| {
            panic!("index-spec/vectors/{path}: {e} (SKILLREG_WRITE_VECTORS=1 writes it)")
        });
        assert!(
            committed == *bytes,
            "index-spec/vectors/{path} differs from what the library produces now:\n\
             committed: {}\nproduced:  {}",
            String::from_utf8_lossy(&committed),
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Checks the vectors the way a client does (signing.md §9), from the
/// committed-equivalent bytes.
#[test]
fn vectors_verify_as_a_client_would() {
    let files = vectors();
    let get = |p: &str| file(&files, p);

    // The pinned root verifies with its own root role.
    let root_env = Envelope::from_bytes(&get("root.json")).unwrap();
    let root: Root = sign::parse(&root_env.payload_bytes().unwrap()).unwrap();
    let root_payload = root_env
        .verify(types::ROOT, "root", &root.roles["root"], &root.keys)
        .unwrap();
    assert_eq!(root_payload, get("root.payload.json"));
    assert_eq!(canonical(&root), root_payload, "payloads are canonical");
    assert_eq!(root.version, 1);
    for (keyid, public) in &root.keys {
        assert_eq!(
            *keyid,
            key_id(&public.verifying_key().unwrap()),
            "key ids are sha256 of the key"
        );
    }

    // Root v2 verifies with root v1's root role and with its own.
    let root2_env = Envelope::from_bytes(&get("rotation/root-2.json")).unwrap();
    root2_env
        .verify(types::ROOT, "root", &root.roles["root"], &root.keys)
        .unwrap();
    let root2: Root = sign::parse(&root2_env.payload_bytes().unwrap()).unwrap();
    root2_env
        .verify(types::ROOT, "root", &root2.roles["root"], &root2.keys)
        .unwrap();
    assert_eq!(root2.version, root.version + 1);
    // Signed by the new key only: not made by root v1's keys.
    let foreign =
        Envelope::from_bytes(&get("negative/root-2-signed-by-new-key-only.json")).unwrap();
    assert!(matches!(
        foreign.verify(types::ROOT, "root", &root.roles["root"], &root.keys),
        Err(VerifyError::UnknownKey { .. })
    ));

    // Timestamp.
    let ts_env = Envelope::from_bytes(&get("timestamp.json")).unwrap();
    let ts_payload = ts_env
        .verify(
            types::TIMESTAMP,
            "timestamp",
            &root.roles["timestamp"],
            &root.keys,
        )
        .unwrap();
    assert_eq!(ts_payload, get("timestamp.payload.json"));
    assert_eq!(pae(types::TIMESTAMP, &ts_payload), get("pae-timestamp.bin"));
    let ts: Timestamp = sign::parse(&ts_payload).unwrap();

    // Snapshot: the exact bytes the timestamp names.
    let snap_bytes = get("snapshot.json");
    assert_eq!(ts.snapshot.length, snap_bytes.len() as u64);
    assert_eq!(ts.snapshot.sha256, sha256(&snap_bytes));
    let snap_env = Envelope::from_bytes(&snap_bytes).unwrap();
    let snap_payload = snap_env
        .verify(types::SNAPSHOT, "index", &root.roles["index"], &root.keys)
        .unwrap();
    assert_eq!(snap_payload, get("snapshot.payload.json"));
    assert_eq!(pae(types::SNAPSHOT, &snap_payload), get("pae-snapshot.bin"));
    let snapshot: Snapshot = sign::parse(&snap_payload).unwrap();
    assert_eq!(snapshot.version, ts.snapshot.version);
    assert_eq!(snapshot.root_version, root.version);
    assert_eq!(
        snapshot.files.keys().collect::<Vec<_>>(),
        ["config.json", "he/ll/hello"]
    );

    // Each listed file and its statement.
    for (path, meta) in &snapshot.files {
        let body = get(path);
        assert_eq!(meta.length, body.len() as u64, "{path}");
        assert_eq!(meta.sha256, sha256(&body), "{path}");
        let statement_path = paths::statement(path);
        let env =
            Envelope::from_bytes(&get(statement_path.trim_start_matches("_skillreg/"))).unwrap();
        let payload = env
            .verify(types::INDEX_FILE, "index", &root.roles["index"], &root.keys)
            .unwrap();
        let statement: IndexFileStatement = sign::parse(&payload).unwrap();
        assert_eq!(statement._type, "index-file");
        assert_eq!(&statement.path, path);
        assert_eq!(statement.length, meta.length);
        assert_eq!(statement.sha256, meta.sha256);
    }
    assert_eq!(
        pae(
            types::INDEX_FILE,
            &get("statement-he-ll-hello.payload.json")
        ),
        get("pae-statement-he-ll-hello.bin")
    );
    assert_eq!(pae(types::ROOT, &root_payload), get("pae-root.bin"));

    // The bundle: its sha256 is the line's cksum.
    let entry: IndexEntry = serde_json::from_slice(
        get("he/ll/hello")
            .strip_suffix(b"\n")
            .expect("index files end with a newline"),
    )
    .unwrap();
    assert_eq!(entry.cksum, sha256(&get("bundle.bin")));
}

#[test]
fn tampered_and_misattributed_documents_are_refused() {
    let files = vectors();
    let get = |p: &str| file(&files, p);
    let root_env = Envelope::from_bytes(&get("root.json")).unwrap();
    let root: Root = sign::parse(&root_env.payload_bytes().unwrap()).unwrap();
    let ts_role = &root.roles["timestamp"];

    // One payload byte flipped, in memory: the signature no longer verifies.
    let mut env = Envelope::from_bytes(&get("timestamp.json")).unwrap();
    let mut payload = env.payload_bytes().unwrap();
    let last = payload.len() - 1;
    payload[last] ^= 0x01;
    env.payload = B64.encode(&payload);
    assert!(matches!(
        env.verify(types::TIMESTAMP, "timestamp", ts_role, &root.keys),
        Err(VerifyError::Threshold {
            valid: 0,
            threshold: 1,
            ..
        })
    ));

    // The committed negative vectors.
    let flipped = Envelope::from_bytes(&get("negative/timestamp-payload-flipped.json")).unwrap();
    assert!(matches!(
        flipped.verify(types::TIMESTAMP, "timestamp", ts_role, &root.keys),
        Err(VerifyError::Threshold { valid: 0, .. })
    ));
    let by_index =
        Envelope::from_bytes(&get("negative/timestamp-signed-by-index-key.json")).unwrap();
    assert!(matches!(
        by_index.verify(types::TIMESTAMP, "timestamp", ts_role, &root.keys),
        Err(VerifyError::UnknownKey { .. })
    ));

    // The type is signed: the timestamp's signature does not make it a snapshot.
    let mut retyped = Envelope::from_bytes(&get("timestamp.json")).unwrap();
    assert!(matches!(
        retyped.verify(types::SNAPSHOT, "index", &root.roles["index"], &root.keys),
        Err(VerifyError::WrongType { .. })
    ));
    retyped.payload_type = types::SNAPSHOT.into();
    assert!(matches!(
        retyped.verify(types::SNAPSHOT, "timestamp", ts_role, &root.keys),
        Err(VerifyError::Threshold { valid: 0, .. })
    ));
}
