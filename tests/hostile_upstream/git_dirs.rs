//! `.git` and other names that mean more than they say: a checkout's git
//! directory (in any spelling) as a plugin or inside one, a hard link to a
//! key, and two pins of one repository sharing a work tree.

use std::path::Path;
use std::time::Duration;

use crate::common::git_http::{git, repo_with, GitHttp};
use crate::support::*;

/// Two entries with the same URL and different pins share one clone; the
/// first entry's directory handle sees the second entry's checkout, so the
/// version recorded as `URL@<audited commit>` holds another commit's files.
#[test]
fn a_pinned_remote_holds_the_commit_it_names() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let repo = work.path().join("r");
    let audited = repo_with(
        &repo,
        &[
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"audited","version":"1.0.0"}"#,
            ),
            ("payload.txt", b"AUDITED-CONTENT\n"),
        ],
    );
    let evil = repo_with(
        &repo,
        &[("payload.txt", b"EVIL-CONTENT-FROM-ANOTHER-COMMIT\n")],
    );
    server.publish("r", &repo);
    let url = server.url("r");
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "audited", "source": {"source": "url", "url": url, "sha": audited}},
            {"name": "decoy", "source": {"source": "url", "url": url, "sha": evil}},
        ]),
    );
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{}\"]", server.host()),
    );
    let run = sync_within(&d, "evil", Duration::from_secs(120))
        .expect("sync hung")
        .expect("daemon died");
    assert_eq!(run["status"], "completed", "{run}");
    let (cksum, upstream) = stored(&d.data, "audited");
    let tar = unpacked_blob(&d.data, &cksum);
    eprintln!("audited is recorded as {}", upstream["source_path"]);
    assert!(upstream["source_path"].as_str().unwrap().contains(&audited));
    assert!(
        contains(&tar, b"AUDITED-CONTENT") && !contains(&tar, b"EVIL-CONTENT"),
        "the version recorded as {} holds commit {evil}'s payload",
        upstream["source_path"]
    );
}

/// A local checkout that is a git clone (what `read_head` reads): a plugin
/// entry whose source is `./.git` publishes the repository's own metadata,
/// `.git/config` with its remote URL (and any token in it) included.
/// (`.git` is skipped when packing, and refused as a git-subdir path, but
/// not as a relative source.)
#[test]
fn a_checkouts_git_directory_is_never_packed() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&m.join("fine"), "fine");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "fine", "source": "./fine"},
            {"name": "leak", "source": "./.git", "version": "1.0.0"},
        ]),
    );
    repo_with(&m, &[]);
    git(
        Some(&m),
        &[
            "remote",
            "add",
            "origin",
            "https://x-access-token:ghp_SECRETTOKEN@github.com/acme/market.git",
        ],
    );
    let d = daemon_for(&m, "");
    let run = sync_within(&d, "evil", Duration::from_secs(120))
        .expect("sync hung")
        .expect("daemon died");
    assert_eq!(run["status"], "completed", "{run}");
    let names: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    eprintln!("stored: {names:?}");
    assert!(
        !any_blob_contains(&d.data, b"ghp_SECRETTOKEN"),
        "the checkout's .git/config (with its token) was stored as a package: {names:?}"
    );
}

/// A hard link in a local checkout to a file outside it (here the
/// registry's own signing key; needs `fs.protected_hardlinks = 0`, or an
/// attacker who owns the target): `safe_fs` refuses symbolic links but
/// packs a file with `st_nlink > 1` as any other.
#[test]
fn a_hard_link_in_a_checkout_does_not_publish_the_file_it_links() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&m.join("p"), "p");
    marketplace(&m, serde_json::json!([{"name": "p", "source": "./p"}]));
    // The daemon's data dir lives in its own temp dir: start it, then link.
    let d = daemon_for(&m, "");
    let key = std::fs::read_dir(d.data.join("keys"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "ed25519"))
        .expect("a signing key");
    let secret = std::fs::read(&key).unwrap();
    if std::fs::hard_link(&key, m.join("p/skills/p-skill/notes.bin")).is_err() {
        eprintln!("cannot hard-link across file systems here; skipped");
        return;
    }
    let run = sync_within(&d, "evil", Duration::from_secs(120))
        .expect("sync hung")
        .expect("daemon died");
    assert_eq!(run["status"], "completed", "{run}");
    assert!(
        !any_blob_contains(&d.data, &secret),
        "{} was published through a hard link in the checkout",
        key.display()
    );
}

/// The packer skips `.git` by its exact name only: a checkout's `.GIT`
/// (or `.Git`, `.git\u{200C}`) is packed, passes inspect, and is stored
/// pending with no finding naming it, though on a case-insensitive client
/// disk (APFS, NTFS; HFS+ also ignores U+200C) it is the `.git` of a
/// repository rooted at the installed plugin (see tests/attack_install.rs
/// for what its config then runs).
#[test]
fn a_checkouts_git_directory_in_another_spelling_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    plugin(&m.join("p"), "p");
    write(&m.join("p/.GIT/HEAD"), "ref: refs/heads/main\n");
    write(
        &m.join("p/.GIT/config"),
        "[core]\n\tfsmonitor = \"touch /tmp/pwned; false\"\n",
    );
    std::fs::create_dir_all(m.join("p/.GIT/objects")).unwrap();
    std::fs::create_dir_all(m.join("p/.GIT/refs")).unwrap();
    marketplace(&m, serde_json::json!([{"name": "p", "source": "./p"}]));
    let d = daemon_for(&m, "");
    let run = sync_within(&d, "evil", Duration::from_secs(120))
        .expect("sync hung")
        .expect("daemon died");
    assert_eq!(run["status"], "completed", "{run}");
    // `.GIT` is `.git` on macOS and Windows: the plugin is refused by name
    // (its skill, which holds no git directory, is still mirrored).
    assert_detail(&run, &["plugin p:", "`.GIT`", "git repository's directory"]);
    let stored: Vec<String> = versions(&d.data).into_iter().map(|v| v.0).collect();
    assert_eq!(stored, ["p-skill"], "{stored:?}");
}

/// Held: `.git` that is a FIFO, or whose HEAD is a FIFO, or a link to the
/// keys: `read_head` neither hangs nor follows (the run completes).
#[test]
fn held_git_dir_fifo_and_links_do_not_hang_read_head() {
    let work = tempfile::tempdir().unwrap();
    for (i, kind) in ["fifo-dir", "fifo-head", "link-dir", "link-head"]
        .iter()
        .enumerate()
    {
        let m = work.path().join(format!("m{i}"));
        plugin(&m.join("p"), "p");
        marketplace(&m, serde_json::json!([{"name": "p", "source": "./p"}]));
        let mk = |p: &Path| {
            rustix::fs::mkfifoat(rustix::fs::CWD, p, rustix::fs::Mode::from_raw_mode(0o644))
                .unwrap()
        };
        match *kind {
            "fifo-dir" => mk(&m.join(".git")),
            "fifo-head" => {
                std::fs::create_dir_all(m.join(".git")).unwrap();
                mk(&m.join(".git/HEAD"));
            }
            "link-dir" => std::os::unix::fs::symlink("/etc", m.join(".git")).unwrap(),
            _ => {
                std::fs::create_dir_all(m.join(".git")).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", m.join(".git/HEAD")).unwrap();
            }
        }
        let d = daemon_for(&m, "");
        let run = sync_within(&d, "evil", Duration::from_secs(30))
            .expect("sync hung")
            .expect("daemon died");
        assert_eq!(run["status"], "completed", "{kind}: {run}");
    }
}

/// Dumb-http `objects/info/http-alternates` on an allowed host naming
/// another host: git must not fetch from it (http.followRedirects=false
/// also governs alternates).
#[test]
fn held_http_alternates_to_another_host_are_not_followed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = l.local_addr().unwrap().to_string();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let repo = work.path().join("r");
    repo_with(
        &repo,
        &[(
            ".claude-plugin/plugin.json",
            br#"{"name":"alt","version":"1.0.0"}"#,
        )],
    );
    server.publish("r", &repo);
    let bare = server.bare("r");
    // Move every object away; only the alternate could supply them.
    for e in std::fs::read_dir(bare.join("objects")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.len() == 2 || n == "pack" {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    std::fs::create_dir_all(bare.join("objects/pack")).unwrap();
    std::fs::create_dir_all(bare.join("objects/info")).unwrap();
    std::fs::write(
        bare.join("objects/info/http-alternates"),
        format!("http://{other}/objects\n"),
    )
    .unwrap();
    std::fs::write(bare.join("objects/info/packs"), "\n").unwrap();
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "alt", "source": {"source": "url", "url": server.url("r")}}]),
    );
    let d = daemon_for(
        &m,
        &format!(
            "remote_hosts = [\"http://{}\"]\ngit_timeout = \"20s\"",
            server.host()
        ),
    );
    let run = sync_within(&d, "evil", Duration::from_secs(60))
        .expect("sync hung")
        .expect("daemon died");
    eprintln!("{}", detail(&run).join("\n"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "git contacted the alternate's host"
    );
}
