//! The `wellknown` and `clawhub` mirror sources against real upstreams: a
//! skillreg daemon, and the static tree its `export-static` writes, served
//! by nginx (with `nginx/clawhub.conf` for ClawHub's API). Versions arrive
//! pending; an approved one is served downstream; a tampered artifact
//! fails the run and changes nothing; a re-sync with nothing new costs
//! only conditional requests; hostile entries are skipped.

mod common;

use std::path::Path;

use common::*;

mod mirror_agent_sources {
    pub mod hostile;
}

/// The `[[sources]]` table of a wellknown source `agents` at `url`.
pub fn wellknown(url: &str) -> String {
    format!(
        "[[sources]]\nname = \"agents\"\nkind = \"wellknown\"\nurl = {url:?}\ninterval = \"0\"\n"
    )
}

/// The `[[sources]]` table of a clawhub source `hub` at `url`.
pub fn clawhub(url: &str, slugs: &[&str], search: &str) -> String {
    format!(
        "[[sources]]\nname = \"hub\"\nkind = \"clawhub\"\nurl = {url:?}\ninterval = \"0\"\nslugs = {slugs:?}\nsearch = {search:?}\n"
    )
}

/// The run's error and detail as one string.
pub fn why(run: &serde_json::Value) -> String {
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

/// (added, pending, unchanged, skipped, failed) of a run.
pub fn counts(run: &serde_json::Value) -> [i64; 5] {
    ["added", "pending", "unchanged", "skipped", "failed"].map(|k| run[k].as_i64().unwrap())
}

/// The pending (name, version) pairs, sorted.
pub fn pending(d: &Daemon) -> Vec<(String, String)> {
    d.pending_versions()
        .iter()
        .map(|v| {
            let (name, version) = v.rsplit_once('@').expect("name@version");
            (name.to_string(), version.to_string())
        })
        .collect()
}

/// Asserts the store and what is served are as `before`, but for the
/// versions each run records it resolved (`sync_run_versions`, part of the
/// run log like `sync_runs`: a re-sync resolves the versions stored).
pub fn assert_same(d: &Daemon, before: &Fingerprint) {
    let diff: Vec<String> = before
        .diff(&d.fingerprint())
        .into_iter()
        .filter(|line| !line.starts_with("sync_run_versions: "))
        .collect();
    assert_eq!(diff, Vec::<String>::new());
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The upstream facts of a pending version.
fn facts(d: &Daemon, name: &str, version: &str) -> serde_json::Value {
    let (_, body) = d.admin_json("GET", "/admin/v1/pending", "");
    body["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name && p["version"] == version)
        .unwrap_or_else(|| panic!("{name}@{version} is not pending: {body:#}"))["upstream"]
        .clone()
}

/// Approves `name@version` and checks the downstream's index serves it.
pub fn approve_and_serve(d: &Daemon, name: &str, version: &str) {
    let index = format!("{}/index/{}", d.url, skillreg::index::path_for(name));
    assert_eq!(get(&index).0, 404, "pending is not served");
    let path = format!("/admin/v1/packages/{name}/{version}/approve");
    let (status, body) = d.admin_json("POST", &path, r#"{"note":"reviewed"}"#);
    assert_eq!(status, 200, "{body}");
    let (status, lines) = get(&index);
    assert_eq!(status, 200);
    assert!(
        lines.contains(&format!("\"vers\":\"{version}\"")),
        "{lines}"
    );
}

/// An upstream daemon with three skills: alpha (two versions), beta-tool
/// and gamma.
fn upstream() -> Daemon {
    let up = Daemon::start();
    up.publish_skill("alpha", "1.0.0");
    up.publish_skill("alpha", "1.1.0");
    up.publish_skill("beta-tool", "2.0.0");
    up.publish_skill("gamma", "0.3.0");
    up
}

/// `up`'s static tree in a folder nginx can read, served with ClawHub's
/// mapping.
fn tree_on_nginx(up: &Daemon) -> (tempfile::TempDir, std::path::PathBuf, Nginx) {
    let site = public_tempdir();
    let out = site.path().join("tree");
    up.export_static(&out, "http://tree.example");
    make_public(&out);
    let nginx = Nginx::serve_with_clawhub(&out);
    (site, out, nginx)
}

/// Makes a tree readable by nginx's workers.
pub fn make_public(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn wellknown_from_a_skillreg_daemon_waits_for_approval_and_a_resync_costs_one_request() {
    let up = upstream();
    let down = Daemon::with_config(&wellknown(&up.url));
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(counts(&run), [3, 3, 0, 0, 0], "{run:#}");
    // The index lists each skill's latest version only.
    assert_eq!(
        pending(&down),
        pairs(&[
            ("alpha", "1.1.0"),
            ("beta-tool", "2.0.0"),
            ("gamma", "0.3.0")
        ])
    );
    let upstream_facts = facts(&down, "alpha", "1.1.0");
    assert!(
        upstream_facts["signature"]
            .as_str()
            .unwrap()
            .starts_with("none ("),
        "{upstream_facts}"
    );
    assert!(upstream_facts["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    approve_and_serve(&down, "alpha", "1.1.0");

    // Nothing new: one conditional request for the index, nothing stored.
    let before = down.fingerprint();
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(counts(&run), [0, 0, 3, 0, 0], "{run:#}");
    assert!(
        why(&run).contains("1 request(s) to the upstream"),
        "{run:#}"
    );
    assert_same(&down, &before);

    // A new upstream version arrives pending.
    up.publish_skill("gamma", "0.4.0");
    let run = down.sync_source("agents");
    assert_eq!(counts(&run), [1, 1, 2, 0, 0], "{run:#}");
    assert!(pending(&down).contains(&("gamma".into(), "0.4.0".into())));
}

#[test]
fn wellknown_from_a_static_tree_on_nginx_and_a_tampered_zip_changes_nothing() {
    let up = upstream();
    let (_site, out, nginx) = tree_on_nginx(&up);
    let down = Daemon::with_config(&wellknown(&nginx.url));
    let run = down.sync_source("agents");
    assert_eq!(counts(&run), [3, 3, 0, 0, 0], "{run:#}");
    approve_and_serve(&down, "beta-tool", "2.0.0");

    let served = nginx.statuses().len();
    let run = down.sync_source("agents");
    assert_eq!(counts(&run), [0, 0, 3, 0, 0], "{run:#}");
    assert_eq!(
        nginx.statuses()[served..],
        [304],
        "only the index, revalidated"
    );

    // A tampered zip under an unchanged index: refused, nothing stored.
    up.publish_skill("gamma", "0.5.0");
    up.export_static(&out, "http://tree.example");
    make_public(&out);
    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join(".well-known/agent-skills/index.json")).unwrap(),
    )
    .unwrap();
    let gamma = index["skills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "gamma")
        .unwrap();
    let zip = out
        .join(".well-known/agent-skills")
        .join(gamma["url"].as_str().unwrap());
    let mut bytes = std::fs::read(&zip).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&zip, bytes).unwrap();
    let before = down.fingerprint();
    let run = down.sync_source("agents");
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["failed"].as_i64(), Some(1), "{run:#}");
    let text = why(&run);
    assert!(
        text.contains("skill gamma") && text.contains("the index's digest says"),
        "{text}"
    );
    assert_same(&down, &before);
    assert!(!pending(&down).contains(&("gamma".into(), "0.5.0".into())));
    down.assert_serving();
}

#[test]
fn clawhub_from_a_skillreg_daemon_mirrors_slugs_and_search_results() {
    let up = upstream();
    let down = Daemon::with_config(&clawhub(&up.url, &["alpha"], "beta"));
    let run = down.sync_source("hub");
    assert_eq!(run["status"], "completed", "{run:#}");
    assert_eq!(counts(&run), [3, 3, 0, 0, 0], "{run:#}");
    assert_eq!(
        pending(&down),
        pairs(&[
            ("alpha", "1.0.0"),
            ("alpha", "1.1.0"),
            ("beta-tool", "2.0.0")
        ])
    );
    let f = facts(&down, "alpha", "1.0.0");
    assert_eq!(f["zip_sha256_checked"], true, "{f}");
    assert_eq!(f["files_checked"], true, "{f}");
    approve_and_serve(&down, "alpha", "1.0.0");

    // Nothing new: nothing downloaded, nothing stored.
    let before = down.fingerprint();
    let run = down.sync_source("hub");
    assert_eq!(counts(&run), [0, 0, 3, 0, 0], "{run:#}");
    // search, then a skill and its versions per slug.
    assert!(
        why(&run).contains("5 request(s) to the upstream"),
        "{run:#}"
    );
    assert_same(&down, &before);

    // Each of those is a revalidation the daemon answers 304: its ClawHub
    // JSON carries a strong ETag of its bytes.
    for path in [
        "/api/v1/skills/alpha",
        "/api/v1/skills/alpha/versions",
        "/api/v1/search?q=beta",
    ] {
        let url = format!("{}{path}", up.url);
        let first = get_with(&url, &[]);
        assert_eq!(first.status(), 200, "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        let again = get_with(&url, &[("If-None-Match", &etag)]);
        assert_eq!(again.status(), 304, "{path}");
    }
}

#[test]
fn clawhub_from_a_static_tree_on_nginx_costs_only_revalidations_and_refuses_a_tampered_zip() {
    let up = upstream();
    let (_site, out, nginx) = tree_on_nginx(&up);
    let down = Daemon::with_config(&clawhub(&nginx.url, &["gamma"], "anything"));
    let run = down.sync_source("hub");
    assert_eq!(run["status"], "completed", "{run:#}");
    // A tree's search answers every skill, whatever the query.
    assert_eq!(counts(&run), [4, 4, 0, 0, 0], "{run:#}");
    approve_and_serve(&down, "gamma", "0.3.0");

    let served = nginx.statuses().len();
    let run = down.sync_source("hub");
    assert_eq!(counts(&run), [0, 0, 4, 0, 0], "{run:#}");
    let again = &nginx.statuses()[served..];
    assert!(
        !again.is_empty() && again.iter().all(|s| *s == 304),
        "{again:?}"
    );

    // A tampered zip of a new version: its sha256 is not the listed one.
    up.publish_skill("alpha", "1.2.0");
    up.export_static(&out, "http://tree.example");
    make_public(&out);
    let zip = out.join("api/v1/download/alpha/1.2.0.zip");
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes[40] ^= 0x20;
    std::fs::write(&zip, bytes).unwrap();
    let before = down.fingerprint();
    let run = down.sync_source("hub");
    assert_eq!(run["status"], "failed", "{run:#}");
    let text = why(&run);
    assert!(
        text.contains("skill alpha@1.2.0") && text.contains("the upstream's metadata says"),
        "{text}"
    );
    assert_same(&down, &before);
    down.assert_serving();
}
