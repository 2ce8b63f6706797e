//! Shared test support: the real daemon binary on 127.0.0.1:0 with a temp
//! data dir, plus builders for skills and archives.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
