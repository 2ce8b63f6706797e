//! The `metrics_listen` listener cuts off slow and idle clients as the
//! public one does: a connection that sends nothing, one that keeps a
//! kept-alive connection open after a scrape, and a header that never ends
//! are each closed within a few seconds; a head larger than
//! `limits.max_header_bytes` is refused unread (431, as on the public
//! listener); and the listener still answers.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Reads until the server closes `stream`; how long that took (at most 10 s).
fn closed_after(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    start.elapsed()
}

#[test]
fn the_metrics_listener_cuts_off_slow_and_idle_clients() {
    let port = free_port();
    let d = Daemon::with_config(&format!(
        "metrics_listen = \"127.0.0.1:{port}\"\n\
         [limits]\nheader_read_timeout_secs = 1\nidle_timeout_secs = 1\n"
    ));
    let addr = format!("127.0.0.1:{port}");

    let mut idle = TcpStream::connect(&addr).unwrap();
    let took = closed_after(&mut idle);
    assert!(
        took < Duration::from_secs(5),
        "an idle connection: {took:?}"
    );

    // A scrape answered, then the kept-alive connection left open.
    let mut kept = TcpStream::connect(&addr).unwrap();
    write!(
        kept,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        d.admin
    )
    .unwrap();
    let took = closed_after(&mut kept);
    assert!(
        took < Duration::from_secs(5),
        "a kept-alive connection: {took:?}"
    );

    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(slow, "GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    let start = Instant::now();
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(300));
        if write!(slow, "X-Slow: 1\r\n").is_err() {
            break;
        }
    }
    let _ = closed_after(&mut slow);
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );

    // 100 KB of headers, over the 16 KiB max_header_bytes.
    for listener in [
        addr.clone(),
        d.url.trim_start_matches("http://").to_string(),
    ] {
        let mut huge = TcpStream::connect(&listener).unwrap();
        let filler = "x".repeat(10_000);
        let mut head = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
        for i in 0..10 {
            head.push_str(&format!("X-Big-{i}: {filler}\r\n"));
        }
        head.push_str("\r\n");
        let _ = huge.write_all(head.as_bytes());
        huge.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut raw = Vec::new();
        let _ = huge.read_to_end(&mut raw);
        let answer = String::from_utf8_lossy(&raw);
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{listener}: a 100 KB head was read: {}",
            answer.lines().next().unwrap_or("")
        );
    }

    let s = scrape(&format!("http://{addr}/metrics"), &d.admin);
    assert!(s.value(r#"skillreg_tokens{role="admin"}"#).is_some());
    d.assert_serving();
}
