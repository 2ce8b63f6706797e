//! Marketplace sources: the real superpowers catalog mirrors completely
//! behind approval, from a local checkout and from a git clone; versions
//! that upstream never declares grow with each content change.

mod common;

trait AdminValue {
    fn admin_value(&self, method: &str, path: &str, body: &str) -> serde_json::Value;
}

impl AdminValue for Daemon {
    fn admin_value(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        self.admin_json(method, path, body).1
    }
}

use common::*;

fn fixture() -> std::path::PathBuf {
    fixtures_dir().join("marketplaces/superpowers")
}

fn skill_count() -> i64 {
    std::fs::read_dir(fixture().join("skills"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("SKILL.md").is_file())
        .count() as i64
}

#[test]
fn the_superpowers_catalog_mirrors_completely_behind_approval() {
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("superpowers");
    copy_tree(&fixture(), &checkout);
    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"sp\"\nkind = \"marketplace\"\npath = {:?}\ninterval = \"0\"\n",
        checkout
    ));
    let run = d.sync_source("sp");
    let expected = 1 + skill_count();
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["added"].as_i64(), Some(expected), "{run}");
    assert_eq!(run["pending"].as_i64(), Some(expected), "{run}");
    assert_eq!(run["skipped"].as_i64(), Some(0), "{run}");
    let pending = d.admin_value("GET", "/admin/v1/pending", "");
    let list = pending["pending"].as_array().unwrap();
    let plugin = list.iter().find(|p| p["kind"] == "plugin").unwrap();
    assert_eq!(
        (plugin["name"].as_str(), plugin["version"].as_str()),
        (Some("superpowers"), Some("6.2.0"))
    );
    assert!(
        plugin["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "hook"),
        "the SessionStart hook is in the inventory: {}",
        plugin["findings"]
    );
    // Nothing is public until approved.
    assert_eq!(get(&format!("{}/index/su/pe/superpowers", d.url)).0, 404);
    let approved = d.admin_value(
        "POST",
        "/admin/v1/packages/superpowers/6.2.0/approve",
        r#"{"note":"hooks reviewed"}"#,
    );
    assert_eq!(approved["ok"], true, "{approved}");
    assert_eq!(get(&format!("{}/index/su/pe/superpowers", d.url)).0, 200);

    // A re-sync of an unchanged checkout changes nothing.
    let before = d.fingerprint();
    let run = d.sync_source("sp");
    assert_eq!(
        (run["added"].as_i64(), run["unchanged"].as_i64()),
        (Some(0), Some(expected)),
        "{run}"
    );
    assert_eq!(d.fingerprint(), before);

    // Upstream edits a skill without bumping the version: kept, and reported.
    let skill_md = std::fs::read_dir(checkout.join("skills"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("SKILL.md");
    let mut text = std::fs::read_to_string(&skill_md).unwrap();
    text.push_str("\nAn upstream edit.\n");
    std::fs::write(&skill_md, text).unwrap();
    let run = d.sync_source("sp");
    assert!(
        run["detail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("without a new version")),
        "{run}"
    );
    assert_eq!(d.fingerprint(), before, "stored bundles are immutable");
}

#[test]
fn a_git_marketplace_is_cloned_and_fallback_versions_grow_with_changes() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join(".claude-plugin")).unwrap();
    std::fs::write(
        repo.join(".claude-plugin/marketplace.json"),
        r#"{"name":"team","owner":{"name":"t"},"plugins":[{"name":"unversioned","source":"./plugins/unversioned"}]}"#,
    )
    .unwrap();
    let plugin = repo.join("plugins/unversioned");
    std::fs::create_dir_all(plugin.join(".claude-plugin")).unwrap();
    std::fs::write(
        plugin.join(".claude-plugin/plugin.json"),
        r#"{"name":"unversioned","description":"no version"}"#,
    )
    .unwrap();
    std::fs::write(plugin.join("README.md"), "first\n").unwrap();
    let git = |args: &[&str]| {
        git_http::git(Some(&repo), args);
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "first"]);
    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"team\"\nkind = \"marketplace\"\ngit = \"file://{}\"\ninterval = \"0\"\nauto_approve = true\n",
        repo.display()
    ));
    let run = d.sync_source("team");
    assert_eq!(run["status"], "completed", "{run}");
    let (_, index) = get(&format!("{}/index/un/ve/unversioned", d.url));
    assert!(index.contains("\"vers\":\"0.0.1\""), "{index}");
    let upstream = &d.admin_value("GET", "/admin/v1/audit", "")["audit"];
    assert!(upstream
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["subject"] == "unversioned@0.0.1"));

    // Same content: same version. Changed content: the next number.
    let run = d.sync_source("team");
    assert_eq!(run["added"].as_i64(), Some(0), "{run}");
    std::fs::write(plugin.join("README.md"), "second\n").unwrap();
    git(&["commit", "-qam", "second"]);
    let run = d.sync_source("team");
    assert_eq!(run["added"].as_i64(), Some(1), "{run}");
    let (_, index) = get(&format!("{}/index/un/ve/unversioned", d.url));
    assert!(index.contains("\"vers\":\"0.0.2\""), "{index}");
}

#[test]
fn remote_plugin_sources_are_fetched_at_their_pinned_commit_or_skipped_with_the_reason() {
    let work = tempfile::tempdir().unwrap();
    // A plugin in its own repository, at 1.0.0 and then 2.0.0, served by
    // nginx over http.
    let plugin = work.path().join("plugin-repo");
    let first = git_http::repo_with(
        &plugin,
        &[
            (
                "skills/remote-helper/SKILL.md",
                b"---\nname: remote-helper\ndescription: Helps from afar.\n---\nbody\n",
            ),
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"remote-pinned","version":"1.0.0"}"#,
            ),
        ],
    );
    git_http::repo_with(
        &plugin,
        &[(
            ".claude-plugin/plugin.json",
            br#"{"name":"remote-pinned","version":"2.0.0"}"#,
        )],
    );
    let server = git_http::GitHttp::start();
    server.publish("plugin", &plugin);

    // A marketplace (a plain directory) pinning the first commit, plus a
    // source that cannot be reached, one on a host the source does not
    // allow, and one that is a local path.
    let market = work.path().join("market");
    std::fs::create_dir_all(market.join(".claude-plugin")).unwrap();
    let catalog = serde_json::json!({
        "name": "remote-team",
        "owner": {"name": "t"},
        "plugins": [
            {"name": "remote-pinned", "source": {"source": "url", "url": server.url("plugin"), "sha": first}},
            {"name": "remote-down", "source": {"source": "url", "url": "http://127.0.0.1:9/none.git", "sha": "0123456"}},
            {"name": "remote-elsewhere", "source": {"source": "github", "repo": "o/r"}},
            {"name": "remote-local", "source": {"source": "url", "url": format!("file://{}", plugin.display())}},
        ]
    });
    std::fs::write(
        market.join(".claude-plugin/marketplace.json"),
        serde_json::to_vec_pretty(&catalog).unwrap(),
    )
    .unwrap();
    let before = tree(&market);

    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"remote\"\nkind = \"marketplace\"\npath = {:?}\ninterval = \"0\"\nremote_hosts = [\"http://{}\", \"http://127.0.0.1:9\"]\n",
        market,
        server.host()
    ));
    let run = d.sync_source("remote");
    assert_eq!(run["status"], "completed", "{run}");
    let pending = d.admin_value("GET", "/admin/v1/pending", "");
    let names: Vec<(String, String)> = pending["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        names.contains(&("remote-pinned".into(), "1.0.0".into())),
        "the pinned commit, not the newest: {names:?}"
    );
    assert!(
        names.contains(&("remote-helper".into(), "1.0.0".into())),
        "{names:?}"
    );
    let detail: Vec<&str> = run["detail"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(
        detail.iter().any(|l| l.starts_with(
            "plugin remote-down: remote source http://127.0.0.1:9/none.git@0123456 not fetched"
        )),
        "{detail:?}"
    );
    assert!(
        detail.iter().any(|l| l.starts_with(
            "plugin remote-elsewhere: remote source https://github.com/o/r.git@HEAD not fetched: the host `github.com` over https is not in this source's `remote_hosts`"
        )),
        "{detail:?}"
    );
    assert!(
        detail.iter().any(|l| l.starts_with("plugin remote-local: ")
            && l.contains("is a local path or file:// URL")),
        "{detail:?}"
    );
    assert_eq!(run["skipped"].as_i64(), Some(3), "{run}");
    assert_eq!(
        tree(&market),
        before,
        "the source checkout is never written to"
    );
}
