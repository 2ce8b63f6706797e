//! The real daemon binary on 127.0.0.1:0 with a temp data dir, and the CLI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{get, get_with, put, skill_publish_body, skill_tarball};

/// The skillreg binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_skillreg");

/// A running daemon; killed on drop.
pub struct Daemon {
    pub child: Child,
    pub url: String,
    pub data: PathBuf,
    pub admin: String,
    pub stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// `toml` with the request rate limits off, unless it sets them itself.
///
/// A test reads back every served file after each step to prove a refusal
/// changed nothing ([`Daemon::fingerprint`]): hundreds of requests a second
/// under one token, which the default limits (100 a second, 500 at once)
/// refuse on a fast machine. No client does that; the tests of the limits
/// themselves write their own `[rate_limit]`.
fn with_rates_unlimited(toml: &str) -> String {
    if toml.contains("[rate_limit]") {
        return toml.to_string();
    }
    format!("{toml}\n[rate_limit]\nper_ip_per_second = 0\nper_token_per_second = 0\n")
}

impl Daemon {
    /// Starts the daemon with default config.
    pub fn start() -> Daemon {
        Daemon::with_config("")
    }

    /// Starts the daemon with a config file holding `toml`.
    pub fn with_config(toml: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Daemon::start_in(dir, data, toml)
    }

    /// Starts a daemon on an existing data dir inside `dir`.
    pub fn start_in(dir: tempfile::TempDir, data: PathBuf, toml: &str) -> Daemon {
        Daemon::start_with_env(dir, data, toml, &[])
    }

    /// Starts a daemon on an existing data dir inside `dir`, with extra
    /// environment variables.
    pub fn start_with_env(
        dir: tempfile::TempDir,
        data: PathBuf,
        toml: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::start_listening(dir, data, toml, env, "127.0.0.1:0")
    }

    /// Starts a daemon whose `toml` may name its own port: `toml(port)` is
    /// the config of a daemon listening on 127.0.0.1:`port`, a port free a
    /// moment before (e.g. for a `public_url` with that port, which a
    /// daemon on port 0 cannot be told in advance).
    pub fn on_free_port(toml: impl FnOnce(u16) -> String, env: &[(&str, &str)]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Daemon::start_listening(dir, data, &toml(port), env, &format!("127.0.0.1:{port}"))
    }

    /// Starts a daemon listening on `listen`, with extra environment
    /// variables.
    pub fn start_listening(
        dir: tempfile::TempDir,
        data: PathBuf,
        toml: &str,
        env: &[(&str, &str)],
        listen: &str,
    ) -> Daemon {
        let config = dir.path().join("skillreg.toml");
        std::fs::write(&config, with_rates_unlimited(toml)).unwrap();
        let stderr_path = dir
            .path()
            .join(format!("stderr-{}.log", std::process::id()));
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", listen, "--config"])
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .env("SKILLREG_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("start skillreg serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "first line was {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            })
            .to_string();
        let admin = std::fs::read_to_string(data.join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        Daemon {
            child,
            url,
            data,
            admin,
            stderr_path,
            _dir: dir,
        }
    }

    /// Stops the daemon and returns its temp dir and data path for a restart.
    pub fn stop(mut self) -> (tempfile::TempDir, PathBuf) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap());
        (dir, self.data.clone())
    }

    /// Stops the daemon and starts it again on the same address, data dir
    /// and config, with `env`: a start renders every package's documents
    /// from the store again.
    pub fn restart(self, env: &[(&str, &str)]) -> Daemon {
        let listen = self.url.rsplit("://").next().unwrap().to_string();
        let (dir, data) = self.stop();
        let toml = std::fs::read_to_string(dir.path().join("skillreg.toml")).unwrap();
        Daemon::start_listening(dir, data, &toml, env, &listen)
    }

    /// `skillreg token create` against this daemon's data dir.
    pub fn token(&self, role: &str, name: &str) -> String {
        let out = cli(&[
            "token",
            "create",
            "--data",
            self.data.to_str().unwrap(),
            "--role",
            role,
            "--name",
            name,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Publishes the directory `dir` as `kind` `name@version` with
    /// `keywords`, as the admin; panics unless it is accepted.
    pub fn publish_dir(
        &self,
        kind: &str,
        name: &str,
        version: &str,
        dir: &Path,
        keywords: &[&str],
    ) {
        let tarball = skillreg::bundle::pack::pack_dir(dir).unwrap();
        let meta = serde_json::json!({"name": name, "vers": version, "kind": kind, "deps": [],
                                      "features": {}, "keywords": keywords});
        let body = skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &tarball);
        let (status, text) = put(
            &format!("{}/api/v1/crates/new", self.url),
            Some(&self.admin),
            &body,
        );
        assert_eq!(status, 200, "publishing {name}@{version}: {text}");
    }

    /// Publishes the skill `name@version` with the admin token; panics unless 200.
    pub fn publish_skill(&self, name: &str, version: &str) {
        let body = skill_publish_body(name, version, &skill_tarball(name, version));
        let (status, text) = put(
            &format!("{}/api/v1/crates/new", self.url),
            Some(&self.admin),
            &body,
        );
        assert_eq!(status, 200, "publishing {name}@{version}: {text}");
    }

    /// `skillreg export-static OUT --base-url URL` of this daemon's data,
    /// with its config file (scopes, signing), as it ran (for a test of a
    /// failing export).
    pub fn run_export_static(&self, out: &Path, base_url: &str) -> std::process::Output {
        let config = self.data.parent().unwrap().join("skillreg.toml");
        cli(&[
            "export-static",
            out.to_str().unwrap(),
            "--data",
            self.data.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--base-url",
            base_url,
        ])
    }

    /// [`Daemon::run_export_static`]; panics unless it succeeds and returns
    /// what it printed.
    pub fn export_static(&self, out: &Path, base_url: &str) -> String {
        let run = self.run_export_static(out, base_url);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8(run.stdout).unwrap()
    }

    /// Waits until the feed documents show every change so far: the daemon
    /// renders them after a change, off its path, and signs them into a
    /// snapshot of their own; a request for one waits for that render. Call
    /// it before reading signed metadata that must stay put.
    pub fn wait_for_feeds(&self) {
        let url = format!("{}/{}", self.url, skillreg::feeds::wellknown::INDEX_PATH);
        let status = get_with(&url, &[("authorization", &self.admin)]).status();
        assert_eq!(status.as_u16(), 200, "GET {url}");
    }

    /// Waits until the static tree (`[export]`) holds every change so far:
    /// the daemon writes it after a change is acknowledged, off the publish
    /// path, and `/metrics` counts what it has not written yet.
    pub fn wait_for_export(&self) {
        let url = format!("{}/metrics", self.url);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut r = get_with(&url, &[("authorization", &self.admin)]);
            assert_eq!(r.status(), 200, "GET /metrics");
            let body = r.body_mut().read_to_string().unwrap();
            if body
                .lines()
                .any(|l| l == "skillreg_export_pending_changes 0")
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the static tree is still behind after 60 s:\n{}",
                body.lines()
                    .filter(|l| l.contains("export_pending"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts the daemon still answers.
    pub fn assert_serving(&self) {
        let (status, body) = get(&format!("{}/healthz", self.url));
        assert_eq!(status, 200, "healthz: {body}");
        let r = get_with(
            &format!("{}/index/config.json", self.url),
            &[("authorization", &self.admin)],
        );
        assert_eq!(r.status(), 200);
    }

    /// Calls the admin API with the admin token: (status, JSON body or null).
    pub fn admin_json(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let response = match method {
            "GET" => agent.get(&url).header("Authorization", &self.admin).call(),
            _ => agent
                .post(&url)
                .header("Authorization", &self.admin)
                .send(body.as_bytes()),
        };
        let mut r = response.unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// The versions waiting for review, as sorted `name@version`.
    pub fn pending_versions(&self) -> Vec<String> {
        let (status, body) = self.admin_json("GET", "/admin/v1/pending", "");
        assert_eq!(status, 200, "{body}");
        let mut names: Vec<String> = body["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}@{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect();
        names.sort();
        names
    }

    /// Starts a sync of `source` and waits (up to 60 s) for its run to end.
    pub fn sync_source(&self, source: &str) -> serde_json::Value {
        let id = self.start_sync(source);
        match self.wait_run(id, Duration::from_secs(60)) {
            Ok(Some(run)) => run,
            Ok(None) => panic!("the daemon stopped answering during run {id}"),
            Err(_) => panic!("run {id} did not finish"),
        }
    }

    /// Starts a sync of `source`; returns its run id.
    pub fn start_sync(&self, source: &str) -> i64 {
        let (status, started) = self.admin_json(
            "POST",
            "/admin/v1/sync",
            &format!("{{\"source\":\"{source}\"}}"),
        );
        assert_eq!(status, 202, "{started}");
        started["run"].as_i64().unwrap()
    }

    /// Waits up to `limit` for run `id` to end: the run, `None` when the
    /// daemon stopped answering meanwhile (it crashed), `Err(elapsed)` when
    /// it still runs. The run list is read without a size limit (a hostile
    /// run's detail may be large).
    pub fn wait_run(
        &self,
        id: i64,
        limit: Duration,
    ) -> Result<Option<serde_json::Value>, Duration> {
        let start = std::time::Instant::now();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        loop {
            let r = agent
                .get(format!("{}/admin/v1/sync-runs", self.url))
                .header("Authorization", &self.admin)
                .call();
            let Ok(mut r) = r else { return Ok(None) };
            let text = r
                .body_mut()
                .with_config()
                .limit(u64::MAX)
                .read_to_string()
                .unwrap();
            let runs: serde_json::Value = serde_json::from_str(&text).unwrap();
            let run = runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id)
                .cloned()
                .unwrap();
            if run["status"] != "running" {
                return Ok(Some(run));
            }
            if start.elapsed() > limit {
                return Err(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config of one `[[sources]]` marketplace named `name`, read from the
/// directory `path`, synced only on demand.
pub fn marketplace_source(name: &str, path: &Path) -> String {
    format!(
        "[[sources]]\nname = {name:?}\nkind = \"marketplace\"\npath = {path:?}\ninterval = \"0\"\n"
    )
}

/// Runs `skillreg serve` with `config` on `data`, expecting it to refuse
/// to start; returns what it wrote to stderr.
pub fn serve_refused(config: &Path, data: &Path) -> String {
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the daemon started: {stderr}");
    stderr
}

/// Runs the skillreg CLI.
pub fn cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SKILLREG_REGISTRY")
        .env_remove("SKILLREG_TOKEN")
        .output()
        .unwrap()
}
