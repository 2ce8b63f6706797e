//! The agent-tool feeds without the tools: what the daemon and the export
//! commands do when storage or the target folder is not as expected.

mod common;
use common::*;

use std::path::Path;

fn yank(d: &Daemon, name: &str, version: &str) {
    let (status, body) = delete(
        &format!("{}/api/v1/crates/{name}/{version}/yank", d.url),
        Some(&d.admin),
    );
    assert_eq!(status, 200, "{body}");
}

fn zips_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A bundle blob that is gone (a disk restored from an old backup, a
/// first start after an upgrade with a damaged store) must not keep the
/// daemon from starting: the skill is left out of the feeds with a reason
/// that names the blob, and everything else serves.
#[test]
fn a_missing_bundle_blob_leaves_the_skill_out_and_the_daemon_serves() {
    let d = Daemon::start();
    d.publish_skill("gone-skill", "1.0.0");
    d.publish_skill("kept-skill", "1.0.0");
    let (dir, data) = d.stop();
    // Forget the zips rendered so far, and lose one bundle.
    let db = rusqlite::Connection::open(data.join("skillreg.db")).unwrap();
    db.execute("DELETE FROM feed_archives", []).unwrap();
    let cksum: String = db
        .query_row(
            "SELECT v.cksum FROM versions v JOIN packages p ON p.id = v.package_id WHERE p.name = 'gone-skill'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(db);
    std::fs::remove_file(data.join("blobs/sha256").join(&cksum[..2]).join(&cksum)).unwrap();

    let d = Daemon::start_in(dir, data, "");
    d.assert_serving();
    let (status, index) = get(&format!("{}/.well-known/agent-skills/index.json", d.url));
    assert_eq!(status, 200);
    assert!(
        index.contains("kept-skill") && !index.contains("gone-skill"),
        "{index}"
    );
    let (status, feeds) = d.admin_json("GET", "/admin/v1/feeds", "");
    assert_eq!(status, 200);
    let reasons: Vec<String> = feeds["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["name"] == "gone-skill")
        .map(|l| l["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(!reasons.is_empty(), "{feeds:#}");
    assert!(
        reasons
            .iter()
            .all(|r| r.contains(&cksum) && r.contains("retried")),
        "{reasons:?}"
    );
}

/// A tree written by one `export-static` and yanked from since loses the
/// yanked version's zip at the next export, even from another process.
#[test]
fn a_static_tree_loses_the_zips_of_yanked_versions_on_the_next_export() {
    let d = Daemon::start();
    d.publish_skill("tree-skill", "1.0.0");
    d.publish_skill("tree-skill", "1.1.0");
    let site = tempfile::tempdir().unwrap();
    let out = site.path().join("tree");
    d.export_static(&out, "http://tree.example");
    let files = out.join(".well-known/agent-skills/files");
    let before = zips_in(&files);
    assert_eq!(before.len(), 2, "both approved versions' zips: {before:?}");

    yank(&d, "tree-skill", "1.0.0");
    d.export_static(&out, "http://tree.example");
    let after = zips_in(&files);
    assert_eq!(after.len(), 1, "{after:?}");
    let index = std::fs::read_to_string(out.join(".well-known/agent-skills/index.json")).unwrap();
    assert!(
        index.contains(&after[0]),
        "the one left is the listed one: {index}"
    );
}

/// `export-marketplace` writes only what it owns: a `.claude-plugin` that
/// is a link is refused (never written through), and a run that fails
/// leaves no half-built folder that would make the next run refuse.
#[test]
fn export_marketplace_refuses_a_linked_manifest_folder_and_writes_nothing_through_it() {
    let d = Daemon::start();
    d.publish_skill("market-skill", "1.0.0");
    let site = tempfile::tempdir().unwrap();
    let out = site.path().join("mkt");
    let elsewhere = site.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let first = cli(&[
        "export-marketplace",
        out.to_str().unwrap(),
        "--data",
        d.data.to_str().unwrap(),
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out
        .join("plugins/market-skill/skills/market-skill/SKILL.md")
        .is_file());

    std::fs::remove_dir_all(out.join(".claude-plugin")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join(".claude-plugin")).unwrap();
    let second = cli(&[
        "export-marketplace",
        out.to_str().unwrap(),
        "--data",
        d.data.to_str().unwrap(),
    ]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("is not a folder"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        zips_in(&elsewhere),
        Vec::<String>::new(),
        "nothing written through the link"
    );
    let leftovers: Vec<String> = zips_in(&out)
        .into_iter()
        .filter(|n| n.starts_with(".plugins"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

/// What a publisher writes reaches terminals: `clawhub inspect` prints
/// descriptions and files raw, the skills CLI and Claude Code print
/// descriptions. Escape sequences arrive as harmless characters, search
/// text is bounded, and a path that is not a file is answered from the
/// stored file list.
#[test]
fn publisher_text_cannot_drive_a_terminal_and_searches_are_bounded() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("esc-skill");
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: esc-skill\ndescription: \"Clean \\e[2J\\e]8;;http://evil.example\\e\\\\ here\"\nmetadata:\n  version: \"1.0.0\"\n---\n# x\n",
    )
    .unwrap();
    std::fs::write(skill.join("notes.txt"), "tab\there\nesc \u{1b}[31mred\n").unwrap();
    let out = cli(&[
        "publish",
        skill.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &d.admin,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for path in [
        "/.well-known/agent-skills/index.json",
        "/claude/marketplace.json",
        "/api/v1/skills/esc-skill",
        "/api/v1/search?q=clean",
        "/api/v1/skills/esc-skill/file?path=notes.txt",
    ] {
        let (status, body) = get(&format!("{}{path}", d.url));
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            !body.contains('\u{1b}'),
            "{path} carries an escape: {body:?}"
        );
        assert!(
            !body.contains("\\u001b"),
            "{path} carries an escaped escape: {body}"
        );
    }
    let (_, file) = get(&format!(
        "{}/api/v1/skills/esc-skill/file?path=notes.txt",
        d.url
    ));
    assert!(
        file.contains("tab\there\n"),
        "tabs and newlines stay: {file:?}"
    );

    let (status, body) = get(&format!(
        "{}/api/v1/skills/esc-skill/file?path=missing.md",
        d.url
    ));
    assert_eq!(status, 404, "{body}");
    let words = vec!["a"; 17].join("+");
    for route in ["search", "skills"] {
        let (status, body) = get(&format!("{}/api/v1/{route}?q={words}", d.url));
        assert_eq!(status, 400, "{route}: {body}");
        assert!(body.contains("fewer words"), "{body}");
    }
    d.assert_serving();
}
