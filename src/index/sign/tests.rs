use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn role(keys: &[&SigningKey], threshold: usize) -> (RoleKeys, BTreeMap<String, PublicKey>) {
    let ids = keys.iter().map(|k| key_id(&k.verifying_key())).collect();
    let map = keys
        .iter()
        .map(|k| {
            (
                key_id(&k.verifying_key()),
                PublicKey::of(&k.verifying_key()),
            )
        })
        .collect();
    (
        RoleKeys {
            keyids: ids,
            threshold,
        },
        map,
    )
}

#[test]
fn pae_matches_the_dsse_definition() {
    assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab");
}

#[test]
fn sign_and_verify_exact_bytes() {
    let k = key(1);
    let (role, keys) = role(&[&k], 1);
    let env = Envelope::sign(types::TIMESTAMP, b"{\"a\":1}", &[&k]);
    let back = Envelope::from_bytes(&env.to_bytes()).unwrap();
    assert_eq!(
        back.verify(types::TIMESTAMP, "timestamp", &role, &keys)
            .unwrap(),
        b"{\"a\":1}"
    );
    // The type is signed: the same signature does not verify as another type.
    let mut other = back.clone();
    other.payload_type = types::SNAPSHOT.into();
    assert!(matches!(
        other.verify(types::SNAPSHOT, "snapshot", &role, &keys),
        Err(VerifyError::Threshold { .. })
    ));
    // A changed payload fails.
    let mut changed = back.clone();
    changed.payload = B64.encode(b"{\"a\":2}");
    assert!(changed
        .verify(types::TIMESTAMP, "timestamp", &role, &keys)
        .is_err());
}

#[test]
fn unknown_keys_and_thresholds() {
    let (a, b) = (key(1), key(2));
    let (role_a, keys_a) = role(&[&a], 1);
    let env = Envelope::sign(types::ROOT, b"x", &[&b]);
    assert!(matches!(
        env.verify(types::ROOT, "root", &role_a, &keys_a),
        Err(VerifyError::UnknownKey { .. })
    ));
    let (role_ab, keys_ab) = role(&[&a, &b], 2);
    let one = Envelope::sign(types::ROOT, b"x", &[&a]);
    assert!(matches!(
        one.verify(types::ROOT, "root", &role_ab, &keys_ab),
        Err(VerifyError::Threshold {
            valid: 1,
            threshold: 2,
            ..
        })
    ));
    // The same key twice counts once.
    let twice = Envelope::sign(types::ROOT, b"x", &[&a, &a]);
    assert!(twice
        .verify(types::ROOT, "root", &role_ab, &keys_ab)
        .is_err());
    let both = Envelope::sign(types::ROOT, b"x", &[&a, &b]);
    assert!(both.verify(types::ROOT, "root", &role_ab, &keys_ab).is_ok());
}

/// Root `version` naming `root_key` as its root key, signed by `signers`.
fn root_doc(version: u64, root_key: &SigningKey, signers: &[&SigningKey]) -> (Root, Vec<u8>) {
    let (role, keys) = role(&[root_key], 1);
    let root = Root {
        _type: "root".into(),
        spec_version: "1".into(),
        version,
        expires: "2999-01-01T00:00:00Z".into(),
        keys,
        roles: [("root".to_string(), role)].into(),
    };
    let bytes = Envelope::sign(types::ROOT, &canonical(&root), signers).to_bytes();
    (root, bytes)
}

#[test]
fn self_signed_roots_must_be_version_1_and_signed_by_their_own_keys() {
    let (a, b) = (key(1), key(2));
    let (root, bytes) = root_doc(1, &a, &[&a]);
    assert_eq!(
        self_signed_root(&bytes).unwrap(),
        (root.clone(), canonical(&root))
    );
    let (_, by_other) = root_doc(1, &a, &[&b]);
    assert!(matches!(
        self_signed_root(&by_other),
        Err(RootError::Verify(VerifyError::UnknownKey { .. }))
    ));
    let mut v2 = root.clone();
    v2.spec_version = "2".into();
    let v2 = Envelope::sign(types::ROOT, &canonical(&v2), &[&a]).to_bytes();
    assert_eq!(
        self_signed_root(&v2),
        Err(RootError::NotVersion1 {
            doc_type: "root".into(),
            spec_version: "2".into()
        })
    );
    assert!(matches!(
        self_signed_root(b"{}"),
        Err(RootError::Verify(VerifyError::Malformed(_)))
    ));
}

#[test]
fn next_root_needs_both_keys_and_the_next_version() {
    let (a, b) = (key(1), key(2));
    let (one, _) = root_doc(1, &a, &[&a]);
    let (two, both) = root_doc(2, &b, &[&a, &b]);
    assert_eq!(
        next_root(&one, &both).unwrap(),
        (two.clone(), canonical(&two))
    );
    let (_, new_only) = root_doc(2, &b, &[&b]);
    assert!(matches!(
        next_root(&one, &new_only),
        Err(ChainError::NotSignedByTrusted { trusted: 1, .. })
    ));
    let (_, old_only) = root_doc(2, &b, &[&a]);
    assert!(matches!(
        next_root(&one, &old_only),
        Err(ChainError::NotSelfSigned(_))
    ));
    let (_, three) = root_doc(3, &b, &[&a, &b]);
    assert_eq!(
        next_root(&one, &three),
        Err(ChainError::WrongVersion {
            expected: 2,
            found: 3
        })
    );
    assert!(matches!(
        next_root(&one, b"not json"),
        Err(ChainError::Malformed(_))
    ));
    let mut roleless = one.clone();
    roleless.roles.clear();
    assert_eq!(
        next_root(&roleless, &both),
        Err(ChainError::NoRootRole { trusted: 1 })
    );
}

#[test]
fn root_files_are_capped_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let a = key(1);
    let (root, bytes) = root_doc(1, &a, &[&a]);
    let path = dir.join("root.json");
    std::fs::write(&path, &bytes).unwrap();
    let file = load_root_file(&path, 64 * 1024).unwrap();
    assert_eq!((file.envelope, file.root), (bytes.clone(), root));
    assert!(matches!(
        load_root_file(&path, bytes.len() as u64 - 1),
        Err(RootFileError::TooLarge { .. })
    ));
    assert!(matches!(
        load_root_file(&dir.join("missing.json"), 64 * 1024),
        Err(RootFileError::Unreadable(_))
    ));
    std::fs::write(&path, b"{}").unwrap();
    assert!(matches!(
        load_root_file(&path, 64 * 1024),
        Err(RootFileError::Invalid(_))
    ));
}

#[test]
fn canonical_json_sorts_keys_and_has_no_spaces() {
    let snap = Snapshot {
        _type: "snapshot".into(),
        version: 1,
        expires: "2030-01-01T00:00:00Z".into(),
        root_version: 1,
        depth: 3,
        children: BTreeMap::new(),
    };
    assert_eq!(
        String::from_utf8(canonical(&snap)).unwrap(),
        r#"{"_type":"snapshot","children":{},"depth":3,"expires":"2030-01-01T00:00:00Z","root_version":1,"version":1}"#
    );
}
