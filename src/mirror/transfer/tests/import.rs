//! Importing a verified batch; export selection.

use super::*;

fn skill(dir: &Path, name: &str, vers: &str) -> Vec<u8> {
    let d = dir.join(format!("{name}-{vers}"));
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: A test skill.\nmetadata:\n  version: \"{vers}\"\n---\n# {name}\n"),
    )
    .unwrap();
    crate::bundle::pack::pack_dir(&d).unwrap()
}

#[test]
fn a_batch_is_checked_like_mirrored_versions_and_stored_once() {
    use crate::registry::OfflineRegistry;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::Config {
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    let sink = OfflineRegistry::open(&config, true).unwrap();
    let item = |name: &str, vers: &str, bytes: &[u8], approved: bool| {
        let blob = dir.path().join(format!("{name}-{vers}.blob"));
        fs::write(&blob, bytes).unwrap();
        let v = version(name, vers, bytes);
        TransferItem {
            kind: Kind::Skill,
            name: name.into(),
            version: vers.into(),
            blob,
            line: serde_json::from_str(&v.line).unwrap(),
            line_text: v.line.clone(),
            auto_approve: approved,
            upstream: serde_json::json!({}),
        }
    };
    let items = vec![
        item(
            "batch-one",
            "1.0.0",
            &skill(dir.path(), "batch-one", "1.0.0"),
            true,
        ),
        item(
            "batch-one",
            "1.1.0",
            &skill(dir.path(), "batch-one", "1.1.0"),
            false,
        ),
        // Differs only in build metadata from the first: clashes inside the batch.
        item(
            "batch-one",
            "1.0.0+b",
            &skill(dir.path(), "batch-one", "1.0.0+b"),
            false,
        ),
        item("batch-two", "0.1.0", b"not a bundle", false),
    ];
    let outcomes = sink.import_batch("airgap", &items).unwrap();
    assert_eq!(
        outcomes[0],
        Imported::Added(VersionStatus::Pending),
        "the CLI never approves"
    );
    assert_eq!(outcomes[1], Imported::Added(VersionStatus::Pending));
    assert!(
        matches!(&outcomes[2], Imported::Skipped(w) if w.contains("twice")),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[3], Imported::Skipped(w) if w.contains("fails validation")),
        "{outcomes:?}"
    );
    let store = Store::open(&config.data_dir).unwrap();
    let published = store.published().unwrap();
    assert_eq!(published.len(), 2);
    // Owned by the source's mirror login; a second source may not add to it.
    assert_eq!(store.owners_of("batch-one").unwrap(), ["mirror:airgap"]);
    let more = vec![item(
        "batch-one",
        "2.0.0",
        &skill(dir.path(), "batch-one", "2.0.0"),
        false,
    )];
    let outcomes = sink.import_batch("other", &more).unwrap();
    assert!(
        matches!(&outcomes[0], Imported::Skipped(w) if w.contains("not by source `other`")),
        "{outcomes:?}"
    );
    // Again: unchanged, and nothing is read or stored.
    let outcomes = sink.import_batch("airgap", &items[..2]).unwrap();
    assert_eq!(outcomes, [Imported::Unchanged, Imported::Unchanged]);
    assert_eq!(store.published().unwrap(), published);
}

#[test]
fn since_and_names() {
    assert_eq!(parse_since("1970-01-02T00:00:00Z", 0).unwrap(), 86400);
    assert_eq!(parse_since("1970-01-02", 0).unwrap(), 86400);
    assert_eq!(parse_since("7d", 10 * 86400).unwrap(), 3 * 86400);
    assert_eq!(parse_since("12h", 86400).unwrap(), 43200);
    assert!(parse_since("last tuesday", 0)
        .unwrap_err()
        .to_string()
        .contains("neither"));
    assert!(is_archive_name("2025-01-31.skillreg-transfer.tar.gz"));
    assert!(!is_archive_name(".x.skillreg-transfer.tar.gz"));
    assert!(!is_archive_name("x.skillreg-transfer.tar.gz.part"));
    assert!(!is_archive_name(SUFFIX));
    assert!(!is_archive_name("bundle.tar.gz"));
}
