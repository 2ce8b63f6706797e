//! The `skills` CLI against a static tree (`skillreg export-static`) served
//! by nginx: the same clients, with no daemon behind them.

use crate::common::*;
use std::path::Path;

/// Runs `skills add URL -y -a claude-code` in `project`; returns stdout+stderr.
fn skills_add(tools: &AgentTools, home: &Path, project: &Path, url: &str) -> (bool, String) {
    let run =
        ToolRun::of(
            tools
                .skills(home, project)
                .args(["add", url, "-y", "-a", "claude-code"]),
        );
    (run.code == Some(0), run.output())
}

#[test]
fn the_skills_cli_installs_from_an_exported_tree_on_nginx_with_its_scopes() {
    let tools = AgentTools::get();
    let d =
        Daemon::with_config("[[feeds.scopes]]\npath = \"teams/data\"\ninclude = [\"data-*\"]\n");
    d.publish_skill("data-clean", "1.0.0");
    d.publish_skill("web-fetch", "2.0.0");

    let site = public_tempdir();
    let root = site.path().join("tree");
    let nginx = Nginx::serve(&root);
    d.export_static(&root, &nginx.url);

    // The tree's well-known indexes are the daemon's bytes (relative URLs).
    for path in [
        ".well-known/agent-skills/index.json",
        "teams/data/.well-known/agent-skills/index.json",
    ] {
        let (status, from_daemon) = get(&format!("{}/{path}", d.url));
        assert_eq!(status, 200, "{path}");
        let (status, from_tree) = get(&format!("{}/{path}", nginx.url));
        assert_eq!(status, 200, "{path} from nginx");
        assert_eq!(from_tree, from_daemon, "{path}");
    }

    // The whole index, byte-identical to the published bundles.
    let work = tempfile::tempdir().unwrap();
    let (home, project) = (work.path().join("home"), work.path().join("all"));
    std::fs::create_dir_all(&project).unwrap();
    let (ok, text) = skills_add(&tools, &home, &project, &nginx.url);
    assert!(ok, "{text}");
    for (name, version) in [("data-clean", "1.0.0"), ("web-fetch", "2.0.0")] {
        let installed = std::fs::read(project.join(format!(".claude/skills/{name}/SKILL.md")))
            .unwrap_or_else(|e| panic!("{name} not installed ({e}): {text}"));
        let published = tar_entries(&skill_tarball(name, version));
        let (_, skill_md) = published.iter().find(|(p, _)| p == "SKILL.md").unwrap();
        assert_eq!(&installed, skill_md, "{name}");
    }

    // A scope of the tree offers only its skills.
    let scoped = work.path().join("scoped");
    std::fs::create_dir_all(&scoped).unwrap();
    let (ok, text) = skills_add(&tools, &home, &scoped, &format!("{}/teams/data", nginx.url));
    assert!(ok, "{text}");
    assert!(
        scoped.join(".claude/skills/data-clean/SKILL.md").is_file(),
        "{text}"
    );
    assert!(!scoped.join(".claude/skills/web-fetch").exists(), "{text}");
}

/// Claude Code installs a plugin and a skill-as-plugin from an exported
/// tree that nginx serves over https (the tree's marketplace names its
/// `--base-url`), byte for byte as the registry stores them.
#[test]
fn claude_code_installs_from_an_exported_tree_on_nginx_over_https() {
    assert_test_host_resolves();
    let tools = AgentTools::get();
    let d = Daemon::start();
    let admin = Admin::of(&d);
    admin.publish(&example_dir("hello-plugin"));
    admin.publish(&example_dir("hello-skill"));

    let ca = TestCa::new(&[TEST_HOST]);
    let site = public_tempdir();
    let root = site.path().join("tree");
    let nginx = Nginx::serve_tls(&root, TEST_HOST, &ca.cert, &ca.key);
    d.export_static(&root, &nginx.url);

    let work = tempfile::tempdir().unwrap();
    let (home, project) = (work.path().join("home"), work.path().join("project"));
    std::fs::create_dir_all(&project).unwrap();
    let claude = |args: &[&str]| {
        ToolRun::of(
            tools
                .claude(&home, &project)
                .env("NODE_EXTRA_CA_CERTS", &ca.ca_pem)
                .args(args),
        )
        .ok()
    };
    let marketplace = format!("{}/claude/marketplace.json", nginx.url);
    claude(&["plugin", "marketplace", "add", &marketplace]);
    claude(&["plugin", "install", "hello-plugin@skillreg"]);
    claude(&["plugin", "install", "hello-skill@skillreg"]);

    let bundle = |name: &str, version: &str| {
        let (status, body) = ca.get(
            &format!("{}/api/v1/crates/{name}/{version}/download", d.url),
            None,
        );
        assert_eq!(status, 200, "{name}@{version}");
        bundle_files(&body)
    };
    let cache = home.join(".claude/plugins/cache/skillreg");
    assert_same_files(
        &tree(&cache.join("hello-plugin/0.1.0")),
        &bundle("hello-plugin", "0.1.0"),
        "the plugin from the static tree is its bundle's files",
    );
    let mut skill = tree(&cache.join("hello-skill/1.0.0"));
    assert!(skill.remove(".claude-plugin/plugin.json").is_some());
    let expected = bundle("hello-skill", "1.0.0")
        .into_iter()
        .map(|(path, bytes)| (format!("skills/hello-skill/{path}"), bytes))
        .collect();
    assert_same_files(
        &skill,
        &expected,
        "the skill-as-plugin from the static tree",
    );
}

/// The ClawHub CLI installs, searches, inspects and updates from an
/// exported tree on nginx with `nginx/clawhub.conf` included: the same
/// files as from the daemon, and the same answers where a tree can give
/// them (a tree cannot search: it offers every skill).
#[test]
fn clawhub_installs_inspects_and_updates_from_an_exported_tree_on_nginx() {
    use crate::clawhub::{skill_source, Clawhub, SKILL};
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    let v1 = skill_source(src.path(), SKILL, "1.0.0", "first");
    d.publish_dir("skill", SKILL, "1.0.0", &v1, &["pdf", "forms"]);
    let other = skill_source(src.path(), "csv-read", "1.0.0", "other");
    d.publish_dir("skill", "csv-read", "1.0.0", &other, &[]);

    let site = public_tempdir();
    let root = site.path().join("tree");
    let nginx = Nginx::serve_with_clawhub(&root);
    d.export_static(&root, &nginx.url);
    let c = Clawhub::new(&nginx.url);

    let out = c.ok(&["install", SKILL]);
    assert!(out.contains("Installed pdf-fill v1.0.0"), "{out}");
    assert_eq!(c.installed(SKILL), tree(&v1), "the published files");
    assert_eq!(c.locked_version(SKILL), "1.0.0");

    let out = c.ok(&["search", "pdf"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("pdf-fill v1.0.0") && l.contains("@skillreg")),
        "{out}"
    );
    let out = c.ok(&["inspect", SKILL]);
    for needle in ["Fill PDF forms from a table.", "@skillreg", "latest=1.0.0"] {
        assert!(out.contains(needle), "{needle}: {out}");
    }
    let out = c.ok(&["inspect", SKILL, "--files"]);
    assert!(out.contains("reference/forms.md  "), "{out}");

    // The answers that hold no download counts are the daemon's bytes.
    for path in [
        "/api/v1/resolve?slug=pdf-fill&hash=00",
        "/api/v1/download?slug=pdf-fill&version=1.0.0",
        "/api/v1/skills/pdf-fill/install",
        "/.well-known/clawhub.json",
    ] {
        let (status, from_tree) = get_bytes(&format!("{}{path}", nginx.url));
        assert_eq!(status, 200, "{path} from nginx");
        let (_, from_daemon) = get_bytes(&format!("{}{path}", d.url));
        if path.starts_with("/.well-known") || path.ends_with("/install") {
            // They name their own base URL.
            let tree_text = String::from_utf8(from_tree).unwrap();
            let daemon_text = String::from_utf8(from_daemon).unwrap();
            assert_eq!(tree_text.replace(&nginx.url, &d.url), daemon_text, "{path}");
        } else {
            assert_eq!(from_tree, from_daemon, "{path}");
        }
    }

    // A new version reaches the tree with the next export; `update` takes it.
    let v2 = skill_source(src.path(), SKILL, "1.1.0", "second");
    d.publish_dir("skill", SKILL, "1.1.0", &v2, &["pdf", "forms"]);
    d.export_static(&root, &nginx.url);
    let out = c.ok(&["update", SKILL]);
    assert!(out.contains("v1.1.0"), "{out}");
    assert_eq!(c.installed(SKILL), tree(&v2));
    assert_eq!(c.locked_version(SKILL), "1.1.0");
    let out = c.ok(&["inspect", SKILL, "--versions"]);
    assert!(out.contains("1.1.0") && out.contains("1.0.0"), "{out}");
    c.ok(&["install", SKILL, "--version", "1.0.0", "--force"]);
    assert_eq!(c.installed(SKILL), tree(&v1));

    // The download is named as the daemon names it.
    let disposition = |base: &str| {
        get_with(
            &format!("{base}/api/v1/download?slug=pdf-fill&version=1.0.0"),
            &[],
        )
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(disposition(&nginx.url), disposition(&d.url));
    assert_eq!(
        disposition(&nginx.url).as_deref(),
        Some("attachment; filename=\"pdf-fill-1.0.0.zip\"")
    );

    // Nothing but the exported files can be named through the queries, and
    // a write in progress is never served.
    std::fs::write(
        root.join("api/v1/skills/pdf-fill/.index.json.tmp-1-1"),
        "{}",
    )
    .unwrap();
    std::fs::write(
        root.join("api/v1/download/pdf-fill/.1.0.0.zip.tmp-1-1"),
        "x",
    )
    .unwrap();
    for path in [
        "/api/v1/download?slug=../../etc&version=passwd",
        "/api/v1/download?slug=pdf-fill&version=../../../index/config.json",
        "/api/v1/download?slug=pdf-fill&version=.zip",
        "/api/v1/download?slug=pdf-fill&version=1.0.0&ownerHandle=mallory",
        "/api/v1/resolve?slug=pdf-fill/../../index/config",
        "/api/v1/skills/pdf-fill?ownerHandle=mallory",
        "/api/v1/skills/no-such-skill",
        "/api/v1/skills/pdf-fill/.index.json.tmp-1-1",
        "/api/v1/download/pdf-fill/.1.0.0.zip.tmp-1-1",
    ] {
        let (status, _) = get_bytes(&format!("{}{path}", nginx.url));
        assert_eq!(status, 404, "{path}");
    }
    let out = c.fails(&["install", "no-such-skill"]);
    assert!(out.to_lowercase().contains("not found"), "{out}");
}
