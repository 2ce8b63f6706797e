//! `GET /metrics` on the real daemon: who may scrape; that the numbers
//! follow what happened (requests, index hits and misses, publishes and
//! refusals, rate limits, a failed sync run, pending versions, tokens,
//! blobs, expiries, the background fsck); that `promtool check metrics`
//! accepts every scrape; that `metrics_listen` moves it off the public
//! listener; and that a real Prometheus scrapes it.

mod common;

use common::*;

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

fn metrics_url(d: &Daemon) -> String {
    format!("{}/metrics", d.url)
}

#[test]
fn a_scrape_needs_the_metrics_token_or_an_admin_token() {
    let d = Daemon::with_config(&format!("metrics_token = \"{METRICS_TOKEN}\"\n"));
    let reader = d.token("reader", "someone");
    let publisher = d.token("publisher", "pub");
    let (status, _, body) = scrape_raw(&metrics_url(&d), None);
    assert_eq!(status, 401, "{body}");
    for weaker in [&reader, &publisher] {
        let (status, _, body) = scrape_raw(&metrics_url(&d), Some(weaker));
        assert_eq!(status, 403, "{body}");
        assert!(detail(&body).contains("admin token"), "{body}");
    }
    let (status, _, body) = scrape_raw(&metrics_url(&d), Some("metrics-token-0123456789abcdeX"));
    assert_eq!(status, 403, "a wrong metrics token: {body}");
    let (status, content_type, body) =
        scrape_raw(&metrics_url(&d), Some(&format!("Bearer {METRICS_TOKEN}")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!body.contains(METRICS_TOKEN));
    let (status, _, _) = scrape_raw(&metrics_url(&d), Some(&d.admin));
    assert_eq!(status, 200);
    promtool_check(&body).unwrap();
}

#[test]
fn the_numbers_follow_what_happened_and_promtool_accepts_them() {
    let d = Daemon::with_config(
        "[[sources]]\nname = \"gone-upstream\"\nkind = \"sparse\"\n\
         url = \"http://127.0.0.1:9/index/\"\ncrates = [\"serde\"]\ninterval = \"0\"\n",
    );
    let before = scrape(&metrics_url(&d), &d.admin);
    promtool_check(&before.text).unwrap();
    assert_eq!(before.expect(r#"skillreg_tokens{role="admin"}"#), 1.0);
    assert_eq!(
        before.expect(r#"skillreg_pending_versions{source="gone-upstream"}"#),
        0.0
    );
    assert_eq!(
        before.expect(r#"skillreg_index_lookups_total{result="hit"}"#),
        0.0
    );

    // Two publishes, one refused as a duplicate; an index hit and a miss.
    d.publish_skill("metered", "1.0.0");
    d.publish_skill("metered", "1.1.0");
    let body = skill_publish_body("metered", "1.0.0", &skill_tarball("metered", "1.0.0"));
    let (status, _) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&d.admin),
        &body,
    );
    assert_eq!(status, 409);
    assert_eq!(get(&format!("{}/index/me/te/metered", d.url)).0, 200);
    assert_eq!(get(&format!("{}/index/no/su/nosuch", d.url)).0, 404);
    let _reader = d.token("reader", "r");
    // A sync run against an upstream that is not there fails.
    let run = d.sync_source("gone-upstream");
    assert_eq!(run["status"], "failed", "{run}");

    let after = scrape_until(
        &metrics_url(&d),
        &d.admin,
        r#"skillreg_sync_runs_total{source="gone-upstream",outcome="failed"}"#,
        1.0,
    );
    promtool_check(&after.text).unwrap();
    assert_eq!(
        after.expect(r#"skillreg_publishes_total{kind="skill"}"#),
        2.0
    );
    assert_eq!(
        after.expect(r#"skillreg_publish_refusals_total{reason="conflict"}"#),
        1.0
    );
    assert_eq!(
        after.expect(r#"skillreg_index_lookups_total{result="hit"}"#),
        1.0
    );
    assert_eq!(
        after.expect(r#"skillreg_index_lookups_total{result="miss"}"#),
        1.0
    );
    assert_eq!(
        after.expect(r#"skillreg_http_requests_total{route="publish",status="200"}"#),
        2.0
    );
    assert_eq!(
        after.expect(r#"skillreg_http_requests_total{route="index",status="404"}"#),
        1.0
    );
    assert!(
        after.expect(r#"skillreg_http_request_duration_seconds_count{route="publish"}"#) >= 3.0
    );
    assert!(after.expect(r#"skillreg_http_response_bytes_total{route="index"}"#) > 0.0);
    assert_eq!(after.expect(r#"skillreg_tokens{role="reader"}"#), 1.0);
    // The bundles and the zips the feeds rendered: what fsck reads.
    let fsck = cli(&["fsck", "--data", d.data.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&fsck.stdout).into_owned();
    let read: f64 = report
        .strip_prefix("read ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(read >= 2.0, "{report}");
    assert_eq!(after.expect("skillreg_blobs"), read, "{report}");
    assert!(after.expect("skillreg_blob_bytes") > 100.0);
    let timestamp =
        after.expect(r#"skillreg_signed_document_expiry_seconds{document="timestamp"}"#);
    let root = after.expect(r#"skillreg_signed_document_expiry_seconds{document="root"}"#);
    assert!(timestamp > 0.0 && root > timestamp, "{timestamp} {root}");
    // Only closed sets become labels: no package name, no path.
    assert!(!after.text.contains("metered"), "{}", after.text);
    assert!(!after.text.contains("nosuch"), "{}", after.text);
    d.assert_serving();
}

#[test]
fn rate_limit_rejections_are_counted_by_scope() {
    let port = free_port();
    let d = Daemon::with_config(&format!(
        "metrics_listen = \"127.0.0.1:{port}\"\nmetrics_token = \"{METRICS_TOKEN}\"\n\
         [rate_limit]\nper_ip_per_second = 1\nper_ip_burst = 2\n"
    ));
    let mut limited = 0;
    for _ in 0..10 {
        if get(&format!("{}/index/config.json", d.url)).0 == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 5, "{limited}");
    // The metrics listener has no address limit: the scrape gets through.
    let s = scrape(&format!("http://127.0.0.1:{port}/metrics"), METRICS_TOKEN);
    promtool_check(&s.text).unwrap();
    assert_eq!(
        s.expect(r#"skillreg_rate_limited_total{scope="address"}"#),
        limited as f64
    );
    assert_eq!(
        s.expect(r#"skillreg_http_requests_total{route="index",status="429"}"#),
        limited as f64
    );
}

#[test]
fn metrics_listen_moves_the_scrape_off_the_public_listener() {
    let port = free_port();
    let d = Daemon::with_config(&format!(
        "metrics_listen = \"127.0.0.1:{port}\"\nmetrics_token = \"{METRICS_TOKEN}\"\n"
    ));
    let (status, _, body) = scrape_raw(&metrics_url(&d), Some(&d.admin));
    assert_eq!(status, 404, "{body}");
    let private = format!("http://127.0.0.1:{port}");
    let (status, _, body) = scrape_raw(&format!("{private}/metrics"), None);
    assert_eq!(status, 401, "{body}");
    let (status, _, body) =
        scrape_raw(&format!("{private}/index/config.json"), Some(METRICS_TOKEN));
    assert_eq!(status, 404, "{body}");
    assert!(detail(&body).contains("only GET /metrics"), "{body}");
    let s = scrape(&format!("{private}/metrics"), &d.admin);
    promtool_check(&s.text).unwrap();
    assert!(s.value(r#"skillreg_tokens{role="admin"}"#).is_some());
}

#[test]
fn the_background_fsck_reports_a_flipped_byte() {
    let d = Daemon::with_config("fsck_interval = \"1s\"\n");
    d.publish_skill("checked", "1.0.0");
    let wait_for = |series: &str, want: f64| scrape_until(&metrics_url(&d), &d.admin, series, want);
    let clean = wait_for("skillreg_fsck_last_clean", 1.0);
    promtool_check(&clean.text).unwrap();
    assert!(clean.expect(r#"skillreg_fsck_runs_total{outcome="clean"}"#) >= 1.0);
    // The bundle and the zips the agent-tool feeds render from it.
    assert!(clean.expect("skillreg_fsck_last_blobs_checked") >= 1.0);

    // Flip one byte of the published bundle's blob.
    let (_, bytes) = get_bytes(&format!("{}/api/v1/crates/checked/1.0.0/download", d.url));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    let blob = d.data.join("blobs/sha256").join(&hex[..2]).join(&hex);
    let mut damaged = bytes.clone();
    damaged[10] ^= 0x01;
    std::fs::write(&blob, &damaged).unwrap();

    let found = wait_for("skillreg_fsck_last_clean", 0.0);
    promtool_check(&found.text).unwrap();
    assert_eq!(
        found.expect(r#"skillreg_fsck_last_findings{kind="damaged"}"#),
        1.0
    );
    assert!(found.expect(r#"skillreg_fsck_runs_total{outcome="damaged"}"#) >= 1.0);
    assert!(
        d.log().contains("background fsck found damage"),
        "{}",
        d.log()
    );
    // The check only reads: the damaged bytes are still there.
    assert_eq!(std::fs::read(&blob).unwrap(), damaged);
    d.assert_serving();
}

#[test]
fn a_real_prometheus_scrapes_the_daemon() {
    let d = Daemon::with_config(&format!("metrics_token = \"{METRICS_TOKEN}\"\n"));
    d.publish_skill("scraped", "1.0.0");
    let target = d.url.trim_start_matches("http://").to_string();
    let prometheus = Prometheus::scraping(&target, METRICS_TOKEN);
    let up = prometheus.wait_for("up{job=\"skillreg\"} == 1");
    assert_eq!(up[0]["value"][1], "1", "{up}");
    let published = prometheus.wait_for("skillreg_publishes_total");
    assert_eq!(published[0]["metric"]["kind"], "skill", "{published}");
    assert_eq!(published[0]["value"][1], "1", "{published}");
    let latency = prometheus.wait_for(
        "histogram_quantile(0.99, sum by (le) (skillreg_http_request_duration_seconds_bucket))",
    );
    assert!(
        latency[0]["value"][1]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .is_ok(),
        "{latency}"
    );
}

#[test]
fn the_background_fsck_reports_a_tampered_statement_of_the_kept_tree() {
    let site = tempfile::tempdir().unwrap();
    let tree = site.path().join("tree");
    let d = Daemon::with_config(&format!(
        "fsck_interval = \"1s\"\n[export]\ndir = {:?}\nbase_url = \"http://mirror.example/\"\n",
        tree.display().to_string()
    ));
    d.publish_skill("kept", "1.0.0");
    let url = metrics_url(&d);
    let clean = scrape_until(&url, &d.admin, "skillreg_fsck_last_clean", 1.0);
    assert!(
        clean.expect("skillreg_fsck_last_signed_checked") >= 3.0,
        "{}",
        clean.text
    );

    // One byte of the kept tree's statement for the package's index file.
    let file = skillreg::index::path_for("kept");
    let statement = tree
        .join("index")
        .join(skillreg::index::sign::paths::statement(&file));
    let mut bytes = std::fs::read(&statement).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&statement, &bytes).unwrap();

    let found = scrape_until(&url, &d.admin, "skillreg_fsck_last_clean", 0.0);
    promtool_check(&found.text).unwrap();
    assert!(
        found.expect(r#"skillreg_fsck_last_findings{kind="signed_bad"}"#) >= 1.0,
        "{}",
        found.text
    );
    assert_eq!(
        found.expect(r#"skillreg_fsck_last_findings{kind="damaged"}"#),
        0.0
    );
    d.assert_serving();
}
