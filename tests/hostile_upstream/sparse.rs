//! A hostile cargo sparse index: lines that claim what only skillreg's own
//! signed lines may, checksums cargo would refuse, downloads aimed at the
//! registry's own network or redirected, and a version another source
//! stored, which bulk decisions by run must never reach.

use crate::common::*;

/// A daemon with one sparse source `hostile` over `upstream`.
fn downstream(upstream: &SparseUpstream, selection: &str) -> Daemon {
    Daemon::with_config(&format!(
        "[[sources]]\nname = \"hostile\"\nkind = \"sparse\"\nurl = {:?}\ninterval = \"0\"\n{selection}\n",
        upstream.index_url()
    ))
}

/// Rewrites quote 1.0.47's line upstream with `change`.
fn rewrite_quote_line(upstream: &SparseUpstream, change: impl Fn(&str) -> String) {
    let rel = "index/qu/ot/quote";
    let text = std::fs::read_to_string(upstream.path(rel)).unwrap();
    let line = upstream.line("quote", "1.0.47");
    upstream.rewrite(rel, text.replace(&line, &change(&line)));
}

#[test]
fn a_line_that_claims_a_licence_or_a_signature_is_not_stored() {
    let upstream = SparseUpstream::start();
    rewrite_quote_line(&upstream, |line| {
        line.replacen(
            "{",
            r#"{"license": "MIT", "provenance": {"publisher": "alice", "keyid": "00", "public_key": "00", "sig": "x"}, "#,
            1,
        )
    });
    let down = downstream(&upstream, "crates = [\"quote@=1.0.47\"]");
    let before = down.fingerprint();
    let run = down.sync_source("hostile");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"].to_string().contains(
            "quote@1.0.47: the index line carries skillreg's own field(s) license, provenance"
        ),
        "{run}"
    );
    assert!(!down
        .pending_versions()
        .contains(&"quote@1.0.47".to_string()));
    assert!(down
        .fingerprint()
        .diff(&before)
        .iter()
        .all(|d| !d.contains("name=\"quote\"")));
    down.assert_serving();
}

#[test]
fn a_checksum_cargo_would_refuse_is_refused_here() {
    let upstream = SparseUpstream::start();
    let cksum = {
        let line = upstream.line("quote", "1.0.47");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["cksum"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The right bytes' sha256, in capitals: cargo compares lowercase hex.
    rewrite_quote_line(&upstream, |line| {
        line.replace(&cksum, &cksum.to_uppercase())
    });
    let down = downstream(&upstream, "crates = [\"quote@=1.0.47\"]");
    let run = down.sync_source("hostile");
    assert!(
        run["detail"]
            .to_string()
            .contains("is not 64 lowercase hex digits"),
        "{run}"
    );
    assert!(!down
        .pending_versions()
        .contains(&"quote@1.0.47".to_string()));
    assert!(
        !upstream.downloads().iter().any(|d| d.starts_with("quote")),
        "refused before anything is downloaded"
    );
    down.assert_serving();
}

#[test]
fn downloads_aimed_at_the_registrys_network_or_redirected_are_refused() {
    let upstream = SparseUpstream::start();
    upstream.rewrite(
        "index/config.json",
        r#"{"dl":"http://169.254.169.254/latest/meta-data/{crate}"}"#,
    );
    let down = downstream(&upstream, "crates = [\"quote@=1.0.47\"]");
    let before = down.fingerprint();
    let run = down.sync_source("hostile");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("points at the internal address `169.254.169.254`"),
        "{run}"
    );
    assert_eq!(down.fingerprint().diff(&before).len(), 0);

    // A redirect is not followed: it could lead anywhere.
    let proxy = FaultProxy::start(&upstream.nginx.url);
    upstream.set_download_base(&proxy.url);
    proxy.fault(".crate", Fault::Status(302), None);
    let run = down.sync_source("hostile");
    assert!(
        run["detail"].to_string().contains("redirects (302)"),
        "{run}"
    );
    assert_eq!(down.fingerprint().diff(&before).len(), 0);
    down.assert_serving();
}

#[test]
fn a_bulk_decision_by_run_never_reaches_another_sources_version() {
    let upstream = SparseUpstream::start();
    let down = Daemon::with_config(&format!(
        "[[sources]]\nname = \"trusted\"\nkind = \"sparse\"\nurl = {url:?}\ninterval = \"0\"\ncrates = [\"unicode-ident@=1.0.27\"]\n\n\
         [[sources]]\nname = \"hostile\"\nkind = \"sparse\"\nurl = {url:?}\ninterval = \"0\"\ncrates = [\"quote@=1.0.47\"]\n",
        url = upstream.index_url()
    ));
    assert_eq!(down.sync_source("trusted")["added"], 1);
    // The hostile source's closure reaches unicode-ident, stored by `trusted`.
    let run = down.sync_source("hostile");
    assert!(
        run["detail"]
            .to_string()
            .contains("unicode-ident@1.0.27: already stored here by source `trusted`"),
        "{run}"
    );
    let (status, results) = down.admin_json(
        "POST",
        "/admin/v1/bulk",
        &format!(
            "{{\"action\":\"approve\",\"source\":\"hostile\",\"run\":{}}}",
            run["id"]
        ),
    );
    assert_eq!(status, 200, "{results}");
    let decided: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(decided, ["proc-macro2", "quote"], "{results}");
    assert_eq!(
        down.pending_versions(),
        ["unicode-ident@1.0.27"],
        "the other source's version still waits for its review"
    );
    down.assert_serving();
}
