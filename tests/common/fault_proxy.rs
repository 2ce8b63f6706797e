//! Fault injection between two daemons (tests/mirror_faults.rs).

use std::io::Read;
use std::time::Duration;

/// What a [`FaultProxy`] rule does to a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this HTTP status (with a short text body) instead of forwarding.
    Status(u16),
    /// Wait this long, then forward as usual.
    Delay(Duration),
    /// Wait until the [`Gate`] opens (at most 60 s), then forward as usual:
    /// the test acts while the request is held.
    Hold(Gate),
    /// Never answer: hold the connection open until the client gives up.
    Hang,
    /// Forward, but send only the first K body bytes (at most all but one)
    /// under the original `Content-Length`, then close the connection.
    Truncate(usize),
    /// Forward with the middle byte of the body changed.
    FlipByte,
    /// Answer 200 with this body instead.
    Replace(Vec<u8>),
}

/// Where a [`Fault::Hold`] waits; clones share one gate.
#[derive(Clone, Debug, Default)]
pub struct Gate(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Opens it: held requests go on, later ones pass at once.
    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    /// Waits until it opens, at most `limit`.
    fn wait(&self, limit: Duration) {
        let (open, changed) = &*self.0;
        let _ = changed
            .wait_timeout_while(open.lock().unwrap(), limit, |open| !*open)
            .unwrap();
    }
}

struct FaultRule {
    pattern: String,
    fault: Fault,
    /// How many more requests it applies to; `None` for all.
    left: Option<usize>,
}

#[derive(Default)]
struct ProxyState {
    upstream: Option<String>,
    rules: Vec<FaultRule>,
    /// Every request's path (query dropped), with when it arrived.
    log: Vec<(String, std::time::Instant)>,
}

/// An HTTP proxy on 127.0.0.1 between a mirror and its upstream that injects
/// faults: GET requests are forwarded to the upstream (set at start or
/// later, so the upstream can be started with this proxy's URL as its
/// `public_url`) unless a rule whose substring matches the path says
/// otherwise. Every request is logged for counting. One request per
/// connection (`Connection: close`). Stopped on drop.
pub struct FaultProxy {
    pub url: String,
    addr: std::net::SocketAddr,
    state: std::sync::Arc<std::sync::Mutex<ProxyState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream_url` (empty: not set
    /// yet; requests then get 502 until [`FaultProxy::set_upstream`]).
    pub fn start(upstream_url: &str) -> FaultProxy {
        use std::sync::{atomic::AtomicBool, Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, s) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                std::thread::spawn(move || proxy_answer(stream, &st));
            }
        });
        let proxy = FaultProxy {
            url: format!("http://{addr}"),
            addr,
            state,
            stop,
        };
        if !upstream_url.is_empty() {
            proxy.set_upstream(upstream_url);
        }
        proxy
    }

    /// Forwards to `url` from now on.
    pub fn set_upstream(&self, url: &str) {
        self.state.lock().unwrap().upstream = Some(url.trim_end_matches('/').to_string());
    }

    /// Applies `fault` to requests whose path contains `pattern`, the next
    /// `times` of them (`None`: all). The first matching rule with uses left
    /// wins.
    pub fn fault(&self, pattern: &str, fault: Fault, times: Option<usize>) {
        self.state.lock().unwrap().rules.push(FaultRule {
            pattern: pattern.to_string(),
            fault,
            left: times,
        });
    }

    /// Removes every rule: plain forwarding again.
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// Forgets the request log.
    pub fn reset_counts(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// Every request path so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// How many requests had a path containing `pattern`.
    pub fn count(&self, pattern: &str) -> usize {
        self.times(pattern).len()
    }

    /// When each request with a path containing `pattern` arrived.
    pub fn times(&self, pattern: &str) -> Vec<std::time::Instant> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .filter(|(p, _)| p.contains(pattern))
            .map(|(_, t)| *t)
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn proxy_answer(mut stream: std::net::TcpStream, state: &std::sync::Mutex<ProxyState>) {
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
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        first.next().unwrap_or("").to_string(),
        first.next().unwrap_or("/").to_string(),
    );
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_string());
    let path = target.split('?').next().unwrap_or("/").to_string();
    let reply = |stream: &mut std::net::TcpStream, status: u16, ctype: &str, body: &[u8]| {
        let _ = stream.write_all(
            format!(
                "HTTP/1.1 {status} Fault\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    let (fault, upstream) = {
        let mut st = state.lock().unwrap();
        st.log.push((path.clone(), std::time::Instant::now()));
        let fault = st
            .rules
            .iter_mut()
            .find(|r| path.contains(&r.pattern) && r.left != Some(0))
            .map(|r| {
                if let Some(n) = &mut r.left {
                    *n -= 1;
                }
                r.fault.clone()
            });
        (fault, st.upstream.clone())
    };
    if method != "GET" {
        return reply(&mut stream, 405, "text/plain", b"GET only\n");
    }
    match &fault {
        Some(Fault::Status(code)) => {
            return reply(&mut stream, *code, "text/plain", b"injected fault\n")
        }
        Some(Fault::Replace(body)) => return reply(&mut stream, 200, "text/plain", body),
        Some(Fault::Hang) => {
            // Until the client hangs up (capped, so a broken client cannot hang the test).
            let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            return;
        }
        Some(Fault::Delay(d)) => std::thread::sleep(*d),
        Some(Fault::Hold(gate)) => gate.wait(Duration::from_secs(60)),
        _ => {}
    }
    let Some(upstream) = upstream else {
        return reply(&mut stream, 502, "text/plain", b"no upstream set\n");
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut req = agent.get(format!("{upstream}{target}"));
    if let Some(a) = &authorization {
        req = req.header("Authorization", a);
    }
    let mut response = match req.call() {
        Ok(r) => r,
        Err(e) => return reply(&mut stream, 502, "text/plain", e.to_string().as_bytes()),
    };
    let status = response.status().as_u16();
    let ctype = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let mut body = Vec::new();
    if response
        .body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .is_err()
    {
        return reply(&mut stream, 502, "text/plain", b"upstream body broke off\n");
    }
    match fault {
        Some(Fault::Truncate(k)) => {
            let k = k.min(body.len().saturating_sub(1));
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status} OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            );
            let _ = stream.write_all(&body[..k]);
            let _ = stream.flush();
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Some(Fault::FlipByte) if !body.is_empty() => {
            let mid = body.len() / 2;
            body[mid] ^= 0x01;
            reply(&mut stream, status, &ctype, &body);
        }
        _ => reply(&mut stream, status, &ctype, &body),
    }
}
