use super::*;

#[test]
fn cargo_path_layout() {
    assert_eq!(path_for("a"), "1/a");
    assert_eq!(path_for("ab"), "2/ab");
    assert_eq!(path_for("abc"), "3/a/abc");
    assert_eq!(path_for("Serde_Json"), "se/rd/serde_json");
}

#[test]
fn render_patches_only_the_yank_state() {
    let entry = IndexEntry {
        name: "a".into(),
        vers: "1.0.0".into(),
        deps: vec![],
        cksum: "00".into(),
        features: BTreeMap::new(),
        features2: None,
        yanked: false,
        links: None,
        v: 1,
        rust_version: None,
        pubtime: "2026-01-01T00:00:00Z".into(),
        kind: Kind::Crate,
        description: None,
        license: None,
        size: Some(1),
        provenance: None,
    };
    let mut tricky = entry.clone();
    tricky.description = Some(r#","yanked":false, in a description"#.into());
    let rows = vec![
        EntryRow {
            entry_json: line(&entry),
            yanked: true,
        },
        EntryRow {
            entry_json: line(&tricky),
            yanked: false,
        },
    ];
    let body = String::from_utf8(render(&rows).unwrap()).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(body.ends_with("}\n"));
    assert!(lines[0].contains("\"yanked\":true"));
    assert_eq!(
        lines[1],
        line(&tricky),
        "unyanked lines are the stored bytes"
    );
    let parsed: IndexEntry = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(parsed, tricky);
    assert!(render(&[EntryRow {
        entry_json: "{}".into(),
        yanked: false
    }])
    .is_err());
    assert!(body.starts_with("{\"name\":\"a\",\"vers\":\"1.0.0\",\"deps\":[],\"cksum\":\"00\""));
}

#[test]
fn prepared_has_strong_etag() {
    let p = Prepared::new(b"x\n".repeat(100), 0);
    let etag = p.etag.to_str().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert!(p.gzip.is_some());
    assert_eq!(p.last_modified, "Thu, 01 Jan 1970 00:00:00 GMT");
}

#[test]
fn a_served_file_rewritten_within_a_second_gets_a_later_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("timestamp.json");
    let mtime = || {
        let t = std::fs::metadata(&target).unwrap().modified().unwrap();
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    };
    export::replace_served(&target, b"aaaa").unwrap();
    let first = mtime();
    // Same size, same second: nginx would keep the ETag without this.
    export::replace_served(&target, b"bbbb").unwrap();
    assert!(
        mtime() > first,
        "whole seconds, as nginx's ETag counts them"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"bbbb");
}
