//! The daemon as a process: first start, the index protocol, tokens, limits,
//! timeouts, shutdown.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_creates_private_state() {
    let d = Daemon::start();
    assert!(d.url.starts_with("http://127.0.0.1:"));
    assert!(d.admin.starts_with("skr_"));
    assert_eq!(mode(&d.data.join("admin.token")), 0o600);
    assert_eq!(mode(&d.data.join("keys/registry.ed25519")), 0o600);
    assert_eq!(mode(&d.data), 0o700);
    assert!(d.data.join("skillreg.db").is_file());
    assert!(
        !d.log().contains(&d.admin),
        "the admin token must never be logged"
    );
    let (status, body) = get(&format!("{}/index/config.json", d.url));
    assert_eq!(status, 200);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["dl"], format!("{}/api/v1/crates", d.url));
    assert_eq!(config["api"], d.url);
    assert_eq!(config["auth-required"], false);
}

#[test]
fn restart_keeps_data_and_admin_token() {
    let d = Daemon::start();
    let admin = d.admin.clone();
    let body = skill_publish_body("keep", "1.0.0", &skill_tarball("keep", "1.0.0"));
    assert_eq!(
        put(&format!("{}/api/v1/crates/new", d.url), Some(&admin), &body).0,
        200
    );
    let before = get(&format!("{}/index/ke/ep/keep", d.url));
    let (dir, data) = d.stop();
    let d = Daemon::start_in(dir, data, "");
    assert_eq!(d.admin, admin);
    let after = get(&format!("{}/index/ke/ep/keep", d.url));
    assert_eq!(before, after);
}

#[test]
fn index_files_revalidate_and_compress() {
    let d = Daemon::start();
    d.publish_skill("cache-me", "1.0.0");
    let url = format!("{}/index/ca/ch/cache-me", d.url);
    let r = get_with(&url, &[]);
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong etag: {etag}"
    );
    assert_eq!(get_with(&url, &[("if-none-match", &etag)]).status(), 304);
    assert_eq!(
        get_with(&url, &[("if-modified-since", &modified)]).status(),
        304
    );
    assert_eq!(
        get_with(&url, &[("if-none-match", "\"other\"")]).status(),
        200
    );
    // Publishing another version changes the ETag.
    d.publish_skill("cache-me", "1.1.0");
    assert_eq!(get_with(&url, &[("if-none-match", &etag)]).status(), 200);
    // Missing: 404, never 410, with a JSON detail.
    let (status, body) = get(&format!("{}/index/no/pe/nope-nope", d.url));
    assert_eq!(status, 404);
    assert!(detail(&body).contains("no/pe/nope-nope"), "{body}");
    assert_eq!(get(&format!("{}/index/1/x", d.url)).0, 404);
}

#[test]
fn gzip_when_asked() {
    let d = Daemon::start();
    for v in ["1.0.0", "1.0.1", "1.0.2", "1.0.3"] {
        d.publish_skill("zipped", v);
    }
    // Raw socket: ureq would decompress transparently.
    let addr = d.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /index/zi/pp/zipped HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&raw[split + 4..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain.lines().count(), 4);
    assert_eq!(plain, get(&format!("{}/index/zi/pp/zipped", d.url)).1);
    // The gzip body is another representation, so it has its own strong
    // ETag; either revalidates.
    let gzip_etag = head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .unwrap()
        .to_string();
    let plain_etag = get_with(
        &format!("{}/index/zi/pp/zipped", d.url),
        &[("accept-encoding", "identity")],
    )
    .headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(gzip_etag, plain_etag);
    for etag in [&gzip_etag, &plain_etag] {
        let r = get_with(
            &format!("{}/index/zi/pp/zipped", d.url),
            &[("if-none-match", etag)],
        );
        assert_eq!(r.status(), 304, "{etag}");
    }
}

#[test]
fn tokens_created_while_running_work_at_once_and_revoked_ones_stop_within_a_second() {
    let d = Daemon::start();
    let url = format!("{}/api/v1/crates/new", d.url);
    let token = d.token("publisher", "carol");
    let body = skill_publish_body("carols", "1.0.0", &skill_tarball("carols", "1.0.0"));
    assert_eq!(put(&url, Some(&token), &body).0, 200);
    // Bearer form works too.
    let body = skill_publish_body("carols", "1.0.1", &skill_tarball("carols", "1.0.1"));
    assert_eq!(put(&url, Some(&format!("Bearer {token}")), &body).0, 200);
    let id = token.split('_').nth(1).unwrap();
    let out = cli(&["token", "revoke", "--data", d.data.to_str().unwrap(), id]);
    assert!(out.status.success());
    // The daemon looks at the database at most every 250 ms for tokens it
    // knows (index-spec/web-api.md §2.1): refused within a second.
    let revoked_at = std::time::Instant::now();
    let mut patch = 2;
    let (status, text, body) = loop {
        let version = format!("1.0.{patch}");
        let body = skill_publish_body("carols", &version, &skill_tarball("carols", &version));
        let (status, text) = put(&url, Some(&token), &body);
        if status != 200 {
            break (status, text, body);
        }
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(1),
            "a revoked token still publishes after a second"
        );
        patch += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status, 403, "{text}");
    assert!(detail(&text).contains("invalid or revoked"));
    // A reader may not publish.
    let reader = d.token("reader", "rita");
    let (status, text) = put(&url, Some(&reader), &body);
    assert_eq!(status, 403);
    assert!(detail(&text).contains("publisher"), "{text}");
    // No token at all: 401.
    assert_eq!(put(&url, None, &body).0, 401);
    let list = cli(&["token", "list", "--data", d.data.to_str().unwrap()]);
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("carol") && list.contains("revoked") && list.contains("rita"),
        "{list}"
    );
    assert!(
        !list.contains(token.split('_').nth(2).unwrap()),
        "secrets are never listed"
    );
}

#[test]
fn auth_required_guards_reads() {
    let d = Daemon::with_config("auth_required = true\n");
    d.publish_skill("secret", "1.0.0");
    let reader = d.token("reader", "rita");
    for path in [
        "/index/config.json",
        "/index/se/cr/secret",
        "/api/v1/crates/secret/1.0.0/download",
        "/api/v1/crates?q=secret",
    ] {
        let url = format!("{}{path}", d.url);
        let r = get_with(&url, &[]);
        assert_eq!(r.status(), 401, "{path}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Cargo login_url="), "{challenge}");
        assert_eq!(
            get_with(&url, &[("authorization", "skr_1_wrong")]).status(),
            401,
            "{path}"
        );
        assert_eq!(
            get_with(&url, &[("authorization", &reader)]).status(),
            200,
            "{path}"
        );
    }
    let (_, body) = (
        0,
        get_with(
            &format!("{}/index/config.json", d.url),
            &[("authorization", &reader)],
        ),
    );
    let mut body = body;
    let mut text = String::new();
    body.body_mut()
        .as_reader()
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("\"auth-required\": true"), "{text}");
    assert_eq!(
        get(&format!("{}/healthz", d.url)).0,
        200,
        "health stays open"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let d = Daemon::with_config("[rate_limit]\nper_ip_per_second = 1\nper_ip_burst = 3\n");
    let url = format!("{}/index/config.json", d.url);
    let mut limited = None;
    for _ in 0..10 {
        let r = get_with(&url, &[]);
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let mut r = limited.expect("the 4th quick request is limited");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    let mut text = String::new();
    r.body_mut().as_reader().read_to_string(&mut text).unwrap();
    assert!(
        detail(&text).contains(&format!("retry in {retry} s")),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(1100 * retry));
    assert_eq!(get(&url).0, 200, "served again after the wait");
}

#[test]
fn per_token_rate_limit() {
    let d = Daemon::with_config("[rate_limit]\nper_token_per_second = 1\nper_token_burst = 2\n");
    let url = format!("{}/api/v1/crates/none/1.0.0/yank", d.url);
    let statuses: Vec<u16> = (0..5).map(|_| delete(&url, Some(&d.admin)).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(statuses[0], 404);
}

#[test]
fn oversized_bodies_and_headers_are_refused() {
    let d = Daemon::with_config("[limits]\nmax_bundle_bytes = 1000\nmax_metadata_bytes = 100\n");
    let (status, text) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&d.admin),
        &vec![0u8; 5000],
    );
    assert_eq!(status, 413, "{text}");
    assert!(detail(&text).contains("larger than"));
    let addr = d.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let big = "a".repeat(40_000);
    let _ = write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let head = String::from_utf8_lossy(&raw);
    assert!(
        head.starts_with("HTTP/1.1 431"),
        "a 40 kB header is answered 431, not {head:?}"
    );
    d.assert_serving();
}

#[test]
fn slow_and_idle_clients_are_cut_off() {
    let d = Daemon::with_config("[limits]\nheader_read_timeout_secs = 1\nidle_timeout_secs = 1\nbody_read_timeout_secs = 1\n");
    let addr = d.url.trim_start_matches("http://").to_string();
    // Idle: connect and send nothing.
    let start = Instant::now();
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a response");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Slowloris: a header that never ends.
    let start = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(300));
        if write!(slow, "X-Slow: 1\r\n").is_err() {
            break;
        }
    }
    let mut raw = Vec::new();
    let _ = slow.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    // A body that never arrives: 408.
    let mut body = TcpStream::connect(&addr).unwrap();
    body.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(body, "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 500\r\n\r\nabc", d.admin).unwrap();
    let mut raw = Vec::new();
    let _ = body.read_to_end(&mut raw);
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    d.assert_serving();
}

#[test]
fn sigterm_finishes_in_flight_requests() {
    let d = Daemon::start();
    let addr = d.url.trim_start_matches("http://").to_string();
    let tarball = skill_tarball("inflight", "1.0.0");
    let body = skill_publish_body("inflight", "1.0.0", &tarball);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "PUT /api/v1/crates/new HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        d.admin,
        body.len()
    )
    .unwrap();
    // hyper answers `100 Continue` when the handler first reads the body:
    // from then on the request is in flight.
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(&body[..10]).unwrap();
    let pid = d.child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // New connections are refused once the listener is closed: soon after
    // the signal, while the request is still open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener still accepts 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write_all(&body[10..]).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert!(
        String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let mut d = d;
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let store = skillreg::store::Store::open(&d.data).unwrap();
    assert_eq!(
        store.published().unwrap().len(),
        1,
        "the in-flight publish is durable"
    );
}

#[test]
fn readers_are_refused_before_their_upload_is_read() {
    let d = Daemon::with_config("[limits]\nmax_bundle_bytes = 1000\n");
    let reader = d.token("reader", "rita");
    // Larger than the limit: the role decides first, so 403, not 413.
    let (status, body) = put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&reader),
        &[0u8; 5000],
    );
    assert_eq!(status, 403, "{body}");
    assert!(detail(&body).contains("publisher"), "{body}");
}

#[test]
fn unknown_routes_and_methods() {
    let d = Daemon::start();
    let (status, body) = get(&format!("{}/nope", d.url));
    assert_eq!(status, 404);
    assert!(detail(&body).contains("/nope"));
    let (status, body) = get(&format!("{}/api/v1/crates/some-crate", d.url));
    assert_eq!(status, 404, "{body}");
    let (status, _) = get(&format!("{}/api/v1/crates/x/1.0.0/yank", d.url));
    assert_eq!(status, 405);
    let (status, _) = delete(&format!("{}/index/config.json", d.url), None);
    assert_eq!(status, 405);
}

#[test]
fn bad_config_is_refused_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[limits]\nmax_entires = 5\n").unwrap();
    let out = cli(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_entires"), "{err}");
}

#[test]
fn public_url_flag_sets_the_urls_clients_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://registry.example.internal/",
        ])
        .arg("--data")
        .arg(dir.path().join("d"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let (_, body) = get(&format!("{url}/index/config.json"));
    let _ = child.kill();
    let _ = child.wait();
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["api"], "https://registry.example.internal");
    assert_eq!(
        config["dl"],
        "https://registry.example.internal/api/v1/crates"
    );
}

#[test]
fn under_auth_required_a_new_reader_reads_at_once_and_a_revoked_one_is_refused_within_a_second() {
    let d = Daemon::with_config("auth_required = true\n");
    d.publish_skill("guarded", "1.0.0");
    let url = format!("{}/index/gu/ar/guarded", d.url);
    let reader = d.token("reader", "rhea");
    let read = |token: &str| {
        get_with(&url, &[("Authorization", token)])
            .status()
            .as_u16()
    };
    // Created a moment ago by another process: known on its first request.
    assert_eq!(read(&reader), 200);
    for _ in 0..20 {
        assert_eq!(read(&reader), 200);
    }
    let id = reader.split('_').nth(1).unwrap();
    let out = cli(&["token", "revoke", "--data", d.data.to_str().unwrap(), id]);
    assert!(out.status.success());
    let revoked_at = std::time::Instant::now();
    while read(&reader) == 200 {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(1),
            "a revoked reader still reads after a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(read(&reader), 401);
    assert_eq!(read(&d.admin), 200);
}
