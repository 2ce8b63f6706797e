//! ClawHub (`clawhub@0.23.3`, the real CLI on Node 22) against the daemon's
//! ClawHub REST API (`index-spec/clawhub.md`), and that API as the
//! registry's JSON metadata API for any client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// The skill most tests publish.
pub(crate) const SKILL: &str = "pdf-fill";

/// Writes a skill `name@version` of several files below `dir` (a script, a
/// reference and a binary file), its text carrying `note`; returns its root.
pub(crate) fn skill_source(dir: &Path, name: &str, version: &str, note: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join(format!("{name}-{version}"));
    let write = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write(
        "SKILL.md",
        format!("---\nname: {name}\ndescription: Fill PDF forms from a table.\nlicense: Apache-2.0\nmetadata:\n  version: \"{version}\"\n---\n# {name}\n\n{note}\n").as_bytes(),
    );
    write("scripts/fill.sh", b"#!/bin/sh\necho filling\n");
    write(
        "reference/forms.md",
        format!("# Forms\n\n{note}\n").as_bytes(),
    );
    write("assets/blank.bin", &[0, 159, 146, 150, 0, 1]);
    let script = root.join("scripts/fill.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    root
}

/// GET `path` (with a token, if given): status and body.
fn fetch(d: &Daemon, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let mut r = get_with(&format!("{}{path}", d.url), &headers);
    let status = r.status().as_u16();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut r.body_mut().as_reader(), &mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// GET `path` anonymously, expecting 200 and JSON.
fn api(d: &Daemon, path: &str) -> Value {
    let (status, body) = fetch(d, path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// The slugs of a list or search body.
fn slugs(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {body}"))
        .iter()
        .map(|i| i["slug"].as_str().unwrap().to_string())
        .collect()
}

/// One ClawHub user: a HOME (holding the CLI's config) and a workdir.
pub(crate) struct Clawhub {
    tools: AgentTools,
    home: PathBuf,
    work: PathBuf,
    url: String,
    _dir: tempfile::TempDir,
}

impl Clawhub {
    pub(crate) fn new(url: &str) -> Clawhub {
        let dir = tempfile::tempdir().unwrap();
        let (home, work) = (dir.path().join("home"), dir.path().join("work"));
        std::fs::create_dir_all(&work).unwrap();
        Clawhub {
            tools: AgentTools::get(),
            home,
            work,
            url: url.to_string(),
            _dir: dir,
        }
    }

    /// `clawhub --registry URL --no-input ARGS`: success and all output.
    pub(crate) fn run(&self, args: &[&str]) -> (bool, String) {
        let run = ToolRun::of(
            self.tools
                .clawhub(&self.home, &self.work, &self.url)
                .args(args),
        );
        (run.code == Some(0), run.output())
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.run(args);
        assert!(ok, "clawhub {args:?} failed:\n{out}");
        out
    }

    pub(crate) fn fails(&self, args: &[&str]) -> String {
        let (ok, out) = self.run(args);
        assert!(!ok, "clawhub {args:?} succeeded:\n{out}");
        out
    }

    /// The CLI's own config file, as a user writes it by hand.
    fn configure(&self, token: &str) {
        std::fs::create_dir_all(&self.home).unwrap();
        std::fs::write(
            self.home.join("clawhub.json"),
            json!({"registry": self.url, "token": token}).to_string(),
        )
        .unwrap();
    }

    fn skill_dir(&self, slug: &str) -> PathBuf {
        self.work.join("skills").join(slug)
    }

    /// The installed files of `slug`, without the CLI's own `.clawhub/`.
    pub(crate) fn installed(&self, slug: &str) -> BTreeMap<String, Vec<u8>> {
        tree(&self.skill_dir(slug))
            .into_iter()
            .filter(|(path, _)| !path.starts_with(".clawhub/"))
            .collect()
    }

    pub(crate) fn locked_version(&self, slug: &str) -> Value {
        let lock = std::fs::read_to_string(self.work.join(".clawhub/lock.json")).unwrap();
        serde_json::from_str::<Value>(&lock).unwrap()["skills"][slug]["version"].clone()
    }
}

#[test]
fn install_search_inspect_and_update_work_as_on_the_public_catalog() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    let v1 = skill_source(src.path(), SKILL, "1.0.0", "first");
    d.publish_dir("skill", SKILL, "1.0.0", &v1, &["pdf", "forms"]);
    let c = Clawhub::new(&d.url);

    let out = c.ok(&["install", SKILL]);
    assert!(out.contains("Installed pdf-fill v1.0.0"), "{out}");
    assert_eq!(
        c.installed(SKILL),
        tree(&v1),
        "the published files, byte for byte"
    );
    assert_eq!(c.locked_version(SKILL), "1.0.0");

    let out = c.ok(&["search", "pdf forms"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("pdf-fill v1.0.0") && l.contains("@skillreg")),
        "{out}"
    );
    assert!(!c.ok(&["search", "spreadsheets"]).contains(SKILL));
    let out = c.ok(&["search", "pdf-f", "--prefix"]);
    assert!(out.contains("pdf-fill  v1.0.0"), "{out}");

    let out = c.ok(&["inspect", SKILL]);
    for needle in ["Fill PDF forms from a table.", "@skillreg", "latest=1.0.0"] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    let out = c.ok(&["inspect", SKILL, "--files"]);
    for (path, bytes) in tree(&v1) {
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert!(
            out.contains(&format!("{path}  ")) && out.contains(&sha),
            "{path}: {out}"
        );
    }
    let out = c.ok(&["inspect", SKILL, "--file", "reference/forms.md"]);
    assert!(out.contains("# Forms\n\nfirst\n"), "{out}");

    // A new version: `update` picks it up, files and lock.
    let v2 = skill_source(src.path(), SKILL, "1.1.0", "second");
    d.publish_dir("skill", SKILL, "1.1.0", &v2, &["pdf", "forms"]);
    let out = c.ok(&["update", SKILL]);
    assert!(out.contains("v1.1.0"), "{out}");
    assert_eq!(c.installed(SKILL), tree(&v2));
    assert_eq!(c.locked_version(SKILL), "1.1.0");
    assert!(c.ok(&["update", "--all"]).contains("up to date"));
    let out = c.ok(&["inspect", SKILL, "--versions"]);
    let listed: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "Versions:")
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ["1.1.0", "1.0.0"], "{out}");

    // An older version by number, then a yank: the latest falls back.
    c.ok(&["install", SKILL, "--version", "1.0.0", "--force"]);
    assert_eq!(c.installed(SKILL), tree(&v1));
    let (status, body) = delete(
        &format!("{}/api/v1/crates/{SKILL}/1.1.0/yank", d.url),
        Some(&d.admin),
    );
    assert_eq!(status, 200, "{body}");
    assert!(c.ok(&["update", SKILL]).contains("up to date"));
    assert!(c.ok(&["inspect", SKILL, "--versions"]).contains("yanked"));
}

/// The total of the `downloads` table, read-only.
fn flushed_downloads(data: &Path) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        data.join(skillreg::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT COALESCE(SUM(count), 0) FROM downloads", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Each version's downloads as `GET /api/v1/skills/{slug}` shows them.
fn downloads_by_version(d: &Daemon, slug: &str) -> (u64, BTreeMap<String, u64>) {
    let body = api(d, &format!("/api/v1/skills/{slug}"));
    let total = body["package"]["downloads"].as_u64().unwrap();
    assert_eq!(
        body["skill"]["stats"]["downloads"].as_u64(),
        Some(total),
        "{body}"
    );
    let versions = body["package"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().to_string(),
                v["downloads"].as_u64().unwrap(),
            )
        })
        .collect();
    (total, versions)
}

#[test]
fn download_counts_show_in_the_metadata_api_and_are_flushed() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    for (version, note) in [("1.0.0", "first"), ("1.1.0", "second")] {
        let dir = skill_source(src.path(), SKILL, version, note);
        d.publish_dir("skill", SKILL, version, &dir, &["pdf"]);
    }
    let other = skill_source(src.path(), "csv-read", "1.0.0", "other");
    std::fs::write(
        other.join("SKILL.md"),
        "---\nname: csv-read\ndescription: Read CSV files.\n---\n# csv\n",
    )
    .unwrap();
    d.publish_dir("skill", "csv-read", "1.0.0", &other, &[]);
    let c = Clawhub::new(&d.url);
    c.ok(&["install", SKILL, "--version", "1.0.0"]);
    c.ok(&["update", SKILL]);
    let (status, _) = get_bytes(&format!("{}/api/v1/download?slug={SKILL}", d.url));
    assert_eq!(status, 200);
    // A HEAD fetches nothing, so it is not a download.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let head = agent
        .head(format!("{}/api/v1/download?slug={SKILL}", d.url))
        .call()
        .unwrap();
    assert_eq!(head.status(), 200);

    let expected: BTreeMap<String, u64> =
        [("1.0.0".to_string(), 1), ("1.1.0".to_string(), 2)].into();
    assert_eq!(
        downloads_by_version(&d, SKILL),
        (3, expected.clone()),
        "counted at once"
    );
    let list = api(&d, "/api/v1/skills?sort=downloads");
    assert_eq!(slugs(&list, "items"), [SKILL, "csv-read"], "{list}");
    assert_eq!(list["items"][0]["downloads"], 3);

    // The daemon writes the counts in batches: wait for its flush, then
    // stop it without a shutdown flush and read them back after a restart.
    let deadline = Instant::now() + Duration::from_secs(30);
    while flushed_downloads(&d.data) < 3 {
        assert!(
            Instant::now() < deadline,
            "the downloads were not flushed within 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(flushed_downloads(&d.data), 3);
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, "");
    assert_eq!(downloads_by_version(&d, SKILL), (3, expected));
    // Per day too: all three on the test's day (UTC; two days if it ran
    // across midnight), kept across the restart.
    let body = api(&d, &format!("/api/v1/skills/{SKILL}"));
    let day = |t: std::time::SystemTime| {
        humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
    };
    let now = std::time::SystemTime::now();
    let days = [day(now - Duration::from_secs(120)), day(now)];
    let by_day = body["package"]["downloads_by_day"].as_array().unwrap();
    assert!(
        by_day
            .iter()
            .all(|d| days.contains(&d["day"].as_str().unwrap().to_string())),
        "{body:#}"
    );
    let sum: u64 = by_day.iter().map(|d| d["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 3, "{body:#}");
}

/// A marketplace checkout at `m` with one plugin `vault@version` holding
/// the skill `vault-skill` (which takes the plugin's version), whose text
/// carries `note`.
fn vault_marketplace(m: &Path, version: &str, note: &str) {
    let write = |rel: &str, text: &str| {
        let path = m.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        ".claude-plugin/marketplace.json",
        r#"{"name":"team","owner":{"name":"team"},"plugins":[{"name":"vault","source":"./vault"}]}"#,
    );
    write(
        "vault/.claude-plugin/plugin.json",
        &format!(r#"{{"name":"vault","version":"{version}"}}"#),
    );
    write(
        "vault/skills/vault-skill/SKILL.md",
        &format!("---\nname: vault-skill\ndescription: Opens the vault.\n---\n{note}\n"),
    );
}

/// The pending versions of `name`.
fn pending_versions(d: &Daemon, name: &str) -> Vec<String> {
    let (status, pending) = d.admin_json("GET", "/admin/v1/pending", "");
    assert_eq!(status, 200, "{pending}");
    pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| p["version"].as_str().unwrap().to_string())
        .collect()
}

/// Every ClawHub route that names `name` (and `version`).
fn routes_naming(name: &str, version: &str) -> Vec<String> {
    vec![
        format!("/api/v1/skills/{name}"),
        format!("/api/v1/skills/{name}/versions"),
        format!("/api/v1/skills/{name}/versions/{version}"),
        format!("/api/v1/skills/{name}/file?path=SKILL.md&version={version}"),
        format!("/api/v1/skills/{name}/install"),
        format!("/api/v1/download?slug={name}&version={version}"),
        format!("/api/v1/download?slug={name}"),
        format!("/api/v1/resolve?slug={name}&hash=00"),
    ]
}

/// Asserts that nothing lists `name`: search, lists, prefixes, tags.
fn assert_unlisted(d: &Daemon, name: &str) {
    for path in [
        "/api/v1/search?q=vault&kind=all".to_string(),
        "/api/v1/skills?q=vault".to_string(),
        "/api/v1/skills?prefix=vau".to_string(),
        "/api/v1/skills?limit=200".to_string(),
    ] {
        let body = api(d, &path);
        let key = if path.contains("search") {
            "results"
        } else {
            "items"
        };
        assert!(
            !slugs(&body, key).iter().any(|s| s.starts_with("vault")),
            "{path}: {body}"
        );
        assert!(!body.to_string().contains(name), "{path}: {body}");
    }
    let tags = api(d, "/api/v1/tags");
    assert_eq!(tags, json!({"tags": [{"tag": "pdf", "count": 1}]}));
}

#[test]
fn a_skill_waiting_for_review_is_not_found_on_any_route_and_never_listed() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    vault_marketplace(&m, "1.0.0", "first");
    let toml = marketplace_source("team", &m);
    let d = Daemon::with_config(&toml);
    let dir = skill_source(work.path(), SKILL, "1.0.0", "public");
    d.publish_dir("skill", SKILL, "1.0.0", &dir, &["pdf"]);
    let run = d.sync_source("team");
    assert_eq!(run["status"], "completed", "{run}");
    let pending = pending_versions(&d, "vault-skill");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let pending = &pending[0];
    // A restart renders every package from the store: still held.
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, &toml);
    let mut c = Clawhub::new(&d.url);

    let before = d.fingerprint();
    // Every route answers exactly as for a name never used, to anyone.
    let never = "vault-skilz";
    for (asked, missing) in routes_naming("vault-skill", pending)
        .into_iter()
        .zip(routes_naming(never, pending))
    {
        let expected = fetch(&d, &missing, None);
        assert_eq!(expected.0, 404, "{missing}: {}", expected.1);
        for token in [None, Some(d.admin.as_str())] {
            let (status, body) = fetch(&d, &asked, token);
            assert_eq!(
                (status, body.replace("vault-skill", never)),
                expected,
                "{asked}"
            );
        }
    }
    assert_unlisted(&d, "vault-skill");
    let out = c.fails(&["install", "vault-skill"]);
    assert!(out.contains("not found"), "{out}");
    assert!(!c.skill_dir("vault-skill").exists());
    assert!(!c.ok(&["search", "vault"]).contains("vault"));
    assert_eq!(
        d.fingerprint(),
        before,
        "reading a held skill changed nothing"
    );
    d.assert_serving();
    assert_not_exported(&d, "vault-skill");

    // Approved, it appears (so the 404s were the hold, not the fixture).
    let (status, body) = d.admin_json(
        "POST",
        &format!("/admin/v1/packages/vault-skill/{pending}/approve"),
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    c.ok(&["install", "vault-skill"]);
    assert_eq!(
        c.installed("vault-skill"),
        tree(&m.join("vault/skills/vault-skill"))
    );

    // A newer upstream version waits for review: it is not there either.
    let updated_at = api(&d, "/api/v1/skills/vault-skill")["skill"]["updatedAt"].clone();
    vault_marketplace(&m, "1.1.0", "second");
    let run = d.sync_source("team");
    assert_eq!(run["status"], "completed", "{run}");
    let newer = pending_versions(&d, "vault-skill");
    assert_eq!(newer.len(), 1, "{newer:?}");
    let newer = &newer[0];
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, &toml);
    c.url = d.url.clone();
    let before = d.fingerprint();
    let body = api(&d, "/api/v1/skills/vault-skill");
    assert_eq!(body["latestVersion"]["version"], pending.as_str(), "{body}");
    assert_eq!(
        body["skill"]["updatedAt"], updated_at,
        "no trace of the pending version"
    );
    assert!(!body.to_string().contains(newer.as_str()), "{body}");
    for path in [
        format!("/api/v1/skills/vault-skill/versions/{newer}"),
        format!("/api/v1/download?slug=vault-skill&version={newer}"),
        format!("/api/v1/skills/vault-skill/file?path=SKILL.md&version={newer}"),
    ] {
        let (status, body) = fetch(&d, &path, Some(&d.admin));
        let missing = fetch(&d, &path.replace(newer.as_str(), "9.9.9"), None);
        assert_eq!(
            (status, body.replace(newer.as_str(), "9.9.9")),
            missing,
            "{path}"
        );
    }
    assert!(c.ok(&["update", "vault-skill"]).contains("up to date"));
    assert_eq!(d.fingerprint(), before);
    d.assert_serving();
    assert_not_exported(&d, newer);
}

/// A static export of `d` names `held` in no file's path or content (its
/// ClawHub files, feeds and index alike).
fn assert_not_exported(d: &Daemon, held: &str) {
    let out = tempfile::tempdir().unwrap();
    d.export_static(out.path(), "http://tree.example");
    let files = tree(out.path());
    assert!(
        files.contains_key("api/v1/search/index.json"),
        "{:?}",
        files.keys()
    );
    for (path, bytes) in files {
        assert!(!path.contains(held), "{path}");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(held), "{path} names {held}");
    }
}

#[test]
fn with_auth_required_the_cli_needs_the_token_in_its_config() {
    let d = Daemon::with_config("auth_required = true\n");
    let src = tempfile::tempdir().unwrap();
    let dir = skill_source(src.path(), SKILL, "1.0.0", "private");
    d.publish_dir("skill", SKILL, "1.0.0", &dir, &["pdf"]);
    let reader = d.token("reader", "alice");
    let c = Clawhub::new(&d.url);

    let before = d.fingerprint();
    let out = c.fails(&["install", SKILL]);
    assert!(out.contains("requires a token"), "{out}");
    c.fails(&["search", "pdf"]);
    c.configure("skr_1_not-a-real-token");
    c.fails(&["install", SKILL]);
    assert!(!c.skill_dir(SKILL).exists());
    assert_eq!(fetch(&d, &format!("/api/v1/skills/{SKILL}"), None).0, 401);
    assert_eq!(d.fingerprint(), before, "refused reads changed nothing");
    d.assert_serving();

    // The documented credential: the token in the CLI's config file.
    c.configure(&reader);
    c.ok(&["install", SKILL]);
    assert_eq!(c.installed(SKILL), tree(&dir));
    assert!(c.ok(&["search", "pdf"]).contains(SKILL));
    assert!(c.ok(&["whoami"]).contains("alice"));
    // Or `login --token`, which checks it with whoami and saves it.
    let c2 = Clawhub::new(&d.url);
    assert!(c2.ok(&["login", "--token", &reader]).contains("alice"));
    c2.ok(&["install", SKILL]);
    assert_eq!(c2.installed(SKILL), tree(&dir));
    // Discovery names only the base URL, so it needs no token.
    assert_eq!(
        api(&d, "/.well-known/clawhub.json"),
        json!({"apiBase": d.url})
    );
}

#[test]
fn the_cli_finds_the_registry_through_the_well_known_file() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    let dir = skill_source(src.path(), SKILL, "1.0.0", "found");
    d.publish_dir("skill", SKILL, "1.0.0", &dir, &[]);
    let c = Clawhub::new(&d.url);
    // The same command, with `--site` instead of `--registry`.
    let base = c.tools.clawhub(&c.home, &c.work, &d.url);
    let script = base.get_args().next().unwrap().to_owned();
    let mut cmd = Command::new(base.get_program());
    cmd.env_clear().current_dir(&c.work).arg(script).args([
        "--site",
        &d.url,
        "--no-input",
        "install",
        SKILL,
    ]);
    for (key, value) in base.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c.installed(SKILL), tree(&dir));
}

#[test]
fn the_metadata_api_lists_every_kind_with_its_facts() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    for (version, note) in [("1.0.0", "first"), ("1.1.0", "second")] {
        let dir = skill_source(src.path(), SKILL, version, note);
        d.publish_dir("skill", SKILL, version, &dir, &["pdf", "forms"]);
    }
    let plugin = src.path().join("pdf-kit");
    std::fs::create_dir_all(plugin.join(".claude-plugin")).unwrap();
    std::fs::write(
        plugin.join(".claude-plugin/plugin.json"),
        r#"{"name":"pdf-kit","version":"0.3.0","description":"PDF tools for Claude Code","license":"MIT-0"}"#,
    )
    .unwrap();
    d.publish_dir("plugin", "pdf-kit", "0.3.0", &plugin, &["pdf"]);

    let all = api(&d, "/api/v1/skills?sort=name");
    assert_eq!(slugs(&all, "items"), ["pdf-fill", "pdf-kit"], "{all}");
    assert_eq!(
        (
            all["items"][0]["kind"].as_str(),
            all["items"][1]["kind"].as_str()
        ),
        (Some("skill"), Some("plugin"))
    );
    assert_eq!(all["total"], 2);
    assert_eq!(
        slugs(&api(&d, "/api/v1/skills?kind=plugin"), "items"),
        ["pdf-kit"]
    );
    let page = api(&d, "/api/v1/skills?sort=name&limit=1");
    assert_eq!(
        (slugs(&page, "items"), page["nextCursor"].clone()),
        (vec![SKILL.to_string()], json!("1"))
    );
    let page = api(&d, "/api/v1/skills?sort=name&limit=1&cursor=1");
    assert_eq!(
        (slugs(&page, "items"), page["nextCursor"].clone()),
        (vec!["pdf-kit".to_string()], Value::Null)
    );
    // ClawHub's search offers what it can install; `kind` widens it.
    assert_eq!(slugs(&api(&d, "/api/v1/search?q=pdf"), "results"), [SKILL]);
    assert_eq!(
        slugs(&api(&d, "/api/v1/search?q=pdf&kind=all"), "results"),
        [SKILL, "pdf-kit"]
    );
    assert_eq!(
        api(&d, "/api/v1/tags"),
        json!({"tags": [{"tag": "pdf", "count": 2}, {"tag": "forms", "count": 1}]})
    );

    let body = api(&d, &format!("/api/v1/skills/{SKILL}"));
    let package = &body["package"];
    assert_eq!(
        (package["kind"].as_str(), package["license"].as_str()),
        (Some("skill"), Some("Apache-2.0"))
    );
    assert_eq!(
        body["latestVersion"]["license"],
        Value::Null,
        "ClawHub takes only MIT-0"
    );
    assert_eq!(package["keywords"], json!(["pdf", "forms"]));
    let index = fetch(
        &d,
        &format!("/index/{}", skillreg::index::path_for(SKILL)),
        None,
    )
    .1;
    let cksums: Vec<(String, String)> = index
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| {
            (
                e["vers"].as_str().unwrap().into(),
                e["cksum"].as_str().unwrap().into(),
            )
        })
        .rev()
        .collect();
    let listed: Vec<(String, String)> = package["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_str().unwrap().into(),
                v["checksum"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(listed, cksums, "highest first, with the index's checksums");
    let kit = api(&d, "/api/v1/skills/pdf-kit");
    assert_eq!(kit["latestVersion"]["license"], "MIT-0");
    assert_eq!(kit["package"]["kind"], "plugin");

    // Refusals: readable, and they change nothing.
    let before = d.fingerprint();
    let refusals = [
        ("/api/v1/download?slug=pdf-kit", 404, "is a plugin"),
        (
            "/api/v1/download?slug=pdf-fill&version=1.0",
            404,
            "no version `1.0`",
        ),
        (
            "/api/v1/skills/pdf-fill?ownerHandle=alice",
            404,
            "not found",
        ),
        (
            "/api/v1/skills/pdf-fill/file?path=../SKILL.md",
            404,
            "no file",
        ),
        (
            "/api/v1/skills/pdf-fill/file?path=./SKILL.md",
            404,
            "no file",
        ),
        (
            "/api/v1/skills/pdf-fill/file?path=/SKILL.md",
            404,
            "no file",
        ),
        ("/api/v1/skills/pdf-fill/file?path=scripts", 404, "no file"),
        (
            "/api/v1/skills/pdf-fill/file?path=reference/../SKILL.md",
            404,
            "no file",
        ),
        (
            "/api/v1/skills/pdf-fill/file?path=assets/blank.bin",
            409,
            "not UTF-8 text",
        ),
        (
            "/api/v1/skills/pdf-fill/file?path=SKILL.md&tag=beta",
            404,
            "no tag",
        ),
        ("/api/v1/skills?sort=stars", 400, "no stars"),
        ("/api/v1/skills?kind=widget", 400, "`kind`"),
        ("/api/v1/skills?cursor=x", 400, "cursor"),
        ("/api/v1/download", 400, "`slug` is required"),
    ];
    for (path, status, needle) in refusals {
        let (got, body) = fetch(&d, path, None);
        assert_eq!(got, status, "{path}: {body}");
        assert!(detail(&body).contains(needle), "{path}: {body}");
    }
    let (status, body) = put(&format!("{}/api/v1/skills", d.url), Some(&d.admin), b"{}");
    assert_eq!(status, 405, "{body}");
    let (status, text) = fetch(&d, "/api/v1/skills/pdf-fill/file?path=SKILL.md", None);
    assert_eq!(status, 200);
    assert!(text.contains("second"), "the latest version's file: {text}");
    assert_eq!(d.fingerprint(), before);
    d.assert_serving();
}
