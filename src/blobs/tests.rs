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
