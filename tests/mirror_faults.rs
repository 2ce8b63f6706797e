//! Fault injection between an upstream daemon and a mirroring downstream
//! daemon: a [`FaultProxy`] sits between them (the upstream's `public_url`
//! is the proxy, so downloads pass through it too) and answers 500s, hangs,
//! truncates, corrupts and replaces bodies, or is pointed at another
//! registry. Every faulty run must be recorded as failed with its cause,
//! store nothing that failed a check, and leave local data as it was; a
//! daemon killed mid-sync must finish the work after a restart without
//! redoing what was done.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TIMESTAMP: &str = "/index/_skillreg/timestamp.json";
/// Every package index file of the `skill-*` names (not their statements,
/// which live below `/index/_skillreg/sig/`).
const SKILL_INDEX_FILES: &str = "/index/sk/il/";
const DOWNLOADS: &str = "/download";

fn runs(d: &Daemon) -> Vec<serde_json::Value> {
    let (status, body) = d.admin_json("GET", "/admin/v1/sync-runs", "");
    assert_eq!(status, 200, "{body}");
    body["runs"].as_array().unwrap().clone()
}

fn run_by_id(d: &Daemon, id: i64) -> Option<serde_json::Value> {
    runs(d).into_iter().find(|r| r["id"] == id)
}

/// Starts a sync of source `up`; returns the run id.
fn start_sync(d: &Daemon) -> i64 {
    let (status, started) = d.admin_json("POST", "/admin/v1/sync", r#"{"source":"up"}"#);
    assert_eq!(status, 202, "{started}");
    started["run"].as_i64().unwrap()
}

/// Waits for run `id` to finish (at most `limit`); returns it.
fn wait_run(d: &Daemon, id: i64, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let run = run_by_id(d, id).unwrap_or_else(|| panic!("no run {id}"));
        if run["status"] != "running" {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} still running after {limit:?}: {run}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits (at most 60 s) until the proxy has had a request whose path
/// contains `pattern`.
fn wait_for_request(proxy: &FaultProxy, pattern: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.count(pattern) == 0 {
        assert!(
            Instant::now() < deadline,
            "no request for {pattern} in 60 s: {:#?}",
            proxy.requests()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a sync and waits for its run to finish.
fn sync(d: &Daemon) -> serde_json::Value {
    let id = start_sync(d);
    wait_run(d, id, Duration::from_secs(60))
}

/// The run's error and detail as one string, for "names the cause" checks.
fn why(run: &serde_json::Value) -> String {
    let detail: Vec<&str> = run["detail"]
        .as_array()
        .map(|d| d.iter().filter_map(|l| l.as_str()).collect())
        .unwrap_or_default();
    format!(
        "{}\n{}",
        run["error"].as_str().unwrap_or(""),
        detail.join("\n")
    )
}

fn assert_failed(run: &serde_json::Value, causes: &[&str]) {
    assert_eq!(run["status"], "failed", "{run:#}");
    assert!(
        run["error"].as_str().is_some_and(|e| !e.is_empty()),
        "a failed run carries its error: {run:#}"
    );
    let text = why(run);
    for cause in causes {
        assert!(
            text.contains(cause),
            "the run should name `{cause}`: {run:#}"
        );
    }
    // Advice is for the admin of this registry, not the install client's.
    for client_advice in [
        "--registry",
        "--offline",
        "--trust-root",
        "nothing was installed",
    ] {
        assert!(
            !text.contains(client_advice),
            "the run should not say `{client_advice}`: {run:#}"
        );
    }
}

fn pending(d: &Daemon) -> Vec<(String, String)> {
    let (status, body) = d.admin_json("GET", "/admin/v1/pending", "");
    assert_eq!(status, 200, "{body}");
    let mut out: Vec<(String, String)> = body["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Nothing was imported and nothing was damaged: no debris in the blob
/// store, the same versions, blobs and index bodies as `before`, nothing
/// pending, and the daemon still serves.
fn assert_untouched(down: &Daemon, before: &Fingerprint) {
    assert_eq!(blob_debris(&down.data), Vec::<PathBuf>::new());
    assert_eq!(&down.fingerprint(), before);
    assert_eq!(pending(down), vec![]);
    down.assert_serving();
}

/// An upstream daemon behind a fresh proxy: its `public_url` is the proxy,
/// so config.json's `dl` sends downloads through the proxy as well.
fn upstream_behind_proxy(skills: &[(&str, &str)]) -> (FaultProxy, Daemon) {
    let proxy = FaultProxy::start("");
    let upstream = Daemon::with_config(&format!("public_url = {:?}\n", proxy.url));
    proxy.set_upstream(&upstream.url);
    for (name, version) in skills {
        upstream.publish_skill(name, version);
    }
    (proxy, upstream)
}

fn source_config(proxy: &FaultProxy, root: &Path, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"up\"\nkind = \"registry\"\nurl = {:?}\nroot_key = {:?}\ninterval = \"0\"\n{extra}",
        proxy.url, root
    )
}

/// Upstream (with `skills`) → proxy → downstream mirroring it.
struct Pair {
    proxy: FaultProxy,
    upstream: Daemon,
    down: Daemon,
    dir: tempfile::TempDir,
    config: String,
}

fn pair(skills: &[(&str, &str)]) -> Pair {
    let (proxy, upstream) = upstream_behind_proxy(skills);
    let dir = tempfile::tempdir().unwrap();
    let root = export_root(&upstream.data, dir.path(), "upstream-root.json");
    let config = source_config(&proxy, &root, "");
    let down = Daemon::with_config(&config);
    Pair {
        proxy,
        upstream,
        down,
        dir,
        config,
    }
}

fn all_versions(skills: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = skills
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

const TWO: [(&str, &str); 2] = [("skill-alpha", "1.0.0"), ("skill-beta", "2.1.0")];

#[test]
fn upstream_500s_fail_the_run_and_retries_with_backoff_recover() {
    let skills = [
        ("skill-alpha", "1.0.0"),
        ("skill-beta", "1.0.0"),
        ("skill-gamma", "0.3.0"),
    ];
    let p = pair(&skills);
    let before = p.down.fingerprint();

    // Always 500: every attempt (the first and three retries) fails.
    p.proxy.fault(TIMESTAMP, Fault::Status(500), None);
    let run = sync(&p.down);
    assert_failed(&run, &["HTTP 500", "timestamp.json", "injected fault"]);
    assert_eq!(p.proxy.count(TIMESTAMP), 4, "{:#?}", p.proxy.requests());
    assert_eq!(
        p.proxy.count(SKILL_INDEX_FILES) + p.proxy.count(DOWNLOADS),
        0,
        "nothing is fetched before the metadata verifies"
    );
    assert_untouched(&p.down, &before);

    // Twice 500, then the real answer: the third attempt succeeds, after
    // waits that grow (200 ms, then 400 ms).
    p.proxy.clear_faults();
    p.proxy.reset_counts();
    p.proxy.fault(TIMESTAMP, Fault::Status(500), Some(2));
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(run["error"], serde_json::Value::Null, "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(3), Some(3)),
        "{run:#}"
    );
    let at = p.proxy.times(TIMESTAMP);
    assert_eq!(at.len(), 3, "{:#?}", p.proxy.requests());
    let (first, second) = (at[1] - at[0], at[2] - at[1]);
    assert!(
        first >= Duration::from_millis(190) && second >= Duration::from_millis(390),
        "backoff between attempts: {first:?}, then {second:?}"
    );
    assert_eq!(pending(&p.down), all_versions(&skills));

    // A download answering 500 every time fails only that version, after
    // the same retries; the run is failed and names it.
    p.upstream.publish_skill("skill-delta", "1.0.0");
    p.proxy.clear_faults();
    p.proxy.reset_counts();
    p.proxy
        .fault("skill-delta/1.0.0/download", Fault::Status(503), None);
    let before = p.down.fingerprint();
    let run = sync(&p.down);
    assert_failed(&run, &["skill-delta@1.0.0", "HTTP 503"]);
    assert_eq!(run["failed"].as_i64(), Some(1), "{run:#}");
    assert_eq!(p.proxy.count("skill-delta/1.0.0/download"), 4);
    assert_eq!(blob_debris(&p.down.data), Vec::<PathBuf>::new());
    assert_eq!(p.down.fingerprint(), before);
    // The three earlier versions stay pending; skill-delta is not among them.
    assert_eq!(pending(&p.down), all_versions(&skills));
    p.down.assert_serving();
}

#[test]
fn a_hanging_upstream_fails_the_run_in_bounded_time() {
    let p = pair(&TWO);
    let before = p.down.fingerprint();

    // The timestamp never comes: each attempt must give up on its own.
    p.proxy.fault(TIMESTAMP, Fault::Hang, None);
    let started = Instant::now();
    let id = start_sync(&p.down);
    // While the upstream hangs (the proxy holds the run's first request),
    // the downstream serves and reports the run.
    wait_for_request(&p.proxy, TIMESTAMP);
    p.down.assert_serving();
    assert_eq!(run_by_id(&p.down, id).unwrap()["status"], "running");
    let run = wait_run(&p.down, id, Duration::from_secs(90));
    let took = started.elapsed();
    assert_failed(&run, &["timestamp.json", "timeout"]);
    assert!(took < Duration::from_secs(90), "took {took:?}");
    assert_eq!(p.proxy.count(TIMESTAMP), 4, "{:#?}", p.proxy.requests());
    assert_untouched(&p.down, &before);

    // A download that stalls once is retried and the run completes.
    p.proxy.clear_faults();
    p.proxy
        .fault("skill-alpha/1.0.0/download", Fault::Hang, Some(1));
    let run = wait_run(&p.down, start_sync(&p.down), Duration::from_secs(90));
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(p.proxy.count("skill-alpha/1.0.0/download"), 2);
    assert_eq!(pending(&p.down), all_versions(&TWO));
}

#[test]
fn truncated_bodies_fail_the_run_and_store_nothing() {
    let p = pair(&TWO);
    let before = p.down.fingerprint();

    // Index files cut short (first, while no verified copy is cached).
    p.proxy.fault(SKILL_INDEX_FILES, Fault::Truncate(25), None);
    let run = sync(&p.down);
    assert_failed(
        &run,
        &["sk/il/skill-alpha", "sk/il/skill-beta", "broke off"],
    );
    assert_eq!(p.proxy.count(DOWNLOADS), 0, "{:#?}", p.proxy.requests());
    assert_untouched(&p.down, &before);

    // Bundles cut short (the original Content-Length, then the connection
    // closes): a transport failure, retried, then failed per version.
    p.proxy.clear_faults();
    p.proxy.fault(DOWNLOADS, Fault::Truncate(40), None);
    p.proxy.reset_counts();
    let run = sync(&p.down);
    assert_failed(
        &run,
        &["skill-alpha@1.0.0", "skill-beta@2.1.0", "broke off"],
    );
    assert_eq!(run["failed"].as_i64(), Some(2), "{run:#}");
    assert_eq!(p.proxy.count("skill-alpha/1.0.0/download"), 4);
    assert_untouched(&p.down, &before);

    // The metadata cut short (the timestamp): the whole run fails.
    p.proxy.clear_faults();
    p.proxy.fault(TIMESTAMP, Fault::Truncate(30), None);
    let run = sync(&p.down);
    assert_failed(&run, &["cannot use the upstream", "timestamp.json"]);
    assert_untouched(&p.down, &before);

    // Without faults the same source syncs: the failures left nothing behind.
    p.proxy.clear_faults();
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(pending(&p.down), all_versions(&TWO));
}

#[test]
fn a_corrupted_bundle_is_not_stored_and_a_clean_resync_stores_it() {
    let p = pair(&TWO);
    let before = p.down.fingerprint();

    p.proxy.fault(DOWNLOADS, Fault::FlipByte, None);
    let run = sync(&p.down);
    assert_failed(
        &run,
        &[
            "skill-alpha@1.0.0: the bundle's sha256 is",
            "the signed index says",
            "not stored",
            "skill-beta@2.1.0",
            "2 item(s) failed and were not stored",
        ],
    );
    // A checksum failure is not transient: no retries.
    assert_eq!(p.proxy.count("skill-alpha/1.0.0/download"), 1);
    assert_untouched(&p.down, &before);
    // The files were not recorded as done, so the next run tries again.
    {
        let store = skillreg::store::Store::open(&p.down.data).unwrap();
        for path in ["sk/il/skill-alpha", "sk/il/skill-beta"] {
            assert_eq!(
                store.mirror_state("up", &format!("file:{path}")).unwrap(),
                None,
                "{path}"
            );
        }
    }

    p.proxy.clear_faults();
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(2), Some(2)),
        "{run:#}"
    );
    // The file is processed again; its bytes come from the client's cache
    // of verified index files (the snapshot still lists that hash).
    assert_eq!(
        p.proxy.count("/index/sk/il/skill-alpha"),
        1,
        "verified once, reused from the cache"
    );
    assert_eq!(pending(&p.down), all_versions(&TWO));
    assert_eq!(blob_debris(&p.down.data), Vec::<PathBuf>::new());
    // What is stored is exactly what the upstream published.
    let after = p.down.fingerprint();
    let upstream = p.upstream.fingerprint();
    assert_eq!(after.blobs, upstream.bundle_blobs());
    assert_eq!(
        after
            .published
            .iter()
            .map(|(n, v, c, _)| (n, v, c))
            .collect::<Vec<_>>(),
        upstream
            .published
            .iter()
            .map(|(n, v, c, _)| (n, v, c))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_tampered_index_file_fails_on_the_snapshot_hash() {
    let p = pair(&TWO);
    let before = p.down.fingerprint();

    // One byte changed in every package index file.
    p.proxy.fault(SKILL_INDEX_FILES, Fault::FlipByte, None);
    let run = sync(&p.down);
    assert_failed(
        &run,
        &[
            "sk/il/skill-alpha",
            "mix-and-match",
            "the signed snapshot lists",
            "still lists the same hash, so nothing was published meanwhile",
        ],
    );
    assert_eq!(run["failed"].as_i64(), Some(2), "{run:#}");
    // A verification failure is not retried, and nothing is downloaded.
    assert_eq!(p.proxy.count("/index/sk/il/skill-alpha"), 1);
    assert_eq!(p.proxy.count(DOWNLOADS), 0);
    assert_untouched(&p.down, &before);

    // A well-formed line pointing elsewhere (another checksum) is refused
    // the same way: it is not the file the snapshot lists.
    let (_, real) = get(&format!("{}/index/sk/il/skill-alpha", p.upstream.url));
    let forged = {
        let mut line: serde_json::Value = serde_json::from_str(real.trim()).unwrap();
        line["cksum"] = serde_json::json!("0".repeat(64));
        format!("{line}\n").into_bytes()
    };
    p.proxy.clear_faults();
    p.proxy
        .fault("/index/sk/il/skill-alpha", Fault::Replace(forged), None);
    p.proxy
        .fault("/index/sk/il/skill-beta", Fault::FlipByte, None);
    let run = sync(&p.down);
    assert_failed(&run, &["sk/il/skill-alpha", "mix-and-match"]);
    assert_untouched(&p.down, &before);
}

#[test]
fn a_changed_upstream_key_is_refused_and_local_data_survives() {
    let p = pair(&TWO);
    // A good sync, approved: local, served data.
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    for (name, version) in TWO {
        let (status, body) = p.down.admin_json(
            "POST",
            &format!("/admin/v1/packages/{name}/{version}/approve"),
            r#"{"note":"ok"}"#,
        );
        assert_eq!(status, 200, "{body}");
    }
    let index_url = format!("{}/index/sk/il/skill-alpha", p.down.url);
    let download = format!("{}/api/v1/crates/skill-alpha/1.0.0/download", p.down.url);
    let (status, served_index) = get(&index_url);
    assert_eq!(status, 200);
    let (status, served_bundle) = get_bytes(&download);
    assert_eq!(status, 200);
    let before = p.down.fingerprint();

    // Another registry (other keys) now answers at the upstream's URL, with
    // the same names and more.
    let impostor = Daemon::with_config(&format!("public_url = {:?}\n", p.proxy.url));
    impostor.publish_skill("skill-alpha", "1.0.0");
    impostor.publish_skill("skill-alpha", "9.0.0");
    impostor.publish_skill("skill-omega", "1.0.0");
    p.proxy.set_upstream(&impostor.url);
    p.proxy.reset_counts();
    for _ in 0..2 {
        let run = sync(&p.down);
        assert_failed(&run, &["foreign root", "the source's `root_key`"]);
        assert_untouched(&p.down, &before);
    }
    assert_eq!(
        p.proxy.count(SKILL_INDEX_FILES) + p.proxy.count(DOWNLOADS),
        0,
        "{:#?}",
        p.proxy.requests()
    );
    // Still served exactly as before.
    assert_eq!(get(&index_url), (200, served_index));
    assert_eq!(get_bytes(&download), (200, served_bundle));

    // The real upstream back: nothing to do, nothing lost.
    p.proxy.set_upstream(&p.upstream.url);
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["unchanged"].as_i64()),
        (Some(0), Some(2)),
        "{run:#}"
    );
    assert_eq!(p.down.fingerprint(), before);
}

#[test]
fn killed_mid_sync_the_restart_resumes_and_finishes() {
    const N: usize = 40;
    let names: Vec<String> = (0..N).map(|i| format!("skill-{i:02}")).collect();
    let skills: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1.0.0")).collect();
    let Pair {
        proxy,
        upstream: _upstream,
        down,
        dir: _dir,
        config,
    } = pair(&skills);
    proxy.fault(DOWNLOADS, Fault::Delay(Duration::from_millis(100)), None);

    let first = start_sync(&down);
    let deadline = Instant::now() + Duration::from_secs(60);
    // A running run shows its counts so far.
    let shown = loop {
        let run = run_by_id(&down, first).unwrap();
        let added = run["added"].as_i64().unwrap();
        if pending(&down).len() >= 8 && added > 0 {
            assert_eq!(run["status"], "running", "{run:#}");
            break added;
        }
        assert!(Instant::now() < deadline, "no progress: {:#?}", runs(&down));
        std::thread::sleep(Duration::from_millis(50));
    };
    // SIGKILL (Daemon::stop kills the child), keeping the data.
    let (dir, data) = down.stop();

    // What the killed daemon had finished: index files recorded as done,
    // and versions stored.
    let (done, stored) = {
        let store = skillreg::store::Store::open(&data).unwrap();
        let done: Vec<String> = names
            .iter()
            .map(|n| skillreg::index::path_for(n))
            .filter(|path| {
                store
                    .mirror_state("up", &format!("file:{path}"))
                    .unwrap()
                    .is_some()
            })
            .collect();
        (done, store.published().unwrap().len())
    };
    assert!(
        !done.is_empty() && done.len() < N,
        "the kill should land mid-run: {} of {N} files done",
        done.len()
    );
    assert!(
        stored >= done.len() && stored <= done.len() + 1,
        "{stored} stored, {} done",
        done.len()
    );
    for path in &done {
        assert_eq!(proxy.count(&format!("/index/{path}")), 1, "{path}");
    }

    // Restart on the same data and config.
    let down = Daemon::start_in(dir, data, &config);
    let interrupted = run_by_id(&down, first).unwrap();
    assert_failed(&interrupted, &["interrupted"]);
    // It keeps the counts it had recorded (at most a second behind).
    let added = interrupted["added"].as_i64().unwrap();
    assert!(
        added >= shown && added <= stored as i64,
        "{interrupted:#}: {shown} shown before the kill, {stored} stored"
    );

    // The restart resumes on its own (no POST /admin/v1/sync).
    let deadline = Instant::now() + Duration::from_secs(20);
    let resumed = loop {
        if let Some(run) = runs(&down)
            .into_iter()
            .find(|r| r["id"].as_i64() > Some(first))
        {
            break run["id"].as_i64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no run started after the restart: {:#?}\nlog:\n{}",
            runs(&down),
            down.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let run = wait_run(&down, resumed, Duration::from_secs(120));
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(run["added"].as_i64(), Some((N - stored) as i64), "{run:#}");
    let expected: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.clone(), "1.0.0".to_string()))
        .collect();
    assert_eq!(pending(&down), expected, "every version exactly once");

    // Finished work was not redone: the done files were not fetched again,
    // nor their bundles; every other file was fetched.
    for path in &done {
        assert_eq!(proxy.count(&format!("/index/{path}")), 1, "{path}");
        let name = path.rsplit('/').next().unwrap();
        assert_eq!(proxy.count(&format!("/{name}/1.0.0/download")), 1, "{name}");
    }
    for name in &names {
        let path = skillreg::index::path_for(name);
        assert!(proxy.count(&format!("/index/{path}")) >= 1, "{path}");
    }
    assert_eq!(blob_debris(&down.data), Vec::<PathBuf>::new());

    // And a later run finds nothing to do.
    let run = sync(&down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["unchanged"].as_i64()),
        (Some(0), Some(N as i64)),
        "{run:#}"
    );
}

/// A mirrored upstream synced once, then synced again with nothing changed
/// upstream; returns the proxy's requests during the second run.
fn no_change_resync() -> Vec<String> {
    let skills = [
        ("skill-alpha", "1.0.0"),
        ("skill-beta", "1.0.0"),
        ("skill-gamma", "1.0.0"),
    ];
    let p = pair(&skills);
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    let before = p.down.fingerprint();

    p.proxy.reset_counts();
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (
            run["discovered"].as_i64(),
            run["added"].as_i64(),
            run["updated"].as_i64(),
            run["unchanged"].as_i64(),
            run["failed"].as_i64(),
        ),
        (Some(3), Some(0), Some(0), Some(3), Some(0)),
        "{run:#}"
    );
    assert_eq!(p.down.fingerprint(), before);
    p.proxy.requests()
}

/// One budget for a quiet re-sync (there were two, at most 6 and at most 3
/// requests; the daemon meets the stricter): at most three requests, all
/// signed metadata. No package index file, statement of one, or bundle;
/// today they are the root check, the chain walk's next root and the
/// timestamp, which names the snapshot already verified.
#[test]
fn a_no_change_resync_fetches_only_signed_metadata_in_three_requests() {
    let requests = no_change_resync();
    let allowed = [
        "/index/_skillreg/root/1.json",
        "/index/_skillreg/root/2.json",
        TIMESTAMP,
        "/index/_skillreg/snapshot/",
        "/index/config.json",
        "/index/_skillreg/sig/config.json",
    ];
    for r in &requests {
        assert!(
            allowed.iter().any(|a| r.starts_with(a)),
            "{r} fetched: {requests:#?}"
        );
    }
    assert!(
        requests.len() <= 3,
        "{} requests: {requests:#?}",
        requests.len()
    );
}

#[test]
fn a_publish_upstream_during_a_sync_is_taken_not_failed() {
    let p = pair(&[("skill-alpha", "1.0.0"), ("skill-beta", "1.0.0")]);
    // Hold the index file while publishing upstream: the file then no
    // longer matches the snapshot the run started from.
    let gate = Gate::new();
    p.proxy.fault(
        "/index/sk/il/skill-alpha",
        Fault::Hold(gate.clone()),
        Some(1),
    );
    let id = start_sync(&p.down);
    wait_for_request(&p.proxy, "/index/sk/il/skill-alpha");
    p.upstream.publish_skill("skill-alpha", "1.1.0");
    gate.open();
    let run = wait_run(&p.down, id, Duration::from_secs(60));
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["failed"].as_i64()),
        (Some(3), Some(0)),
        "{run:#}"
    );
    assert!(
        why(&run).contains("sk/il/skill-alpha: changed upstream during the run"),
        "{run:#}"
    );
    assert_eq!(
        pending(&p.down),
        [
            ("skill-alpha".to_string(), "1.0.0".to_string()),
            ("skill-alpha".to_string(), "1.1.0".to_string()),
            ("skill-beta".to_string(), "1.0.0".to_string())
        ]
    );
}

/// The files the upstream's current snapshot lists, through its tree.
fn upstream_listing(
    d: &Daemon,
) -> std::collections::BTreeMap<String, skillreg::index::sign::FileMeta> {
    use skillreg::index::sign::{self, paths, Envelope};
    let index = |rel: &str| {
        let (status, body) = get_bytes(&format!("{}/index/{rel}", d.url));
        assert_eq!(status, 200, "{rel}");
        body
    };
    let payload = |b: Vec<u8>| Envelope::from_bytes(&b).unwrap().payload_bytes().unwrap();
    let ts: sign::Timestamp = sign::parse(&payload(index(paths::TIMESTAMP))).unwrap();
    let top: sign::Snapshot =
        sign::parse(&payload(index(&paths::snapshot(ts.snapshot.version)))).unwrap();
    listed_files(&top, index)
}

#[test]
fn a_publish_upstream_costs_the_mirror_only_the_nodes_on_changed_paths() {
    let skills: Vec<(String, &str)> = (0..30).map(|i| (format!("skill-{i}"), "1.0.0")).collect();
    let skills: Vec<(&str, &str)> = skills.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let p = pair(&skills);
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    let first_nodes = p.proxy.count("/index/_skillreg/tree/");
    p.upstream.wait_for_feeds();
    let before = upstream_listing(&p.upstream);

    p.upstream.publish_skill("skill-7", "1.1.0");
    // The feed documents follow the publish in a snapshot of their own.
    p.upstream.wait_for_feeds();
    let changed = upstream_listing(&p.upstream)
        .into_iter()
        .filter(|(path, meta)| before.get(path) != Some(meta))
        .count();
    // Without the client's cache of verified nodes, so that what is not
    // fetched is what the mirror's own records let it skip.
    let mut dirs = vec![p.down.data.join("mirror/state")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.ends_with("tree") {
                std::fs::remove_dir_all(&path).unwrap();
            } else if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    p.proxy.reset_counts();
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(
        (run["added"].as_i64(), run["unchanged"].as_i64()),
        (Some(1), Some(30)),
        "{run:#}"
    );
    // Only the nodes on the paths of the changed files (the package's index
    // file and the feed documents that list it) and of `config.json` (its
    // `dl` locates the new bundle), and only the package's index file.
    let nodes = p.proxy.count("/index/_skillreg/tree/");
    assert!(
        nodes <= 3 * (changed + 1) && nodes < first_nodes / 4,
        "{nodes} nodes fetched for {changed} changed files (the first sync: {first_nodes}): {:#?}",
        p.proxy.requests()
    );
    let index_files = p
        .proxy
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("/index/sk/"))
        .collect::<Vec<_>>();
    assert_eq!(index_files, ["/index/sk/il/skill-7"]);
}

#[test]
fn a_tampered_snapshot_node_fails_the_run_and_stores_nothing() {
    let p = pair(&TWO);
    let before = p.down.fingerprint();
    // Every snapshot-tree node with one byte changed: none matches the
    // hash its parent pins, so nothing below the signed top can be read.
    p.proxy
        .fault("/index/_skillreg/tree/", Fault::FlipByte, None);
    let run = sync(&p.down);
    assert_failed(
        &run,
        &[
            "snapshot node `",
            "mix-and-match",
            "stale, from another snapshot, or rolled back",
            "the signed snapshot lists",
        ],
    );
    assert_eq!(p.proxy.count("/index/sk/il/"), 0, "no index file read");
    assert_eq!(p.proxy.count(DOWNLOADS), 0);
    assert_untouched(&p.down, &before);
    // The same nodes, served intact: the next run takes everything.
    p.proxy.clear_faults();
    let run = sync(&p.down);
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(pending(&p.down), all_versions(&TWO));
}
