//! An attacker who owns a marketplace checkout (or a plugin repository it
//! names): links at every level, `..` in every field, FIFOs and devices,
//! and writes planned through links.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::common::git_http::{repo_with, GitHttp};
use crate::support::*;

#[test]
fn links_at_every_level_of_a_checkout_are_never_followed() {
    let work = tempfile::tempdir().unwrap();
    let secret = work.path().join("secret");
    write(&secret.join("passwd"), "root:x:0:0:SECRET-MARKER\n");
    write(
        &secret.join("plugin/.claude-plugin/plugin.json"),
        r#"{"name":"p"}"#,
    );
    let m = work.path().join("market");
    // A plugin that is a link, a plugin whose manifest dir or manifest is
    // a link, skills that are links, a link to a file outside.
    std::fs::create_dir_all(&m).unwrap();
    symlink(secret.join("plugin"), m.join("linked-plugin")).unwrap();
    plugin(&m.join("manifest-dir"), "manifest-dir");
    std::fs::remove_dir_all(m.join("manifest-dir/.claude-plugin")).unwrap();
    symlink(
        secret.join("plugin/.claude-plugin"),
        m.join("manifest-dir/.claude-plugin"),
    )
    .unwrap();
    plugin(&m.join("manifest-file"), "manifest-file");
    std::fs::remove_file(m.join("manifest-file/.claude-plugin/plugin.json")).unwrap();
    symlink(
        secret.join("plugin/.claude-plugin/plugin.json"),
        m.join("manifest-file/.claude-plugin/plugin.json"),
    )
    .unwrap();
    plugin(&m.join("skills-link"), "skills-link");
    std::fs::remove_dir_all(m.join("skills-link/skills")).unwrap();
    symlink(&secret, m.join("skills-link/skills")).unwrap();
    plugin(&m.join("skill-link"), "skill-link");
    symlink(&secret, m.join("skill-link/skills/stolen")).unwrap();
    plugin(&m.join("file-link"), "file-link");
    symlink(secret.join("passwd"), m.join("file-link/passwd")).unwrap();
    symlink(
        secret.join("passwd"),
        m.join("file-link/skills/file-link-skill/notes.md"),
    )
    .unwrap();
    plugin(&m.join("fine"), "fine");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "linked-plugin", "source": "./linked-plugin"},
            {"name": "manifest-dir", "source": "./manifest-dir"},
            {"name": "manifest-file", "source": "./manifest-file"},
            {"name": "skills-link", "source": "./skills-link"},
            {"name": "skill-link", "source": "./skill-link"},
            {"name": "file-link", "source": "./file-link"},
            {"name": "fine", "source": "./fine"},
        ]),
    );
    let d = daemon_for(&m, "");
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    let never = "skillreg never follows links in content from outside";
    assert_detail(&run, &["plugin linked-plugin:", never]);
    assert_detail(&run, &["plugin manifest-dir:", never]);
    assert_detail(&run, &["plugin manifest-file:", never]);
    assert_detail(&run, &["skill stolen:", "is a symbolic link", never]);
    assert_detail(&run, &["plugin file-link:", "outside the bundle"]);
    assert_detail(&run, &["skill file-link-skill:", "outside the bundle"]);
    // Only what holds no link out is stored: `fine`, its skill, and the
    // skills of plugins whose own trouble does not reach them.
    let stored: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    for name in ["fine", "fine-skill"] {
        assert!(stored.contains(&name.to_string()), "{name}: {stored:?}");
    }
    for name in [
        "linked-plugin",
        "manifest-dir",
        "manifest-file",
        "file-link",
        "stolen",
        "file-link-skill",
    ] {
        assert!(
            !stored.contains(&name.to_string()),
            "{name} stored: {stored:?}"
        );
    }
    assert!(
        !any_blob_contains(&d.data, b"SECRET-MARKER"),
        "a file outside the checkout was published"
    );
    // The secret tree and the keys are as they were.
    assert_eq!(
        crate::common::tree(&secret).len(),
        2,
        "nothing was written into the linked directory"
    );
    before.assert_keys_and_config(&d, "links at every level");

    // The catalog itself, or its directory, as a link: the run fails by name.
    for (what, link_at, target) in [
        (
            "marketplace.json",
            ".claude-plugin/marketplace.json",
            "../elsewhere.json",
        ),
        (".claude-plugin", ".claude-plugin", "elsewhere"),
    ] {
        let m2 = work
            .path()
            .join(format!("market-{}", what.replace('.', "")));
        marketplace(&m2.join("elsewhere-dir"), serde_json::json!([]));
        write(&m2.join("elsewhere.json"), r#"{"name":"x","plugins":[]}"#);
        std::fs::create_dir_all(m2.join("elsewhere")).unwrap();
        write(
            &m2.join("elsewhere/marketplace.json"),
            r#"{"name":"x","plugins":[]}"#,
        );
        if let Some(parent) = Path::new(link_at)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(m2.join(parent)).unwrap();
        }
        symlink(target, m2.join(link_at)).unwrap();
        let d2 = daemon_for(&m2, "");
        let before = Untouched::of(&d2);
        let run = d2.sync_source("evil");
        assert_eq!(run["status"], "failed", "{what}: {run}");
        assert!(
            run["error"].as_str().unwrap().contains("symbolic link"),
            "{what}: {run}"
        );
        before.assert_same(&d2, what);
    }
}

#[test]
fn dot_dot_and_absolute_paths_in_every_field_are_skipped() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&work.path().join("outside"), "outside");
    plugin(&m.join("plugins/ok"), "ok");
    write(
        &m.join("plugins/custom/.claude-plugin/plugin.json"),
        r#"{"name":"custom","version":"1.0.0"}"#,
    );
    marketplace(
        &m,
        serde_json::json!([
            {"name": "up", "source": "../outside"},
            {"name": "deep", "source": "./plugins/../../outside"},
            {"name": "abs", "source": work.path().join("outside").to_str().unwrap()},
            {"name": "custom", "source": "./plugins/custom", "skills": ["../../outside/skills", "/etc"]},
            {"name": "sub", "source": {"source": "git-subdir", "url": "https://github.com/o/r.git", "path": "../../../../keys"}},
            {"name": "ok", "source": "./plugins/ok"},
        ]),
    );
    // `metadata.pluginRoot` escaping too, in a second catalog.
    let m2 = work.path().join("market2");
    plugin(&m2.join("p"), "p");
    write(
        &m2.join(".claude-plugin/marketplace.json"),
        r#"{"name":"m2","metadata":{"pluginRoot":"../outside"},"plugins":[{"name":"p","source":"./p"}]}"#,
    );
    let d = daemon_for(&m, "remote_hosts = [\"github.com\"]");
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_detail(&run, &["plugin up:", "uses `..`"]);
    assert_detail(&run, &["plugin deep:", "uses `..`"]);
    assert_detail(&run, &["plugin abs:", "is absolute"]);
    assert_detail(&run, &["plugin sub:", "git-subdir path", "uses `..`"]);
    let stored: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    assert!(
        !stored.iter().any(|n| n.starts_with("outside")),
        "{stored:?}"
    );
    assert!(stored.contains(&"custom".to_string()), "{stored:?}");
    let custom = d.admin_json("GET", "/admin/v1/pending", "").1;
    let notes = custom.to_string();
    assert!(
        notes.contains("uses `..` and could leave its directory; ignored"),
        "{notes}"
    );
    assert!(notes.contains("is absolute; ignored"), "{notes}");
    before.assert_keys_and_config(&d, "..");
    let d2 = daemon_for(&m2, "");
    let before = Untouched::of(&d2);
    let run = d2.sync_source("evil");
    assert_detail(&run, &["plugin p:", "`metadata.pluginRoot`", "uses `..`"]);
    before.assert_same(&d2, "pluginRoot ..");
}

#[test]
fn fifos_and_devices_in_a_checkout_neither_hang_nor_get_read() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&m.join("fifo"), "fifo");
    mkfifo(&m.join("fifo/skills/fifo-skill/pipe"));
    plugin(&m.join("fifo-manifest"), "fifo-manifest");
    std::fs::remove_file(m.join("fifo-manifest/.claude-plugin/plugin.json")).unwrap();
    mkfifo(&m.join("fifo-manifest/.claude-plugin/plugin.json"));
    plugin(&m.join("device"), "device");
    // Devices need root; where the test may not make one it checks FIFOs only.
    let has_device = rustix::fs::mknodat(
        rustix::fs::CWD,
        m.join("device/zero"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o644),
        rustix::fs::makedev(1, 5),
    )
    .is_ok();
    plugin(&m.join("fine"), "fine");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "fifo", "source": "./fifo"},
            {"name": "fifo-manifest", "source": "./fifo-manifest"},
            {"name": "device", "source": "./device"},
            {"name": "fine", "source": "./fine"},
        ]),
    );
    let d = daemon_for(&m, "");
    // sync_source gives up after 60 s: a FIFO opened for reading would
    // hang the run for ever.
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    assert_detail(&run, &["plugin fifo:", "is a FIFO"]);
    assert_detail(&run, &["skill fifo-skill:", "is a FIFO"]);
    assert_detail(
        &run,
        &["plugin fifo-manifest:", "is a FIFO, not a regular file"],
    );
    if has_device {
        assert_detail(&run, &["plugin device:", "is a character device"]);
    }
    let stored: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    assert!(stored.contains(&"fine".to_string()), "{stored:?}");
    for name in ["fifo", "fifo-skill", "fifo-manifest"] {
        assert!(!stored.contains(&name.to_string()), "{name}: {stored:?}");
    }
    if has_device {
        assert!(!stored.contains(&"device".to_string()), "{stored:?}");
    }
    d.assert_serving();
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
}

#[test]
fn a_linked_manifest_directory_is_never_written_through() {
    // No plugin.json: skillreg synthesizes one. The plugin's `.claude-plugin`
    // is a link to a directory outside; the synthesized file must not land
    // there (it once did, through std::fs::write into a staging copy).
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let m = work.path().join("market");
    write(&m.join("bare/README.md"), "hello\n");
    symlink(&victim, m.join("bare/.claude-plugin")).unwrap();
    marketplace(
        &m,
        serde_json::json!([{"name": "bare", "source": "./bare", "version": "1.0.0"}]),
    );
    let d = daemon_for(&m, "");
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_detail(&run, &["plugin bare:"]);
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "something was written through the link"
    );
    before.assert_same(&d, "linked .claude-plugin");
}

/// The attack of issue 8: a checkout plants a link where an old layout
/// staged remote plugins, aimed at another remote's clone hooks, and a
/// remote repository carries executable hooks. Two syncs; no hook may run
/// and no clone's `.git` may receive anything.
#[test]
fn no_checkout_link_reaches_a_clones_hooks_and_no_hook_runs() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("hook-ran");
    let server = GitHttp::start();
    let good = work.path().join("good");
    repo_with(
        &good,
        &[(
            ".claude-plugin/plugin.json",
            br#"{"name":"good","version":"1.0.0"}"#,
        )],
    );
    server.publish("good", &good);
    let evil = work.path().join("evil");
    let script = marker_script(&marker);
    repo_with(
        &evil,
        &[
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"evil","version":"1.0.0"}"#,
            ),
            ("post-checkout", &script),
            ("hooks/post-checkout", &script),
            (".githooks/post-checkout", &script),
        ],
    );
    for f in [
        "post-checkout",
        "hooks/post-checkout",
        ".githooks/post-checkout",
    ] {
        make_executable(&evil.join(f));
    }
    crate::common::git_http::git(Some(&evil), &["add", "-A"]);
    crate::common::git_http::git(Some(&evil), &["commit", "-qm", "exec bits"]);
    server.publish("evil", &evil);
    // A hook in the served bare repository runs on the server side only,
    // and only for pushes; plant one anyway.
    write(&server.bare("evil").join("hooks/post-checkout"), &script);
    make_executable(&server.bare("evil").join("hooks/post-checkout"));

    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "good", "source": {"source": "url", "url": server.url("good")}},
            {"name": "evil", "source": {"source": "url", "url": server.url("evil")}},
        ]),
    );
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{}\"]", server.host()),
    );
    // Links into every place the mirror keeps clones, as the attacker
    // would aim them.
    let remotes = d.data.join("mirror/state/evil/remotes");
    std::fs::create_dir_all(m.join(".skillreg-remote")).unwrap();
    for (i, target) in [
        remotes.clone(),
        remotes.join("x/.git/hooks"),
        d.data.join("mirror/state/evil/checkout/.git/hooks"),
    ]
    .iter()
    .enumerate()
    {
        symlink(target, m.join(format!(".skillreg-remote/link{i}"))).unwrap();
    }
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    assert!(!marker.exists(), "a hook ran as the daemon");
    // No clone has hooks at all (no templates, hooks off).
    for clone in std::fs::read_dir(&remotes).unwrap() {
        let hooks = clone.unwrap().path().join(".git/hooks");
        assert!(!hooks.exists(), "{} exists", hooks.display());
    }
    // Both remote plugins are pending, the evil one with its scripts as
    // plain content (for the reviewer to see).
    let stored: Vec<(String, String, String)> = versions(&d.data);
    for name in ["good", "evil"] {
        assert!(
            stored.iter().any(|(n, _, s)| n == name && s == "pending"),
            "{name}: {stored:?}"
        );
    }
    d.assert_serving();
}

/// A git-subdir path that is a link in the remote repository (to the
/// registry's keys, relative and absolute, or to /etc): refused, and no key
/// byte is ever stored.
#[test]
fn git_subdir_links_to_the_keys_or_etc_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let m = work.path().join("market");
    // Placeholder until the daemon's data dir is known.
    marketplace(&m, serde_json::json!([]));
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{}\"]", server.host()),
    );
    let repo = work.path().join("mono");
    std::fs::create_dir_all(&repo).unwrap();
    symlink("../../../../../keys", repo.join("rel")).unwrap();
    symlink(d.data.join("keys"), repo.join("abs")).unwrap();
    symlink("/etc", repo.join("etc")).unwrap();
    std::fs::create_dir_all(repo.join("plugins")).unwrap();
    symlink("../abs", repo.join("plugins/nested")).unwrap();
    plugin(&repo.join("plugins/real"), "real");
    symlink(d.data.join("keys"), repo.join("plugins/real/keys")).unwrap();
    repo_with(&repo, &[]);
    server.publish("mono", &repo);
    let url = server.url("mono");
    let sub = |name: &str, path: &str| serde_json::json!({"name": name, "source": {"source": "git-subdir", "url": url, "path": path}});
    marketplace(
        &m,
        serde_json::json!([
            sub("rel", "rel"),
            sub("abs", "abs"),
            sub("etc", "etc"),
            sub("nested", "plugins/nested"),
            sub("through", "abs/registry.ed25519"),
            sub("git-dir", ".git"),
            sub("real", "plugins/real"),
        ]),
    );
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    for name in ["rel", "abs", "etc", "nested", "through"] {
        assert_detail(
            &run,
            &[
                &format!("plugin {name}:"),
                "is (or runs through) a symbolic link",
            ],
        );
    }
    assert_detail(&run, &["plugin git-dir:", "names the repository's `.git`"]);
    assert_detail(&run, &["plugin real:", "outside the bundle"]);
    for (path, seed) in crate::common::tree(&d.data.join("keys")) {
        if seed.len() < 16 {
            continue; // a lock file, not a secret
        }
        assert!(
            !any_blob_contains(&d.data, &seed),
            "the key {path} was published"
        );
    }
    // `real-skill` (which holds no link) is the one thing stored.
    let stored: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    assert_eq!(stored, ["real-skill"], "{stored:?}");
    before.assert_keys_and_config(&d, "git-subdir links");
}
