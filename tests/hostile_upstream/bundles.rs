//! An attacker who controls a bundle (a publish, a mirrored upstream's
//! version, what a client downloads): trees deep enough to cost minutes,
//! names a client's file system merges, git directories in any spelling.

use std::time::Duration;

use skillreg::bundle::{inspect, ArchiveLimits};

use crate::common::{
    file_entry, gzip, put, raw_header, raw_tar, skill_md, skill_publish_body, Daemon,
};

type Builder = tar::Builder<flate2::write::GzEncoder<Vec<u8>>>;

fn builder() -> Builder {
    tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ))
}

fn file(b: &mut Builder, path: &str, content: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, content).unwrap();
}

fn link(b: &mut Builder, path: &str, target: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, path, target).unwrap();
}

fn dir(b: &mut Builder, path: &str) {
    let mut h = tar::Header::new_gnu();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_entry_type(tar::EntryType::Directory);
    b.append_data(&mut h, format!("{path}/"), std::io::empty())
        .unwrap();
}

/// A SKILL.md and `depth` nested directories `a/a/a/…`, one entry each.
fn deep_dirs(depth: usize) -> Vec<u8> {
    let mut b = builder();
    file(
        &mut b,
        "SKILL.md",
        b"---\nname: deep\ndescription: deep\n---\n",
    );
    let mut path = String::from("a");
    for _ in 0..depth {
        dir(&mut b, &path);
        path.push_str("/a");
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// `inspect` on another thread, or a panic if it takes longer than a
/// minute (a hang guard, not a measurement).
fn inspect_guarded(bytes: Vec<u8>) -> Result<usize, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = inspect(&bytes, &ArchiveLimits::default(), |_| false)
            .map(|a| a.entries.len())
            .map_err(|e| e.to_string());
        let _ = tx.send(r);
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("inspect did not finish within a minute")
}

/// Every prefix of every path used to be folded (O(depth³)): 2,000 levels
/// in a 40 KB bundle took three minutes, 10,000 would have taken hours.
#[test]
fn a_deep_bundle_is_refused_before_it_costs_minutes() {
    let e = inspect_guarded(deep_dirs(2_000)).unwrap_err();
    assert!(e.contains("nests more than 64 directories deep"), "{e}");
    assert_eq!(inspect_guarded(deep_dirs(63)).unwrap(), 64);
}

/// HFS+ ignores some code points when it compares names and Windows drops
/// trailing dots and spaces: `a/b/L\u{200C} -> ../..` beside `a/b/l/E`
/// is the same escape as `L` beside `l` was.
#[test]
fn names_a_client_file_system_merges_are_refused() {
    let mut b = builder();
    file(&mut b, "SKILL.md", b"---\nname: x\ndescription: x\n---\n");
    link(&mut b, "a/b/L\u{200C}", "../..");
    link(&mut b, "a/b/l/E", "../../..");
    let e = inspect_guarded(b.into_inner().unwrap().finish().unwrap()).unwrap_err();
    assert!(
        e.contains("differ only in case") || e.contains("which is a symlink in the bundle"),
        "{e}"
    );
    for (one, other) in [
        ("l\u{200c}", "l"),
        ("l\u{feff}", "l"),
        ("l\u{206a}", "l"),
        ("l.", "l"),
        ("l ", "l"),
        ("README.md", "readme.md"),
        ("\u{212a}ey", "key"),
    ] {
        let mut b = builder();
        file(&mut b, one, b"1");
        file(&mut b, other, b"2");
        let r = inspect_guarded(b.into_inner().unwrap().finish().unwrap());
        assert!(r.is_err(), "{one:?} beside {other:?} was accepted");
    }
}

/// YAML alias expansion in SKILL.md is refused by the parser's own limit.
#[test]
fn a_billion_laughs_frontmatter_is_refused() {
    let mut y = String::from(
        "---\nname: x\ndescription: x\na0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        y.push_str(&format!(
            "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]\n"
        ));
    }
    y.push_str("---\nbody\n");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(skillreg::bundle::skill::parse("SKILL.md", y.as_bytes()).is_err());
    });
    assert!(rx
        .recv_timeout(Duration::from_secs(60))
        .expect("parsing did not finish within a minute"));
}

/// A bundle holding a git directory installs a repository whose
/// `core.fsmonitor` runs at the first `git status` in the skill. Every
/// spelling a client's file system reads as `.git` is refused on publish
/// (and by the client's own check of what it downloads, the same `inspect`).
#[test]
fn a_git_directory_in_any_spelling_is_refused_on_publish() {
    let d = Daemon::start();
    let before = d.fingerprint();
    let marker = tempfile::tempdir().unwrap();
    let config = format!(
        "[core]\n\tfsmonitor = \"touch '{}'; false\"\n",
        marker.path().join("ran").display()
    );
    for name in [".git", ".GIT", ".git.", ".git ", ".g\u{200c}it", "GIT~1"] {
        let dir = |p: &str| (raw_header(p.as_bytes(), b'5', 0, b""), Vec::new());
        let tar = raw_tar(&[
            file_entry("SKILL.md", &skill_md("git-skill", "1.0.0")),
            dir(&format!("{name}/")),
            file_entry(&format!("{name}/HEAD"), b"ref: refs/heads/main\n"),
            file_entry(&format!("{name}/config"), config.as_bytes()),
        ]);
        let body = skill_publish_body("git-skill", "1.0.0", &gzip(&tar));
        let (status, text) = put(
            &format!("{}/api/v1/crates/new", d.url),
            Some(&d.admin),
            &body,
        );
        assert_eq!(status, 400, "{name:?}: {text}");
        assert!(
            text.contains("git repository's directory"),
            "{name:?}: {text}"
        );
    }
    assert_eq!(
        d.fingerprint(),
        before,
        "a refused publish stored something"
    );
    d.assert_serving();
}

/// A file `a` beside `a/b` (or `A/b`, which a case-folding disk merges):
/// no file system holds both, so such a bundle installs differently with
/// each tool and broke `export-marketplace` for every later run. Refused on
/// publish, with nothing stored.
#[test]
fn a_path_below_a_file_of_the_same_bundle_is_refused_on_publish() {
    let d = Daemon::start();
    let before = d.fingerprint();
    for (file_path, below) in [("docs", "docs/readme.md"), ("Docs", "docs/readme.md")] {
        let tar = raw_tar(&[
            file_entry("SKILL.md", &skill_md("shadow-skill", "1.0.0")),
            file_entry(file_path, b"a file\n"),
            file_entry(below, b"below it\n"),
        ]);
        let body = skill_publish_body("shadow-skill", "1.0.0", &gzip(&tar));
        let (status, text) = put(
            &format!("{}/api/v1/crates/new", d.url),
            Some(&d.admin),
            &body,
        );
        assert_eq!(status, 400, "{file_path} and {below}: {text}");
        assert!(
            text.contains("lies below") || text.contains("differ only in case"),
            "{file_path} and {below}: {text}"
        );
    }
    assert_eq!(
        d.fingerprint(),
        before,
        "a refused publish stored something"
    );
    d.assert_serving();
}
