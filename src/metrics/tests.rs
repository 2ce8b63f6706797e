use super::*;
use crate::registry::Expiries;
use crate::store::{StoreStats, SyncRunTotals};
use crate::token::Role;

fn facts() -> Facts {
    Facts {
        store: StoreStats {
            pending_by_source: vec![("up".into(), 3)],
            sync_runs: vec![
                SyncRunTotals {
                    source: "up".into(),
                    status: "completed".into(),
                    runs: 2,
                    items: vec![("added", 5), ("pending", 3)],
                    last_finished_at: Some(1_000),
                },
                SyncRunTotals {
                    source: "up".into(),
                    status: "failed".into(),
                    runs: 1,
                    items: vec![("added", 1), ("pending", 0)],
                    last_finished_at: Some(2_000),
                },
            ],
            tokens_by_role: vec![(Role::Admin, 1), (Role::Reader, 4)],
            blobs: 7,
            blob_bytes: 7_000,
        },
        sources: vec!["up".into(), "quiet".into()],
        expiries: Expiries {
            timestamp: 1_100,
            snapshot: None,
            root: 10_000,
        },
        now: 1_000,
        rate_limited: vec![("address", 2), ("token", 0), ("uploads", 1)],
        fsck: FsckOutcome::default(),
        export_behind: Some(2),
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn scrape_time_facts_become_series_with_closed_labels() {
    let text = Metrics::new().render(&facts());
    let lines = lines(&text);
    for want in [
        r#"skillreg_pending_versions{source="up"} 3"#,
        r#"skillreg_pending_versions{source="quiet"} 0"#,
        r#"skillreg_sync_runs_total{source="up",outcome="completed"} 2"#,
        r#"skillreg_sync_runs_total{source="up",outcome="failed"} 1"#,
        r#"skillreg_sync_run_items_total{source="up",count="added"} 6"#,
        r#"skillreg_sync_last_finished_timestamp_seconds{source="up"} 2000"#,
        r#"skillreg_tokens{role="reader"} 4"#,
        r#"skillreg_tokens{role="publisher"} 0"#,
        r#"skillreg_blobs 7"#,
        r#"skillreg_signed_document_expiry_seconds{document="timestamp"} 100"#,
        r#"skillreg_signed_document_expiry_seconds{document="root"} 9000"#,
        r#"skillreg_rate_limited_total{scope="uploads"} 1"#,
        r#"skillreg_fsck_runs_total{outcome="clean"} 0"#,
        r#"skillreg_index_lookups_total{result="miss"} 0"#,
    ] {
        assert!(lines.contains(&want), "missing {want} in\n{text}");
    }
    // No check has finished: no last-check series claims a result.
    assert!(!text.contains("fsck_last_clean"), "{text}");
}

#[test]
fn live_counters_count_by_group_status_and_reason() {
    let m = Metrics::new();
    m.observe_request(RouteGroup::Index, 200, Duration::from_millis(1), Some(10));
    m.observe_request(RouteGroup::Index, 200, Duration::from_millis(2), Some(5));
    m.observe_request(RouteGroup::Download, 404, Duration::from_millis(2), None);
    m.publish_refused(413);
    m.publish_refused(409);
    m.publish_refused(409);
    m.publish_accepted(crate::package::Kind::Crate);
    m.index_lookup(true);
    let text = m.render(&facts());
    let lines = lines(&text);
    for want in [
        r#"skillreg_http_requests_total{route="index",status="200"} 2"#,
        r#"skillreg_http_requests_total{route="download",status="404"} 1"#,
        r#"skillreg_http_response_bytes_total{route="index"} 15"#,
        r#"skillreg_http_request_duration_seconds_count{route="index"} 2"#,
        r#"skillreg_publish_refusals_total{reason="too_large"} 1"#,
        r#"skillreg_publish_refusals_total{reason="conflict"} 2"#,
        r#"skillreg_publishes_total{kind="crate"} 1"#,
        r#"skillreg_index_lookups_total{result="hit"} 1"#,
    ] {
        assert!(lines.contains(&want), "missing {want} in\n{text}");
    }
}
