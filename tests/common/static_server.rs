//! A static file server whose files the test controls.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A tiny static file server on 127.0.0.1 (GET only) whose files the test
/// controls: tampered metadata without re-signing anything. One path may be
/// set to answer with endless data. Stopped on drop.
pub struct StaticServer {
    pub url: String,
    addr: std::net::SocketAddr,
    root: std::sync::Arc<std::sync::Mutex<PathBuf>>,
    endless: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StaticServer {
    /// Serves the files below `dir` (the request path, relative to it).
    pub fn serve(dir: &Path) -> StaticServer {
        use std::sync::{atomic::AtomicBool, Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = Arc::new(Mutex::new(dir.to_path_buf()));
        let endless: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, e, s) = (root.clone(), endless.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let root = r.lock().unwrap().clone();
                let endless = e.lock().unwrap().clone();
                std::thread::spawn(move || static_answer(stream, &root, endless.as_deref()));
            }
        });
        StaticServer {
            url: format!("http://{addr}"),
            addr,
            root,
            endless,
            stop,
        }
    }

    /// Serves another directory from now on.
    pub fn set_root(&self, dir: &Path) {
        *self.root.lock().unwrap() = dir.to_path_buf();
    }

    /// Answers GET `path` (e.g. `/index/_skillreg/timestamp.json`) with an
    /// endless chunked stream, or stops doing so with `None`.
    pub fn set_endless(&self, path: Option<&str>) {
        *self.endless.lock().unwrap() = path.map(str::to_string);
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn static_answer(mut stream: std::net::TcpStream, root: &Path, endless: Option<&str>) {
    use std::io::Write;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut first = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or("/"));
    let path = target.split('?').next().unwrap_or("/");
    let reply = |stream: &mut std::net::TcpStream, status: &str, body: &[u8]| {
        let _ = stream.write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        let _ = stream.write_all(body);
    };
    if method != "GET" {
        return reply(&mut stream, "405 Method Not Allowed", b"GET only\n");
    }
    if endless == Some(path) {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        );
        let mut chunk = b"10000\r\n".to_vec();
        chunk.extend(std::iter::repeat_n(b'{', 0x10000));
        chunk.extend_from_slice(b"\r\n");
        // Until the client hangs up (capped, so a broken client cannot hang the test).
        for _ in 0..(64 * 1024) {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
        return;
    }
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return reply(&mut stream, "404 Not Found", b"not found\n");
    }
    match std::fs::read(root.join(rel)) {
        Ok(body) => reply(&mut stream, "200 OK", &body),
        Err(_) => reply(&mut stream, "404 Not Found", b"not found\n"),
    }
}
