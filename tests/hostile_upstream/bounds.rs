//! Bounds an upstream cannot push past: the walk's stack and descriptors,
//! the time a bundle's checks take, memory for a catalog, the disk and time
//! all of a source's git work may use, and no git process outliving its
//! call.

use std::time::{Duration, Instant};

use crate::common::git_http::{git, repo_with, GitHttp};
use crate::support::*;

/// A checkout holding a plugin with a deep (but within `max_entries`)
/// chain of directories: `safe_fs::walk` recurses once per level on the
/// sync thread's stack and holds one fd per level.
#[test]
fn a_deeply_nested_checkout_does_not_crash_the_daemon() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&m.join("deep"), "deep");
    let depth = std::env::var("ATTACK_DEPTH").map_or(9_000, |v| v.parse().unwrap());
    nest(&m.join("deep"), depth);
    marketplace(
        &m,
        serde_json::json!([{"name": "deep", "source": "./deep"}]),
    );
    let d = daemon_for(&m, "");
    let run = sync_within(&d, "evil", Duration::from_secs(300)).expect("the sync hung");
    let log = d.log();
    assert!(
        run.is_some(),
        "the daemon died during the sync; its log ends:\n{}",
        &log[log.len().saturating_sub(600)..]
    );
    d.assert_serving();
}

/// Every marketplace entry is packed, and every packed bundle is held in
/// memory until the whole catalog has been read: N entries naming the same
/// (incompressible, in-limits) plugin directory cost N bundles of RAM.
#[test]
fn many_entries_naming_one_big_plugin_do_not_multiply_memory() {
    const MIB: usize = 1024 * 1024;
    let work = tempfile::tempdir().unwrap();
    let peak = |entries: usize| {
        let m = work.path().join(format!("market-{entries}"));
        plugin(&m.join("big"), "big");
        write(
            &m.join("big/noise.bin"),
            noise(4 * MIB, 0x9e37_79b9_7f4a_7c15),
        );
        let list: Vec<serde_json::Value> = (0..entries)
            .map(|i| serde_json::json!({"name": format!("big-{i}"), "source": "./big"}))
            .collect();
        marketplace(&m, serde_json::Value::Array(list));
        let d = daemon_for(&m, "");
        let run = sync_within(&d, "evil", Duration::from_secs(900))
            .expect("sync hung")
            .expect("daemon died");
        assert_eq!(run["status"], "completed", "{run}");
        peak_rss(d.child.id())
    };
    let one = peak(1);
    let many = peak(12);
    eprintln!(
        "peak RSS: 1 entry {} MiB, 12 entries {} MiB",
        one / MIB as u64,
        many / MIB as u64
    );
    assert!(
        many < one + 4 * 4 * MIB as u64,
        "12 entries naming one 4 MiB plugin took {} MiB more at peak than one entry",
        (many - one) / MIB as u64
    );
}

/// A 4 MiB marketplace.json of `plugins: [0,0,0,…]` (within the 16 MiB
/// cap): two parsed copies of the array, a Skipped and a detail line per
/// element, and the whole detail stored in the run row.
#[test]
fn a_catalog_within_its_size_cap_does_not_take_gigabytes() {
    const MIB: u64 = 1024 * 1024;
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    let mut json = String::from(r#"{"name":"m","plugins":["#);
    while json.len() < 4 * MIB as usize {
        json.push_str("0,");
    }
    json.push_str("0]}");
    write(&m.join(".claude-plugin/marketplace.json"), &json);
    let d = daemon_for(&m, "");
    let base = peak_rss(d.child.id());
    let run = sync_within(&d, "evil", Duration::from_secs(900))
        .expect("sync hung")
        .expect("daemon died");
    let grown = peak_rss(d.child.id()) - base;
    let db = std::fs::metadata(d.data.join("skillreg.db")).unwrap().len();
    eprintln!(
        "4 MiB catalog: peak RSS grew {} MiB; {} detail lines; db {} MiB",
        grown / MIB,
        detail(&run).len(),
        db / MIB
    );
    assert!(
        grown < 64 * MIB,
        "a 4 MiB catalog made the daemon grow by {} MiB",
        grown / MIB
    );
}

/// One clone per distinct URL string, each capped by git_max_bytes, no cap
/// on the total, never removed: spellings of one repository on an allowed
/// host (`//r.git`, `/./r.git`, `/r.git/`, …) each cost a full clone.
#[test]
fn spellings_of_one_url_do_not_multiply_the_clone_cap() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let big = work.path().join("big");
    repo_with(
        &big,
        &[
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"big","version":"1.0.0"}"#,
            ),
            ("noise.bin", &noise(3 * 1024 * 1024, 0x1234_5678_9abc_def1)),
        ],
    );
    server.publish("big", &big);
    let base = server.nginx.url.clone();
    let spellings = [
        format!("{base}/big.git"),
        format!("{base}//big.git"),
        format!("{base}/./big.git"),
        format!("{base}/big.git/"),
        format!("{base}///big.git"),
        format!("{base}/x/../big.git"),
        format!("{base}/big.git//"),
        format!("{base}/./././big.git"),
    ];
    let m = work.path().join("market");
    let list: Vec<serde_json::Value> = spellings
        .iter()
        .enumerate()
        .map(|(i, u)| serde_json::json!({"name": format!("big-{i}"), "source": {"source": "url", "url": u}}))
        .collect();
    marketplace(&m, serde_json::Value::Array(list));
    let cap: u64 = 10 * 1024 * 1024;
    let d = daemon_for(
        &m,
        &format!(
            "remote_hosts = [\"http://{}\"]\ngit_max_bytes = {cap}",
            server.host()
        ),
    );
    let run = sync_within(&d, "evil", Duration::from_secs(600))
        .expect("sync hung")
        .expect("daemon died");
    assert_eq!(run["status"], "completed", "{run}");
    let remotes = d.data.join("mirror/state/evil/remotes");
    let clones = std::fs::read_dir(&remotes).unwrap().count();
    let total = du(&remotes);
    eprintln!(
        "{clones} clones, {} MiB in total for a cap of {} MiB",
        total >> 20,
        cap >> 20
    );
    assert!(
        total <= 2 * cap,
        "{clones} clones of one repository hold {} MiB, git_max_bytes is {} MiB",
        total >> 20,
        cap >> 20
    );
}

/// git_timeout bounds one fetch; a catalog names as many remotes as it
/// likes on an allowed host that never answers: the run takes N × timeout.
#[test]
fn a_tarpit_host_cannot_hold_a_sync_for_n_times_git_timeout() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s); // accept, never answer
        }
    });
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    let list: Vec<serde_json::Value> = (0..10)
        .map(|i| serde_json::json!({"name": format!("t-{i}"), "source": {"source": "url", "url": format!("http://{addr}/r{i}.git")}}))
        .collect();
    marketplace(&m, serde_json::Value::Array(list));
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{addr}\"]\ngit_timeout = \"2s\""),
    );
    let t = Instant::now();
    let run = sync_within(&d, "evil", Duration::from_secs(120))
        .expect("sync hung")
        .expect("daemon died");
    let took = t.elapsed();
    eprintln!("10 tarpit remotes, git_timeout 2 s: the run took {took:?}");
    assert_detail(&run, &["plugin t-9:", "took longer than 2 s"]);
    assert!(took < Duration::from_secs(8), "the run took {took:?}");
}

/// git fetch ends with `git maintenance run --auto --detach` (git ≥ 2.47
/// detaches by default): it calls setsid(), leaves the process group that
/// `kill_group` signals, and runs `git gc` (repack of the whole clone) after
/// the fetch has "finished", outside git_timeout and the disk poll. A remote
/// with > 27 loose objects under `objects/17/` (gc.auto = 6700) triggers it.
#[test]
fn no_git_process_outlives_its_fetch() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let repo = work.path().join("r");
    std::fs::create_dir_all(repo.join("c")).unwrap();
    // Candidate blobs; keep 30 whose object id starts with 17.
    for i in 0..12_000 {
        std::fs::write(repo.join(format!("c/{i}")), format!("blob {i}\n")).unwrap();
    }
    let list: Vec<String> = (0..12_000).map(|i| format!("c/{i}")).collect();
    std::fs::write(work.path().join("paths"), list.join("\n")).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git hash-object --stdin-paths < {}",
            work.path().join("paths").display()
        ))
        .current_dir(&repo)
        .output()
        .unwrap();
    let hashes = String::from_utf8(out.stdout).unwrap();
    let mut kept = 0;
    for (i, h) in hashes.lines().enumerate() {
        if h.starts_with("17") && kept < 30 {
            kept += 1;
        } else {
            std::fs::remove_file(repo.join(format!("c/{i}"))).unwrap();
        }
    }
    assert_eq!(kept, 30);
    // Enough content that the repack takes a while.
    let mut files: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("big/{i}.bin"), noise(2_000_000, 0x5151_0000 + i)))
        .collect();
    files.push((
        "plugin/.claude-plugin/plugin.json".into(),
        br#"{"name":"gc","version":"1.0.0"}"#.to_vec(),
    ));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_slice()))
        .collect();
    repo_with(&repo, &refs);
    server.publish("r", &repo); // a local bare clone keeps the objects loose
    let m = work.path().join("market");
    marketplace(
        &m,
        // The plugin is a small sub-directory: the objects that make gc
        // run (and take long enough to be seen) are not packed.
        serde_json::json!([{"name": "gc", "source": {"source": "git-subdir", "url": server.url("r"), "path": "plugin"}}]),
    );
    let d = daemon_for(
        &m,
        &format!(
            "remote_hosts = [\"http://{}\"]\ngit_max_bytes = 1073741824\ngit_timeout = \"5m\"",
            server.host()
        ),
    );
    let state = d.data.join("mirror/state");
    let daemon = std::fs::read_to_string(format!("/proc/{}/stat", d.child.id())).unwrap();
    let f: Vec<&str> = daemon
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let daemon_sid = f[3].to_string();
    // Watch the clones throughout: a git process in a session of its own
    // has left the group kill_group signals.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (stop, state, sid) = (stop.clone(), state.clone(), daemon_sid.clone());
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeMap::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for (pid, line) in processes_in(&state) {
                    if !line.contains(&format!(" sid {sid}:")) {
                        seen.entry(pid).or_insert(line);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };
    for _ in 0..2 {
        let run = sync_within(&d, "evil", Duration::from_secs(300))
            .expect("sync hung")
            .expect("daemon died");
        assert_eq!(run["status"], "completed", "{run}");
    }
    std::thread::sleep(Duration::from_secs(3));
    let still: Vec<(u32, String)> = processes_in(&state);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let escaped = watcher.join().unwrap();
    assert!(
        escaped.is_empty(),
        "git processes in their own session (the daemon is sid {daemon_sid}) ran in the clones: {escaped:#?}\nstill running 3 s after the last run ended: {still:#?}"
    );
}

/// The disk cap is a poll every 250 ms: a tiny pack whose tree names one
/// 32 MiB zero blob 64 times (2 GiB of work tree from ~40 KB of objects)
/// writes far past git_max_bytes before the poll sees it, and what was
/// written stays in the clone after the fetch is refused.
#[test]
fn a_checkout_bomb_stays_near_git_max_bytes() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let repo = work.path().join("bomb");
    std::fs::create_dir_all(&repo).unwrap();
    git(Some(&repo), &["init", "-q"]);
    write(
        &repo.join(".claude-plugin/plugin.json"),
        r#"{"name":"bomb","version":"1.0.0"}"#,
    );
    git(Some(&repo), &["add", "-A"]);
    let zeros = work.path().join("zeros");
    std::fs::write(&zeros, vec![0u8; 32 * 1024 * 1024]).unwrap();
    let blob = git(Some(&repo), &["hash-object", "-w", zeros.to_str().unwrap()]);
    for i in 0..64 {
        git(
            Some(&repo),
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},z/{i}.bin"),
            ],
        );
    }
    git(Some(&repo), &["commit", "-qm", "bomb"]);
    server.publish("bomb", &repo);
    let served = du(&server.bare("bomb"));
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "bomb", "source": {"source": "url", "url": server.url("bomb")}}]),
    );
    let cap: u64 = 4 * 1024 * 1024;
    let d = daemon_for(
        &m,
        &format!(
            "remote_hosts = [\"http://{}\"]\ngit_max_bytes = {cap}",
            server.host()
        ),
    );
    let run = sync_within(&d, "evil", Duration::from_secs(300))
        .expect("sync hung")
        .expect("daemon died");
    let on_disk = du(&d.data.join("mirror/state/evil/remotes"));
    eprintln!(
        "served repository {} KiB; clone left on disk {} MiB; cap {} MiB",
        served >> 10,
        on_disk >> 20,
        cap >> 20
    );
    assert_detail(&run, &["plugin bomb:", "git_max_bytes"]);
    assert!(
        on_disk <= 2 * cap,
        "the refused clone holds {} MiB, git_max_bytes is {} MiB",
        on_disk >> 20,
        cap >> 20
    );
}

/// The O(D³) prefix folding of `inspect` reached by a remote repository:
/// a plugin 1,500 directories deep (a path of 3,000 bytes, which git checks
/// out) keeps the sync busy for minutes; each package is inspected at
/// least three times (packing, strict validation, the registry's import).
#[test]
fn a_deep_remote_plugin_does_not_hold_a_sync_for_minutes() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let repo = work.path().join("deep");
    let deep = (0..1_500).map(|_| "d").collect::<Vec<_>>().join("/");
    repo_with(
        &repo,
        &[
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"deep","version":"1.0.0"}"#,
            ),
            (&format!("{deep}/x"), b"x"),
        ],
    );
    server.publish("deep", &repo);
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "deep", "source": {"source": "url", "url": server.url("deep")}}]),
    );
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{}\"]", server.host()),
    );
    let t = Instant::now();
    match sync_within(&d, "evil", Duration::from_secs(120)) {
        Ok(run) => eprintln!("run ended after {:?}: {run:?}", t.elapsed()),
        Err(took) => panic!("the sync was still running after {took:?} (one 1,500-level plugin)"),
    }
}
