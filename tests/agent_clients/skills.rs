//! The `skills` CLI (npm `skills`) against the Agent Skills well-known
//! index: `skills add URL`, `--list`, scopes, `skills update`, quarantine,
//! yanks, and the `/~TOKEN/` path of an `auth_required` registry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::*;

/// A project directory and a HOME of its own, where the CLI runs.
struct Project {
    tools: AgentTools,
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let project = Project {
            tools: AgentTools::get(),
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(project.cwd()).unwrap();
        project
    }

    fn cwd(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// `skills ARGS` in the project.
    fn skills(&self, args: &[&str]) -> ToolRun {
        ToolRun::of(
            self.tools
                .skills(&self.dir.path().join("home"), &self.cwd())
                .args(args),
        )
    }

    /// `skills add URL -y -a claude-code`, which must succeed.
    fn add(&self, url: &str) {
        self.skills(&["add", url, "-y", "-a", "claude-code"]).ok();
    }

    /// The files of the installed skill `name` (`.claude/skills/<name>/`,
    /// which `skills update` may turn into a link to `.agents/skills/`).
    fn installed(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
        let dir = self.cwd().join(".claude/skills").join(name);
        assert!(dir.is_dir(), "{} is not installed", dir.display());
        tree(&dir)
    }

    /// The digest `skills-lock.json` recorded for `name`.
    fn locked_digest(&self, name: &str) -> String {
        let lock = std::fs::read_to_string(self.cwd().join("skills-lock.json")).unwrap();
        let lock: serde_json::Value = serde_json::from_str(&lock).unwrap();
        lock["skills"][name]["wellKnownDigest"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not in the lock: {lock}"))
            .to_string()
    }
}

/// The bundle of `name@version` as the registry stores it (read as the
/// admin, who also sees pending versions).
fn bundle(d: &Daemon, name: &str, version: &str) -> Vec<u8> {
    use std::io::Read;
    let r = get_with(
        &format!("{}/api/v1/crates/{name}/{version}/download", d.url),
        &[("authorization", &d.admin)],
    );
    assert_eq!(r.status(), 200, "download {name}@{version}");
    let mut bytes = Vec::new();
    r.into_body().as_reader().read_to_end(&mut bytes).unwrap();
    bytes
}

/// The index at `base` (a daemon URL, maybe with a scope or a token):
/// name → (url, digest).
fn index(base: &str) -> BTreeMap<String, (String, String)> {
    let (status, body) = get(&format!("{base}/.well-known/agent-skills/index.json"));
    assert_eq!(status, 200, "{body}");
    let index: serde_json::Value = serde_json::from_str(&body).unwrap();
    index["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let field = |k: &str| s[k].as_str().unwrap().to_string();
            (field("name"), (field("url"), field("digest")))
        })
        .collect()
}

/// The skill-shaped zip of a skill bundle, as the index should name it
/// (that shape names no publisher).
fn skill_zip(bundle: &[u8], name: &str, version: &str) -> String {
    feed_zip_sha256(
        bundle,
        skillreg::package::Kind::Skill,
        name,
        version,
        &format!("The {name} skill, for tests."),
        "",
        skillreg::feeds::archive::Shape::Skill,
    )
}

#[test]
fn skills_add_installs_a_published_skill_byte_identical_and_lists_it() {
    let d = Daemon::start();
    let admin = Admin::of(&d);
    let src = tempfile::tempdir().unwrap();
    admin.publish(&rich_skill(src.path(), "pdf-tools", "1.2.0", "Reads PDFs."));
    admin.publish(&example_dir("hello-skill"));
    admin.publish(&example_dir("hello-plugin"));
    let project = Project::new();

    let listed = project.skills(&["add", &d.url, "--list"]).ok().output();
    assert!(
        listed.contains("pdf-tools") && listed.contains("hello-skill"),
        "{listed}"
    );
    assert!(
        !listed.contains("hello-plugin"),
        "a plugin is not a skill: {listed}"
    );

    project.add(&d.url);
    for (name, version) in [("pdf-tools", "1.2.0"), ("hello-skill", "1.0.0")] {
        let stored = bundle(&d, name, version);
        assert_same_files(
            &project.installed(name),
            &bundle_files(&stored),
            &format!("{name} is installed as the bundle's files, byte for byte"),
        );
        assert_eq!(project.locked_digest(name), index(&d.url)[name].1);
    }
    let script = project
        .cwd()
        .join(".claude/skills/pdf-tools/scripts/check.sh");
    assert!(script.is_file());
}

#[test]
fn a_scope_lists_only_its_skills_and_an_unknown_scope_fails() {
    let d =
        Daemon::with_config("[[feeds.scopes]]\npath = \"teams/data\"\ninclude = [\"data-*\"]\n");
    let admin = Admin::of(&d);
    let src = tempfile::tempdir().unwrap();
    for name in ["data-clean", "data-load", "web-ui"] {
        admin.publish(&rich_skill(src.path(), name, "1.0.0", "Scoped."));
    }
    let project = Project::new();

    let scoped = project
        .skills(&["add", &format!("{}/teams/data", d.url), "--list"])
        .ok()
        .output();
    assert!(
        scoped.contains("data-clean") && scoped.contains("data-load"),
        "{scoped}"
    );
    assert!(!scoped.contains("web-ui"), "{scoped}");
    let root = project.skills(&["add", &d.url, "--list"]).ok().output();
    assert!(
        root.contains("web-ui") && root.contains("data-load"),
        "{root}"
    );

    // The CLI never falls back to the root index for a path it was given.
    let unknown = project
        .skills(&["add", &format!("{}/teams/nope", d.url), "--list"])
        .exited(1)
        .output();
    assert!(unknown.contains("Not falling back"), "{unknown}");
    assert!(!unknown.contains("web-ui"), "{unknown}");

    project.add(&format!("{}/teams/data", d.url));
    assert!(project.cwd().join(".claude/skills/data-load").is_dir());
    assert!(!project.cwd().join(".claude/skills/web-ui").exists());
}

/// An upstream daemon and a downstream one mirroring it, plus the temp dir
/// holding the upstream's root key.
fn mirrored() -> (Daemon, Daemon, tempfile::TempDir) {
    let upstream = Daemon::start();
    let keys = tempfile::tempdir().unwrap();
    let down = Daemon::with_config(&mirror_source_toml(&upstream, keys.path()));
    (upstream, down, keys)
}

#[test]
fn skills_update_picks_up_a_new_version_only_once_it_is_approved() {
    let (upstream, down, _keys) = mirrored();
    let (up, admin) = (Admin::of(&upstream), Admin::of(&down));
    let src = tempfile::tempdir().unwrap();
    up.publish(&rich_skill(src.path(), "mirror-me", "1.0.0", "First."));
    admin.sync_up();
    admin.approve("mirror-me@1.0.0");
    let project = Project::new();
    project.add(&down.url);
    let first = bundle_files(&bundle(&down, "mirror-me", "1.0.0"));
    assert_same_files(
        &project.installed("mirror-me"),
        &first,
        "installed as the bundle's files",
    );

    std::fs::remove_dir_all(src.path().join("mirror-me")).unwrap();
    up.publish(&rich_skill(src.path(), "mirror-me", "1.1.0", "Second."));
    admin.sync_up();
    assert_eq!(admin.pending(), ["mirror-me@1.1.0"]);
    // A start renders every document from the store: still not offered.
    let down = down.restart(&[]);
    let admin = Admin::of(&down);
    project.skills(&["update", "-p", "-y"]).ok();
    assert_same_files(
        &project.installed("mirror-me"),
        &first,
        "a pending version is not an update",
    );

    admin.approve("mirror-me@1.1.0");
    project.skills(&["update", "-p", "-y"]).ok();
    let second = bundle(&down, "mirror-me", "1.1.0");
    assert_ne!(bundle_files(&second), first);
    assert_same_files(
        &project.installed("mirror-me"),
        &bundle_files(&second),
        "installed as the bundle's files",
    );
    assert_eq!(
        project.locked_digest("mirror-me"),
        format!("sha256:{}", skill_zip(&second, "mirror-me", "1.1.0"))
    );
}

#[test]
fn a_pending_skill_is_never_offered_and_its_zip_is_not_served() {
    let (upstream, down, _keys) = mirrored();
    let (up, admin) = (Admin::of(&upstream), Admin::of(&down));
    let src = tempfile::tempdir().unwrap();
    up.publish(&rich_skill(src.path(), "held-back", "1.0.0", "Pending."));
    admin.sync_up();
    assert_eq!(admin.pending(), ["held-back@1.0.0"]);
    // Something approved beside it, so the index is not simply empty.
    admin.publish(&rich_skill(src.path(), "local-one", "1.0.0", "Approved."));
    // A start renders every document from the store, pending or not.
    let down = down.restart(&[]);
    let admin = Admin::of(&down);

    let project = Project::new();
    let listed = project.skills(&["add", &down.url, "--list"]).ok().output();
    assert!(listed.contains("local-one"), "{listed}");
    assert!(!listed.contains("held-back"), "{listed}");
    project.add(&down.url);
    assert!(!project.cwd().join(".claude/skills/held-back").exists());

    // The zip it would have, at every URL the index could name it.
    let pending = bundle(&down, "held-back", "1.0.0");
    let sha = skill_zip(&pending, "held-back", "1.0.0");
    let zip_url = format!("{}/.well-known/agent-skills/files/{sha}.zip", down.url);
    assert_eq!(get(&zip_url).0, 404);
    let as_admin = get_with(&zip_url, &[("authorization", &down.admin)]);
    assert_eq!(as_admin.status(), 404, "not even to an admin");

    // Approved: named with exactly that zip, which is now served.
    admin.approve("held-back@1.0.0");
    let (url, digest) = index(&down.url)["held-back"].clone();
    assert_eq!(
        (url.as_str(), digest),
        (format!("files/{sha}.zip").as_str(), format!("sha256:{sha}"))
    );
    assert_eq!(get_bytes(&zip_url).0, 200);
}

#[test]
fn yanking_the_latest_version_falls_back_to_the_previous_one_and_then_removes_the_skill() {
    let d = Daemon::start();
    let admin = Admin::of(&d);
    let src = tempfile::tempdir().unwrap();
    admin.publish(&rich_skill(src.path(), "yank-me", "1.0.0", "Old."));
    std::fs::remove_dir_all(src.path().join("yank-me")).unwrap();
    admin.publish(&rich_skill(src.path(), "yank-me", "1.1.0", "New."));
    admin.publish(&rich_skill(src.path(), "stays", "1.0.0", "Kept."));
    let (old, new) = (
        bundle(&d, "yank-me", "1.0.0"),
        bundle(&d, "yank-me", "1.1.0"),
    );
    let new_zip = skill_zip(&new, "yank-me", "1.1.0");
    assert_eq!(index(&d.url)["yank-me"].1, format!("sha256:{new_zip}"));
    // The superseded zip stays served: the CLI fetches zips after the
    // index, which may be from a moment before 1.1.0 came.
    let old_zip = skill_zip(&old, "yank-me", "1.0.0");
    let old_url = format!("{}/.well-known/agent-skills/files/{old_zip}.zip", d.url);
    assert_eq!(get_bytes(&old_url).0, 200);

    let yank = |version: &str| {
        let url = format!("{}/api/v1/crates/yank-me/{version}/yank", d.url);
        let (status, body) = delete(&url, Some(&d.admin));
        assert_eq!(status, 200, "{body}");
    };
    yank("1.1.0");
    assert_eq!(index(&d.url)["yank-me"].1, format!("sha256:{old_zip}"));
    let new_url = format!("{}/.well-known/agent-skills/files/{new_zip}.zip", d.url);
    assert_eq!(get(&new_url).0, 404, "the yanked version's zip is gone");
    let project = Project::new();
    project.add(&d.url);
    assert_same_files(
        &project.installed("yank-me"),
        &bundle_files(&old),
        "installed as the bundle's files",
    );

    yank("1.0.0");
    assert!(!index(&d.url).contains_key("yank-me"));
    assert_eq!(get(&old_url).0, 404, "a yanked version's zip is not served");
    let listed = Project::new()
        .skills(&["add", &d.url, "--list"])
        .ok()
        .output();
    assert!(listed.contains("stays"), "{listed}");
    assert!(!listed.contains("yank-me"), "{listed}");
}

/// The id of a token (`skr_<id>_…`), for `skillreg token revoke`.
fn token_id(token: &str) -> &str {
    token.split('_').nth(1).unwrap()
}

#[test]
fn with_auth_required_the_skills_cli_needs_a_feed_token_in_the_url_and_a_revoked_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start_with_env(
        dir,
        data,
        "auth_required = true\n[[feeds.scopes]]\npath = \"teams/data\"\ninclude = [\"data-*\"]\n",
        &[("SKILLREG_LOG", "debug")],
    );
    let admin = Admin::of(&d);
    let src = tempfile::tempdir().unwrap();
    admin.publish(&rich_skill(src.path(), "private-one", "1.0.0", "Secret."));
    admin.publish(&rich_skill(src.path(), "data-private", "1.0.0", "Scoped."));
    let reader = d.token("reader", "rita");
    let project = Project::new();

    let without = project
        .skills(&["add", &d.url, "--list"])
        .exited(1)
        .output();
    assert!(!without.contains("private-one"), "{without}");

    let with = format!("{}/~{reader}", d.url);
    let listed = project.skills(&["add", &with, "--list"]).ok().output();
    assert!(listed.contains("private-one"), "{listed}");
    let scoped = project
        .skills(&["add", &format!("{with}/teams/data"), "--list"])
        .ok()
        .output();
    assert!(
        scoped.contains("data-private") && !scoped.contains("private-one"),
        "{scoped}"
    );
    project.add(&with);
    assert_same_files(
        &project.installed("private-one"),
        &bundle_files(&bundle(&d, "private-one", "1.0.0")),
        "installed as the bundle's files",
    );

    // Only a reader token: a URL is copied into lock files and logs.
    for token in [d.admin.clone(), d.token("publisher", "pat")] {
        let (status, body) = get(&format!(
            "{}/~{token}/.well-known/agent-skills/index.json",
            d.url
        ));
        assert_eq!(status, 403, "{body}");
        assert!(detail(&body).contains("reader token only"), "{body}");
    }

    // Revoked: refused within 250 ms (web-api.md §2.1), then by the CLI.
    let out = cli(&[
        "token",
        "revoke",
        "--data",
        d.data.to_str().unwrap(),
        token_id(&reader),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked_at = std::time::Instant::now();
    while get(&format!("{with}/.well-known/agent-skills/index.json")).0 != 403 {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(1),
            "a revoked feed token still reads after a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let revoked = project.skills(&["add", &with, "--list"]).exited(1).output();
    assert!(!revoked.contains("private-one"), "{revoked}");
    let (status, _) = get(&format!("{with}/.well-known/agent-skills/index.json"));
    assert_eq!(status, 403);

    assert_token_not_logged(&d, &reader);
}

/// Requests that spell the token path another way still reach the feed,
/// and the daemon's log (at debug, every request) never shows the token.
fn assert_token_not_logged(d: &Daemon, token: &str) {
    let live = d.token("reader", "lars");
    let host = d.url.trim_start_matches("http://");
    for path in [
        format!("/~{live}/.well-known/agent-skills/index.json"),
        format!("//~{live}/.well-known/agent-skills/index.json"),
        format!("/%7E{live}/.well-known/agent-skills/index.json"),
        format!("/%7e{live}/teams/data/.well-known/agent-skills/index.json"),
    ] {
        assert_eq!(raw_get(host, &path), 200, "{path}");
    }
    let log = d.log();
    assert!(
        log.contains("/~…/.well-known/agent-skills/index.json"),
        "requests are logged at debug, redacted: {log}"
    );
    for secret in [token, live.as_str()] {
        let tail = secret.rsplit('_').next().unwrap();
        assert!(!log.contains(tail), "the log shows a token: {log}");
    }
}

/// A GET with the request target exactly `path` (no client normalizes
/// it): the status.
fn raw_get(host: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let head = String::from_utf8_lossy(&raw);
    head.split(' ').nth(1).unwrap().parse().unwrap()
}
