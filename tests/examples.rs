//! The examples the README walks through stay publishable.

mod common;

use common::*;
use std::path::Path;

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn readme_examples_publish_and_download() {
    let d = Daemon::start();
    for (dir, name, version) in [
        ("hello-skill", "hello-skill", "1.0.0"),
        ("hello-plugin", "hello-plugin", "0.1.0"),
    ] {
        let out = cli(&[
            "publish",
            &example(dir),
            "--registry",
            &d.url,
            "--token",
            &d.admin,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("published {name}@{version}")),
            "{stdout}"
        );
        // The download is exactly what `skillreg pack` makes.
        let packed = tempfile::tempdir().unwrap();
        let file = packed.path().join("b.tar.gz");
        let out = cli(&["pack", &example(dir), "-o", file.to_str().unwrap()]);
        assert!(out.status.success());
        let bytes = std::fs::read(&file).unwrap();
        let r = get_with(
            &format!("{}/api/v1/crates/{name}/{version}/download", d.url),
            &[],
        );
        assert_eq!(r.status(), 200);
        let mut downloaded = Vec::new();
        std::io::Read::read_to_end(&mut r.into_body().as_reader(), &mut downloaded).unwrap();
        assert_eq!(downloaded, bytes);
        let (_, index) = get(&format!(
            "{}/index/{}",
            d.url,
            skillreg::index::path_for(name)
        ));
        let entry: serde_json::Value = serde_json::from_str(index.trim()).unwrap();
        assert_eq!(
            entry["cksum"],
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex()
        );
    }
    let out = cli(&["search", "greet", "--registry", &d.url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hello-skill") && stdout.contains("hello-plugin"),
        "{stdout}"
    );
}

#[test]
fn publish_needs_a_version_and_the_flag_cannot_contradict_the_manifest() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("unversioned");
    std::fs::create_dir(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        "---\nname: unversioned\ndescription: No version.\n---\n",
    )
    .unwrap();
    let s = skill.to_str().unwrap();
    let out = cli(&["publish", s, "--registry", &d.url, "--token", &d.admin]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--version"));
    let out = cli(&[
        "publish",
        s,
        "--registry",
        &d.url,
        "--token",
        &d.admin,
        "--version",
        "2.0.0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "publish",
        &example("hello-skill"),
        "--registry",
        &d.url,
        "--token",
        &d.admin,
        "--version",
        "9.9.9",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("differs"));
    // The environment variables work in place of the flags.
    let out = std::process::Command::new(BIN)
        .args(["yank", "unversioned@2.0.0"])
        .env("SKILLREG_REGISTRY", &d.url)
        .env("SKILLREG_TOKEN", &d.admin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, index) = get(&format!("{}/index/un/ve/unversioned", d.url));
    assert!(index.contains("\"yanked\":true"));
}
