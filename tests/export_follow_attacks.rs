//! Attacks on the static tree that follows the store off the publish path
//! (`src/registry/export_follow.rs`): races of publishes and yanks, a write
//! that fails and recovers, and a clean shutdown right after a publish.
//! Each ends with the tree on disk verifying as a client would and naming
//! exactly what the daemon acknowledged.

mod common;

use common::*;
use skillreg::index::sign::{paths, types};
use std::path::{Path, PathBuf};

/// A daemon whose tree is written to a fresh directory.
fn exporting() -> (Daemon, tempfile::TempDir, PathBuf) {
    let site = tempfile::tempdir().unwrap();
    let root = site.path().join("tree");
    let toml = format!(
        "[export]\ndir = {:?}\nbase_url = \"http://tree.example\"\n\
         [limits]\nmax_concurrent_uploads_per_token = 16\nmax_concurrent_uploads_per_ip = 16\n",
        root
    );
    (Daemon::with_config(&toml), site, root)
}

/// Verifies the tree in `root` from its root to every listed file, and
/// returns the listed paths.
fn tree_verifies(root: &Path) -> std::collections::BTreeSet<String> {
    let fetch = |p: &str| {
        std::fs::read(root.join("index").join(p)).unwrap_or_else(|e| panic!("index/{p}: {e}"))
    };
    let (root_env, signed_root) = root_of(&fetch(paths::ROOT));
    root_env
        .verify(
            types::ROOT,
            "root",
            &signed_root.roles["root"],
            &signed_root.keys,
        )
        .unwrap();
    let snapshot = verify_signed_index(&signed_root, fetch).1;
    listed_files(&snapshot, fetch).into_keys().collect()
}

/// The (version, cksum, yanked) lines of an index file.
fn lines(body: &str) -> Vec<(String, String, bool)> {
    body.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["vers"].as_str().unwrap().to_string(),
                v["cksum"].as_str().unwrap().to_string(),
                v["yanked"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

/// The tree's index file of `name` equals the daemon's.
fn tree_matches_daemon(d: &Daemon, root: &Path, path: &str) -> String {
    let tree = std::fs::read_to_string(root.join("index").join(path)).unwrap();
    let (status, served) = get(&format!("{}/index/{path}", d.url));
    assert_eq!(status, 200, "{path}");
    assert_eq!(tree, served, "the tree's {path} is the daemon's");
    tree
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Eight publishes of one version with different bytes, at once: one wins,
/// the others are refused with a 4xx, and the tree (once caught up) names
/// the winner's bytes, as the daemon does.
#[test]
fn one_version_published_eight_times_at_once_has_one_winner_in_the_tree() {
    let (d, _site, root) = exporting();
    let bodies: Vec<(Vec<u8>, String)> = (0..8)
        .map(|i| {
            let src = tempfile::tempdir().unwrap();
            let dir = skill_dir(src.path(), "raced", "1.0.0", &format!("Variant {i}."));
            let tarball = skillreg::bundle::pack::pack_dir(&dir).unwrap();
            let cksum = sha256_hex(&tarball);
            (skill_publish_body("raced", "1.0.0", &tarball), cksum)
        })
        .collect();
    let url = format!("{}/api/v1/crates/new", d.url);
    let outcomes: Vec<(u16, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = bodies
            .iter()
            .map(|(body, cksum)| {
                let (url, admin) = (&url, &d.admin);
                s.spawn(move || {
                    let (status, text) = put(url, Some(admin), body);
                    (status, text, cksum.clone())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "statuses: {:?}",
        outcomes.iter().map(|o| o.0).collect::<Vec<_>>()
    );
    let winners: Vec<_> = outcomes.iter().filter(|o| o.0 == 200).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    for (status, text, _) in &outcomes {
        assert!(*status == 200 || *status == 409, "{status}: {text}");
    }
    d.wait_for_export();
    let listed = tree_verifies(&root);
    assert!(listed.contains("ra/ce/raced"));
    let index = tree_matches_daemon(&d, &root, "ra/ce/raced");
    assert_eq!(
        lines(&index),
        vec![("1.0.0".to_string(), winners[0].2.clone(), false)]
    );
    d.assert_serving();
}

/// Publishes and yanks of the same packages from six threads while the
/// export task flushes: after the tree catches up it verifies and each
/// package's file there is the daemon's, with every acknowledged version.
#[test]
fn a_burst_of_publishes_and_yanks_all_reach_the_tree() {
    let (d, _site, root) = exporting();
    let names = ["burst-a", "burst-b", "burst-c"];
    let acknowledged: Vec<(String, String, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let d = &d;
                let name = names[t % names.len()];
                s.spawn(move || {
                    let mut done = Vec::new();
                    for i in 0..5 {
                        let version = format!("{t}.{i}.0");
                        let body =
                            skill_publish_body(name, &version, &skill_tarball(name, &version));
                        let (status, text) = put(
                            &format!("{}/api/v1/crates/new", d.url),
                            Some(&d.admin),
                            &body,
                        );
                        assert_eq!(status, 200, "{name}@{version}: {text}");
                        let yank = i % 2 == 1;
                        if yank {
                            let (status, text) = delete(
                                &format!("{}/api/v1/crates/{name}/{version}/yank", d.url),
                                Some(&d.admin),
                            );
                            assert_eq!(status, 200, "yank {name}@{version}: {text}");
                        }
                        done.push((name.to_string(), version, yank));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    d.wait_for_export();
    let listed = tree_verifies(&root);
    for name in names {
        let path = skillreg::index::path_for(name);
        assert!(listed.contains(&path), "{path}");
        let index = tree_matches_daemon(&d, &root, &path);
        let got: std::collections::BTreeSet<(String, bool)> =
            lines(&index).into_iter().map(|(v, _, y)| (v, y)).collect();
        let want: std::collections::BTreeSet<(String, bool)> = acknowledged
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, v, y)| (v.clone(), *y))
            .collect();
        assert_eq!(got, want, "{name}");
    }
    d.assert_serving();
}

/// The pending count of `/metrics`.
fn pending(d: &Daemon) -> u64 {
    let mut r = get_with(
        &format!("{}/metrics", d.url),
        &[("authorization", &d.admin)],
    );
    let body = r.body_mut().read_to_string().unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("skillreg_export_pending_changes "))
        .expect("the metric is shown")
        .parse()
        .unwrap()
}

/// A file in the way of a package's index folder: the change stays
/// pending (the metric says so) and the signed tree is not moved on;
/// once the file is gone the next flush writes it.
#[test]
fn a_write_in_the_way_stays_pending_then_reaches_the_tree() {
    let (d, _site, root) = exporting();
    d.publish_skill("before", "1.0.0");
    d.wait_for_export();
    let timestamp = || std::fs::read(root.join("index/_skillreg/timestamp.json")).unwrap();
    let before = timestamp();
    // `blocked`'s index file is index/bl/oc/blocked.
    std::fs::create_dir_all(root.join("index/bl")).unwrap();
    std::fs::write(root.join("index/bl/oc"), "in the way").unwrap();
    d.publish_skill("blocked", "1.0.0");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(pending(&d) > 0, "the change is still pending");
    assert_eq!(timestamp(), before, "no timestamp names a missing file");
    std::fs::remove_file(root.join("index/bl/oc")).unwrap();
    d.wait_for_export();
    let listed = tree_verifies(&root);
    assert!(listed.contains("bl/oc/blocked"));
    tree_matches_daemon(&d, &root, "bl/oc/blocked");
    d.assert_serving();
}

/// SIGTERM right after publishes are acknowledged: the daemon's final flush
/// writes them before it exits.
#[test]
fn a_clean_shutdown_right_after_publishes_leaves_them_in_the_tree() {
    let (mut d, _site, root) = exporting();
    for i in 0..5 {
        d.publish_skill("last-words", &format!("1.{i}.0"));
    }
    let pid = d.child.id() as libc::pid_t;
    // SAFETY: the pid is our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", d.log());
    tree_verifies(&root);
    let index = std::fs::read_to_string(root.join("index/la/st/last-words")).unwrap();
    let versions: Vec<String> = lines(&index).into_iter().map(|(v, ..)| v).collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]);
}

/// As above, but a reader of the tree while the write keeps failing: the
/// old snapshot is still the signed one, so every file it lists must still
/// have the bytes it lists. The exporter writes files at new paths (the new
/// package's index file) before it replaces any the old snapshot lists (the
/// agent-skills feed), so the failure leaves the old tree whole.
#[test]
fn a_write_in_the_way_leaves_the_tree_verifying_meanwhile() {
    let (d, _site, root) = exporting();
    d.publish_skill("before", "1.0.0");
    d.wait_for_export();
    std::fs::create_dir_all(root.join("index/bl")).unwrap();
    std::fs::write(root.join("index/bl/oc"), "in the way").unwrap();
    d.publish_skill("blocked", "1.0.0");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(pending(&d) > 0, "the change is still pending");
    tree_verifies(&root);
    d.assert_serving();
}

/// The same at start: `export-static` over a tree an earlier export left,
/// with the path of a package published since blocked. The exporter starts
/// with no record of what it wrote, so it asks the tree which paths are
/// new; the export fails, and the earlier tree still verifies (with every
/// existing file replaced first, the earlier snapshot named changed bytes).
#[test]
fn an_export_over_an_earlier_tree_that_fails_leaves_it_verifying() {
    let d = Daemon::start();
    d.publish_skill("before", "1.0.0");
    let site = tempfile::tempdir().unwrap();
    let root = site.path().join("tree");
    d.export_static(&root, "http://tree.example");
    let before = tree_verifies(&root);
    d.publish_skill("before", "1.1.0");
    d.publish_skill("blocked", "1.0.0");
    std::fs::create_dir_all(root.join("index/bl")).unwrap();
    std::fs::write(root.join("index/bl/oc"), "in the way").unwrap();
    let run = d.run_export_static(&root, "http://tree.example");
    assert!(!run.status.success(), "the export had a file in its way");
    assert_eq!(tree_verifies(&root), before, "the earlier tree, whole");
    let index = std::fs::read_to_string(root.join("index/be/fo/before")).unwrap();
    assert_eq!(lines(&index).len(), 1, "not yet replaced");
    d.assert_serving();
}

/// SIGTERM while the tree's bucket never answers (Garage stopped with
/// SIGSTOP): the final flush cannot finish, and must not keep the daemon
/// from exiting for longer than its shutdown grace and a bounded wait
/// (a start writes the whole tree again anyway).
#[test]
fn a_clean_shutdown_with_a_silent_bucket_still_exits() {
    let garage = Garage::start("term-tree");
    let toml = format!(
        "[export]\ntarget = \"s3://term-tree/t\"\nbase_url = \"http://tree.example\"\n\
         [limits]\nshutdown_grace_secs = 5\n{}",
        garage.s3_toml()
    );
    let mut d = Daemon::with_config(&toml);
    d.publish_skill("before", "1.0.0");
    d.wait_for_export();
    garage.freeze();
    d.publish_skill("during", "1.0.0");
    let pid = d.child.id() as libc::pid_t;
    let started = std::time::Instant::now();
    // SAFETY: the pid is our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let limit = std::time::Duration::from_secs(20);
    let exited = loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    eprintln!("SIGTERM to exit: {:?} ({exited:?})", started.elapsed());
    garage.thaw();
    assert!(
        exited.is_some(),
        "the daemon had not exited {limit:?} after SIGTERM with its tree's bucket silent:\n{}",
        d.log()
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
