//! `sparse` sources: a crates.io-like sparse index on nginx, built from
//! real crates, mirrored by what a real project's Cargo.lock locks; the
//! closure approved in one call; then real cargo builds that unchanged
//! project with its unchanged Cargo.lock inside the "air gap" (crates.io
//! replaced by skillreg, by its static export, and by a registry that got
//! everything through a transfer archive). Tampering upstream is refused
//! with the store unchanged.

mod common;

use common::*;
use std::path::Path;

/// A downstream daemon with one sparse source `crates-io` over `upstream`.
fn downstream(upstream: &SparseUpstream, selection: &str) -> Daemon {
    Daemon::with_config(&format!(
        "[[sources]]\nname = \"crates-io\"\nkind = \"sparse\"\nurl = {:?}\ninterval = \"0\"\n{selection}\n",
        upstream.index_url()
    ))
}

/// Approves every pending version run `run` resolved, in one call.
fn approve_run(down: &Daemon, run: i64) -> serde_json::Value {
    let (status, results) = down.admin_json(
        "POST",
        "/admin/v1/bulk",
        &format!("{{\"action\":\"approve\",\"source\":\"crates-io\",\"run\":{run},\"note\":\"the demo project\"}}"),
    );
    assert_eq!(status, 200, "{results}");
    results
}

/// Asserts `registry` serves each locked crate's index file as exactly the
/// upstream's line for the locked version (`when` names the case).
fn assert_lines_verbatim(registry: &str, upstream: &SparseUpstream, when: &str) {
    for (name, version) in LOCKED {
        let path = skillreg::index::path_for(name);
        let served = get(&format!("{registry}/index/{path}")).1;
        assert_eq!(
            served,
            format!("{}\n", upstream.line(name, version)),
            "{name}{when}"
        );
    }
}

/// `cargo fetch --locked`, then an offline, locked build and run of the
/// project, with crates.io replaced by `index_url`; the Cargo.lock is
/// byte-identical afterwards.
fn build_in_the_air_gap(project: &Path, index_url: &str) {
    let lock_before = std::fs::read(project.join("Cargo.lock")).unwrap();
    let cargo = Cargo::replacing_crates_io(index_url);
    cargo.ok(project, &["fetch", "--locked"], None);
    let out = cargo.ok(project, &["run", "--offline", "--locked", "--quiet"], None);
    assert!(out.contains("true"), "the demo ran: {out}");
    assert_eq!(
        std::fs::read(project.join("Cargo.lock")).unwrap(),
        lock_before,
        "the lockfile's checksums matched without an edit"
    );
}

#[test]
fn a_locked_project_builds_in_the_air_gap_from_a_mirrored_sparse_index() {
    let upstream = SparseUpstream::start();
    let work = public_tempdir();
    let project = project_copy(&work.path().join("projects"), "demo");
    let down = downstream(
        &upstream,
        &format!(
            "lockfiles = [{:?}]",
            work.path().join("projects/*/Cargo.lock")
        ),
    );

    // The run mirrors exactly the locked versions, all pending.
    let run_id = down.start_sync("crates-io");
    let run = down
        .wait_run(run_id, std::time::Duration::from_secs(60))
        .unwrap()
        .unwrap();
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(
        (run["added"].as_i64(), run["pending"].as_i64()),
        (Some(5), Some(5)),
        "{run}"
    );
    let mut downloads = upstream.downloads();
    downloads.sort();
    let want: Vec<String> = LOCKED
        .iter()
        .map(|(n, v)| format!("{n}-{v}.crate"))
        .collect();
    assert_eq!(
        downloads, want,
        "only the locked versions are downloaded (itoa 1.0.19 is listed upstream, not locked)"
    );
    assert_eq!(
        get(&format!("{}/index/it/oa/itoa", down.url)).0,
        404,
        "pending stays out"
    );

    // One call approves the lockfile's whole closure.
    let results = approve_run(&down, run_id);
    let decided = results["results"].as_array().unwrap();
    assert_eq!(decided.len(), 5, "{results}");
    assert!(decided.iter().all(|r| r["ok"] == true), "{results}");

    // Each index line is the upstream's, byte for byte.
    assert_lines_verbatim(&down.url, &upstream, "");

    // cargo, with crates.io replaced by skillreg, builds the project as it is.
    build_in_the_air_gap(&project, &format!("{}/index/", down.url));

    // The same from the static export, served by nginx.
    let tree = public_tempdir();
    let served = Nginx::serve(tree.path());
    down.export_static(tree.path(), &served.url);
    build_in_the_air_gap(
        &project_copy(work.path(), "from-export"),
        &format!("{}/index/", served.url),
    );

    // And from a registry on the other side of a transfer archive.
    let carry = tempfile::tempdir().unwrap();
    let root = export_root(&down.data, carry.path(), "root.json");
    let drop_dir = carry.path().join("drop");
    std::fs::create_dir_all(&drop_dir).unwrap();
    let archive = carry.path().join("crates.skillreg-transfer.tar.gz");
    let out = cli(&[
        "export-transfer",
        archive.to_str().unwrap(),
        "--data",
        down.data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inside = Daemon::with_config(&format!(
        "[[sources]]\nname = \"carried\"\nkind = \"drop\"\npath = {drop_dir:?}\nroot_key = {root:?}\nauto_approve = true\n"
    ));
    std::fs::rename(&archive, drop_dir.join("crates.skillreg-transfer.tar.gz")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get(&format!("{}/index/qu/ot/quote", inside.url)).0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the archive was not imported: {}",
            inside.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_lines_verbatim(&inside.url, &upstream, " after the transfer");
    build_in_the_air_gap(
        &project_copy(work.path(), "from-transfer"),
        &format!("{}/index/", inside.url),
    );
}

#[test]
fn a_resync_with_nothing_new_costs_one_conditional_request_per_crate() {
    let upstream = SparseUpstream::start();
    let work = tempfile::tempdir().unwrap();
    let project = project_copy(work.path(), "demo");
    let down = downstream(
        &upstream,
        &format!("lockfiles = [{:?}]", project.join("Cargo.lock")),
    );
    let first = down.sync_source("crates-io");
    assert_eq!(first["added"], 5, "{first}");
    let served_before = upstream.nginx.requests().len();

    let again = down.sync_source("crates-io");
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(
        (again["added"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(5)),
        "{again}"
    );
    let requests = upstream.nginx.requests()[served_before..].to_vec();
    assert_eq!(requests.len(), 5, "{requests:#?}");
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("304 GET /index/") && !r.ends_with(" -")),
        "only conditional index requests, each answered 304: {requests:#?}"
    );
}

#[test]
fn crates_resolve_with_their_dependencies_and_missing_ones_fail_by_name() {
    let upstream = SparseUpstream::start();
    let down = downstream(&upstream, "crates = [\"quote@^1\", \"itoa\"]");
    let run = down.sync_source("crates-io");
    // quote@^1 → quote 1.0.47, proc-macro2 1.0.107, unicode-ident 1.0.27
    // (the newest that are not yanked); dev-dependencies are not followed.
    // `itoa` means its newest version, 1.0.19, whose .crate is not upstream,
    // and its optional dependency no-panic (features' optional dependencies
    // are followed), which this upstream does not have.
    assert_eq!(run["added"], 3, "{run}");
    assert_eq!(run["failed"], 2, "{run}");
    let detail = run["detail"].to_string();
    assert!(detail.contains("itoa@1.0.19: "), "{detail}");
    assert!(detail.contains("not found upstream (404)"), "{detail}");
    assert!(
        detail.contains("no-panic (dependency of itoa@1.0.19): the upstream has no such crate"),
        "{detail}"
    );
    assert!(
        !detail.contains("rustversion"),
        "dev-dependencies are not followed: {detail}"
    );
    assert_eq!(
        run["status"], "failed",
        "a failed crate fails the run: {run}"
    );
    let pending = down.pending_versions();
    for want in [
        "quote@1.0.47",
        "proc-macro2@1.0.107",
        "unicode-ident@1.0.27",
    ] {
        assert!(pending.contains(&want.to_string()), "{pending:?}");
    }
    let upstream_facts = &down.admin_json("GET", "/admin/v1/pending", "").1["pending"];
    assert!(
        upstream_facts
            .to_string()
            .contains("dependency of quote@1.0.47"),
        "{upstream_facts}"
    );
}

#[test]
fn a_tampered_crate_and_a_changed_index_line_are_refused_and_change_nothing() {
    let upstream = SparseUpstream::start();
    let work = tempfile::tempdir().unwrap();
    let project = project_copy(work.path(), "demo");
    let down = downstream(
        &upstream,
        &format!("lockfiles = [{:?}]", project.join("Cargo.lock")),
    );

    // A .crate that is not the one its line names is not stored.
    let memchr = upstream.path("crates/memchr/memchr-2.8.3.crate");
    let real = std::fs::read(&memchr).unwrap();
    let mut tampered = real.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x55;
    upstream.rewrite("crates/memchr/memchr-2.8.3.crate", &tampered);
    let before = down.fingerprint();
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("memchr@2.8.3: the .crate's sha256 is"),
        "{run}"
    );
    assert_eq!(
        (run["added"].as_i64(), run["failed"].as_i64()),
        (Some(4), Some(1)),
        "all but memchr: {run}"
    );
    let after_first = down.fingerprint();
    assert!(
        after_first
            .diff(&before)
            .iter()
            .all(|d| !d.contains("memchr")),
        "{:?}",
        after_first.diff(&before)
    );

    // Once the upstream serves the real bytes again, it is mirrored.
    upstream.rewrite("crates/memchr/memchr-2.8.3.crate", &real);
    assert_eq!(down.sync_source("crates-io")["added"], 1);
    let all = down.sync_source("crates-io");
    assert_eq!(all["status"], "completed", "{all}");
    let approved = approve_run(&down, all["id"].as_i64().unwrap());
    assert_eq!(
        approved["results"].as_array().unwrap().len(),
        5,
        "{approved}"
    );
    let stored = down.fingerprint();
    let itoa_before = get(&format!("{}/index/it/oa/itoa", down.url));

    // A lockfile names the checksum it expects: an upstream line that
    // names another is refused before anything is downloaded.
    const INDEX_REL: &str = "index/it/oa/itoa";
    let text = std::fs::read_to_string(upstream.path(INDEX_REL)).unwrap();
    let cksum = line_cksum(&upstream.line("itoa", "1.0.18"));
    upstream.rewrite(INDEX_REL, text.replace(&cksum, &"0".repeat(64)));
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("the lockfile's checksum"),
        "{run}"
    );
    assert_eq!(down.fingerprint(), stored, "nothing changed");
    assert_eq!(get(&format!("{}/index/it/oa/itoa", down.url)), itoa_before);
    down.assert_serving();
}

#[test]
fn an_upstream_that_rewrites_a_published_line_is_refused_and_changes_nothing() {
    let upstream = SparseUpstream::start();
    let down = downstream(&upstream, "crates = [\"quote@=1.0.47\"]");
    let first = down.sync_source("crates-io");
    assert_eq!(first["added"], 3, "{first}");
    approve_run(&down, first["id"].as_i64().unwrap());
    let stored = down.fingerprint();
    let quote_before = get(&format!("{}/index/qu/ot/quote", down.url));
    const INDEX_REL: &str = "index/qu/ot/quote";
    let original = std::fs::read_to_string(upstream.path(INDEX_REL)).unwrap();
    let line = upstream.line("quote", "1.0.47");

    // Another cksum for a published version: a replaced crate.
    let cksum = line_cksum(&line);
    upstream.rewrite(INDEX_REL, original.replace(&cksum, &"0".repeat(64)));
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("the upstream replaced a published crate"),
        "{run}"
    );
    assert_eq!(down.fingerprint(), stored, "nothing changed");

    // The same cksum with other dependencies: a rewritten line.
    let rewritten = line.replace("\"req\": \"^1.0.80\"", "\"req\": \"^1.0.1\"");
    assert_ne!(
        rewritten, line,
        "the fixture line has the requirement this rewrites"
    );
    upstream.rewrite(INDEX_REL, original.replace(&line, &rewritten));
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("changed this version's index line"),
        "{run}"
    );
    assert_eq!(down.fingerprint(), stored, "nothing changed");
    assert_eq!(
        get(&format!("{}/index/qu/ot/quote", down.url)),
        quote_before
    );

    // A yank upstream is the one change that is followed.
    upstream.rewrite(
        INDEX_REL,
        original.replace(
            &line,
            &line.replace("\"yanked\": false", "\"yanked\": true"),
        ),
    );
    let run = down.sync_source("crates-io");
    assert!(
        run["detail"]
            .to_string()
            .contains("quote@1.0.47: yanked upstream, so yanked here too"),
        "{run}"
    );
    let served = get(&format!("{}/index/qu/ot/quote", down.url)).1;
    assert_eq!(
        served,
        format!(
            "{}\n",
            line.replace("\"yanked\": false", "\"yanked\": true")
        ),
        "the upstream's bytes, yanked"
    );
    down.assert_serving();
}

/// The `cksum` of an index line.
fn line_cksum(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["cksum"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn pinned_index_files_must_match_their_pins() {
    let upstream = SparseUpstream::start();
    let work = tempfile::tempdir().unwrap();
    // The admin carries in `sha256sum` output made on the connected side.
    let mut pins = String::new();
    for path in [
        "it/oa/itoa",
        "me/mc/memchr",
        "pr/oc/proc-macro2",
        "un/ic/unicode-ident",
    ] {
        let bytes = std::fs::read(upstream.path(&format!("index/{path}"))).unwrap();
        pins.push_str(&format!(
            "{}  ./{path}\n",
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex()
        ));
    }
    let pins_file = work.path().join("SHA256SUMS");
    std::fs::write(&pins_file, pins).unwrap();
    let project = project_copy(work.path(), "demo");
    let down = downstream(
        &upstream,
        &format!(
            "lockfiles = [{:?}]\nindex_pins = {pins_file:?}",
            project.join("Cargo.lock")
        ),
    );

    // An index file changed after the pins were made is not used.
    let memchr = upstream.path("index/me/mc/memchr");
    let mut text = std::fs::read_to_string(&memchr).unwrap();
    text.push('\n');
    upstream.rewrite("index/me/mc/memchr", text);
    let run = down.sync_source("crates-io");
    let detail = run["detail"].to_string();
    assert_eq!(run["added"], 3, "all but memchr and quote: {run}");
    assert!(detail.contains("me/mc/memchr has sha256"), "{detail}");
    assert!(detail.contains("but the pins file says"), "{detail}");
    assert!(
        detail.contains("qu/ot/quote is not in the pins file"),
        "{detail}"
    );
    let stored: Vec<String> = down.pending_versions();
    assert_eq!(
        stored,
        ["itoa@1.0.18", "proc-macro2@1.0.107", "unicode-ident@1.0.27"]
    );
    down.assert_serving();
}

#[test]
fn mirror_lockfile_sends_one_project_and_approves_its_closure() {
    let upstream = SparseUpstream::start();
    let work = tempfile::tempdir().unwrap();
    let project = project_copy(work.path(), "demo");
    let down = downstream(&upstream, "crates = [\"quote@=1.0.47\"]");
    let admin = down.token("admin", "root-admin");
    let out = cli(&[
        "admin",
        "mirror-lockfile",
        project.join("Cargo.lock").to_str().unwrap(),
        "--source",
        "crates-io",
        "--approve",
        "--note",
        "demo project",
        "--registry",
        &down.url,
        "--token",
        &admin,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("approved quote@1.0.47"), "{stdout}");
    assert_eq!(stdout.matches("approved ").count(), 5, "{stdout}");
    build_in_the_air_gap(&project, &format!("{}/index/", down.url));

    // A lockfile that is not one is refused before any run starts.
    let bad = work.path().join("bad.lock");
    std::fs::write(&bad, "[[package]]\nname = 3\n").unwrap();
    let before = down.fingerprint();
    let out = cli(&[
        "admin",
        "mirror-lockfile",
        bad.to_str().unwrap(),
        "--source",
        "crates-io",
        "--registry",
        &down.url,
        "--token",
        &admin,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a Cargo.lock"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(down.fingerprint(), before);
    down.assert_serving();
}

#[test]
fn a_failing_upstream_is_retried_and_never_changes_what_is_stored() {
    let upstream = SparseUpstream::start();
    let proxy = FaultProxy::start(&upstream.nginx.url);
    upstream.set_download_base(&proxy.url);
    let work = tempfile::tempdir().unwrap();
    let project = project_copy(work.path(), "demo");
    let down = Daemon::with_config(&format!(
        "[[sources]]\nname = \"crates-io\"\nkind = \"sparse\"\nurl = \"{}/index/\"\ninterval = \"0\"\nlockfiles = [{:?}]\n",
        proxy.url,
        project.join("Cargo.lock")
    ));

    // Two 503s on an index file and a broken-off download are retried.
    proxy.fault("/index/it/oa/itoa", Fault::Status(503), Some(2));
    proxy.fault("memchr-2.8.3.crate", Fault::Truncate(1000), Some(1));
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["added"], 5, "{run}");
    assert_eq!(proxy.count("/index/it/oa/itoa"), 3);
    assert_eq!(proxy.count("memchr-2.8.3.crate"), 2);
    approve_run(&down, run["id"].as_i64().unwrap());
    let stored = down.fingerprint();

    // An upstream that answers 500 to everything fails the run; nothing
    // stored changes and the daemon goes on serving it.
    proxy.fault("/", Fault::Status(500), None);
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("the upstream answered 500"),
        "{run}"
    );
    assert_eq!(down.fingerprint(), stored);
    assert_eq!(get(&format!("{}/index/it/oa/itoa", down.url)).0, 200);

    // So does one that is gone.
    drop(upstream);
    proxy.clear_faults();
    let run = down.sync_source("crates-io");
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(down.fingerprint(), stored);
    down.assert_serving();
}
