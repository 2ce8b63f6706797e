//! Dependencies of skills (`metadata.dependencies` in SKILL.md) and plugins
//! (`dependencies` in plugin.json): how they land in the index line's `deps`,
//! and every refusal leaving the store unchanged.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The index line of `name@vers`, parsed.
fn index_line(d: &Daemon, name: &str, vers: &str) -> Value {
    let (status, body) = get(&format!(
        "{}/index/{}",
        d.url,
        skillreg::index::path_for(name)
    ));
    assert_eq!(status, 200, "index of {name}: {body}");
    body.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["vers"] == vers)
        .unwrap_or_else(|| panic!("no line for {name}@{vers} in {body}"))
}

/// A dependency as the index writes one declared in a manifest.
fn dep(name: &str, req: &str) -> Value {
    json!({
        "name": name,
        "req": req,
        "features": [],
        "optional": false,
        "default_features": true,
        "target": null,
        "kind": "normal",
    })
}

/// Writes a skill directory whose frontmatter has `metadata.dependencies`.
fn skill_with_deps(dir: &Path, name: &str, version: &str, deps_yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: Needs others.\nmetadata:\n  version: \"{version}\"\n  dependencies: {deps_yaml}\n---\n# {name}\n"),
    )
    .unwrap();
    path
}

/// Writes a plugin directory with `plugin_json` and returns its path.
fn plugin_dir(dir: &Path, name: &str, plugin_json: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.join(".claude-plugin")).unwrap();
    std::fs::write(
        path.join(".claude-plugin/plugin.json"),
        serde_json::to_vec_pretty(plugin_json).unwrap(),
    )
    .unwrap();
    path
}

/// A publish body for a packed directory of `kind`.
fn publish_body(kind: &str, name: &str, version: &str, dir: &Path) -> Vec<u8> {
    let tarball = skillreg::bundle::pack::pack_dir(dir).unwrap();
    let meta = json!({"name": name, "vers": version, "kind": kind, "deps": [], "features": {}});
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &tarball)
}

/// `skillreg publish DIR` against the daemon; panics unless it succeeds.
fn cli_publish(d: &Daemon, dir: &Path) {
    let out = cli(&[
        "publish",
        dir.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &d.admin,
    ]);
    assert!(
        out.status.success(),
        "publish {}: {}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// PUTs `body`, expects 400 with a detail containing every `wants`, and
/// checks that nothing changed and the daemon still serves.
fn refused(d: &Daemon, body: &[u8], wants: &[&str]) {
    let before = d.fingerprint();
    let (status, text) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&d.admin),
        body,
    );
    assert_eq!(status, 400, "{text}");
    let detail = detail(&text);
    for want in wants {
        assert!(detail.contains(want), "{detail:?} should mention {want:?}");
    }
    assert_eq!(d.fingerprint(), before, "a refusal changed the store");
    d.assert_serving();
}

#[test]
fn skill_dependencies_land_in_the_index_line() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let path = skill_with_deps(
        dir.path(),
        "needs-base",
        "1.0.0",
        "\"base-skill@^1.0, other\"",
    );
    cli_publish(&d, &path);
    let line = index_line(&d, "needs-base", "1.0.0");
    assert_eq!(line["kind"], "skill");
    assert_eq!(
        line["deps"],
        json!([dep("base-skill", "^1.0"), dep("other", "*")])
    );
    // `registry` and `package` are left out, as for any same-registry dep.
    let (_, body) = get(&format!("{}/index/ne/ed/needs-base", d.url));
    assert!(
        body.contains(r#""deps":[{"name":"base-skill","req":"^1.0","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"},{"name":"other","req":"*","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"#),
        "{body}"
    );

    // Without dependencies the line keeps `"deps":[]`.
    d.publish_skill("plain", "1.0.0");
    assert_eq!(index_line(&d, "plain", "1.0.0")["deps"], json!([]));
}

#[test]
fn plugin_dependencies_in_both_forms() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let path = plugin_dir(
        dir.path(),
        "deploy-kit",
        &json!({
            "name": "deploy-kit",
            "version": "3.1.0",
            "description": "Deploys.",
            "dependencies": [
                "audit-logger",
                {"name": "secrets-vault", "version": "~2.1.0"},
                {"name": "no-version"},
            ],
        }),
    );
    // A bundled skill's own dependencies are not the plugin's.
    std::fs::create_dir_all(path.join("skills/helper")).unwrap();
    std::fs::write(
        path.join("skills/helper/SKILL.md"),
        "---\nname: helper\ndescription: Helps.\nmetadata:\n  dependencies: \"inner-only@^1\"\n---\n",
    )
    .unwrap();
    cli_publish(&d, &path);
    let line = index_line(&d, "deploy-kit", "3.1.0");
    assert_eq!(line["kind"], "plugin");
    assert_eq!(
        line["deps"],
        json!([
            dep("audit-logger", "*"),
            dep("secrets-vault", "~2.1.0"),
            dep("no-version", "*"),
        ])
    );
}

#[test]
fn skill_dependency_refusals() {
    let d = Daemon::start();
    d.publish_skill("already-here", "1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "\"base@^1, Bad_Name@^1\"",
            &["`Bad_Name@^1`", "invalid name", "metadata.dependencies"],
        ),
        (
            "\"base@latest\"",
            &["`base@latest`", "invalid version requirement `latest`"],
        ),
        ("\"base@^1, other, base@~1.2\"", &["`base` more than once"]),
        ("\"base, me@^1\"", &["`me`", "itself"]),
        ("\"base,,other\"", &["empty entry"]),
        ("\"base@\"", &["`base@`", "nothing after `@`"]),
        (
            "[base, other]",
            &["`metadata.dependencies` that is not a string"],
        ),
        ("1.5", &["`metadata.dependencies` that is not a string"]),
    ];
    for (i, (yaml, wants)) in cases.iter().enumerate() {
        let path = skill_with_deps(&dir.path().join(i.to_string()), "me", "1.0.0", yaml);
        refused(&d, &publish_body("skill", "me", "1.0.0", &path), wants);
    }
    // Dependencies in the publish JSON are refused for skills.
    let path = skill_dir(dir.path(), "json-deps", "1.0.0", "D.");
    let tarball = skillreg::bundle::pack::pack_dir(&path).unwrap();
    let meta = json!({"name": "json-deps", "vers": "1.0.0", "kind": "skill",
        "deps": [{"name": "base", "version_req": "^1", "kind": "normal"}], "features": {}});
    refused(
        &d,
        &skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &tarball),
        &["dependencies of skills and plugins are declared in the manifest"],
    );
}

#[test]
fn plugin_dependency_refusals() {
    let d = Daemon::start();
    d.publish_skill("already-here", "1.0.0");
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(Value, &[&str])] = &[
        (json!(["Bad_Name"]), &["\"Bad_Name\"", "invalid name"]),
        (
            json!([{"name": "vault", "version": "latest"}]),
            &["invalid version requirement `latest`"],
        ),
        (
            json!(["vault", {"name": "vault", "version": "^1"}]),
            &["`vault` more than once"],
        ),
        (json!(["kit"]), &["`kit`", "itself"]),
        (json!("vault"), &["`dependencies` that are not a list"]),
        (
            json!({"vault": "^1"}),
            &["`dependencies` that are not a list"],
        ),
        (json!([42]), &["entry 42", "neither a string nor an object"]),
        (json!([{"version": "^1"}]), &["without a string `name`"]),
        (
            json!([{"name": "vault", "version": 2}]),
            &["`version` is not a string"],
        ),
        (json!(["vault@elsewhere"]), &["another marketplace"]),
        (
            json!([{"name": "vault", "marketplace": "elsewhere"}]),
            &["\"elsewhere\"", "remove `marketplace`"],
        ),
    ];
    for (i, (deps, wants)) in cases.iter().enumerate() {
        let path = plugin_dir(
            &dir.path().join(i.to_string()),
            "kit",
            &json!({"name": "kit", "version": "1.0.0", "dependencies": deps}),
        );
        let mut wants = wants.to_vec();
        wants.push(".claude-plugin/plugin.json");
        refused(&d, &publish_body("plugin", "kit", "1.0.0", &path), &wants);
    }
    // Dependencies in the publish JSON are refused for plugins too.
    let path = plugin_dir(
        dir.path(),
        "kit",
        &json!({"name": "kit", "version": "1.0.0"}),
    );
    let tarball = skillreg::bundle::pack::pack_dir(&path).unwrap();
    let meta = json!({"name": "kit", "vers": "1.0.0", "kind": "plugin",
        "deps": [{"name": "vault", "version_req": "*"}], "features": {}});
    refused(
        &d,
        &skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &tarball),
        &["declared in the manifest", "plugin.json"],
    );
    // The same plugin without them publishes.
    let (status, text) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&d.admin),
        &publish_body("plugin", "kit", "1.0.0", &path),
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(index_line(&d, "kit", "1.0.0")["deps"], json!([]));
}
