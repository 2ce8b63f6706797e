//! The static tree follows the store, and a package that will not render
//! for it is tried again rather than dropped.

use crate::registry::test_support::{open_registry_with, publish_skill};

/// A store error while the exporter re-renders a package (here its
/// versions table gone for a moment, standing in for a disk or lock
/// error) leaves the package queued: the export reads as behind, and the
/// next flush writes the package once the store answers again.
#[test]
fn a_package_that_fails_to_render_for_the_tree_is_tried_again() {
    let tree = tempfile::tempdir().unwrap();
    let (dir, registry) = open_registry_with(|config| {
        config.export.dir = tree.path().to_path_buf();
    });
    assert_eq!(registry.export_behind(), Some(0), "open writes the tree");

    publish_skill(&registry, dir.path(), "hello");
    assert_eq!(registry.export_behind(), Some(1));
    let written = tree
        .path()
        .join("index")
        .join(crate::index::path_for("hello"));
    assert!(
        !written.exists(),
        "the publish leaves the tree to the flush"
    );

    let db = rusqlite::Connection::open(dir.path().join("data/skillreg.db")).unwrap();
    db.execute_batch("ALTER TABLE versions RENAME TO versions_away")
        .unwrap();
    assert!(
        registry.flush_export().is_err(),
        "the render failed, and the flush says so"
    );
    assert_eq!(
        registry.export_behind(),
        Some(1),
        "the package is not in the tree, so the export is behind"
    );
    assert!(!written.exists());

    db.execute_batch("ALTER TABLE versions_away RENAME TO versions")
        .unwrap();
    registry.flush_export().unwrap();
    assert_eq!(registry.export_behind(), Some(0));
    assert!(written.is_file(), "the package reached the tree");
    assert!(
        !registry.flush_export().unwrap(),
        "and nothing is left to write"
    );
}
