//! The static export: a signed tree that nginx serves and real cargo uses
//! exactly like the daemon; once on demand, and kept current on every change.

mod common;

use common::*;
use skillreg::index::sign::{paths, types, FileMeta, Snapshot};
use std::path::Path;

/// Checks the signed chain of a tree the way a client would: the root
/// verifies itself, the timestamp verifies with the root's timestamp role,
/// the snapshot matches the timestamp and verifies with the index role, and
/// every file the snapshot lists has exactly the listed bytes.
fn assert_tree_verifies(
    fetch: impl Fn(&str) -> Vec<u8>,
) -> (Snapshot, std::collections::BTreeMap<String, FileMeta>) {
    let (root_env, root) = root_of(&fetch(paths::ROOT));
    root_env
        .verify(types::ROOT, "root", &root.roles["root"], &root.keys)
        .unwrap();
    let snapshot = verify_signed_index(&root, &fetch).1;
    let listed = listed_files(&snapshot, &fetch);
    (snapshot, listed)
}

fn http_bytes(url: &str) -> Vec<u8> {
    let r = get_with(url, &[]);
    assert_eq!(r.status(), 200, "{url}");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut out).unwrap();
    out
}

fn base_crate(cargo: &Cargo, version: &str) -> std::path::PathBuf {
    cargo.krate(
        &format!("base-{version}"),
        &format!(
            "[package]\nname = \"ex-base\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\n"
        ),
        &[("lib.rs", &format!("pub fn version() -> &'static str {{ \"{version}\" }}\n"))],
    )
}

#[test]
fn cargo_resolves_and_fetches_from_nginx_serving_an_export() {
    let d = Daemon::start();
    let publisher = d.token("publisher", "alice");
    let to_daemon = Cargo::new(&d.url, false);
    let publish = PUBLISH;
    to_daemon.ok(&base_crate(&to_daemon, "0.1.0"), &publish, Some(&publisher));
    to_daemon.ok(&base_crate(&to_daemon, "0.1.1"), &publish, Some(&publisher));
    to_daemon.ok(
        &to_daemon.work_dir(),
        &[
            "yank",
            "--registry",
            "skillreg",
            "--version",
            "0.1.1",
            "ex-base",
        ],
        Some(&publisher),
    );
    d.publish_skill("exported-skill", "1.0.0");

    let site = public_tempdir();
    let root = site.path().join("tree");
    let nginx = Nginx::serve(&root);
    let printed = d.export_static(&root, &nginx.url);
    assert!(printed.contains("exported 2 packages"));

    // Index files and their statements are byte-identical to the daemon's.
    for path in ["ex/-b/ex-base", "ex/po/exported-skill"] {
        let from_daemon = http_bytes(&format!("{}/index/{path}", d.url));
        assert_eq!(
            http_bytes(&format!("{}/index/{path}", nginx.url)),
            from_daemon,
            "{path}"
        );
        let statement = paths::statement(path);
        assert_eq!(
            http_bytes(&format!("{}/index/{statement}", nginx.url)),
            http_bytes(&format!("{}/index/{statement}", d.url))
        );
    }
    let config: serde_json::Value =
        serde_json::from_slice(&http_bytes(&format!("{}/index/config.json", nginx.url))).unwrap();
    assert_eq!(
        config["dl"],
        format!("{}/blobs/{{sha256-checksum}}", nginx.url)
    );
    let (_, listed) = assert_tree_verifies(|p| http_bytes(&format!("{}/index/{p}", nginx.url)));
    assert!(listed.contains_key("config.json"));
    assert!(listed.contains_key("ex/-b/ex-base"));

    // skillreg install against nginx: the same verification, from a pinned root.
    let trust = export_root(&d.data, site.path(), "root.json");
    d.stop();
    let user = ClientEnv::new();
    let project = user.project("p");
    user.install(&nginx.url, &trust, &project, &["exported-skill"]);
    assert!(project
        .join(".claude/skills/exported-skill/SKILL.md")
        .is_file());
    let out = user.run(&["verify", "--dir", project.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Real cargo against nginx: resolves (skipping the yanked 0.1.1), fetches, builds.
    let from_nginx = Cargo::new(&nginx.url, false);
    let consumer = from_nginx.krate(
        "consumer",
        "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nex-base = { version = \"0.1\", registry = \"skillreg\" }\n",
        &[("main.rs", "fn main() { println!(\"{}\", ex_base::version()); }\n")],
    );
    let run = from_nginx.ok(&consumer, &["run", "-q"], None);
    assert_eq!(run.trim(), "0.1.0", "the yanked 0.1.1 is not chosen");
    assert_eq!(lock_version(&consumer, "ex-base"), "0.1.0");
}

#[test]
fn configured_export_follows_every_change() {
    let site = public_tempdir();
    let root = site.path().join("tree");
    let nginx = Nginx::serve(&root);
    // No grace for superseded snapshots (signing.md §8; tests/signing.rs
    // covers it), so that pruning shows: only the one before the current
    // snapshot stays.
    let d = Daemon::with_config(&format!(
        "[export]\ndir = {:?}\nbase_url = {:?}\n[signing]\nsuperseded_grace_secs = 0\n",
        root, nginx.url
    ));
    assert!(
        root.join("index/config.json").is_file(),
        "the tree exists from the start"
    );

    d.publish_skill("auto-one", "1.0.0");
    d.wait_for_export();
    let path = "au/to/auto-one";
    assert_eq!(
        http_bytes(&format!("{}/index/{path}", nginx.url)),
        http_bytes(&format!("{}/index/{path}", d.url))
    );
    let line: serde_json::Value =
        serde_json::from_slice(&http_bytes(&format!("{}/index/{path}", nginx.url))).unwrap();
    let blob = http_bytes(&format!(
        "{}/blobs/{}",
        nginx.url,
        line["cksum"].as_str().unwrap()
    ));
    assert_eq!(
        skillreg::blobs::Sha256Digest::of(&blob).to_hex(),
        line["cksum"]
    );
    let (snapshot, listed) =
        assert_tree_verifies(|p| http_bytes(&format!("{}/index/{p}", nginx.url)));
    assert!(listed.contains_key(path));

    // A yank reaches the tree just after the API answers.
    let (status, _) = delete(
        &format!("{}/api/v1/crates/auto-one/1.0.0/yank", d.url),
        Some(&d.admin),
    );
    assert_eq!(status, 200);
    d.wait_for_export();
    let yanked = String::from_utf8(http_bytes(&format!("{}/index/{path}", nginx.url))).unwrap();
    assert!(yanked.contains("\"yanked\":true"), "{yanked}");
    let (later, _) = assert_tree_verifies(|p| http_bytes(&format!("{}/index/{p}", nginx.url)));
    assert!(later.version > snapshot.version);

    // Written atomically: no temp files left behind, old snapshots pruned.
    let files = tree(&root);
    assert!(
        files
            .keys()
            .all(|p| !p.rsplit('/').next().unwrap().starts_with('.')),
        "{:?}",
        files.keys()
    );
    let snapshots = files
        .keys()
        .filter(|p| p.starts_with("index/_skillreg/snapshot/"))
        .count();
    assert!(snapshots <= 2, "{snapshots} snapshots kept");

    // A restart rebuilds the same tree for the same data. The tree is
    // emptied first, so a restart that wrote nothing cannot pass.
    let unsigned = |files: std::collections::BTreeMap<String, Vec<u8>>| {
        files
            .into_iter()
            .filter(|(p, _)| !p.starts_with("index/_skillreg/"))
            .collect::<Vec<_>>()
    };
    let before = unsigned(tree(&root));
    let blob = format!("blobs/{}", line["cksum"].as_str().unwrap());
    for want in ["index/config.json", "index/au/to/auto-one", blob.as_str()] {
        assert!(
            before.iter().any(|(p, _)| p == want),
            "{want} in {before:?}"
        );
    }
    let (dir, data) = d.stop();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
    assert!(tree(&root).is_empty());
    let config = format!("[export]\ndir = {:?}\nbase_url = {:?}\n", root, nginx.url);
    let _d = Daemon::start_in(dir, data, &config);
    assert_eq!(unsigned(tree(&root)), before);
    let (rebuilt, _) = assert_tree_verifies(|p| http_bytes(&format!("{}/index/{p}", nginx.url)));
    assert!(
        rebuilt.version > later.version,
        "the restart signs a newer snapshot: v{} after v{}",
        rebuilt.version,
        later.version
    );
}

#[test]
fn export_refuses_bad_arguments_and_writes_nothing() {
    let d = Daemon::start();
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("t");
    let out = cli(&[
        "export-static",
        target.to_str().unwrap(),
        "--data",
        d.data.to_str().unwrap(),
        "--base-url",
        "ftp://x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://"));
    let out = cli(&[
        "export-static",
        target.to_str().unwrap(),
        "--data",
        out_dir.path().join("none").to_str().unwrap(),
        "--base-url",
        "http://x",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no skillreg database"));
    assert!(!Path::new(&target).exists());
}

/// ClawHub's files of a tree come after its signed files: a version too
/// long for a file name, or a file in the way of a package's folder, keeps
/// neither the index nor the snapshot from reaching the tree, and neither
/// stops a restart or an `export-static`.
#[test]
fn clawhub_files_that_cannot_be_written_hold_back_nothing_signed() {
    let site = tempfile::tempdir().unwrap();
    let root = site.path().join("tree");
    let toml = format!(
        "[export]\ndir = {:?}\nbase_url = \"http://tree.example\"\n",
        root
    );
    let d = Daemon::with_config(&toml);
    let timestamp = || std::fs::read(root.join("index/_skillreg/timestamp.json")).unwrap();

    // SemVer takes a pre-release of any length; a file name does not.
    let long = format!("1.0.0-{}", "a".repeat(240));
    let src = tempfile::tempdir().unwrap();
    let dir = skill_dir(src.path(), "long-version", &long, "A long version.");
    let before = timestamp();
    d.publish_dir("skill", "long-version", &long, &dir, &[]);
    d.wait_for_export();
    assert_ne!(timestamp(), before, "the tree was signed again");
    assert!(root.join("index/lo/ng/long-version").is_file());
    let versions =
        std::fs::read_to_string(root.join("api/v1/skills/long-version/versions/index.json"))
            .unwrap();
    assert!(versions.contains(&long), "listed, with no file of its own");

    // Something in the way of a package's ClawHub folder.
    std::fs::create_dir_all(root.join("api/v1/skills")).unwrap();
    std::fs::write(root.join("api/v1/skills/in-the-way"), "junk").unwrap();
    let before = timestamp();
    d.publish_skill("in-the-way", "1.0.0");
    d.wait_for_export();
    assert_ne!(timestamp(), before, "the tree was signed again");
    assert!(root.join("index/in/-t/in-the-way").is_file());
    d.assert_serving();

    // Once the way is clear, the next retry writes them.
    std::fs::remove_file(root.join("api/v1/skills/in-the-way")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !root.join("api/v1/skills/in-the-way/index.json").is_file() {
        assert!(std::time::Instant::now() < deadline, "not retried");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // A restart and a one-off export of the same data both succeed.
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, &toml);
    let other = tempfile::tempdir().unwrap();
    d.export_static(&other.path().join("tree"), "http://other.example");
    d.assert_serving();
}
