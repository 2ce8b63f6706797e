//! Feed documents are rendered off the publish path, and a render brings
//! them, and a snapshot naming them, up to date.

use crate::feeds::wellknown::INDEX_PATH;
use crate::registry::test_support::{open_registry, publish_skill};
use crate::registry::Registry;

fn listed(registry: &Registry, name: &str) -> bool {
    let doc = registry
        .feed_document(INDEX_PATH)
        .expect("the index is served");
    String::from_utf8_lossy(&doc.body).contains(&format!("\"{name}\""))
}

/// The version of the snapshot the served timestamp names.
fn snapshot_version(registry: &Registry) -> u64 {
    use crate::index::sign::{paths, Envelope, Timestamp};
    let file = registry
        .index_file(paths::TIMESTAMP)
        .expect("a timestamp is served");
    let envelope = Envelope::from_bytes(&file.body).unwrap();
    let timestamp: Timestamp =
        crate::index::sign::parse(&envelope.payload_bytes().unwrap()).unwrap();
    timestamp.snapshot.version
}

#[test]
fn a_publish_leaves_the_feeds_to_the_renderer_which_signs_them() {
    let (dir, registry) = open_registry();
    assert!(!registry.feeds_stale(), "open renders the first documents");
    assert!(
        !registry.flush_feeds().unwrap(),
        "nothing to render after open"
    );

    publish_skill(&registry, dir.path(), "hello");
    // The publish itself rendered no feed document: they still show the
    // registry as it was, and say so.
    assert!(registry.feeds_stale());
    assert!(!listed(&registry, "hello"));
    let before = snapshot_version(&registry);

    // One render catches up and signs a snapshot that names the document.
    assert!(registry.flush_feeds().unwrap());
    assert!(!registry.feeds_stale());
    assert!(listed(&registry, "hello"));
    assert!(snapshot_version(&registry) > before);
    let key = format!("_feeds/{INDEX_PATH}");
    let served = registry
        .index_file(&key)
        .expect("the document is below /index/");
    assert_eq!(
        served.body,
        registry.feed_document(INDEX_PATH).unwrap().body
    );
    assert!(!registry.flush_feeds().unwrap(), "and then nothing is left");

    // Two publishes, one render.
    publish_skill(&registry, dir.path(), "second");
    publish_skill(&registry, dir.path(), "third");
    assert!(registry.flush_feeds().unwrap());
    assert!(listed(&registry, "second") && listed(&registry, "third"));
    assert!(!registry.feeds_stale());
}

/// The entry the snapshot the served timestamp names lists for `path`,
/// its tree read from the nodes the registry serves.
fn signed_entry(registry: &Registry, path: &str) -> Option<crate::index::sign::FileMeta> {
    use crate::index::sign::{paths, Envelope, Snapshot};
    let file = registry
        .index_file(&paths::snapshot(snapshot_version(registry)))
        .expect("the snapshot the timestamp names is served");
    let envelope = Envelope::from_bytes(&file.body).unwrap();
    let snapshot: Snapshot = crate::index::sign::parse(&envelope.payload_bytes().unwrap()).unwrap();
    crate::index::snapshot_tree::resolve(&snapshot.children, path, |_, meta| {
        registry
            .index_file(&paths::tree_node(&meta.sha256))
            .map(|f| f.body.to_vec())
            .ok_or("node not served")
    })
    .unwrap()
}

/// A render whose snapshot cannot be signed (the database is busy past its
/// timeout) serves its documents all the same; the next render must sign
/// the snapshot naming them, not find nothing to do and leave the signed
/// snapshot listing other bytes than the ones served below `/index/`
/// until some later publish.
#[test]
fn a_render_whose_snapshot_failed_is_signed_by_the_next() {
    let (dir, registry) = open_registry();
    publish_skill(&registry, dir.path(), "hello");
    let key = format!("_feeds/{INDEX_PATH}");

    let blocker =
        rusqlite::Connection::open(dir.path().join("data").join(crate::store::DB_FILE)).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert!(
        registry.flush_feeds().is_err(),
        "no snapshot can be signed while the database is held"
    );
    blocker.execute_batch("ROLLBACK").unwrap();
    assert!(listed(&registry, "hello"), "the document is served");

    let _ = registry.flush_feeds().unwrap();
    let served = registry.index_file(&key).expect("served below /index/");
    let signed = signed_entry(&registry, &key).expect("the snapshot lists the document");
    assert_eq!(
        signed.sha256,
        crate::blobs::Sha256Digest::of(&served.body).to_hex(),
        "the signed snapshot lists the document served"
    );
    assert!(!registry.feeds_stale());
}
