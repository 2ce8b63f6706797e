//! Loose bundles and their detached signatures.

use super::*;

/// A bundle and its signature by `by` under `roots`, in the fixture's dir.
fn signed_bundle(
    f: &Fixture,
    roots: &[(u64, &[u8])],
    manifest: &[u8],
    by: &SigningKey,
) -> (PathBuf, PathBuf) {
    let bundle = f.dir.path().join("demo-1.0.0.tar.gz");
    fs::write(&bundle, &f.blob).unwrap();
    let signature = BundleSignature {
        _type: BUNDLE_SIGNATURE_TYPE.into(),
        manifest: String::from_utf8(manifest.to_vec()).unwrap(),
        signature: sign_digest(manifest, by),
        roots: roots
            .iter()
            .map(|(n, bytes)| (n.to_string(), Envelope::from_bytes(bytes).unwrap()))
            .collect(),
    };
    let sig = signature_path(&bundle);
    fs::write(&sig, canonical(&signature)).unwrap();
    (bundle, sig)
}

fn read_signed(
    f: &Fixture,
    bundle: &Path,
    sig: &Path,
    seen: u64,
) -> Result<Verified, TransferError> {
    let staging = f.dir.path().join("staging");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).unwrap();
    read_bundle(
        bundle,
        sig,
        &pinned(&f.root1),
        1 << 20,
        &staging,
        (seen, "test"),
    )
}

fn refused_with(r: Result<Verified, TransferError>, want: &str) {
    match r {
        Err(TransferError::Refused(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
        other => panic!(
            "wanted a refusal with {want:?}, got {:?}",
            other.map(|v| v.manifest)
        ),
    }
}

#[test]
fn bundle_signatures_are_small_detached_and_of_format_2() {
    let f = fixture();
    let roots = [(1, f.root1.as_slice())];
    // The manifest changed after its digest was signed.
    let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
    let mut s: BundleSignature = serde_json::from_slice(&fs::read(&sig).unwrap()).unwrap();
    s.manifest = s.manifest.replacen("00:00:00Z", "00:00:01Z", 1);
    fs::write(&sig, canonical(&s)).unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "demo-1.0.0.tar.gz.sig is signed but over other bytes than the manifest in demo-1.0.0.tar.gz.sig",
    );
    // At most 1 MiB: a genuine signature padded past it is refused.
    let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
    let full = padded(&fs::read(&sig).unwrap(), MAX_SIGNATURE_BYTES as usize);
    fs::write(&sig, &full).unwrap();
    read_signed(&f, &bundle, &sig, 0).unwrap();
    fs::write(&sig, [&full[..], b" "].concat()).unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "is 1048577 bytes, more than the 1048576 allowed for a bundle signature",
    );
    // Each root under the per-root cap: the pinned root with junk
    // signatures beside its own still verifies, but is too large.
    let mut big = Envelope::from_bytes(&f.root1).unwrap();
    for _ in 0..600 {
        big.signatures.push(sign::EnvelopeSignature {
            keyid: "0".repeat(64),
            sig: "A".repeat(88),
        });
    }
    let big = big.to_bytes();
    assert!(big.len() as u64 > MAX_ROOT_BYTES);
    let (bundle, sig) = signed_bundle(&f, &[(1, big.as_slice())], &f.manifest, &f.index);
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "more than the 65536 a root may have",
    );
    // Roots are walked by number, not in the text order of their keys
    // ("10" < "2"): eleven chained roots verify.
    let mut chain = vec![(1, f.root1.clone())];
    let mut previous = f.root_key.clone();
    for n in 2..=11u8 {
        let next = key(20 + n);
        chain.push((
            n as u64,
            root(n as u64, &next, &f.index, &[&previous, &next]),
        ));
        previous = next;
    }
    let refs: Vec<(u64, &[u8])> = chain.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let m11 = manifest(11, vec![version("demo", "1.0.0", &f.blob)]);
    let (bundle, sig) = signed_bundle(&f, &refs, &m11, &f.index);
    assert_eq!(read_signed(&f, &bundle, &sig, 0).unwrap().root.version, 11);
    // A format-1 bundle signature: an envelope over the whole manifest.
    let old = serde_json::json!({
        "_type": BUNDLE_SIGNATURE_TYPE,
        "manifest": Envelope::sign(types::TRANSFER, &f.manifest, &[&f.index]),
        "roots": {"1": Envelope::from_bytes(&f.root1).unwrap()},
    });
    fs::write(&sig, canonical(&old)).unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "demo-1.0.0.tar.gz.sig signs a whole manifest: this is a transfer of format 1",
    );
}

#[test]
fn loose_bundles_are_verified_like_archives() {
    let f = fixture();
    let roots = [(1, f.root1.as_slice())];
    let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
    let v = read_signed(&f, &bundle, &sig, 0).unwrap();
    assert_eq!(v.manifest.versions[0].name, "demo");
    let staged = f
        .dir
        .path()
        .join("staging")
        .join(&v.manifest.versions[0].cksum);
    assert_eq!(fs::read(staged).unwrap(), f.blob);

    // The bundle changed after signing (same length, then another length).
    let mut changed = f.blob.clone();
    changed[0] ^= 1;
    fs::write(&bundle, &changed).unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "does not match its signature",
    );
    fs::write(&bundle, b"short").unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "was changed or truncated",
    );
    // Signed by a key the pinned root does not name for `index`.
    let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.root_key);
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "manifest signature is refused",
    );
    // Another registry's roots.
    let other = root(1, &key(7), &key(8), &[&key(7)]);
    let (bundle, sig) = signed_bundle(&f, &[(1, other.as_slice())], &f.manifest, &key(8));
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "differs from the pinned root",
    );
    // Two versions in one bundle signature.
    let two = manifest(
        1,
        vec![
            version("demo", "1.0.0", &f.blob),
            version("demo", "1.0.1", &f.blob),
        ],
    );
    let (bundle, sig) = signed_bundle(&f, &roots, &two, &f.index);
    refused_with(read_signed(&f, &bundle, &sig, 0), "names exactly one");
    // Rollback: an import under a newer root was made before.
    let (bundle, sig) = signed_bundle(&f, &roots, &f.manifest, &f.index);
    refused_with(
        read_signed(&f, &bundle, &sig, 2),
        "a retired key may have signed it",
    );
    // Not a signature, and a signature that is a symlink.
    fs::write(&sig, b"{}").unwrap();
    refused_with(
        read_signed(&f, &bundle, &sig, 0),
        "is not a bundle signature",
    );
    fs::remove_file(&sig).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &sig).unwrap();
    refused_with(read_signed(&f, &bundle, &sig, 0), "symbolic link");
}
