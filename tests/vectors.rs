//! The signed-metadata test vectors in `index-spec/vectors/`.
//!
//! Every vector is rebuilt here in memory with the library's own functions
//! and compared byte for byte with the committed files, so the files and
//! the code cannot drift apart; no test that runs by default writes them.
//! `cargo test --test vectors -- --ignored write_the_vectors` rewrites
//! them, and then fails, saying what it rewrote.
//!
//! The committed files are also checked the way a client would, with
//! skillreg's verifier, and once more without any of skillreg's code:
//! PAE built here by hand, sha256 with `sha2`, signatures with
//! `ed25519_dalek`, envelopes read as plain JSON
//! ([`committed_vectors_verify_without_skillreg`]), so a change to the
//! format on both the signing and the verifying side cannot pass unseen.
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
use skillreg::index::snapshot_tree::{self, SnapshotTree};
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

    // The snapshot's tree: unsigned nodes, served by their sha256.
    let mut tree = SnapshotTree::default();
    for (path, meta) in snapshot_files {
        tree.set(&path, meta);
    }
    for (sha256, bytes) in tree.commit().added {
        add(&format!("tree/{sha256}.json"), bytes);
    }

    // Snapshot v1 (the tree's top), signed by the index key.
    let snapshot = signed(
        types::SNAPSHOT,
        canonical(&Snapshot {
            _type: "snapshot".into(),
            version: 1,
            expires: SNAPSHOT_EXPIRES.into(),
            root_version: 1,
            depth: snapshot_tree::DEPTH as u64,
            children: tree.children(),
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

/// A committed vector file, by its path below `index-spec/vectors/`.
fn committed(path: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join(path))
        .unwrap_or_else(|e| panic!("index-spec/vectors/{path}: {e}"))
}

#[test]
fn vectors_match_the_committed_files() {
    let dir = vectors_dir();
    let files = vectors();
    for (path, bytes) in &files {
        let committed = std::fs::read(dir.join(path)).unwrap_or_else(|e| {
            panic!(
                "index-spec/vectors/{path}: {e} (`cargo test --test vectors -- --ignored \
                 write_the_vectors` writes it)"
            )
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

/// Rewrites `index-spec/vectors/` from the library, then fails: a rewrite
/// is a change to review and commit, never a passing test.
#[test]
#[ignore = "rewrites index-spec/vectors/, then fails; run it on purpose: \
            cargo test --test vectors -- --ignored write_the_vectors"]
fn write_the_vectors() {
    let dir = vectors_dir();
    let mut rewritten = Vec::new();
    for (path, bytes) in vectors() {
        let target = dir.join(&path);
        if std::fs::read(&target).ok().as_deref() != Some(&bytes[..]) {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, &bytes).unwrap();
            rewritten.push(path);
        }
    }
    panic!(
        "the vectors were rewritten: {} file(s) of index-spec/vectors/ changed: {rewritten:?}. \
         Review `git diff index-spec/vectors`, update its README where sizes changed, and \
         commit; then the default tests check them. (This test always fails.)",
        rewritten.len()
    );
}

/// Checks the committed vectors the way a client does (signing.md §9),
/// with skillreg's verifier.
#[test]
fn vectors_verify_as_a_client_would() {
    let get = committed;

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
    // Its tree, each node by the sha256 its parent pins.
    let files = snapshot_tree::expand(&snapshot.children, |_, meta| {
        Ok::<_, String>(get(&format!("tree/{}.json", meta.sha256)))
    })
    .unwrap();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["config.json", "he/ll/hello"]
    );

    // Each listed file and its statement.
    for (path, meta) in &files {
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
    let get = committed;
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

// ---------------------------------------------------------------------------
// The committed vectors checked without skillreg's code: what an independent
// implementation of signing.md does (the vectors README, "How to check
// them"). Only serde_json, base64, sha2 and ed25519_dalek are used.

/// Lowercase hex sha256, with `sha2`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// DSSE's PAE, spelled out: `"DSSEv1" SP len(type) SP type SP len(body) SP
/// body`, lengths in decimal bytes.
fn pae_by_hand(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One key of keys.json, its public key derived from the seed and its id
/// computed here.
struct VectorKey {
    keyid: String,
    public: ed25519_dalek::VerifyingKey,
}

fn vector_keys() -> BTreeMap<String, VectorKey> {
    let keys: serde_json::Value = serde_json::from_slice(&committed("keys.json")).unwrap();
    let mut out = BTreeMap::new();
    for (name, k) in keys.as_object().unwrap() {
        let seed: [u8; 32] = hex::decode(k["seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(
            k["public"].as_str().unwrap(),
            hex::encode(public.as_bytes()),
            "keys.json: {name}'s public key is derived from its seed"
        );
        let keyid = sha256_hex(public.as_bytes());
        assert_eq!(
            k["keyid"].as_str().unwrap(),
            keyid,
            "keys.json: {name}'s key id is the sha256 of its public key"
        );
        out.insert(name.clone(), VectorKey { keyid, public });
    }
    out
}

/// An envelope read as plain JSON: (payloadType, payload bytes, [(keyid,
/// signature)]), with exactly those three members.
fn envelope_by_hand(bytes: &[u8]) -> (String, Vec<u8>, Vec<(String, ed25519_dalek::Signature)>) {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let members: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(members, ["payload", "payloadType", "signatures"]);
    let payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
    let signatures = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let sig: [u8; 64] = B64
                .decode(s["sig"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            (
                s["keyid"].as_str().unwrap().to_string(),
                ed25519_dalek::Signature::from_bytes(&sig),
            )
        })
        .collect();
    (
        v["payloadType"].as_str().unwrap().to_string(),
        payload,
        signatures,
    )
}

/// Checks the envelope at `path`: its payload is `payload_file`, its PAE
/// (built here) is `pae_file` when given, and it carries exactly one valid
/// signature by each of `signers` (names in keys.json), in that order.
/// Returns the payload as JSON.
fn check_envelope(
    keys: &BTreeMap<String, VectorKey>,
    path: &str,
    payload_type: &str,
    payload_file: &str,
    pae_file: Option<&str>,
    signers: &[&str],
) -> serde_json::Value {
    let (found_type, payload, signatures) = envelope_by_hand(&committed(path));
    assert_eq!(found_type, payload_type, "{path}");
    assert_eq!(payload, committed(payload_file), "{path}: its payload");
    let message = pae_by_hand(payload_type, &payload);
    if let Some(pae_file) = pae_file {
        assert_eq!(message, committed(pae_file), "{pae_file}");
    }
    let ids: Vec<&str> = signatures.iter().map(|(id, _)| id.as_str()).collect();
    let want: Vec<&str> = signers.iter().map(|s| keys[*s].keyid.as_str()).collect();
    assert_eq!(ids, want, "{path}: signed by {signers:?}");
    for ((_, sig), signer) in signatures.iter().zip(signers) {
        keys[*signer]
            .public
            .verify_strict(&message, sig)
            .unwrap_or_else(|e| panic!("{path}: {signer}'s signature: {e}"));
    }
    serde_json::from_slice(&payload).unwrap()
}

/// The entry for `path` in the committed snapshot's tree, walked by hand:
/// its position is the hex sha256 of the path; each digit picks a child,
/// whose node (`tree/{sha256}.json`) has the pinned length and sha256, the
/// `_type` of its level and the prefix walked so far.
fn walk_by_hand(snapshot: &serde_json::Value, path: &str) -> serde_json::Value {
    let position = sha256_hex(path.as_bytes());
    let mut children = snapshot["children"].clone();
    for level in 1..=3 {
        let pin = &children[&position[level - 1..level]];
        let (length, sha) = listed(pin);
        let file = format!("tree/{sha}.json");
        assert_eq!(length_and_sha256(&file), (length, sha.clone()), "{file}");
        let node: serde_json::Value = serde_json::from_slice(&committed(&file)).unwrap();
        assert_eq!(node["prefix"], position[..level], "{file}");
        if level < 3 {
            assert_eq!(node["_type"], "snapshot-node", "{file}");
            children = node["children"].clone();
        } else {
            assert_eq!(node["_type"], "snapshot-bin", "{file}");
            return node["files"][path].clone();
        }
    }
    unreachable!()
}

/// Length and sha256 of a committed file, as the signed documents list them.
fn length_and_sha256(path: &str) -> (u64, String) {
    let bytes = committed(path);
    (bytes.len() as u64, sha256_hex(&bytes))
}

fn listed(meta: &serde_json::Value) -> (u64, String) {
    (
        meta["length"].as_u64().unwrap(),
        meta["sha256"].as_str().unwrap().to_string(),
    )
}

#[test]
fn committed_vectors_verify_without_skillreg() {
    let keys = vector_keys();

    // Root v1 names the three keys, one per role, by the ids computed here.
    let root = check_envelope(
        &keys,
        "root.json",
        "application/vnd.skillreg.root+json",
        "root.payload.json",
        Some("pae-root.bin"),
        &["root"],
    );
    for (role, name) in [
        ("root", "root"),
        ("index", "index"),
        ("timestamp", "timestamp"),
    ] {
        let id = &keys[name].keyid;
        assert_eq!(
            root["roles"][role]["keyids"],
            serde_json::json!([id]),
            "{role}"
        );
        assert_eq!(root["roles"][role]["threshold"], 1, "{role}");
        assert_eq!(
            root["keys"][id]["public"].as_str().unwrap(),
            hex::encode(keys[name].public.as_bytes()),
            "{role}"
        );
    }
    assert_eq!(root["version"], 1);

    // Root v2 (a root-key rotation): signed by the old root key, then the new.
    let root2 = check_envelope(
        &keys,
        "rotation/root-2.json",
        "application/vnd.skillreg.root+json",
        "rotation/root-2.payload.json",
        None,
        &["root", "root-v2"],
    );
    assert_eq!(root2["version"], 2);
    assert_eq!(
        root2["roles"]["root"]["keyids"],
        serde_json::json!([keys["root-v2"].keyid])
    );

    // Timestamp → snapshot → files, by length and sha256 computed here.
    let timestamp = check_envelope(
        &keys,
        "timestamp.json",
        "application/vnd.skillreg.timestamp+json",
        "timestamp.payload.json",
        Some("pae-timestamp.bin"),
        &["timestamp"],
    );
    assert_eq!(
        listed(&timestamp["snapshot"]),
        length_and_sha256("snapshot.json")
    );
    let snapshot = check_envelope(
        &keys,
        "snapshot.json",
        "application/vnd.skillreg.snapshot+json",
        "snapshot.payload.json",
        Some("pae-snapshot.bin"),
        &["index"],
    );
    assert_eq!(snapshot["version"], timestamp["snapshot"]["version"]);
    assert_eq!(snapshot["root_version"], root["version"]);
    assert_eq!(snapshot["depth"], 3);
    for (path, name) in [("config.json", "config"), ("he/ll/hello", "he-ll-hello")] {
        assert_eq!(
            listed(&walk_by_hand(&snapshot, path)),
            length_and_sha256(path),
            "{path}"
        );
        let statement = check_envelope(
            &keys,
            &format!("sig/{path}"),
            "application/vnd.skillreg.index-file+json",
            &format!("statement-{name}.payload.json"),
            Some(&format!("pae-statement-{name}.bin")),
            &["index"],
        );
        assert_eq!(statement["path"], *path);
        assert_eq!(listed(&statement), length_and_sha256(path), "{path}");
    }
    // The index line's cksum is the bundle's sha256.
    let hello = committed("he/ll/hello");
    let line: serde_json::Value =
        serde_json::from_slice(hello.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(
        line["cksum"].as_str().unwrap(),
        sha256_hex(&committed("bundle.bin"))
    );

    // The negative vectors fail for the reasons the README gives.
    let (_, flipped, sigs) =
        envelope_by_hand(&committed("negative/timestamp-payload-flipped.json"));
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].0, keys["timestamp"].keyid);
    assert!(
        keys["timestamp"]
            .public
            .verify_strict(
                &pae_by_hand("application/vnd.skillreg.timestamp+json", &flipped),
                &sigs[0].1
            )
            .is_err(),
        "a flipped payload byte breaks the signature"
    );
    let (_, payload, sigs) =
        envelope_by_hand(&committed("negative/timestamp-signed-by-index-key.json"));
    assert_eq!(payload, committed("timestamp.payload.json"));
    let message = pae_by_hand("application/vnd.skillreg.timestamp+json", &payload);
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].0, keys["index"].keyid, "not a timestamp key id");
    assert!(keys["index"]
        .public
        .verify_strict(&message, &sigs[0].1)
        .is_ok());
    assert!(keys["timestamp"]
        .public
        .verify_strict(&message, &sigs[0].1)
        .is_err());
    let (_, payload, sigs) =
        envelope_by_hand(&committed("negative/root-2-signed-by-new-key-only.json"));
    assert_eq!(payload, committed("rotation/root-2.payload.json"));
    let message = pae_by_hand("application/vnd.skillreg.root+json", &payload);
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].0, keys["root-v2"].keyid);
    assert!(
        !root["roles"]["root"]["keyids"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(sigs[0].0)),
        "root v1's root role does not name the new key"
    );
    assert!(keys["root-v2"]
        .public
        .verify_strict(&message, &sigs[0].1)
        .is_ok());
    assert!(keys["root"]
        .public
        .verify_strict(&message, &sigs[0].1)
        .is_err());
}
