//! The `skills` CLI against a static tree (`skillreg export-static`) served
//! by nginx: the same clients, with no daemon behind them.

use crate::common::*;
use std::path::Path;

/// Runs `skills add URL -y -a claude-code` in `project`; returns stdout+stderr.
fn skills_add(tools: &AgentTools, home: &Path, project: &Path, url: &str) -> (bool, String) {
    let out = tools
        .skills(home, project)
        .args(["add", url, "-y", "-a", "claude-code"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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
