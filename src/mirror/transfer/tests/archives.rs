//! Archives: format, order, caps, signatures, shape, limits, root chains.

use super::*;

#[test]
fn format_1_archives_are_refused_with_a_request_to_export_again() {
    let f = fixture();
    // Format 1: manifest.sig's payload is the manifest itself, by the right key.
    let m1 = manifest_of_format(1, vec![version("demo", "1.0.0", &f.blob)]);
    let mut e = f.good();
    e[0].1 = m1.clone();
    e[1].1 = Envelope::sign(types::TRANSFER, &m1, &[&f.index]).to_bytes();
    let m = f.refusal(&e, &f.root1);
    assert!(
        m.contains("this is a transfer of format 1") && m.contains("export it again"),
        "{m}"
    );
    // A large one: its signature is as large as its manifest, so it is
    // refused by its size before it is read, still naming format 1.
    let many = (0..400)
        .map(|i| version("demo", &format!("1.0.{i}"), &f.blob))
        .collect();
    let m1 = manifest_of_format(1, many);
    assert!(m1.len() as u64 > MAX_DIGEST_SIGNATURE_BYTES);
    e[0].1 = m1.clone();
    e[1].1 = Envelope::sign(types::TRANSFER, &m1, &[&f.index]).to_bytes();
    let m = f.refusal(&e, &f.root1);
    assert!(
        m.contains("more than the 65536 allowed") && m.contains("format 1"),
        "{m}"
    );
    // A format-2 digest over a manifest that says format 1.
    let mut e = f.good();
    e[0].1 = manifest_of_format(1, vec![version("demo", "1.0.0", &f.blob)]);
    e[1].1 = sig(&e[0].1, &f.index);
    f.refused(&e, "of format 1; this skillreg reads `transfer` format 2");
}

#[test]
fn roots_come_in_order_each_under_its_cap() {
    let f = fixture();
    let (root2_key, index2) = (key(3), key(4));
    let root2 = root(2, &root2_key, &index2, &[&f.root_key, &root2_key]);
    let root3 = root(3, &root2_key, &index2, &[&root2_key]);
    let m = manifest(3, vec![version("demo", "1.0.0", &f.blob)]);
    let with = |roots: Vec<(&str, Vec<u8>)>| {
        let mut e = vec![
            (MANIFEST.to_string(), m.clone()),
            (SIGNATURE.to_string(), sig(&m, &index2)),
        ];
        e.extend(roots.into_iter().map(|(p, b)| (p.to_string(), b)));
        e.push((f.blob_path(), f.blob.clone()));
        e
    };
    let in_order = with(vec![
        ("roots/1.json", f.root1.clone()),
        ("roots/2.json", root2.clone()),
        ("roots/3.json", root3.clone()),
    ]);
    assert_eq!(f.read(&in_order, &f.root1).unwrap().root.version, 3);
    // Pinned at v2: v1 is read and dropped, v2 matched, v3 chained.
    assert_eq!(f.read(&in_order, &root2).unwrap().root.version, 3);
    let swapped = with(vec![
        ("roots/2.json", root2.clone()),
        ("roots/1.json", f.root1.clone()),
        ("roots/3.json", root3.clone()),
    ]);
    let m = f.refusal(&swapped, &f.root1);
    assert!(
        m.contains("does not carry root v1 (the pinned root's version) before root v2")
            && m.contains("ascending version order"),
        "{m}"
    );
    let m = f.refusal(&swapped, &root2);
    assert!(
        m.contains("root v1 in the archive comes after root v2")
            && m.contains("ascending version order"),
        "{m}"
    );
    let gap = with(vec![
        ("roots/1.json", f.root1.clone()),
        ("roots/3.json", root3.clone()),
    ]);
    let m = f.refusal(&gap, &f.root1);
    assert!(
        m.contains("does not chain") && m.contains("root v2 is missing"),
        "{m}"
    );
    // A genuine root padded past the cap: refused by its size.
    let big = padded(&f.root1, MAX_ROOT_BYTES as usize + 1);
    let mut e = f.good();
    e[2].1 = big;
    f.refused(
        &e,
        "`roots/1.json` is 65537 bytes, more than the 65536 allowed",
    );
    // At most MAX_ROOTS roots, even below the pin (where they are not parsed).
    let pin = root(2000, &f.root_key, &f.index, &[&f.root_key]);
    let m = manifest(2000, vec![version("demo", "1.0.0", &f.blob)]);
    let mut e = vec![
        (MANIFEST.to_string(), m.clone()),
        (SIGNATURE.to_string(), sig(&m, &f.index)),
    ];
    for n in 1..=MAX_ROOTS + 1 {
        e.push((format!("roots/{n}.json"), b"{}".to_vec()));
    }
    e.push(("roots/2000.json".into(), pin.clone()));
    e.push((f.blob_path(), f.blob.clone()));
    let m = f.refusal(&e, &pin);
    assert!(m.contains("carries more than 1024 roots"), "{m}");
    e.drain(2..4);
    assert_eq!(f.read(&e, &pin).unwrap().root.version, 2000);
}

#[test]
fn the_signature_has_a_small_cap() {
    let f = fixture();
    let mut e = f.good();
    e[1].1 = padded(&e[1].1, MAX_DIGEST_SIGNATURE_BYTES as usize);
    f.read(&e, &f.root1).unwrap();
    e[1].1.push(b' ');
    f.refused(
        &e,
        "`manifest.sig` is 65537 bytes, more than the 65536 allowed",
    );
}

#[test]
fn the_manifest_must_be_the_one_whose_digest_is_signed() {
    let f = fixture();
    let sign = |digest: &TransferDigest| {
        Envelope::sign(types::TRANSFER, &canonical(digest), &[&f.index]).to_bytes()
    };
    let right = TransferDigest::of(&f.manifest);
    for (label, digest) in [
        (
            "size",
            TransferDigest {
                manifest_size: right.manifest_size + 1,
                ..right.clone()
            },
        ),
        (
            "sha256",
            TransferDigest {
                manifest_sha256: "0".repeat(64),
                ..right.clone()
            },
        ),
    ] {
        let mut e = f.good();
        e[1].1 = sign(&digest);
        let m = f.refusal(&e, &f.root1);
        assert!(
            m.contains("manifest.sig is signed but over other bytes than manifest.json"),
            "{label}: {m}"
        );
    }
    // The same length, one byte changed.
    let mut e = f.good();
    let i = e[0].1.iter().position(|b| *b == b'd').unwrap();
    e[0].1[i] = b'D';
    f.refused(&e, "over other bytes than manifest.json");
    // The manifest is parsed only once verified: garbage under a foreign
    // key is refused for the key, under the right key for what it is.
    let mut e = f.good();
    e[0].1 = b"not json at all".to_vec();
    e[1].1 = sig(&e[0].1, &key(9));
    f.refused(&e, "signed by unknown key");
    e[1].1 = sig(&e[0].1, &f.index);
    f.refused(&e, "manifest.json is malformed");
    // A digest that is not one.
    let mut e = f.good();
    let other = serde_json::json!({"_type": "transfer-digest", "format": 2, "manifest_sha256": "x", "manifest_size": 1});
    e[1].1 = Envelope::sign(types::TRANSFER, &canonical(&other), &[&f.index]).to_bytes();
    f.refused(&e, "`manifest_sha256` is not 64 lowercase hex digits");
    let extra = serde_json::json!({"_type": "transfer-digest", "format": 2, "manifest_sha256": right.manifest_sha256, "manifest_size": right.manifest_size, "more": 1});
    e[1].1 = Envelope::sign(types::TRANSFER, &canonical(&extra), &[&f.index]).to_bytes();
    f.refused(&e, "does not sign a transfer digest");
}

#[test]
fn an_unsigned_or_foreign_digest_is_refused() {
    let f = fixture();
    let digest = canonical(&TransferDigest::of(&f.manifest));
    let cases: [(Vec<u8>, &str); 4] = [
        (
            Envelope::sign(types::TRANSFER, &digest, &[]).to_bytes(),
            "0 valid signature(s) from trusted index keys",
        ),
        (sig(&f.manifest, &key(9)), "signed by unknown key"),
        (
            sig(&f.manifest, &f.root_key),
            "the manifest signature is refused",
        ),
        (
            Envelope::sign(types::ROOT, &digest, &[&f.index]).to_bytes(),
            "expected a application/vnd.skillreg.transfer+json document",
        ),
    ];
    for (signature, want) in cases {
        let mut e = f.good();
        e[1].1 = signature;
        f.refused(&e, want);
    }
    // A valid signature with its bytes changed.
    let mut env = sign_digest(&f.manifest, &f.index);
    env.signatures[0].sig = sign_digest(b"other", &f.index).signatures[0].sig.clone();
    let mut e = f.good();
    e[1].1 = env.to_bytes();
    f.refused(&e, "the manifest signature is refused");
}

#[test]
fn a_good_archive_is_verified_and_its_blobs_staged() {
    let f = fixture();
    let v = f.read(&f.good(), &f.root1).unwrap();
    assert_eq!(v.manifest.versions.len(), 1);
    assert_eq!(v.root.version, 1);
    let staged = f
        .dir
        .path()
        .join("staging")
        .join(&v.manifest.versions[0].cksum);
    assert_eq!(fs::read(staged).unwrap(), f.blob);
    let file = fs::read(f.dir.path().join(format!("a{SUFFIX}"))).unwrap();
    assert_eq!(v.sha256, crate::blobs::Sha256Digest::of(&file).to_hex());
}

#[test]
fn tampering_is_refused() {
    let f = fixture();
    let mut e = f.good();
    let last = e[3].1.len() - 1;
    e[3].1[last] ^= 1;
    f.refused(&e, "does not match the signed manifest");

    let mut e = f.good();
    e[0].1 = manifest(1, vec![version("demo", "1.0.1", &f.blob)]);
    f.refused(&e, "over other bytes than manifest.json");

    let mut e = f.good();
    e[1].1 = sig(&f.manifest, &key(9));
    f.refused(&e, "signed by unknown key");

    // The root key may not sign the manifest: only the index key.
    let mut e = f.good();
    e[1].1 = sig(&f.manifest, &f.root_key);
    f.refused(&e, "the manifest signature is refused");

    let mut e = f.good();
    e[0].1 = manifest(1, vec![]);
    e[1].1 = sig(&e[0].1, &f.index);
    f.refused(&e, "is not named by the signed manifest");

    let mut e = f.good();
    e.pop();
    f.refused(&e, "is missing from the archive");
}

#[test]
fn the_manifest_must_be_consistent() {
    let f = fixture();
    let mut v = version("demo", "1.0.0", &f.blob);
    v.line = v.line.replace("\"demo\"", "\"other\"");
    let m = manifest(1, vec![v]);
    let mut e = f.good();
    e[0].1 = m.clone();
    e[1].1 = sig(&m, &f.index);
    f.refused(&e, "its index line names another");

    let m = manifest(
        1,
        vec![
            version("demo", "1.0.0", &f.blob),
            version("Demo", "1.0.0", &f.blob),
        ],
    );
    let mut e = f.good();
    e[0].1 = m.clone();
    e[1].1 = sig(&m, &f.index);
    f.refused(&e, "listed twice");

    let m = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
    let mut e = f.good();
    e[0].1 = m.clone();
    e[1].1 = sig(&m, &f.index);
    f.refused(&e, "names root v2");
}

#[test]
fn the_shape_is_fixed() {
    let f = fixture();
    let mut e = f.good();
    e.swap(0, 1);
    f.refused(&e, "manifest.sig must be the second entry");
    let mut e = f.good();
    e.swap(1, 2);
    f.refused(&e, "must follow manifest.sig");

    let mut e = f.good();
    e.push(("notes.txt".into(), b"hi".to_vec()));
    f.refused(&e, "unexpected entry `notes.txt`");

    let mut e = f.good();
    e.push((f.blob_path(), f.blob.clone()));
    f.refused(&e, "appears twice");

    let mut e = f.good();
    e.insert(3, ("roots/01.json".into(), f.root1.clone()));
    f.refused(&e, "is not roots/N.json");

    let mut e = f.good();
    let blob = e.pop().unwrap();
    e.insert(2, blob);
    f.refused(&e, "carries no root document");
    let mut e = f.good();
    e.push(("roots/2.json".into(), f.root1.clone()));
    f.refused(&e, "must follow manifest.sig and precede every blob");

    // `..` and links, written with raw headers (tar::Builder refuses them).
    let mut raw = Vec::new();
    for (path, data) in f.good() {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar::Builder::new(&mut raw)
            .append_data(&mut h, &path, &data[..])
            .unwrap();
        raw.truncate(raw.len() - 1024);
    }
    let mut hostile = tar::Header::new_old();
    hostile.as_old_mut().name[..9].copy_from_slice(b"../escape");
    hostile.set_size(0);
    hostile.set_mode(0o644);
    hostile.set_cksum();
    let mut with_dotdot = raw.clone();
    with_dotdot.extend_from_slice(hostile.as_bytes());
    with_dotdot.extend_from_slice(&[0u8; 1024]);
    match f.read_bytes(&gz(&with_dotdot), &f.root1) {
        Err(TransferError::Refused(m)) => assert!(m.contains("hostile entry name"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    let mut link = tar::Header::new_ustar();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_path("roots/2.json").unwrap();
    link.set_link_name("/etc/passwd").unwrap();
    link.set_size(0);
    link.set_cksum();
    let mut with_link = raw.clone();
    with_link.extend_from_slice(link.as_bytes());
    with_link.extend_from_slice(&[0u8; 1024]);
    match f.read_bytes(&gz(&with_link), &f.root1) {
        Err(TransferError::Refused(m)) => assert!(m.contains("regular files only"), "{m}"),
        other => panic!("{:?}", other.err()),
    }

    // Truncated, trailing garbage, a second gzip member, not gzip.
    let good = {
        let e = f.good();
        let refs: Vec<(&str, &[u8])> = e.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
        tar_gz(&refs)
    };
    for (bytes, want) in [
        (good[..good.len() - 20].to_vec(), "corrupt or truncated"),
        (
            [good.clone(), gz(b"more")].concat(),
            "data follows the gzip stream",
        ),
        (
            [good.clone(), b"junk".to_vec()].concat(),
            "data follows the gzip stream",
        ),
        (b"PK\x03\x04".to_vec(), "not a gzip file"),
    ] {
        match f.read_bytes(&bytes, &f.root1) {
            Err(TransferError::Refused(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
            other => panic!("{want}: {:?}", other.err()),
        }
    }
}

#[test]
fn limits_hold() {
    let f = fixture();
    let e = f.good();
    let refs: Vec<(&str, &[u8])> = e.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    let file = f.dir.path().join(format!("a{SUFFIX}"));
    fs::write(&file, tar_gz(&refs)).unwrap();
    let staging = f.dir.path().join("s");
    fs::create_dir_all(&staging).unwrap();
    let try_with = |limits: TransferLimits| match read_archive(
        &file,
        &pinned(&f.root1),
        &limits,
        1 << 20,
        &staging,
        &|_, _| false,
        (0, "test"),
    ) {
        Err(TransferError::Refused(m)) => m,
        other => panic!("{:?}", other.err()),
    };
    let small = TransferLimits {
        max_entries: 3,
        ..Default::default()
    };
    assert!(try_with(small).contains("more than 3 entries"));
    let small = TransferLimits {
        max_manifest_bytes: 10,
        ..Default::default()
    };
    assert!(try_with(small).contains("more than the 10 allowed"));
    let small = TransferLimits {
        max_bytes: 100,
        ..Default::default()
    };
    assert!(try_with(small).contains("more than the 100 allowed"));
    // A bomb: small compressed, huge unpacked.
    let zeros = vec![0u8; 8 << 20];
    let bomb = tar_gz(&[(MANIFEST, &zeros)]);
    fs::write(&file, &bomb).unwrap();
    let limits = TransferLimits {
        max_bytes: 1 << 20,
        max_manifest_bytes: 64 << 20,
        ..Default::default()
    };
    let m = try_with(limits);
    assert!(m.contains("unpacks to more than 1048576 bytes"), "{m}");
}

#[test]
fn roots_chain_from_the_pinned_one() {
    let f = fixture();
    let (root2_key, index2) = (key(3), key(4));
    // v2 rotates both keys, signed by the old and the new root key.
    let root2 = root(2, &root2_key, &index2, &[&f.root_key, &root2_key]);
    let m = f.manifest.clone();
    let entries = |sig_by: &SigningKey, roots: Vec<(&str, Vec<u8>)>| {
        let mut e = vec![
            (MANIFEST.to_string(), m.clone()),
            (SIGNATURE.to_string(), sig(&m, sig_by)),
        ];
        e.extend(roots.into_iter().map(|(p, b)| (p.to_string(), b)));
        e.push((f.blob_path(), f.blob.clone()));
        e
    };
    let mut m2 = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
    let with_v2 = |by: &SigningKey, m2: &[u8]| {
        vec![
            (MANIFEST.to_string(), m2.to_vec()),
            (SIGNATURE.to_string(), sig(m2, by)),
            ("roots/1.json".to_string(), f.root1.clone()),
            ("roots/2.json".to_string(), root2.clone()),
            (f.blob_path(), f.blob.clone()),
        ]
    };
    // Pinned v1, archive up to v2, signed by v2's index key: accepted.
    let v = f.read(&with_v2(&index2, &m2), &f.root1).unwrap();
    assert_eq!(v.root.version, 2);
    // Signed by the retired index key: refused.
    match f.read(&with_v2(&f.index, &m2), &f.root1) {
        Err(TransferError::Refused(m)) => assert!(m.contains("newest root v2"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    // Pinned v2 (a newer pin) also accepts it.
    f.read(&with_v2(&index2, &m2), &root2).unwrap();
    // An archive older than the pin is refused.
    match f.read(
        &entries(&f.index, vec![("roots/1.json", f.root1.clone())]),
        &root2,
    ) {
        Err(TransferError::Refused(m)) => {
            assert!(m.contains("older than the pinned root"), "{m}")
        }
        other => panic!("{:?}", other.err()),
    }
    // v2 signed by the new root key only does not chain.
    let forged = root(2, &root2_key, &index2, &[&root2_key]);
    m2 = manifest(2, vec![version("demo", "1.0.0", &f.blob)]);
    let e = vec![
        (MANIFEST.to_string(), m2.clone()),
        (SIGNATURE.to_string(), sig(&m2, &index2)),
        ("roots/1.json".to_string(), f.root1.clone()),
        ("roots/2.json".to_string(), forged),
        (f.blob_path(), f.blob.clone()),
    ];
    f.refused(&e, "does not chain from the pinned root");
    // Another registry's root at the pinned version.
    let foreign = root(1, &key(7), &key(8), &[&key(7)]);
    match f.read(&entries(&key(8), vec![("roots/1.json", foreign)]), &f.root1) {
        Err(TransferError::Refused(m)) => {
            assert!(m.contains("differs from the pinned root"), "{m}")
        }
        other => panic!("{:?}", other.err()),
    }
    // Without the pinned version.
    match f.read(
        &with_v2(&index2, &m2)[..]
            .iter()
            .filter(|(p, _)| p != "roots/1.json")
            .cloned()
            .collect::<Vec<_>>(),
        &f.root1,
    ) {
        Err(TransferError::Refused(m)) => assert!(m.contains("does not carry root v1"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn verify_archive_checks_without_importing() {
    let f = fixture();
    let refs = |e: &[(String, Vec<u8>)]| -> Vec<u8> {
        let r: Vec<(&str, &[u8])> = e.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
        tar_gz(&r)
    };
    let file = f.dir.path().join(format!("a{SUFFIX}"));
    let staging = f.dir.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    fs::write(&file, refs(&f.good())).unwrap();
    let manifest = verify_archive(
        &file,
        &pinned(&f.root1),
        &TransferLimits::default(),
        1 << 20,
        &staging,
    )
    .unwrap();
    assert_eq!(manifest.versions.len(), 1);
    assert_eq!(manifest.versions[0].name, "demo");
    // A blob that is not the one the signed manifest names is refused.
    let mut bad = f.good();
    bad[3].1 = b"another bundle of the same size!".to_vec();
    bad[3].1.truncate(f.blob.len());
    fs::write(&file, refs(&bad)).unwrap();
    let staging2 = f.dir.path().join("staging2");
    fs::create_dir_all(&staging2).unwrap();
    match verify_archive(
        &file,
        &pinned(&f.root1),
        &TransferLimits::default(),
        1 << 20,
        &staging2,
    ) {
        Err(TransferError::Refused(m)) => assert!(m.contains("blobs/"), "{m}"),
        other => panic!("{:?}", other.map(|m| m.versions.len())),
    }
}
