//! Deterministic crash recovery: for every crash point of a publish, a
//! yank, a review decision, a mirror sync and the static export
//! (`skillreg::crash_point`), the daemon is started with the point armed,
//! dies there (abort: no destructor, no flush, as SIGKILL), and is restarted
//! on the same data dir. Then: fsck is clean, what was acknowledged before
//! is there, the interrupted change is wholly visible (committed) or wholly
//! absent (not), and the same change is accepted again, or refused as
//! already done.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// The crash tests' registry, with what every scenario starts from.
struct Setup {
    registry: CrashRegistry,
    toml: String,
    export: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let registry = CrashRegistry::new();
        Setup {
            toml: registry.toml.clone(),
            export: registry.export.clone(),
            registry,
        }
    }

    /// The daemon with what every scenario starts from, acknowledged:
    /// `keep@1.0.0` published, `vault@1.0.0` mirrored and pending.
    fn daemon(&self) -> Daemon {
        let d = Daemon::with_config(&self.toml);
        d.publish_skill("keep", "1.0.0");
        assert_eq!(d.sync_source("team")["status"], "completed");
        assert_eq!(d.pending_versions(), ["vault@1.0.0"]);
        d
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends an operation; `Some((status, body))`, or `None` when the daemon
/// died before answering.
fn attempt(d: &Daemon, op: &str) -> Option<(u16, String)> {
    let token = d.admin.as_str();
    let r = match op {
        "publish" => {
            let body = skill_publish_body("crashy", "1.0.0", &skill_tarball("crashy", "1.0.0"));
            agent()
                .put(format!("{}/api/v1/crates/new", d.url))
                .header("Authorization", token)
                .send(&body[..])
        }
        "yank" => agent()
            .delete(format!("{}/api/v1/crates/keep/1.0.0/yank", d.url))
            .header("Authorization", token)
            .call(),
        "review" => agent()
            .post(format!("{}/admin/v1/packages/vault/1.0.0/approve", d.url))
            .header("Authorization", token)
            .send("{}".as_bytes()),
        "mirror" => agent()
            .post(format!("{}/admin/v1/sync", d.url))
            .header("Authorization", token)
            .send(r#"{"source":"auto"}"#.as_bytes()),
        _ => unreachable!("{op}"),
    };
    let mut r = r.ok()?;
    let status = r.status().as_u16();
    Some((status, r.body_mut().read_to_string().unwrap_or_default()))
}

/// What the operation `op` leaves when it took effect: the version it
/// touches and that version's status and yank flag.
fn effect(op: &str) -> (&'static str, &'static str, bool) {
    match op {
        "publish" => ("crashy@1.0.0", "approved", false),
        "yank" => ("keep@1.0.0", "approved", true),
        "review" => ("vault@1.0.0", "approved", false),
        "mirror" => ("gear@1.0.0", "approved", false),
        _ => unreachable!(),
    }
}

/// The state before the operation, for the version it touches.
fn before(op: &str) -> Option<(&'static str, bool)> {
    match op {
        "publish" | "mirror" => None,
        "yank" => Some(("approved", false)),
        "review" => Some(("pending", false)),
        _ => unreachable!(),
    }
}

fn state(recovered: &Recovered, key: &str) -> Option<(String, bool)> {
    recovered.get(key).map(|v| (v.status.clone(), v.yanked))
}

/// Arms `point`, runs its operation, sees the daemon die, restarts and
/// checks recovery; `committed` says on which side of the commit the point
/// lies, so which outcome is the only right one.
fn crash_and_recover(point: &str, committed: bool) {
    let op = point.split('.').next().unwrap();
    let setup = Setup::new();
    let d = setup.daemon();
    let acknowledged = d.assert_recovered(Some(&setup.export)).0;
    let mut d = d.restart(&[(CRASH_ENV, point)]);
    let mut interrupted_run = None;
    if let Some((status, body)) = attempt(&d, op) {
        // A sync is answered 202 before it runs; anything else armed must
        // not be acknowledged.
        assert!(
            op == "mirror" && status == 202,
            "{point}: answered {status} {body} instead of dying"
        );
        let started: serde_json::Value = serde_json::from_str(&body).unwrap();
        interrupted_run = started["run"].as_i64();
    }
    d.expect_crash_at(point);
    let d = d.restart(&[]);
    if let Some(id) = interrupted_run {
        let resumed = d.wait_resumed("auto", id);
        assert_eq!(resumed["status"], "completed", "{point}: {resumed}");
    }
    d.wait_runs_idle();
    let (recovered, orphans) = d.assert_recovered(Some(&setup.export));

    // Acknowledged before the crash: all there, but the one version the
    // interrupted operation touches.
    let (key, status, yanked) = effect(op);
    for (k, v) in &acknowledged {
        if k != key {
            assert_eq!(recovered.get(k), Some(v), "{point}: {k} changed");
        }
    }
    let after = state(&recovered, key);
    // An interrupted sync run is marked failed and resumes at the start,
    // so a mirrored version is there after the restart either way.
    let committed = committed || op == "mirror";
    let want = if committed {
        Some((status.to_string(), yanked))
    } else {
        before(op).map(|(s, y)| (s.to_string(), y))
    };
    assert_eq!(
        after, want,
        "{point}: {key} is neither wholly done nor undone"
    );
    // Before the commit a new blob is left unnamed; fsck lists it as an
    // orphan only. Otherwise nothing is orphaned.
    let blob_first = point.ends_with("after_blob") || point.ends_with("before_commit");
    let new_blob = op == "publish";
    assert_eq!(
        orphans > 0,
        blob_first && new_blob,
        "{point}: {orphans} orphan(s)"
    );

    // The same operation again: accepted, or refused as done already.
    match op {
        "mirror" => {
            let run = d.sync_source("auto");
            assert_eq!(run["status"], "completed", "{point}: {run}");
            let added = run["added"].as_i64().unwrap();
            assert_eq!(added, if committed { 0 } else { 1 }, "{point}: {run}");
        }
        _ => {
            let (code, body) = attempt(&d, op).expect("the restarted daemon answers");
            match (op, committed) {
                ("publish", true) => {
                    assert_eq!(code, 409, "{point}: {body}");
                    assert!(body.contains("already exists"), "{point}: {body}");
                }
                ("review", true) => {
                    assert_eq!(code, 409, "{point}: {body}");
                    assert!(body.contains("already approved"), "{point}: {body}");
                }
                _ => assert_eq!(code, 200, "{point}: {body}"),
            }
        }
    }
    let (done, orphans) = d.assert_recovered(Some(&setup.export));
    assert_eq!(
        state(&done, key),
        Some((status.to_string(), yanked)),
        "{point}: done after the retry"
    );
    assert_eq!(orphans, 0, "{point}: the retry names the blob left before");
    d.assert_serving();
    let _ = &setup.registry;
}

macro_rules! crash_tests {
    ($($test:ident: $point:literal, $committed:expr;)*) => {
        $(
            #[test]
            fn $test() {
                crash_and_recover($point, $committed);
            }
        )*
    };
}

crash_tests! {
    publish_after_blob: "publish.after_blob", false;
    publish_before_commit: "publish.before_commit", false;
    publish_after_commit: "publish.after_commit", true;
    publish_after_render: "publish.after_render", true;
    yank_before_commit: "yank.before_commit", false;
    yank_after_commit: "yank.after_commit", true;
    yank_after_render: "yank.after_render", true;
    review_before_commit: "review.before_commit", false;
    review_after_commit: "review.after_commit", true;
    review_after_render: "review.after_render", true;
    mirror_after_blob: "mirror.after_blob", false;
    mirror_before_commit: "mirror.before_commit", false;
    mirror_after_commit: "mirror.after_commit", true;
    mirror_after_render: "mirror.after_render", true;
    mirror_before_finish: "mirror.before_finish", true;
}

/// A crash while the static export is written at start-up (a temp file
/// durable but not renamed; a file renamed, the snapshot and timestamp
/// after it not): the next start finishes the tree and leaves no temp file.
fn crash_in_export_at_start(point: &str) {
    let setup = Setup::new();
    let d = setup.daemon();
    let acknowledged = d.assert_recovered(Some(&setup.export)).0;
    let (dir, data) = d.stop();
    expect_crash_at_start(dir.path(), &data, point);
    // The interrupted export's tree still verifies: snapshots of the
    // earlier run go only once the new timestamp is in place.
    assert_tree_files_verify(&setup.export);
    let d = Daemon::start_in(dir, data, &setup.toml);
    let (recovered, _) = d.assert_recovered(Some(&setup.export));
    assert_eq!(recovered, acknowledged, "{point}: the store is as it was");
    d.publish_skill("after", "1.0.0");
    d.assert_recovered(Some(&setup.export));
    assert_tree_files_verify(&setup.export);
}

/// Every index file of the export tree is what its snapshot vouches for.
fn assert_tree_files_verify(tree: &Path) {
    let index = tree.join("index");
    let read = |p: &str| std::fs::read(index.join(p)).unwrap();
    let payload = |bytes: Vec<u8>| {
        let e: skillreg::index::sign::Envelope = serde_json::from_slice(&bytes).unwrap();
        e.payload_bytes().unwrap()
    };
    let ts: skillreg::index::sign::Timestamp =
        skillreg::index::sign::parse(&payload(read("_skillreg/timestamp.json"))).unwrap();
    let snapshot_path = skillreg::index::sign::paths::snapshot(ts.snapshot.version);
    let snapshot: skillreg::index::sign::Snapshot =
        skillreg::index::sign::parse(&payload(read(&snapshot_path))).unwrap();
    for (path, meta) in &listed_files(&snapshot, &read) {
        let bytes = read(path);
        assert_eq!(
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
            meta.sha256,
            "{path} in the export tree"
        );
    }
}

#[test]
fn export_before_first_rename_at_start() {
    crash_in_export_at_start("export.before_rename:1");
}

#[test]
fn export_before_a_later_rename_at_start() {
    crash_in_export_at_start("export.before_rename:4");
}

#[test]
fn export_after_a_rename_at_start() {
    crash_in_export_at_start("export.after_rename:2");
}

/// Every documented point has a scenario here or in `tests/crash_loop.rs`.
#[test]
fn every_point_is_documented_once() {
    let mut names = skillreg::crash_point::POINTS.to_vec();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), skillreg::crash_point::POINTS.len());
    let reliability =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/RELIABILITY.md")).unwrap();
    for point in skillreg::crash_point::POINTS {
        assert!(
            reliability.contains(&format!("`{point}`")),
            "{point} is not in RELIABILITY.md's table"
        );
    }
}
