//! An attacker who names git repositories in a marketplace, or controls the
//! repository or the host it is on: git must not run their code, reach
//! other repositories or hosts, or fill the disk or the clock.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::git_http::{git, repo_with, GitHttp};
use crate::common::Daemon;
use crate::support::*;

/// A listener that counts connections and then does `behave` with each.
fn listener(
    behave: impl Fn(std::net::TcpStream) + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let behave = Arc::new(behave);
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            let behave = behave.clone();
            std::thread::spawn(move || behave(stream));
        }
    });
    (addr, count)
}

#[test]
fn local_paths_file_urls_and_other_transports_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("ran");
    // Another repository on the host (say, another source's checkout).
    let other = work.path().join("other");
    repo_with(
        &other,
        &[(
            ".claude-plugin/plugin.json",
            br#"{"name":"other","version":"1.0.0"}"#,
        )],
    );
    let m = work.path().join("market");
    let url = |name: &str, url: String| serde_json::json!({"name": name, "source": {"source": "url", "url": url}});
    marketplace(
        &m,
        serde_json::json!([
            url("file-url", format!("file://{}", other.display())),
            url("abs-path", other.display().to_string()),
            url("rel-path", "../other".into()),
            url("ext", format!("ext::sh -c touch% {}", marker.display())),
            url("git-proto", "git://127.0.0.1/x.git".into()),
            url("creds", "https://user:secret@127.0.0.1/x.git".into()),
            url("dash", "--upload-pack=touch /tmp/x".into()),
        ]),
    );
    // Even with every host allowed, these never reach git.
    let d = daemon_for(&m, "remote_hosts = [\"127.0.0.1\", \"http://127.0.0.1\"]");
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    assert_detail(
        &run,
        &["plugin file-url:", "is a local path or file:// URL"],
    );
    assert_detail(
        &run,
        &["plugin abs-path:", "is a local path or file:// URL"],
    );
    assert_detail(
        &run,
        &["plugin rel-path:", "is a local path or file:// URL"],
    );
    assert_detail(&run, &["plugin ext:", "uses a transport other than"]);
    assert_detail(&run, &["plugin git-proto:", "uses a transport other than"]);
    assert_detail(&run, &["plugin creds:", "carries credentials"]);
    assert_detail(&run, &["plugin dash:", "starts with `-`"]);
    assert!(!marker.exists(), "ext:: ran a command");
    assert!(
        !d.data.join("mirror/state/evil/remotes").exists(),
        "git was run for a refused URL"
    );
    before.assert_same(&d, "refused transports");
}

#[test]
fn hosts_not_listed_are_never_contacted() {
    let (addr, connections) = listener(|_| {});
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "probe", "source": {"source": "url", "url": format!("http://{addr}/internal.git")}},
            {"name": "gh", "source": {"source": "github", "repo": "o/r"}},
            {"name": "https-only", "source": {"source": "url", "url": format!("http://{addr}/x.git")}},
        ]),
    );
    // `127.0.0.1` allows https to it, not http.
    let d = daemon_for(&m, "remote_hosts = [\"127.0.0.1\", \"github.example\"]");
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_detail(
        &run,
        &[
            "plugin probe:",
            "is not in this source's `remote_hosts`",
            "over http",
        ],
    );
    assert_detail(
        &run,
        &[
            "plugin gh:",
            "the host `github.com`",
            "it lists 127.0.0.1, github.example",
        ],
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "an unlisted host was contacted"
    );
    before.assert_same(&d, "unlisted hosts");
    // No remote_hosts at all: every remote is skipped with the same reason.
    let d = daemon_for(&m, "");
    let run = d.sync_source("evil");
    assert_detail(&run, &["plugin probe:", "(none are listed)"]);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[test]
fn redirects_to_other_hosts_are_not_followed() {
    // The allowed host answers every request with a redirect to another,
    // unlisted host, which counts the connections it gets.
    let (target, to_target) = listener(|_| {});
    let (redirector, _) = listener(move |mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(
            format!("HTTP/1.1 302 Found\r\nLocation: http://{target}/x.git/info/refs?service=git-upload-pack\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
    });
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([
            {"name": "moved", "source": {"source": "url", "url": format!("http://{redirector}/x.git")}},
        ]),
    );
    let d = daemon_for(&m, &format!("remote_hosts = [\"http://{redirector}\"]"));
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_detail(&run, &["plugin moved:", "not fetched"]);
    assert_eq!(to_target.load(Ordering::SeqCst), 0);
    before.assert_same(&d, "redirect");
}

#[test]
fn an_oversized_clone_is_stopped_at_git_max_bytes() {
    let work = tempfile::tempdir().unwrap();
    let server = GitHttp::start();
    let big = work.path().join("big");
    // 4 MiB that does not compress.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..4 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    repo_with(
        &big,
        &[
            (
                ".claude-plugin/plugin.json",
                br#"{"name":"big","version":"1.0.0"}"#,
            ),
            ("noise.bin", &noise),
        ],
    );
    server.publish("big", &big);
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "big", "source": {"source": "url", "url": server.url("big")}}]),
    );
    let d = daemon_for(
        &m,
        &format!(
            "remote_hosts = [\"http://{}\"]\ngit_max_bytes = 1048576",
            server.host()
        ),
    );
    let before = Untouched::of(&d);
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    assert_detail(
        &run,
        &["plugin big:", "grew past 1048576 bytes", "git_max_bytes"],
    );
    before.assert_same(&d, "oversized clone");
}

#[test]
fn a_server_that_never_answers_is_stopped_at_git_timeout() {
    let (addr, _) = listener(|s| {
        std::thread::sleep(Duration::from_secs(120));
        drop(s);
    });
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "tarpit", "source": {"source": "url", "url": format!("http://{addr}/x.git")}}]),
    );
    let d = daemon_for(
        &m,
        &format!("remote_hosts = [\"http://{addr}\"]\ngit_timeout = \"2s\""),
    );
    let before = Untouched::of(&d);
    let started = std::time::Instant::now();
    let run = d.sync_source("evil");
    assert_detail(
        &run,
        &["plugin tarpit:", "took longer than 2 s", "git_timeout"],
    );
    // Bounded by the cap, not by git's own 20 s low-speed limit.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    before.assert_same(&d, "tarpit");
}

/// The daemon's own environment and the checkout's `.git` carry hostile
/// git configuration (hooks, fsmonitor, templates, URL rewrites); none of
/// it may run or apply.
#[test]
fn git_config_hooks_and_templates_from_anywhere_never_run() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("ran");
    let script = work.path().join("hook.sh");
    write(&script, marker_script(&marker));
    make_executable(&script);
    let hooks = work.path().join("hooks");
    for hook in [
        "post-checkout",
        "post-merge",
        "reference-transaction",
        "pre-auto-gc",
    ] {
        write(&hooks.join(hook), marker_script(&marker));
        make_executable(&hooks.join(hook));
    }
    let home = work.path().join("home");
    let config = format!(
        "[core]\n\thooksPath = {}\n\tfsmonitor = {}\n[init]\n\ttemplateDir = {}\n[url \"file://{}/\"]\n\tinsteadOf = http://\n",
        hooks.display(),
        script.display(),
        work.path().join("templates").display(),
        work.path().display(),
    );
    write(&home.join(".gitconfig"), &config);
    write(
        &work.path().join("templates/hooks/post-checkout"),
        marker_script(&marker),
    );
    make_executable(&work.path().join("templates/hooks/post-checkout"));

    // A remote plugin on an allowed host, and the admin's own git source.
    let server = GitHttp::start();
    let plugin_repo = work.path().join("plugin");
    repo_with(
        &plugin_repo,
        &[(
            ".claude-plugin/plugin.json",
            br#"{"name":"fine","version":"1.0.0"}"#,
        )],
    );
    server.publish("fine", &plugin_repo);
    // A local-path checkout whose `.git` is hostile.
    let m = work.path().join("market");
    marketplace(
        &m,
        serde_json::json!([{"name": "fine", "source": {"source": "url", "url": server.url("fine")}}]),
    );
    git(Some(&m), &["init", "-q"]);
    write(&m.join(".git/config"), &config);
    write(&m.join(".git/hooks/post-checkout"), marker_script(&marker));
    make_executable(&m.join(".git/hooks/post-checkout"));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let home_s = home.display().to_string();
    let system = home.join(".gitconfig").display().to_string();
    let templates = work.path().join("templates").display().to_string();
    let d = Daemon::start_with_env(
        dir,
        data,
        &format!(
            "[[sources]]\nname = \"evil\"\nkind = \"marketplace\"\npath = {m:?}\ninterval = \"0\"\nremote_hosts = [\"http://{}\"]\n",
            server.host()
        ),
        &[
            ("HOME", &home_s),
            ("GIT_CONFIG_SYSTEM", &system),
            ("GIT_CONFIG_GLOBAL", &system),
            ("GIT_TEMPLATE_DIR", &templates),
            ("GIT_DIR", "/nonexistent"),
        ],
    );
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    let run = d.sync_source("evil");
    assert_eq!(run["status"], "completed", "{run}");
    assert!(!marker.exists(), "a hook, fsmonitor or template ran");
    let stored = versions(&d.data);
    assert!(
        stored.iter().any(|(n, _, s)| n == "fine" && s == "pending"),
        "the plugin came over http, not through the insteadOf rewrite: {stored:?}"
    );
    d.assert_serving();
}
