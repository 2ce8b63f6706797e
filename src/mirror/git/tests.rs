use super::*;

#[test]
fn upstream_urls_are_https_http_or_ssh_with_a_plain_host() {
    for (url, scheme, host) in [
        ("https://github.com/o/r.git", Scheme::Https, "github.com"),
        (
            "http://127.0.0.1:8080/r.git",
            Scheme::Http,
            "127.0.0.1:8080",
        ),
        ("ssh://git@Git.Example/r.git", Scheme::Ssh, "git.example"),
        ("git@github.com:o/r.git", Scheme::Ssh, "github.com"),
    ] {
        let u = GitUrl::upstream(url).unwrap();
        assert_eq!((u.scheme, u.host.as_str()), (scheme, host), "{url}");
    }
    for url in [
        "file:///etc",
        "/srv/other/.git",
        "../other",
        "ext::sh -c touch% /tmp/x",
        "git://host/r",
        "fd::3",
        "-uhttps://x",
        "https://user:pw@host/r",
        "https://host%2f/r",
        "https:// host/r",
        "",
    ] {
        assert!(GitUrl::upstream(url).is_err(), "{url}");
    }
    assert_eq!(
        GitUrl::configured("file:///srv/m").unwrap().scheme,
        Scheme::File
    );
}

#[test]
fn remote_hosts_allow_a_scheme_and_host_exactly() {
    let hosts = vec![
        "github.com".to_string(),
        "http://git.internal:8080".into(),
        "ssh://git.example".into(),
    ];
    let ok = |u: &str| GitUrl::upstream(u).unwrap().allowed_by(&hosts);
    assert!(ok("https://github.com/o/r.git"));
    assert!(ok("https://GitHub.com/o/r.git"));
    assert!(!ok("http://github.com/o/r.git"), "http only when listed");
    assert!(ok("http://git.internal:8080/r.git"));
    assert!(!ok("https://git.internal/r.git"));
    assert!(ok("git@git.example:r.git"));
    assert!(!ok("https://github.com.evil/r.git"));
    assert!(!ok("https://evil.com/r.git"));
    assert!(!GitUrl::upstream("https://github.com/x")
        .unwrap()
        .allowed_by(&[]));
}

#[test]
fn head_is_read_from_files_never_by_running_git() {
    let t = tempfile::tempdir().unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(t.path().join(".git/refs/heads")).unwrap();
    std::fs::write(t.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let dir = crate::safe_fs::Dir::open(t.path()).unwrap();
    assert_eq!(read_head(&dir), None);
    std::fs::write(
        t.path().join(".git/packed-refs"),
        format!("# pack-refs\n{sha} refs/heads/main\n"),
    )
    .unwrap();
    assert_eq!(read_head(&dir).as_deref(), Some(sha));
    std::fs::write(t.path().join(".git/HEAD"), format!("{sha}\n")).unwrap();
    assert_eq!(read_head(&dir).as_deref(), Some(sha));
    std::fs::write(t.path().join(".git/HEAD"), "ref: ../../etc\n").unwrap();
    assert_eq!(read_head(&dir), None);
}
