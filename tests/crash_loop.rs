//! The crash loop: publishes, yanks, review approvals and mirror syncs run
//! at once while a killer sends SIGKILL at a random moment, cycle after
//! cycle, on one data dir. After each restart the registry must be whole
//! (`Daemon::assert_recovered`: fsck clean, database, served index, signed
//! documents, blobs, a fresh render and the static export agreeing) and
//! hold every change that was acknowledged.
//!
//! `CRASH_LOOP_CYCLES` (default 20) sets the number of kills and
//! `CRASH_LOOP_SEED` replays a run (the seed is printed). The last line is
//! a summary that `bench/crash-loop.sh` records in `RELIABILITY.md`.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A small seeded generator (splitmix64): the kill moments of a run are a
/// function of its seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the daemon acknowledged, and anything it answered unexpectedly.
#[derive(Default)]
struct Ledger {
    /// `looped@V` answered 200.
    published: BTreeSet<String>,
    /// Versions of `looped` whose yank answered 200.
    yanked: BTreeSet<String>,
    /// `name@version` whose approval answered 200.
    approved: BTreeSet<String>,
    /// `name@version` a completed sync run of `team` (pending) stored.
    mirrored_pending: BTreeSet<String>,
    /// `name@version` a completed run of `auto` (auto-approved) stored.
    mirrored_approved: BTreeSet<String>,
    /// Operations acknowledged, all kinds.
    acknowledged: usize,
    /// Answers no crash explains.
    failures: Vec<String>,
}

type Shared = Arc<Mutex<Ledger>>;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

/// (status, body), or `None` once the daemon is gone.
fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Option<(u16, String)> {
    let mut r = r.ok()?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().ok()?;
    Some((status, body))
}

/// Publishes `looped@{cycle}.{i}.0` until the daemon dies.
fn publisher(url: String, token: String, cycle: usize, ledger: Shared) {
    for i in 0.. {
        let version = format!("{cycle}.{i}.0");
        let body = skill_publish_body("looped", &version, &skill_tarball("looped", &version));
        let r = agent()
            .put(format!("{url}/api/v1/crates/new"))
            .header("Authorization", &token)
            .send(&body[..]);
        let Some((status, body)) = answer(r) else {
            return;
        };
        let mut l = ledger.lock().unwrap();
        if status == 200 {
            l.published.insert(version);
            l.acknowledged += 1;
        } else {
            l.failures
                .push(format!("publish {version}: {status} {body}"));
        }
    }
}

/// Yanks acknowledged versions, oldest first, until the daemon dies.
fn yanker(url: String, token: String, ledger: Shared, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let next = {
            let l = ledger.lock().unwrap();
            l.published.difference(&l.yanked).next().cloned()
        };
        let Some(version) = next else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let r = agent()
            .delete(format!("{url}/api/v1/crates/looped/{version}/yank"))
            .header("Authorization", &token)
            .call();
        let Some((status, body)) = answer(r) else {
            return;
        };
        let mut l = ledger.lock().unwrap();
        if status == 200 {
            l.yanked.insert(version);
            l.acknowledged += 1;
        } else {
            l.failures.push(format!("yank {version}: {status} {body}"));
        }
        drop(l);
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Approves what waits for review until the daemon dies.
fn approver(url: String, token: String, ledger: Shared, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let r = agent()
            .get(format!("{url}/admin/v1/pending"))
            .header("Authorization", &token)
            .call();
        let Some((status, body)) = answer(r) else {
            return;
        };
        if status != 200 {
            ledger
                .lock()
                .unwrap()
                .failures
                .push(format!("pending: {status} {body}"));
            return;
        }
        let pending: serde_json::Value = serde_json::from_str(&body).unwrap();
        for p in pending["pending"].as_array().unwrap() {
            let (name, version) = (p["name"].as_str().unwrap(), p["version"].as_str().unwrap());
            let r = agent()
                .post(format!("{url}/admin/v1/packages/{name}/{version}/approve"))
                .header("Authorization", &token)
                .send("{}".as_bytes());
            let Some((status, body)) = answer(r) else {
                return;
            };
            let mut l = ledger.lock().unwrap();
            if status == 200 {
                l.approved.insert(format!("{name}@{version}"));
                l.acknowledged += 1;
            } else {
                l.failures
                    .push(format!("approve {name}@{version}: {status} {body}"));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Releases a new version in each marketplace, syncs it and waits for the
/// run, until the daemon dies. A run's versions count as acknowledged once
/// the run is seen completed.
fn syncer(url: String, token: String, reg: Arc<CrashRegistry>, cycle: usize, ledger: Shared) {
    for k in 0.. {
        for (source, dir, name) in [
            ("team", &reg.team_market, "vault"),
            ("auto", &reg.auto_market, "gear"),
        ] {
            let version = format!("2.{cycle}.{k}");
            write_marketplace(dir, &[(name, &version)]);
            let r = agent()
                .post(format!("{url}/admin/v1/sync"))
                .header("Authorization", &token)
                .send(format!("{{\"source\":\"{source}\"}}").as_bytes());
            let Some((status, body)) = answer(r) else {
                return;
            };
            if status != 202 {
                ledger
                    .lock()
                    .unwrap()
                    .failures
                    .push(format!("sync {source}: {status} {body}"));
                return;
            }
            let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["run"]
                .as_i64()
                .unwrap();
            let Some(run) = wait_run(&url, &token, id) else {
                return;
            };
            let mut l = ledger.lock().unwrap();
            if run["status"] == "completed" {
                let key = format!("{name}@{version}");
                match source {
                    "team" => l.mirrored_pending.insert(key),
                    _ => l.mirrored_approved.insert(key),
                };
                l.acknowledged += 1;
            } else {
                l.failures.push(format!("run {id} of {source}: {run}"));
            }
        }
    }
}

/// Polls run `id` until it ends; `None` once the daemon is gone.
fn wait_run(url: &str, token: &str, id: i64) -> Option<serde_json::Value> {
    loop {
        let r = agent()
            .get(format!("{url}/admin/v1/sync-runs"))
            .header("Authorization", token)
            .call();
        let (_, body) = answer(r)?;
        let runs: serde_json::Value = serde_json::from_str(&body).ok()?;
        let run = runs["runs"]
            .as_array()?
            .iter()
            .find(|r| r["id"] == id)?
            .clone();
        if run["status"] != "running" {
            return Some(run);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sync runs the database records as running (the ones a kill cut).
fn running_runs(data: &std::path::Path) -> Vec<(String, i64)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("skillreg.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut q = db
        .prepare("SELECT source, id FROM sync_runs WHERE status = 'running'")
        .unwrap();
    let rows = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

/// Every acknowledged change is in what the restarted daemon holds.
fn assert_acknowledged_present(recovered: &Recovered, l: &Ledger, cycle: usize) {
    let row = |key: &str| {
        recovered
            .get(key)
            .unwrap_or_else(|| panic!("cycle {cycle}: acknowledged {key} is gone"))
    };
    for v in &l.published {
        assert_eq!(
            row(&format!("looped@{v}")).status,
            "approved",
            "cycle {cycle}"
        );
    }
    for v in &l.yanked {
        assert!(
            row(&format!("looped@{v}")).yanked,
            "cycle {cycle}: yank of {v} lost"
        );
    }
    for key in &l.approved {
        assert_eq!(
            row(key).status,
            "approved",
            "cycle {cycle}: approval of {key} lost"
        );
    }
    for key in &l.mirrored_pending {
        row(key);
    }
    for key in &l.mirrored_approved {
        assert_eq!(row(key).status, "approved", "cycle {cycle}: {key}");
    }
}

#[test]
fn random_kills_never_lose_or_half_show_a_change() {
    let cycles: usize = std::env::var("CRASH_LOOP_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash loop: seed {seed} (CRASH_LOOP_SEED={seed} replays it), {cycles} cycles");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let reg = Arc::new(CrashRegistry::new());
    let ledger: Shared = Arc::default();
    let mut d = Daemon::with_config(&reg.toml);
    let mut kills = 0;
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let (url, token) = (d.url.clone(), d.admin.clone());
        let workers = vec![
            {
                let (u, t, l) = (url.clone(), token.clone(), ledger.clone());
                std::thread::spawn(move || publisher(u, t, cycle, l))
            },
            {
                let (u, t, l, s) = (url.clone(), token.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || yanker(u, t, l, s))
            },
            {
                let (u, t, l, s) = (url.clone(), token.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || approver(u, t, l, s))
            },
            {
                let (u, t, l, r) = (url.clone(), token.clone(), ledger.clone(), reg.clone());
                std::thread::spawn(move || syncer(u, t, r, cycle, l))
            },
        ];
        // The killer: SIGKILL at a random moment of this cycle.
        std::thread::sleep(Duration::from_millis(150 + rng.below(1850)));
        d.child.kill().unwrap();
        d.child.wait().unwrap();
        kills += 1;
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().expect("a worker panicked");
        }
        let cut = running_runs(&d.data);
        d = d.restart(&[]);
        for (source, id) in &cut {
            d.wait_resumed(source, *id);
        }
        d.wait_runs_idle();
        let (recovered, _orphans) = d.assert_recovered(Some(&reg.export));
        let l = ledger.lock().unwrap();
        assert!(l.failures.is_empty(), "cycle {cycle}: {:?}", l.failures);
        assert_acknowledged_present(&recovered, &l, cycle);
    }
    d.assert_serving();
    let l = ledger.lock().unwrap();
    assert!(!l.published.is_empty(), "some publishes were acknowledged");
    println!(
        "crash loop result: cycles={cycles} kills={kills} acknowledged={} (publishes={} yanks={} approvals={} syncs={}) failures=0 seed={seed} duration={:.1}s",
        l.acknowledged,
        l.published.len(),
        l.yanked.len(),
        l.approved.len(),
        l.mirrored_pending.len() + l.mirrored_approved.len(),
        started.elapsed().as_secs_f64()
    );
}
