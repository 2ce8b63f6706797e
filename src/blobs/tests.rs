use super::*;

#[test]
fn put_is_content_addressed_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let a = store.put(b"hello").unwrap();
    let b = store.put(b"hello").unwrap();
    assert_eq!(a, b);
    assert_eq!(fs::read(store.path(&a)).unwrap(), b"hello");
    assert_eq!(store.list().unwrap(), vec![a]);
    std::fs::write(dir.path().join("blobs/tmp/.x.tmp-1-1"), b"debris").unwrap();
    BlobStore::open(dir.path()).unwrap();
    assert_eq!(
        fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(),
        0
    );
    assert_eq!(
        a.to_hex(),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
}

#[test]
fn put_many_stores_what_put_would_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let before = store.put(b"already here").unwrap();
    let batch: Vec<Vec<u8>> = vec![
        b"one".to_vec(),
        b"already here".to_vec(),
        b"two".to_vec(),
        b"one".to_vec(),
    ];
    let digests = store.put_many(&batch).unwrap();
    assert_eq!(digests.len(), 4);
    for (bytes, digest) in batch.iter().zip(&digests) {
        assert_eq!(*digest, Sha256Digest::of(bytes));
        assert_eq!(&fs::read(store.path(digest)).unwrap(), bytes);
    }
    assert_eq!(digests[1], before);
    assert_eq!(digests[0], digests[3]);
    let mut want = vec![before, digests[0], digests[2]];
    want.sort_by_key(|d| d.0);
    assert_eq!(store.list().unwrap(), want);
    assert_eq!(
        fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(),
        0
    );
    assert!(store.put_many::<Vec<u8>>(&[]).unwrap().is_empty());
}

#[test]
fn put_many_that_fails_stores_nothing_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    // The shard directory of "two" is a file, so its rename fails; "one"
    // comes after it and must not be stored either.
    let two = Sha256Digest::of(b"two").to_hex();
    let one = Sha256Digest::of(b"one").to_hex();
    assert_ne!(two[..2], one[..2]);
    fs::write(
        dir.path().join("blobs/sha256").join(&two[..2]),
        b"in the way",
    )
    .unwrap();
    assert!(store.put_many(&[b"two", b"one"]).is_err());
    assert!(!store.contains(&Sha256Digest::of(b"one")));
    assert_eq!(
        fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(),
        0
    );
    // The store still works.
    let d = store.put(b"one").unwrap();
    assert_eq!(fs::read(store.path(&d)).unwrap(), b"one");
}
