//! Prometheus's own tools from Debian's `prometheus` package: `promtool
//! check metrics` on a scrape, a real Prometheus server scraping a daemon,
//! and a reader of the text format for assertions.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scrape, parsed into `(series, value)` pairs; a series is written as
/// in the text (`name{label="v",…}`), labels in the daemon's order.
pub struct Scrape {
    /// The text as served.
    pub text: String,
    samples: Vec<(String, f64)>,
}

impl Scrape {
    /// Parses the text format's sample lines (comments skipped).
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("a sample line");
                (series.to_string(), value.parse::<f64>().expect("a number"))
            })
            .collect();
        Scrape {
            text: text.to_string(),
            samples,
        }
    }

    /// The value of exactly this series, if present.
    pub fn value(&self, series: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
    }

    /// Like [`Scrape::value`], panicking with the scrape when absent.
    pub fn expect(&self, series: &str) -> f64 {
        self.value(series)
            .unwrap_or_else(|| panic!("no series {series} in the scrape:\n{}", self.text))
    }
}

/// GET `url` (a `/metrics`) with `token` → (status, body).
pub fn scrape_raw(url: &str, token: Option<&str>) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    let mut r = req.call().expect("the daemon answers");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = r.body_mut().read_to_string().unwrap();
    (r.status().as_u16(), content_type, body)
}

/// A scrape that must succeed.
pub fn scrape(url: &str, token: &str) -> Scrape {
    let (status, _, body) = scrape_raw(url, Some(token));
    assert_eq!(status, 200, "{body}");
    Scrape::parse(&body)
}

/// Scrapes until `series` has the value `want` (the database's counts are
/// cached for a second, the background fsck runs on its own clock), up to
/// 30 s; returns that scrape.
pub fn scrape_until(url: &str, token: &str, series: &str, want: f64) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(url, token);
        if s.value(series) == Some(want) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never became {want}:\n{}",
            s.text
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET `url` → status, or `None` while nothing listens there.
fn try_status(url: &str) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    agent.get(url).call().ok().map(|r| r.status().as_u16())
}

/// Runs `promtool check metrics` on `text`: Ok, or promtool's complaint.
pub fn promtool_check(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed: ./test.sh installs it");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A real Prometheus server scraping one target every second; killed on drop.
pub struct Prometheus {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`) at `/metrics`
    /// with `token` as a bearer credential.
    pub fn scraping(target: &str, token: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: skillreg\n    metrics_path: /metrics\n\
                 \x20   authorization:\n      credentials: \"{token}\"\n\
                 \x20   static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package) is installed: ./test.sh installs it");
        let p = Prometheus {
            child,
            url: format!("http://{listen}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while try_status(&format!("{}/-/ready", p.url)) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "prometheus did not start:\n{}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Waits (up to 60 s) until an instant query of `query` returns a
    /// sample; returns the samples as JSON.
    pub fn wait_for(&self, query: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let encoded: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        loop {
            let (status, body) =
                crate::common::get(&format!("{}/api/v1/query?query={encoded}", self.url));
            if status == 200 {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                if v["data"]["result"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty())
                {
                    return v["data"]["result"].clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "prometheus has no sample for {query}; targets: {}\nlog:\n{}",
                crate::common::get(&format!("{}/api/v1/targets", self.url)).1,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}
