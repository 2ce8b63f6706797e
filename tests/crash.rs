//! Crash safety: SIGKILL the daemon while publishes are in flight, restart,
//! and check that every acknowledged version survived and that no index line
//! names a missing or different blob.

mod common;

use common::*;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn kill_during_publish_leaves_no_half_published_version() {
    let mut d = Daemon::start();
    let admin = d.admin.clone();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..4u64 {
        let url = d.url.clone();
        let token = admin.clone();
        let acked = Arc::new(Mutex::new(Vec::new()));
        let acked_by_worker = acked.clone();
        let worker = std::thread::spawn(move || {
            for i in 0..200 {
                let version = format!("{round}.{i}.0");
                let body =
                    skill_publish_body("crashy", &version, &skill_tarball("crashy", &version));
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                match agent
                    .put(format!("{url}/api/v1/crates/new"))
                    .header("Authorization", &token)
                    .send(&body[..])
                {
                    Ok(r) if r.status() == 200 => acked_by_worker.lock().unwrap().push(version),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the daemon died under us
                }
            }
        });
        // Kill while publishes flow: once this round's worker has had
        // 3, 6, 9, 12 acknowledged (a later point each round), with the
        // next publish already on its way.
        let wanted = 3 * (round as usize + 1);
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < wanted {
            assert!(
                !worker.is_finished(),
                "round {round}: the worker stopped before {wanted} publishes"
            );
            assert!(
                Instant::now() < deadline,
                "round {round}: {} of {wanted} publishes acknowledged in 60 s",
                acked.lock().unwrap().len()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !worker.is_finished(),
            "round {round}: the kill lands mid-run"
        );
        d.child.kill().unwrap(); // SIGKILL: no shutdown path runs
        d.child.wait().unwrap();
        worker.join().unwrap();
        acknowledged.extend(acked.lock().unwrap().iter().cloned());
        let (dir, data) = d.stop();
        d = Daemon::start_in(dir, data, "");
        check_consistent(&d, &acknowledged);
    }
    assert!(
        !acknowledged.is_empty(),
        "some publishes completed before the kills"
    );
}

fn check_consistent(d: &Daemon, acknowledged: &[String]) {
    let (status, index) = get(&format!("{}/index/cr/as/crashy", d.url));
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    for line in index.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let version = entry["vers"].as_str().unwrap().to_string();
        let r = get_with(
            &format!("{}/api/v1/crates/crashy/{version}/download", d.url),
            &[],
        );
        assert_eq!(
            r.status(),
            200,
            "{version} is indexed, so its blob must exist"
        );
        let mut bytes = Vec::new();
        r.into_body().as_reader().read_to_end(&mut bytes).unwrap();
        assert_eq!(
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
            entry["cksum"].as_str().unwrap(),
            "{version}: blob matches its checksum"
        );
        seen.push(version);
    }
    for v in acknowledged {
        assert!(
            seen.contains(v),
            "{v} was acknowledged with 200, so it must survive a crash"
        );
    }
    let store = skillreg::store::Store::open(&d.data).unwrap();
    assert_eq!(
        store.published().unwrap().len(),
        seen.len(),
        "database and index agree"
    );
}
