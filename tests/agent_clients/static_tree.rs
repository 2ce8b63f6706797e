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
    let out = cli(&[
        "export-static",
        root.to_str().unwrap(),
        "--data",
        d.data.to_str().unwrap(),
        "--config",
        d.data
            .parent()
            .unwrap()
            .join("skillreg.toml")
            .to_str()
            .unwrap(),
        "--base-url",
        &nginx.url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
