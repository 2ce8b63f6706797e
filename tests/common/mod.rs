//! Shared test support: the real daemon binary on 127.0.0.1:0 with a temp
//! data dir, plus builders for skills and archives.
#![allow(dead_code)]

pub mod git_http;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

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
        let config = dir.path().join("skillreg.toml");
        std::fs::write(&config, toml).unwrap();
        let stderr_path = dir
            .path()
            .join(format!("stderr-{}.log", std::process::id()));
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
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

    /// Everything published, every blob and every index body: proof that a
    /// refusal changed nothing.
    pub fn fingerprint(&self) -> Fingerprint {
        let store = skillreg::store::Store::open(&self.data).unwrap();
        let published = store.published().unwrap();
        let blobs = skillreg::blobs::BlobStore::open(&self.data)
            .unwrap()
            .list()
            .unwrap()
            .iter()
            .map(|d| d.to_hex())
            .collect();
        let indexes = published
            .iter()
            .map(|(name, ..)| {
                get(&format!(
                    "{}/index/{}",
                    self.url,
                    skillreg::index::path_for(name)
                ))
                .1
            })
            .collect();
        Fingerprint {
            published,
            blobs,
            indexes,
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

    /// Starts a sync of `source` and waits (up to 60 s) for its run to end.
    pub fn sync_source(&self, source: &str) -> serde_json::Value {
        let (status, started) = self.admin_json(
            "POST",
            "/admin/v1/sync",
            &format!("{{\"source\":\"{source}\"}}"),
        );
        assert_eq!(status, 202, "{started}");
        let id = started["run"].as_i64().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, runs) = self.admin_json("GET", "/admin/v1/sync-runs", "");
            let run = runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == id)
                .cloned()
                .unwrap();
            if run["status"] != "running" {
                return run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "run {id} did not finish"
            );
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

/// What [`Daemon::fingerprint`] captures.
#[derive(Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub published: Vec<(String, String, String, bool)>,
    pub blobs: Vec<String>,
    pub indexes: Vec<String>,
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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// GET → (status, body).
pub fn get(url: &str) -> (u16, String) {
    send(agent().get(url).call())
}

/// GET with headers → full response.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> ureq::http::Response<ureq::Body> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.call().unwrap()
}

/// PUT raw bytes with an optional token → (status, body).
pub fn put(url: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut req = agent().put(url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    send(req.send(body))
}

/// DELETE with an optional token → (status, body).
pub fn delete(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().delete(url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    send(req.call())
}

fn send(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    let mut body = String::new();
    r.body_mut().as_reader().read_to_string(&mut body).unwrap();
    (status, body)
}

/// The `detail` of an error body.
pub fn detail(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"))
        .to_string()
}

/// Writes a skill directory `dir/name` and returns its path.
pub fn skill_dir(dir: &Path, name: &str, version: &str, description: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: {description}\nmetadata:\n  version: \"{version}\"\n---\n# {name}\n"),
    )
    .unwrap();
    path
}

/// A publish body (cargo framing) for a skill bundle.
pub fn skill_publish_body(name: &str, version: &str, tarball: &[u8]) -> Vec<u8> {
    let meta = serde_json::json!({"name": name, "vers": version, "kind": "skill", "deps": [], "features": {}});
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), tarball)
}

/// A valid skill tarball (packed by skillreg) for `name@version`.
pub fn skill_tarball(name: &str, version: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = skill_dir(dir.path(), name, version, "A test skill.");
    skillreg::bundle::pack::pack_dir(&path).unwrap()
}

/// Gzips bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A raw tar entry header (ustar), for archives no honest tool would make.
pub fn raw_header(path: &[u8], entry_type: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    let size_field = format!("{size:011o}");
    h[124..135].copy_from_slice(size_field.as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = entry_type;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    let cks = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(cks.as_bytes());
    h
}

/// Builds a tar from raw (header, content) pairs, padded, with the end marker.
pub fn raw_tar(entries: &[([u8; 512], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, content) in entries {
        out.extend_from_slice(h);
        out.extend_from_slice(content);
        let pad = (512 - content.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend([0u8; 1024]);
    out
}

/// A regular-file entry.
pub fn file_entry(path: &str, content: &[u8]) -> ([u8; 512], Vec<u8>) {
    (
        raw_header(path.as_bytes(), b'0', content.len() as u64, b""),
        content.to_vec(),
    )
}

/// A valid SKILL.md for `name@version`.
pub fn skill_md(name: &str, version: &str) -> Vec<u8> {
    format!(
        "---\nname: {name}\ndescription: A test skill.\nmetadata:\n  version: \"{version}\"\n---\n"
    )
    .into_bytes()
}

/// nginx (Debian package) serving a directory on 127.0.0.1; stopped on drop.
pub struct Nginx {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Serves `root` (which must be world-readable, with its parents).
    pub fn serve(root: &Path) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  default_type text/plain;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{ listen 127.0.0.1:{port}; root {}; }}\n}}\n",
            root.display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed: apt-get install nginx (.ci/run does)");
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx {
                    url,
                    child,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master then stops its workers, which a
        // killed master would leave running (and listening).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A temp dir nginx workers (user nobody when run as root) can read.
pub fn public_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Every file below `root`, relative path → bytes.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A private CARGO_HOME and target dir pointing at one registry.
pub struct Cargo {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Cargo {
    pub fn new(index_url: &str, auth: bool) -> Cargo {
        let home = tempfile::tempdir().unwrap();
        let provider = if auth {
            "credential-provider = [\"cargo:token\"]\n"
        } else {
            ""
        };
        std::fs::write(
            home.path().join("config.toml"),
            format!("[registries.skillreg]\nindex = \"sparse+{index_url}/index/\"\n{provider}\n[net]\nretry = 0\n"),
        )
        .unwrap();
        Cargo {
            home,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs cargo in `dir` with `token` (if any) for the registry.
    pub fn run(&self, dir: &Path, args: &[&str], token: Option<&str>) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        for (key, _) in std::env::vars() {
            if key.starts_with("CARGO_REGISTRIES_")
                || key.starts_with("CARGO_REGISTRY_")
                || key.starts_with("CARGO_BUILD_")
                || key == "CARGO_TARGET_DIR"
                || key == "RUSTFLAGS"
            {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(dir)
            .args(args)
            .env("CARGO_HOME", self.home.path())
            .env("CARGO_TARGET_DIR", self.work.path().join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_HTTP_MULTIPLEXING", "false");
        if let Some(t) = token {
            cmd.env("CARGO_REGISTRIES_SKILLREG_TOKEN", t);
        }
        cmd.output().unwrap()
    }

    /// Runs cargo and asserts success.
    pub fn ok(&self, dir: &Path, args: &[&str], token: Option<&str>) -> String {
        let out = self.run(dir, args, token);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "cargo {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    /// The scratch directory (a place to run commands that need no crate).
    pub fn work_dir(&self) -> PathBuf {
        self.work.path().to_path_buf()
    }

    /// Writes a crate under the work dir.
    pub fn krate(&self, dir: &str, manifest: &str, src: &[(&str, &str)]) -> PathBuf {
        let path = self.work.path().join(dir);
        std::fs::create_dir_all(path.join("src")).unwrap();
        std::fs::write(path.join("Cargo.toml"), manifest).unwrap();
        for (file, text) in src {
            std::fs::write(path.join("src").join(file), text).unwrap();
        }
        path
    }
}

/// Resolves `dir` afresh (a new lockfile) and returns the version chosen for `name`.
pub fn fresh_resolution(cargo: &Cargo, dir: &Path, token: Option<&str>, name: &str) -> String {
    let _ = std::fs::remove_file(dir.join("Cargo.lock"));
    cargo.ok(dir, &["generate-lockfile"], token);
    lock_version(dir, name)
}

pub fn lock_version(dir: &Path, name: &str) -> String {
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    let table: toml::Table = toml::from_str(&lock).unwrap();
    table["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("{name} not in lockfile:\n{lock}"))["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Parses a root envelope (without verifying it).
pub fn root_of(bytes: &[u8]) -> (skillreg::index::sign::Envelope, skillreg::index::sign::Root) {
    let env = skillreg::index::sign::Envelope::from_bytes(bytes).unwrap();
    let root = skillreg::index::sign::parse(&env.payload_bytes().unwrap()).unwrap();
    (env, root)
}

/// Verifies what a client would, given a trusted root: the timestamp with
/// the timestamp role, the snapshot against it and with the index role, and
/// every file the snapshot lists (bytes and signed statement).
pub fn verify_signed_index(
    root: &skillreg::index::sign::Root,
    fetch: impl Fn(&str) -> Vec<u8>,
) -> (
    skillreg::index::sign::Timestamp,
    skillreg::index::sign::Snapshot,
) {
    use skillreg::index::sign::{self, paths, types, Envelope};
    let ts_env = Envelope::from_bytes(&fetch(paths::TIMESTAMP)).unwrap();
    let ts: sign::Timestamp = sign::parse(
        &ts_env
            .verify(
                types::TIMESTAMP,
                "timestamp",
                &root.roles["timestamp"],
                &root.keys,
            )
            .unwrap(),
    )
    .unwrap();
    let snap_bytes = fetch(&paths::snapshot(ts.snapshot.version));
    assert_eq!(snap_bytes.len() as u64, ts.snapshot.length);
    assert_eq!(
        skillreg::blobs::Sha256Digest::of(&snap_bytes).to_hex(),
        ts.snapshot.sha256
    );
    let snap_env = Envelope::from_bytes(&snap_bytes).unwrap();
    let snapshot: sign::Snapshot = sign::parse(
        &snap_env
            .verify(
                types::SNAPSHOT,
                "snapshot",
                &root.roles["index"],
                &root.keys,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(snapshot.root_version, root.version);
    for (path, meta) in &snapshot.files {
        let bytes = fetch(path);
        assert_eq!(
            skillreg::blobs::Sha256Digest::of(&bytes).to_hex(),
            meta.sha256,
            "{path}"
        );
        let statement = Envelope::from_bytes(&fetch(&paths::statement(path))).unwrap();
        let payload = statement
            .verify(types::INDEX_FILE, "index", &root.roles["index"], &root.keys)
            .unwrap();
        let statement: sign::IndexFileStatement = sign::parse(&payload).unwrap();
        assert_eq!(
            (statement.path.as_str(), statement.sha256.as_str()),
            (path.as_str(), meta.sha256.as_str())
        );
    }
    (ts, snapshot)
}

// ---------------------------------------------------------------------------
// The verifying client (tests/install.rs, tests/install_attacks.rs).

/// GET → (status, raw body bytes).
pub fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let mut r = agent().get(url).call().unwrap();
    let status = r.status().as_u16();
    let mut body = Vec::new();
    r.body_mut().as_reader().read_to_end(&mut body).unwrap();
    (status, body)
}

/// A throwaway user for the client: its own XDG state and cache dirs and
/// HOME, so state and blob caches never leak between tests.
pub struct ClientEnv {
    pub dir: tempfile::TempDir,
}

impl ClientEnv {
    pub fn new() -> ClientEnv {
        ClientEnv {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state_home(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn cache_home(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// A fresh, empty project directory `name`.
    pub fn project(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("projects").join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// `skillreg install NAMES --registry URL --trust-root ROOT --dir PROJECT`
    /// as this user, asserting success.
    pub fn install(
        &self,
        registry: &str,
        trust_root: &Path,
        project: &Path,
        names: &[&str],
    ) -> Output {
        let mut args = vec!["install"];
        args.extend_from_slice(names);
        args.extend_from_slice(&[
            "--registry",
            registry,
            "--trust-root",
            trust_root.to_str().unwrap(),
            "--dir",
            project.to_str().unwrap(),
        ]);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "install {names:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs the skillreg CLI as this user.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env_remove("SKILLREG_REGISTRY")
            .env_remove("SKILLREG_TOKEN")
            .env_remove("SKILLREG_CA_CERT")
            .env("HOME", self.dir.path())
            .env("XDG_STATE_HOME", self.state_home())
            .env("XDG_CACHE_HOME", self.cache_home())
            .output()
            .unwrap()
    }
}

/// Writes `skillreg key export-root --data DATA` to `dir/name` and returns the path.
pub fn export_root(data: &Path, dir: &Path, name: &str) -> PathBuf {
    let out = cli(&["key", "export-root", "--data", data.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "export-root: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join(name);
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Copies what a daemon serves to installers into `dir`, at the paths it is
/// served at: `index/config.json`, every root version, the timestamp, the
/// snapshot it names, every index file the snapshot lists with its
/// statement, and each version's bundle at
/// `api/v1/crates/{name}/{version}/download`. Nothing is re-signed, so a
/// daemon started with `public_url` = a [`StaticServer`]'s URL gives a tree
/// that server serves byte-identically (config.json's `dl` included).
pub fn mirror_registry(daemon_url: &str, dir: &Path) {
    use skillreg::index::sign::{self, paths, Envelope};
    let copy = |rel: &str| -> Option<Vec<u8>> {
        let (status, body) = get_bytes(&format!("{daemon_url}/{rel}"));
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "mirroring {rel}");
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &body).unwrap();
        Some(body)
    };
    let payload = |bytes: &[u8]| {
        Envelope::from_bytes(bytes)
            .unwrap()
            .payload_bytes()
            .unwrap()
    };
    copy(&format!("index/{}", paths::ROOT)).expect("root.json");
    let mut n = 1;
    while copy(&format!("index/{}", paths::root(n))).is_some() {
        n += 1;
    }
    let ts = copy(&format!("index/{}", paths::TIMESTAMP)).expect("timestamp.json");
    let ts: sign::Timestamp = sign::parse(&payload(&ts)).unwrap();
    let snap = copy(&format!("index/{}", paths::snapshot(ts.snapshot.version))).expect("snapshot");
    let snap: sign::Snapshot = sign::parse(&payload(&snap)).unwrap();
    for path in snap.files.keys() {
        let body = copy(&format!("index/{path}")).expect("listed index file");
        copy(&format!("index/{}", paths::statement(path))).expect("statement");
        if path == "config.json" {
            continue;
        }
        for line in String::from_utf8(body).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (name, vers) = (v["name"].as_str().unwrap(), v["vers"].as_str().unwrap());
            copy(&format!("api/v1/crates/{name}/{vers}/download")).expect("bundle");
        }
    }
}

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

// ---------------------------------------------------------------------------
// Fault injection between two daemons (tests/mirror_faults.rs).

/// What a [`FaultProxy`] rule does to a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this HTTP status (with a short text body) instead of forwarding.
    Status(u16),
    /// Wait this long, then forward as usual.
    Delay(Duration),
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

/// Files a failed write could have left in `DATA/blobs`: anything in the
/// temp dir, and any blob file whose bytes do not hash to its name. Read
/// before anything opens the blob store (opening it clears the temp dir).
pub fn blob_debris(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data.join("blobs/tmp")) {
        out.extend(entries.map(|e| e.unwrap().path()));
    }
    if let Ok(shards) = std::fs::read_dir(data.join("blobs/sha256")) {
        for shard in shards {
            for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                let path = blob.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if skillreg::blobs::Sha256Digest::of(&bytes).to_hex() != name {
                    out.push(path);
                }
            }
        }
    }
    out
}

/// The read-only fixtures directory: `$SKILLREG_FIXTURES`, else `shared/`
/// beside the repository (as CI lays it out), else `/work/shared`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKILLREG_FIXTURES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/fixtures")
}
