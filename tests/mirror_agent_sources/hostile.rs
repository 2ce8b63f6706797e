//! Indexes written by hand, as a hostile or sloppy upstream would: every
//! bad entry is skipped with its reason while the good one arrives, an
//! unknown `$schema` refuses the whole index, and the older 0.1.0 layout
//! is read with fallback versions that grow with each content change.

use std::io::Write;
use std::path::Path;

use super::super::{assert_same, counts, make_public, pending, wellknown, why};
use crate::common::*;

fn sha256(bytes: &[u8]) -> String {
    skillreg::blobs::Sha256Digest::of(bytes).to_hex()
}

fn skill_text(name: &str) -> String {
    format!("---\nname: {name}\ndescription: A skill from a hand-written index.\n---\nbody\n")
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, content) in entries {
        zip.start_file(*path, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Writes `files` (path below `root` → bytes).
fn write_all(root: &Path, files: &[(&str, Vec<u8>)]) {
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn entry(name: &str, url: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({"name": name, "type": "archive", "description": "d", "url": url,
                       "digest": format!("sha256:{}", sha256(bytes))})
}

#[test]
fn hostile_entries_are_skipped_with_their_reasons_and_the_good_one_arrives() {
    let site = public_tempdir();
    let root = site.path();
    let good = zip_of(&[("SKILL.md", skill_text("good-skill").as_bytes())]);
    let dotdot = zip_of(&[
        ("SKILL.md", skill_text("dotdot").as_bytes()),
        ("../escape.md", b"x"),
    ]);
    let renamed = zip_of(&[("SKILL.md", skill_text("someone-else").as_bytes())]);
    let linked = {
        // A tar.gz whose link stays inside (so only the rule against links
        // refuses it), as no skill archive should hold.
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        let text = skill_text("linked");
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "SKILL.md", text.as_bytes())
            .unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, "notes.md", "SKILL.md").unwrap();
        gzip(&tar.into_inner().unwrap())
    };
    let index = serde_json::json!({
        "$schema": "https://schemas.agentskills.io/discovery/0.2.0/schema.json",
        "skills": [
            entry("good-skill", "files/good.zip", &good),
            entry("../evil", "files/good.zip", &good),
            entry("file-url", "file:///etc/passwd", &good),
            entry("dotdot", "files/dotdot.zip", &dotdot),
            entry("linked", "files/linked.tar.gz", &linked),
            entry("someone", "files/renamed.zip", &renamed),
            {"name": "bad-digest", "type": "archive", "description": "d",
             "url": "files/good.zip", "digest": "sha256:NOTHEX"},
            {"name": "odd-type", "type": "exe", "description": "d",
             "url": "files/good.zip", "digest": format!("sha256:{}", sha256(&good))},
        ]
    });
    write_all(
        root,
        &[
            (
                ".well-known/agent-skills/index.json",
                serde_json::to_vec(&index).unwrap(),
            ),
            (".well-known/agent-skills/files/good.zip", good.clone()),
            (".well-known/agent-skills/files/dotdot.zip", dotdot),
            (".well-known/agent-skills/files/linked.tar.gz", linked),
            (".well-known/agent-skills/files/renamed.zip", renamed),
        ],
    );
    make_public(root);
    let nginx = Nginx::serve(root);
    let down = Daemon::with_config(&wellknown(&nginx.url));
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(counts(&run), [1, 1, 0, 7, 0], "{run:#}");
    assert_eq!(pending(&down), vec![("good-skill".into(), "0.0.1".into())]);
    let text = why(&run);
    for reason in [
        "the name \"../evil\" is not a skill name",
        "`file:` URL; only http and https",
        "`..` is not allowed",
        "`notes.md` is a link",
        "its SKILL.md names `someone-else`",
        "sha256:<64 lowercase hex>",
        "has the type \"exe\"",
    ] {
        assert!(text.contains(reason), "missing {reason:?} in {text}");
    }
    down.assert_serving();
}

#[test]
fn an_unknown_schema_refuses_the_whole_index() {
    let site = public_tempdir();
    let good = zip_of(&[("SKILL.md", skill_text("good-skill").as_bytes())]);
    let index = serde_json::json!({
        "$schema": "https://schemas.agentskills.io/discovery/9.0.0/schema.json",
        "skills": [entry("good-skill", "files/good.zip", &good)]
    });
    write_all(
        site.path(),
        &[
            (
                ".well-known/agent-skills/index.json",
                serde_json::to_vec(&index).unwrap(),
            ),
            (".well-known/agent-skills/files/good.zip", good),
        ],
    );
    make_public(site.path());
    let nginx = Nginx::serve(site.path());
    let down = Daemon::with_config(&wellknown(&nginx.url));
    let before = down.fingerprint();
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "failed", "{run:#}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("9.0.0/schema.json") && error.contains("whole index is refused"),
        "{error}"
    );
    assert_same(&down, &before);
    down.assert_serving();
}

#[test]
fn the_older_layout_is_read_with_fallback_versions_that_follow_content_changes() {
    let site = public_tempdir();
    let root = site.path();
    let index = serde_json::json!({"skills": [
        {"name": "legacy-skill", "description": "d", "files": ["SKILL.md", "notes/a.md"]},
        {"name": "sneaky", "description": "d", "files": ["SKILL.md", "../../etc/passwd"]},
    ]});
    write_all(
        root,
        &[
            (
                ".well-known/skills/index.json",
                serde_json::to_vec(&index).unwrap(),
            ),
            (
                ".well-known/skills/legacy-skill/SKILL.md",
                skill_text("legacy-skill").into_bytes(),
            ),
            (
                ".well-known/skills/legacy-skill/notes/a.md",
                b"first\n".to_vec(),
            ),
            (
                ".well-known/skills/sneaky/SKILL.md",
                skill_text("sneaky").into_bytes(),
            ),
        ],
    );
    make_public(root);
    let nginx = Nginx::serve(root);
    let down = Daemon::with_config(&wellknown(&nginx.url));
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(counts(&run), [1, 1, 0, 1, 0], "{run:#}");
    assert!(
        why(&run).contains("unsafe file path \"../../etc/passwd\""),
        "{run:#}"
    );
    assert_eq!(
        pending(&down),
        vec![("legacy-skill".into(), "0.0.1".into())]
    );

    // Nothing new: the same version, every document revalidated.
    let served = nginx.statuses().len();
    let run = down.sync_source("agents");
    assert_eq!(counts(&run), [0, 0, 1, 1, 0], "{run:#}");
    let again = &nginx.statuses()[served..];
    // The current layout's 404, then the index and two files, unchanged.
    assert_eq!(again, [404, 304, 304, 304], "{run:#}");

    // A changed file is a new fallback version.
    std::fs::write(
        root.join(".well-known/skills/legacy-skill/notes/a.md"),
        b"second\n",
    )
    .unwrap();
    let run = down.sync_source("agents");
    assert_eq!(counts(&run), [1, 1, 0, 1, 0], "{run:#}");
    assert_eq!(
        pending(&down),
        vec![
            ("legacy-skill".into(), "0.0.1".into()),
            ("legacy-skill".into(), "0.0.2".into())
        ]
    );
}

/// Replaces a served file with a later mtime (nginx's ETag is mtime in
/// seconds and size; a same-size rewrite within a second would keep it).
fn rewrite(path: &Path, bytes: &[u8]) {
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(before + std::time::Duration::from_secs(2))
        .unwrap();
}

#[test]
fn internal_hosts_encoded_dots_and_repeated_names_are_refused_and_a_flip_flop_gets_no_new_numbers()
{
    let site = public_tempdir();
    let root = site.path();
    let a = zip_of(&[("SKILL.md", skill_text("flip").as_bytes()), ("v.md", b"A")]);
    let b = zip_of(&[("SKILL.md", skill_text("flip").as_bytes()), ("v.md", b"B")]);
    let index = |first: &[u8], second: &[u8]| {
        serde_json::to_vec(&serde_json::json!({
            "$schema": "https://schemas.agentskills.io/discovery/0.2.0/schema.json",
            "skills": [
                entry("flip", &format!("files/{}.zip", sha256(first)), first),
                entry("flip", &format!("files/{}.zip", sha256(second)), second),
                entry("metadata", "http://169.254.169.254/latest/meta-data/x.zip", &a),
                entry("encoded", "%2e%2e/%2e%2e/outside.zip", &a),
            ]
        }))
        .unwrap()
    };
    let index_path = ".well-known/agent-skills/index.json";
    write_all(
        root,
        &[
            (index_path, index(&a, &b)),
            (
                &format!(".well-known/agent-skills/files/{}.zip", sha256(&a)),
                a.clone(),
            ),
            (
                &format!(".well-known/agent-skills/files/{}.zip", sha256(&b)),
                b.clone(),
            ),
        ],
    );
    make_public(root);
    let nginx = Nginx::serve(root);
    let down = Daemon::with_config(&wellknown(&nginx.url));
    let run = down.sync_source("agents");
    let text = why(&run);
    assert!(
        text.contains("`flip` is listed again; the first entry of a name counts"),
        "{text}"
    );
    assert!(
        text.contains("`169.254.169.254` is a loopback, private or link-local address"),
        "{text}"
    );
    assert!(text.contains("%2e%2e"), "{text}");
    assert_eq!(pending(&down), vec![("flip".into(), "0.0.1".into())]);

    // The upstream flips the content: B is 0.0.2; back to A is 0.0.1 again.
    rewrite(&root.join(index_path), &index(&b, &a));
    down.sync_source("agents");
    rewrite(&root.join(index_path), &index(&a, &b));
    let run = down.sync_source("agents");
    assert_eq!(
        pending(&down),
        vec![
            ("flip".into(), "0.0.1".into()),
            ("flip".into(), "0.0.2".into())
        ],
        "{run:#}"
    );
    assert_eq!(run["added"], 0, "{run:#}");
    down.assert_serving();
}
