//! `skillreg install` and `skillreg verify` against the real daemon: a
//! plugin with a dependency chain, the lock, verification, upgrades,
//! offline installs, unsatisfiable requirements, key rotation, yanks and
//! trust on first use.

mod common;

use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success and returns stdout.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "expected success\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Asserts failure with exit status 1 and returns stderr.
fn fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
    stderr(out)
}

fn install(
    env: &ClientEnv,
    url: &str,
    root: Option<&Path>,
    project: &Path,
    specs: &[&str],
    extra: &[&str],
) -> Output {
    let mut args = vec!["install"];
    args.extend_from_slice(specs);
    args.extend(["--registry", url, "--dir", project.to_str().unwrap()]);
    if let Some(root) = root {
        args.extend(["--trust-root", root.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    env.run(&args)
}

fn lock(project: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(project.join("skillreg.lock")).unwrap()).unwrap()
}

/// Every path below `project` whose name starts with `.skillreg-`: temp
/// dirs or replaced installs that should never outlive a command.
fn leftovers(project: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().starts_with(".skillreg-") {
                out.push(e.path());
            }
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(project, &mut out);
    out
}

fn sha256(bytes: &[u8]) -> String {
    skillreg::blobs::Sha256Digest::of(bytes).to_hex()
}

/// A skill directory whose SKILL.md declares `deps` (or none).
fn skill(dir: &Path, name: &str, version: &str, deps: Option<&str>) -> PathBuf {
    let path = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&path).unwrap();
    let deps = deps
        .map(|d| format!("  dependencies: \"{d}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        path.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: Skill {name} {version}.\nmetadata:\n  version: \"{version}\"\n{deps}---\n# {name} {version}\n"),
    )
    .unwrap();
    path
}

/// A plugin directory with a script, a symlink and `dependencies`.
fn plugin(dir: &Path, name: &str, version: &str, deps: Value) -> PathBuf {
    let path = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(path.join(".claude-plugin")).unwrap();
    std::fs::create_dir_all(path.join("scripts")).unwrap();
    std::fs::write(
        path.join(".claude-plugin/plugin.json"),
        serde_json::to_vec_pretty(&json!({
            "name": name, "version": version, "description": "A plugin.", "dependencies": deps,
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(path.join("README.md"), "# tool kit\n").unwrap();
    std::fs::write(path.join("scripts/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::set_permissions(
        path.join("scripts/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("README.md", path.join("latest.md")).unwrap();
    path
}

fn publish(d: &Daemon, dir: &Path) {
    let out = cli(&[
        "publish",
        dir.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &d.admin,
    ]);
    ok(&out);
}

/// The key ids of each role of a root envelope file.
fn key_ids(root_file: &Path) -> Value {
    let (_, root) = root_of(&std::fs::read(root_file).unwrap());
    let mut out = serde_json::Map::new();
    for (role, keys) in &root.roles {
        out.insert(role.clone(), json!(keys.keyids));
    }
    Value::Object(out)
}

/// Waits until the daemon serves root `n` and a snapshot signed under it.
fn wait_for_root(d: &Daemon, n: u64) {
    use skillreg::index::sign::{self, paths, Envelope};
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, _) = get_bytes(&format!("{}/index/{}", d.url, paths::root(n)));
        if status == 200 {
            let (_, ts) = get_bytes(&format!("{}/index/{}", d.url, paths::TIMESTAMP));
            let ts: sign::Timestamp =
                sign::parse(&Envelope::from_bytes(&ts).unwrap().payload_bytes().unwrap()).unwrap();
            let (_, snap) = get_bytes(&format!(
                "{}/index/{}",
                d.url,
                paths::snapshot(ts.snapshot.version)
            ));
            if let Ok(env) = Envelope::from_bytes(&snap) {
                let snap: sign::Snapshot = sign::parse(&env.payload_bytes().unwrap()).unwrap();
                if snap.root_version == n {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never served root v{n}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rotate(d: &Daemon, role: &str) {
    ok(&cli(&[
        "key",
        "rotate",
        role,
        "--data",
        d.data.to_str().unwrap(),
    ]));
}

#[test]
fn installs_a_plugin_with_a_dependency_chain_and_locks_it() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    publish(&d, &skill(src.path(), "base-skill", "1.0.0", None));
    publish(&d, &skill(src.path(), "base-skill", "1.1.0", None));
    publish(&d, &skill(src.path(), "base-skill", "2.0.0", None));
    publish(
        &d,
        &skill(src.path(), "mid-skill", "1.0.0", Some("base-skill@^1.0")),
    );
    publish(
        &d,
        &plugin(src.path(), "tool-kit", "2.0.0", json!(["mid-skill"])),
    );
    let env = ClientEnv::new();
    let root = export_root(&d.data, env.dir.path(), "root.json");
    let project = env.project("p");

    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["tool-kit"],
        &[],
    ));
    for want in [
        "installed tool-kit@2.0.0 (plugin",
        "installed mid-skill@1.0.0 (skill",
        "installed base-skill@1.1.0 (skill",
        "skillreg.lock",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }

    // The files, with their exec bit and symlink.
    let plugin_dir = project.join(".claude/plugins/tool-kit");
    assert!(plugin_dir.join(".claude-plugin/plugin.json").is_file());
    let script = std::fs::metadata(plugin_dir.join("scripts/run.sh")).unwrap();
    assert_ne!(script.permissions().mode() & 0o111, 0, "exec bit kept");
    let readme = std::fs::metadata(plugin_dir.join("README.md")).unwrap();
    assert_eq!(readme.permissions().mode() & 0o111, 0);
    assert_eq!(
        std::fs::read_link(plugin_dir.join("latest.md")).unwrap(),
        Path::new("README.md")
    );
    let base_md =
        std::fs::read_to_string(project.join(".claude/skills/base-skill/SKILL.md")).unwrap();
    assert!(
        base_md.contains("version: \"1.1.0\""),
        "^1.0 picks 1.1.0, not 2.0.0: {base_md}"
    );
    assert!(project.join(".claude/skills/mid-skill/SKILL.md").is_file());
    assert!(leftovers(&project).is_empty(), "{:?}", leftovers(&project));

    // The lock.
    let lock = lock(&project);
    assert_eq!(lock["lock_version"], 1);
    let packages = lock["packages"].as_object().unwrap();
    assert_eq!(
        packages.keys().collect::<Vec<_>>(),
        ["base-skill", "mid-skill", "tool-kit"]
    );
    let keys = key_ids(&root);
    for (name, version, kind, path) in [
        ("base-skill", "1.1.0", "skill", ".claude/skills/base-skill"),
        ("mid-skill", "1.0.0", "skill", ".claude/skills/mid-skill"),
        ("tool-kit", "2.0.0", "plugin", ".claude/plugins/tool-kit"),
    ] {
        let p = &packages[name];
        assert_eq!(p["version"], version);
        assert_eq!(p["kind"], kind);
        assert_eq!(p["path"], path);
        assert_eq!(p["registry"], d.url);
        assert_eq!(p["root_version"], 1);
        assert_eq!(p["keys"], keys);
        let (status, bundle) = get_bytes(&format!(
            "{}/api/v1/crates/{name}/{version}/download",
            d.url
        ));
        assert_eq!(status, 200);
        assert_eq!(p["cksum"], sha256(&bundle), "{name}");
    }
    let files = &packages["tool-kit"]["files"];
    assert_eq!(
        files["scripts/run.sh"],
        json!({"type": "file", "executable": true,
               "sha256": sha256(&std::fs::read(plugin_dir.join("scripts/run.sh")).unwrap())})
    );
    assert_eq!(
        files["latest.md"],
        json!({"type": "symlink", "target": "README.md"})
    );
    assert_eq!(files["scripts"], json!({"type": "dir"}));
    assert_eq!(
        packages["base-skill"]["files"]["SKILL.md"]["sha256"],
        sha256(base_md.as_bytes())
    );

    // verify: clean, then every kind of difference, exit 1.
    let dir = project.to_str().unwrap();
    let out = ok(&env.run(&["verify", "--dir", dir]));
    assert!(out.contains("ok: 3 package(s)"), "{out}");
    std::fs::write(
        project.join(".claude/skills/base-skill/SKILL.md"),
        "---\nname: base-skill\ndescription: Evil.\n---\n",
    )
    .unwrap();
    let out = env.run(&["verify", "--dir", dir]);
    let err = fails(&out);
    let report = stdout(&out);
    assert!(
        report.contains("modified: .claude/skills/base-skill/SKILL.md (content changed"),
        "{report}"
    );
    assert!(err.contains("1 difference(s)"), "{err}");
    std::fs::remove_file(plugin_dir.join("scripts/run.sh")).unwrap();
    std::fs::write(plugin_dir.join("scripts/extra.sh"), "rm -rf /\n").unwrap();
    std::fs::set_permissions(
        plugin_dir.join("README.md"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let out = env.run(&["verify", "--dir", dir]);
    let err = fails(&out);
    let report = stdout(&out);
    for want in [
        "missing:  .claude/plugins/tool-kit/scripts/run.sh",
        "extra:    .claude/plugins/tool-kit/scripts/extra.sh",
        "modified: .claude/plugins/tool-kit/README.md (now executable)",
    ] {
        assert!(report.contains(want), "{want:?} in {report}");
    }
    assert!(err.contains("4 difference(s)"), "{err}");

    // Reinstalling restores them.
    let out = ok(&install(&env, &d.url, None, &project, &["tool-kit"], &[]));
    assert!(out.contains("reinstalled tool-kit@2.0.0"), "{out}");
    ok(&env.run(&["verify", "--dir", dir]));
    assert!(leftovers(&project).is_empty());

    // Without a lock, verify says so.
    let empty = env.project("empty");
    let err = fails(&env.run(&["verify", "--dir", empty.to_str().unwrap()]));
    assert!(err.contains("no lock file"), "{err}");
}

#[test]
fn reinstall_and_upgrade_replace_atomically_and_keep_other_entries() {
    let d = Daemon::start();
    d.publish_skill("base-skill", "1.0.0");
    d.publish_skill("other-skill", "0.1.0");
    let env = ClientEnv::new();
    let root = export_root(&d.data, env.dir.path(), "root.json");
    let project = env.project("p");
    let skill_md = project.join(".claude/skills/base-skill/SKILL.md");

    ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill", "other-skill"],
        &[],
    ));
    assert!(std::fs::read_to_string(&skill_md)
        .unwrap()
        .contains("\"1.0.0\""));

    d.publish_skill("base-skill", "1.1.0");
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("upgraded base-skill 1.0.0 -> 1.1.0"), "{out}");
    assert!(std::fs::read_to_string(&skill_md)
        .unwrap()
        .contains("\"1.1.0\""));
    let l = lock(&project);
    assert_eq!(l["packages"]["base-skill"]["version"], "1.1.0");
    assert_eq!(l["packages"]["other-skill"]["version"], "0.1.0", "kept");

    // Same version again, then an explicit downgrade.
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("reinstalled base-skill@1.1.0"), "{out}");
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill@=1.0.0"],
        &[],
    ));
    assert!(out.contains("upgraded base-skill 1.1.0 -> 1.0.0"), "{out}");
    assert!(std::fs::read_to_string(&skill_md)
        .unwrap()
        .contains("\"1.0.0\""));
    assert_eq!(lock(&project)["packages"]["base-skill"]["version"], "1.0.0");

    // Nothing but the installs themselves under .claude/skills.
    let mut names: Vec<String> = std::fs::read_dir(project.join(".claude/skills"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["base-skill", "other-skill"]);
    ok(&env.run(&["verify", "--dir", project.to_str().unwrap()]));
}

#[test]
fn offline_installs_use_only_the_cache_and_verified_metadata() {
    let d = Daemon::start();
    d.publish_skill("base-skill", "1.0.0");
    d.publish_skill("never-fetched", "1.0.0");
    let env = ClientEnv::new();
    let root = export_root(&d.data, env.dir.path(), "root.json");
    let online = env.project("online");
    ok(&install(
        &env,
        &d.url,
        Some(&root),
        &online,
        &["base-skill"],
        &[],
    ));
    let url = d.url.clone();
    drop(d.stop());

    // The daemon is gone: online fails clearly, offline works.
    let other = env.project("other");
    let err = fails(&install(
        &env,
        &url,
        Some(&root),
        &other,
        &["base-skill"],
        &[],
    ));
    assert!(err.contains("cannot reach"), "{err}");
    assert!(err.contains("--offline"), "{err}");
    let out = ok(&install(
        &env,
        &url,
        Some(&root),
        &other,
        &["base-skill"],
        &["--offline"],
    ));
    assert!(out.contains("installed base-skill@1.0.0"), "{out}");
    assert!(out.contains("offline"), "{out}");
    assert_eq!(
        lock(&other)["packages"]["base-skill"],
        lock(&online)["packages"]["base-skill"]
    );
    assert_eq!(
        std::fs::read(other.join(".claude/skills/base-skill/SKILL.md")).unwrap(),
        std::fs::read(online.join(".claude/skills/base-skill/SKILL.md")).unwrap()
    );
    // Also without --trust-root: the root verified before is used.
    let third = env.project("third");
    ok(&install(
        &env,
        &url,
        None,
        &third,
        &["base-skill"],
        &["--offline"],
    ));

    // A package whose index file was never fetched is not in the cache.
    let fourth = env.project("fourth");
    let err = fails(&install(
        &env,
        &url,
        None,
        &fourth,
        &["never-fetched"],
        &["--offline"],
    ));
    assert!(
        err.contains("offline:") && err.contains("without --offline"),
        "{err}"
    );
    assert!(!fourth.join(".claude").exists());
    assert!(!fourth.join("skillreg.lock").exists());

    // A damaged cached blob is not used offline. The cache holds what is
    // damaged: base-skill's bundle, whole, under its checksum, and nothing
    // else (never-fetched was never fetched).
    let cksum = lock(&online)["packages"]["base-skill"]["cksum"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.cached_bundles(),
        [(cksum.clone(), cksum.clone())].into(),
        "the cache holds base-skill's bundle"
    );
    let blobs = env.bundle_cache();
    for blob in std::fs::read_dir(&blobs).unwrap() {
        std::fs::write(blob.unwrap().path(), b"garbage").unwrap();
    }
    assert_ne!(env.cached_bundles()[&cksum], cksum, "damaged");
    let err = fails(&install(
        &env,
        &url,
        None,
        &fourth,
        &["base-skill"],
        &["--offline"],
    ));
    assert!(err.contains("not in the cache"), "{err}");
    assert!(!fourth.join(".claude").exists());

    // Another user, with nothing verified, cannot install offline.
    let stranger = ClientEnv::new();
    let p = stranger.project("p");
    let err = fails(&install(
        &stranger,
        &url,
        Some(&root),
        &p,
        &["base-skill"],
        &["--offline"],
    ));
    assert!(err.contains("verified metadata"), "{err}");
}

#[test]
fn unsatisfiable_requirements_install_nothing() {
    let d = Daemon::start();
    let src = tempfile::tempdir().unwrap();
    d.publish_skill("base-skill", "1.0.0");
    d.publish_skill("base-skill", "1.1.0");
    publish(
        &d,
        &skill(src.path(), "needs-two", "1.0.0", Some("base-skill@^2.0")),
    );
    publish(
        &d,
        &skill(
            src.path(),
            "needs-one-one",
            "1.0.0",
            Some("base-skill@^1.1"),
        ),
    );
    publish(
        &d,
        &skill(src.path(), "needs-ghost", "1.0.0", Some("ghost-skill@^1")),
    );
    publish(
        &d,
        &skill(src.path(), "needs-old", "1.0.0", Some("base-skill@<1.1")),
    );
    d.publish_skill("fine-skill", "1.0.0");
    let env = ClientEnv::new();
    let root = export_root(&d.data, env.dir.path(), "root.json");
    let project = env.project("p");
    // A lock from an earlier install, which a failure must leave as it was.
    ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["fine-skill"],
        &[],
    ));
    let lock_before = std::fs::read(project.join("skillreg.lock")).unwrap();

    let cases: &[(&[&str], &[&str])] = &[
        (
            &["base-skill@^9"],
            &[
                "no version of `base-skill` matches `^9`",
                "the command line",
                "available: 1.0.0, 1.1.0",
            ],
        ),
        (
            &["needs-two"],
            &[
                "no version of `base-skill` matches `^2.0`",
                "needs-two@1.0.0",
            ],
        ),
        (
            &["base-skill@=1.0.0", "needs-one-one"],
            &[
                "conflicting requirements on `base-skill`",
                "`=1.0.0` (required by the command line)",
                "`^1.1` (required by needs-one-one@1.0.0)",
            ],
        ),
        (&["no-such-skill"], &["no package named `no-such-skill`"]),
        (
            &["needs-ghost"],
            &["no package named `ghost-skill` (required by needs-ghost@1.0.0)"],
        ),
        (&["Bad/Name"], &["`Bad/Name` is not NAME or NAME@REQ"]),
        (
            &["base-skill@latest"],
            &["`latest` is not a version requirement"],
        ),
    ];
    for (specs, wants) in cases {
        let err = fails(&install(&env, &d.url, Some(&root), &project, specs, &[]));
        for want in *wants {
            assert!(err.contains(want), "{specs:?}: {want:?} in {err}");
        }
        assert!(
            !project.join(".claude/skills/base-skill").exists(),
            "{specs:?}"
        );
        assert!(
            !project.join(".claude/skills/needs-two").exists(),
            "{specs:?}"
        );
        assert!(leftovers(&project).is_empty(), "{specs:?}");
        assert_eq!(
            std::fs::read(project.join("skillreg.lock")).unwrap(),
            lock_before,
            "{specs:?}"
        );
    }

    // Both requirements met by one version: 1.1.0 for `^1.0` and `^1.1`.
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill@^1.0", "needs-one-one"],
        &[],
    ));
    assert!(out.contains("installed base-skill@1.1.0"), "{out}");
    // When the first choice (1.1.0 for `^1.0`) breaks a later requirement
    // (`<1.1`), the version meeting both is chosen instead.
    let p2 = env.project("p2");
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &p2,
        &["base-skill@^1.0", "needs-old"],
        &[],
    ));
    assert!(out.contains("installed base-skill@1.0.0"), "{out}");
}

#[test]
fn key_rotations_between_installs_still_verify() {
    let d = Daemon::start();
    d.publish_skill("base-skill", "1.0.0");
    let env = ClientEnv::new();
    let root_v1 = export_root(&d.data, env.dir.path(), "root-v1.json");
    let project = env.project("p");
    ok(&install(
        &env,
        &d.url,
        Some(&root_v1),
        &project,
        &["base-skill"],
        &[],
    ));
    let keys_v1 = lock(&project)["packages"]["base-skill"]["keys"].clone();

    rotate(&d, "index");
    wait_for_root(&d, 2);
    d.publish_skill("base-skill", "1.1.0");
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root_v1),
        &project,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("upgraded base-skill 1.0.0 -> 1.1.0"), "{out}");
    assert!(out.contains("root v2"), "{out}");
    let p = &lock(&project)["packages"]["base-skill"];
    assert_eq!(p["root_version"], 2);
    assert_ne!(p["keys"]["index"], keys_v1["index"], "the new index key");
    assert_eq!(p["keys"]["root"], keys_v1["root"]);

    rotate(&d, "root");
    wait_for_root(&d, 3);
    rotate(&d, "timestamp");
    wait_for_root(&d, 4);
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root_v1),
        &project,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("root v4"), "{out}");
    let p = &lock(&project)["packages"]["base-skill"];
    assert_ne!(p["keys"]["root"], keys_v1["root"], "the new root key");
    assert_ne!(p["keys"]["timestamp"], keys_v1["timestamp"]);
    ok(&env.run(&["verify", "--dir", project.to_str().unwrap()]));

    // A new user pinned to v1 walks the whole chain; one pinned to v4 starts there.
    let fresh = ClientEnv::new();
    let p = fresh.project("p");
    let out = ok(&install(
        &fresh,
        &d.url,
        Some(&root_v1),
        &p,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("root v4"), "{out}");
    let root_v4 = export_root(&d.data, fresh.dir.path(), "root-v4.json");
    let newest = ClientEnv::new();
    let p = newest.project("p");
    ok(&install(
        &newest,
        &d.url,
        Some(&root_v4),
        &p,
        &["base-skill"],
        &[],
    ));
}

#[test]
fn yanked_versions_are_not_chosen() {
    let d = Daemon::start();
    d.publish_skill("base-skill", "1.0.0");
    d.publish_skill("base-skill", "1.1.0");
    ok(&cli(&[
        "yank",
        "base-skill@1.1.0",
        "--registry",
        &d.url,
        "--token",
        &d.admin,
    ]));
    let env = ClientEnv::new();
    let root = export_root(&d.data, env.dir.path(), "root.json");
    let project = env.project("p");
    let out = ok(&install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill"],
        &[],
    ));
    assert!(out.contains("installed base-skill@1.0.0"), "{out}");
    assert_eq!(lock(&project)["packages"]["base-skill"]["version"], "1.0.0");

    let p2 = env.project("p2");
    let err = fails(&install(
        &env,
        &d.url,
        Some(&root),
        &p2,
        &["base-skill@=1.1.0"],
        &[],
    ));
    assert!(err.contains("yanked (never chosen): 1.1.0"), "{err}");
    assert!(!p2.join(".claude").exists());
}

#[test]
fn trust_on_first_use_only_with_the_flag() {
    let d = Daemon::start();
    d.publish_skill("base-skill", "1.0.0");
    let env = ClientEnv::new();
    let project = env.project("p");
    let err = fails(&install(&env, &d.url, None, &project, &["base-skill"], &[]));
    assert!(
        err.contains("no trust root") && err.contains("--trust-root FILE"),
        "{err}"
    );
    assert!(!project.join(".claude").exists());

    let out = install(
        &env,
        &d.url,
        None,
        &project,
        &["base-skill"],
        &["--trust-on-first-use"],
    );
    ok(&out);
    let warning = stderr(&out);
    assert!(warning.contains("TRUST ON FIRST USE"), "{warning}");
    let root = export_root(&d.data, env.dir.path(), "root.json");
    for ids in key_ids(&root).as_object().unwrap().values() {
        let id = ids[0].as_str().unwrap();
        assert!(warning.contains(id), "{id} in {warning}");
    }
    // Pinned now: later runs need no flag and print no warning.
    let out = install(&env, &d.url, None, &project, &["base-skill"], &[]);
    ok(&out);
    assert!(!stderr(&out).contains("TRUST ON FIRST USE"));
    // The flag and a trust root together are refused by the CLI.
    let out = install(
        &env,
        &d.url,
        Some(&root),
        &project,
        &["base-skill"],
        &["--trust-on-first-use"],
    );
    assert!(!out.status.success());
}

#[test]
fn an_install_reads_only_the_tree_nodes_on_its_paths_and_a_warm_one_none() {
    let proxy = FaultProxy::start("");
    let d = Daemon::with_config(&format!("public_url = {:?}\n", proxy.url));
    proxy.set_upstream(&d.url);
    for i in 0..60 {
        d.publish_skill(&format!("filler-{i}"), "1.0.0");
    }
    d.publish_skill("wanted-skill", "1.0.0");
    let tmp = tempfile::tempdir().unwrap();
    let root = export_root(&d.data, tmp.path(), "root.json");
    let env = ClientEnv::new();

    env.install(&proxy.url, &root, &env.project("cold"), &["wanted-skill"]);
    // The package's index file and config.json: three nodes on each path
    // (fewer where the paths share a node), out of more than a hundred.
    let nodes = proxy.count("/index/_skillreg/tree/");
    assert!(
        (3..=6).contains(&nodes),
        "{nodes} nodes: {:#?}",
        proxy.requests()
    );
    assert_eq!(proxy.count("/index/fi/ll/"), 0, "no other index file");

    // Nothing changed: the timestamp names the snapshot already verified,
    // whose nodes and files the client holds, so it fetches no node, no
    // snapshot and no index file.
    proxy.reset_counts();
    env.install(&proxy.url, &root, &env.project("warm"), &["wanted-skill"]);
    let requests = proxy.requests();
    let metadata: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("/index/"))
        .collect();
    assert!(
        metadata
            .iter()
            .all(|r| r.starts_with("/index/_skillreg/root")
                || r.as_str() == "/index/_skillreg/timestamp.json"),
        "{requests:#?}"
    );
    // Two requests: the next root (404) and the timestamp. The root the
    // client holds is not fetched again: a registry that no longer serves
    // it fails the verification, and only then is it asked, to explain.
    assert!(metadata.len() <= 2, "{requests:#?}");

    // One publish elsewhere: a new top, and only nodes on changed paths.
    d.publish_skill("filler-7", "1.1.0");
    proxy.reset_counts();
    env.install(&proxy.url, &root, &env.project("after"), &["wanted-skill"]);
    assert_eq!(proxy.count("/index/_skillreg/snapshot/"), 1);
    assert!(
        proxy.count("/index/_skillreg/tree/") <= 6,
        "{:#?}",
        proxy.requests()
    );
}
