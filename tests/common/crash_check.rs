//! Crash-recovery support: a daemon's expected death at an armed crash
//! point (`SKILLREG_TEST_CRASH_AT`, see `skillreg::crash_point`), and the
//! check that a restarted daemon is whole: fsck clean, database, served
//! index, signed documents, blobs and a fresh render all agreeing.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use skillreg::index::sign::{self, paths, Envelope};

use super::{cli, get_with, Daemon};

/// The variable that arms a crash point.
pub const CRASH_ENV: &str = skillreg::crash_point::ENV;

/// One stored version as the database has it after a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVersion {
    /// Its bundle's sha256.
    pub cksum: String,
    /// `approved`, `pending` or `rejected`.
    pub status: String,
    /// Yanked.
    pub yanked: bool,
}

/// What a recovered registry holds: `name@version` → its row.
pub type Recovered = BTreeMap<String, StoredVersion>;

impl Daemon {
    /// Waits (up to 30 s) for the daemon to die at crash point `point`:
    /// aborted (SIGABRT), its log naming the point. Returns the log.
    pub fn expect_crash_at(&mut self, point: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not die at {point} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        assert_eq!(
            status.signal(),
            Some(libc_sigabrt()),
            "the daemon died of {status:?}, not at the crash point {point}; log:\n{log}"
        );
        assert_hit(&log, point);
        log
    }

    /// Waits (up to 60 s) until no mirror run is `running` (a restart may
    /// resume an interrupted one).
    pub fn wait_runs_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, runs) = self.admin_json("GET", "/admin/v1/sync-runs", "");
            assert_eq!(status, 200, "{runs}");
            let running = runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["status"] == "running");
            if !running {
                return;
            }
            assert!(Instant::now() < deadline, "a run still runs: {runs}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (up to 60 s) for the run of `source` that resumes the
    /// interrupted run `interrupted` (a start marks it failed and makes its
    /// source due at once) to end; returns it.
    pub fn wait_resumed(&self, source: &str, interrupted: i64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, runs) = self.admin_json("GET", "/admin/v1/sync-runs", "");
            assert_eq!(status, 200, "{runs}");
            let resumed = runs["runs"].as_array().unwrap().iter().find(|r| {
                r["source"] == source
                    && r["id"].as_i64().unwrap() > interrupted
                    && r["status"] != "running"
            });
            if let Some(run) = resumed {
                return run.clone();
            }
            assert!(
                Instant::now() < deadline,
                "run {interrupted} of {source} was not resumed: {runs}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Proves this (restarted) daemon whole, and returns what it holds:
    ///
    /// - `skillreg fsck` exits 0 and reports `clean`, with no temp file
    ///   (orphan blobs are allowed: a crash after the blob and before the
    ///   commit leaves one; their count is returned);
    /// - every approved version of the database is a line of its package's
    ///   served index with its cksum and yank flag, and nothing else is;
    /// - every line's blob downloads and hashes to its cksum;
    /// - the timestamp names the served snapshot, which lists every index
    ///   file with the hash of the bytes served;
    /// - the search index holds exactly the packages with a visible version
    ///   (approved, not yanked, not quarantined), each found by its name;
    /// - every index file is byte-identical to a fresh render
    ///   (`skillreg export-static` of the same data dir);
    /// - `export_dir`, when the daemon keeps a static export, holds no temp
    ///   file and the same index files.
    pub fn assert_recovered(&self, export_dir: Option<&Path>) -> (Recovered, usize) {
        let orphans = assert_fsck_clean(&self.data);
        assert_search_in_step(&self.data);
        let stored = stored_versions(&self.data);
        let snapshot = self.served_snapshot();
        let listed = super::listed_files(&snapshot, |rel| {
            let (status, body) = self.index_bytes(rel);
            assert_eq!(status, 200, "{rel}: a node the snapshot names is served");
            body
        });
        let fresh = tempfile::tempdir().unwrap();
        self.export_static(fresh.path(), "http://fresh.invalid");
        let mut packages: BTreeMap<String, Vec<(&String, &StoredVersion)>> = BTreeMap::new();
        for (key, row) in &stored {
            let name = key.split('@').next().unwrap().to_string();
            packages.entry(name).or_default().push((key, row));
        }
        for (name, rows) in &packages {
            let path = skillreg::index::path_for(name);
            let (status, body) = self.index_bytes(&path);
            let approved: BTreeMap<String, &StoredVersion> = rows
                .iter()
                .filter(|(_, r)| r.status == "approved")
                .map(|(k, r)| (k.split('@').nth(1).unwrap().to_string(), *r))
                .collect();
            if approved.is_empty() {
                assert_eq!(status, 404, "{name} has no approved version, yet is served");
                assert!(!listed.contains_key(&path), "{name} in the snapshot");
                continue;
            }
            assert_eq!(status, 200, "{name} has approved versions: {approved:?}");
            let text = String::from_utf8(body.clone()).unwrap();
            let mut lines = BTreeMap::new();
            for line in text.lines() {
                let entry: serde_json::Value = serde_json::from_str(line).unwrap();
                let vers = entry["vers"].as_str().unwrap().to_string();
                let cksum = entry["cksum"].as_str().unwrap().to_string();
                self.assert_blob_serves(name, &vers, &cksum);
                lines.insert(vers, (cksum, entry["yanked"].as_bool().unwrap()));
            }
            let want: BTreeMap<String, (String, bool)> = approved
                .iter()
                .map(|(v, r)| (v.clone(), (r.cksum.clone(), r.yanked)))
                .collect();
            assert_eq!(lines, want, "{name}: served index and database disagree");
            let meta = listed
                .get(&path)
                .unwrap_or_else(|| panic!("{path} is served but not in the snapshot"));
            assert_eq!(
                (meta.length, meta.sha256.as_str()),
                (body.len() as u64, sha256_hex(&body).as_str()),
                "{path}: the snapshot vouches for other bytes than those served"
            );
            let rendered = std::fs::read(fresh.path().join("index").join(&path)).unwrap();
            assert_eq!(
                body, rendered,
                "{path}: served index differs from a fresh render"
            );
            if let Some(dir) = export_dir {
                let exported = std::fs::read(dir.join("index").join(&path)).unwrap();
                assert_eq!(exported, rendered, "{path}: the static export lags");
            }
        }
        if let Some(dir) = export_dir {
            let debris = temp_files(dir);
            assert!(
                debris.is_empty(),
                "temp files left in the export: {debris:?}"
            );
        }
        (stored, orphans)
    }

    fn served_snapshot(&self) -> sign::Snapshot {
        let (status, timestamp) = self.index_bytes(paths::TIMESTAMP);
        assert_eq!(status, 200);
        let timestamp: sign::Timestamp = sign::parse(&payload(&timestamp)).unwrap();
        let (status, snapshot) = self.index_bytes(&paths::snapshot(timestamp.snapshot.version));
        assert_eq!(status, 200, "the snapshot the timestamp names is served");
        assert_eq!(
            sha256_hex(&snapshot),
            timestamp.snapshot.sha256,
            "the timestamp names other snapshot bytes"
        );
        sign::parse(&payload(&snapshot)).unwrap()
    }

    fn index_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = get_with(
            &format!("{}/index/{path}", self.url),
            &[("authorization", &self.admin)],
        );
        let mut body = Vec::new();
        r.body_mut().as_reader().read_to_end(&mut body).unwrap();
        (r.status().as_u16(), body)
    }

    fn assert_blob_serves(&self, name: &str, version: &str, cksum: &str) {
        let mut r = get_with(
            &format!("{}/api/v1/crates/{name}/{version}/download", self.url),
            &[("authorization", &self.admin)],
        );
        assert_eq!(
            r.status(),
            200,
            "{name}@{version} is indexed: its blob serves"
        );
        let mut bytes = Vec::new();
        r.body_mut()
            .with_config()
            .limit(u64::MAX)
            .reader()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(sha256_hex(&bytes), cksum, "{name}@{version}: blob ≠ cksum");
    }
}

/// Starts the daemon on `data` with the config in `dir` and `point` armed,
/// and proves it dies there before it serves (a crash while it opens:
/// rendering, the static export). Returns its log.
pub fn expect_crash_at_start(dir: &Path, data: &Path, point: &str) -> String {
    let log_path = dir.join("crash-at-start.log");
    let mut child = std::process::Command::new(super::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(dir.join("skillreg.toml"))
        .arg("--data")
        .arg(data)
        .env("SKILLREG_LOG", "info")
        .env(CRASH_ENV, point)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon did not die at {point} while starting");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(
        status.signal(),
        Some(libc_sigabrt()),
        "{status:?}; log:\n{log}"
    );
    assert!(
        stdout.is_empty(),
        "it died before serving, yet said {stdout:?}"
    );
    assert_hit(&log, point);
    log
}

fn assert_hit(log: &str, point: &str) {
    let name = point.split(':').next().unwrap();
    assert!(
        log.contains(&format!("crash point {name} hit")),
        "the daemon aborted, but not at {point}; log:\n{log}"
    );
}

/// Runs `skillreg fsck --data DATA`; panics unless it exits 0, says
/// `clean` and lists no temp file. Returns the number of orphans listed.
pub fn assert_fsck_clean(data: &Path) -> usize {
    let out = cli(&["fsck", "--data", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains("clean:"),
        "fsck: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("not a blob"), "fsck lists debris: {text}");
    text.lines().filter(|l| l.starts_with("orphan")).count()
}

/// The search index agrees with the versions: its rows are exactly the
/// packages with a visible version, and its FTS index finds each by the
/// words of its name (read-only).
pub fn assert_search_in_step(data: &Path) {
    let db = rusqlite::Connection::open_with_flags(
        data.join("skillreg.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    let names = |sql: &str| -> Vec<(i64, String)> {
        let mut q = tx.prepare(sql).unwrap();
        let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let visible = names(
        "SELECT DISTINCT p.id, p.normalized FROM packages p JOIN versions v ON v.package_id = p.id
         WHERE v.status = 'approved' AND v.yanked = 0 AND v.quarantined_at IS NULL ORDER BY p.id",
    );
    let indexed = names("SELECT package_id, normalized FROM search_docs ORDER BY package_id");
    assert_eq!(indexed, visible, "search_docs follows the visible versions");
    for (id, name) in &indexed {
        let query: Vec<String> = name.split('-').map(|w| format!("\"{w}\"")).collect();
        let found: Vec<i64> = {
            let mut q = tx
                .prepare("SELECT rowid FROM search_fts WHERE search_fts MATCH ?1")
                .unwrap();
            let rows = q
                .query_map([format!("normalized : ({})", query.join(" "))], |r| {
                    r.get(0)
                })
                .unwrap();
            rows.map(Result::unwrap).collect()
        };
        assert!(found.contains(id), "the FTS index finds {name}: {found:?}");
    }
}

/// Every stored version, `name@version` → its row (read-only).
pub fn stored_versions(data: &Path) -> Recovered {
    let db = rusqlite::Connection::open_with_flags(
        data.join("skillreg.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut q = db
        .prepare(
            "SELECT p.name, v.version, v.cksum, v.status, v.yanked FROM versions v
             JOIN packages p ON p.id = v.package_id",
        )
        .unwrap();
    let rows = q
        .query_map([], |r| {
            Ok((
                format!("{}@{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                StoredVersion {
                    cksum: r.get(2)?,
                    status: r.get(3)?,
                    yanked: r.get(4)?,
                },
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Files below `dir` named as `fsutil`'s temp files (`.NAME.tmp-PID-N`).
pub fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(temp_files(&path));
        } else if entry.file_name().to_string_lossy().contains(".tmp-") {
            out.push(path);
        }
    }
    out
}

fn payload(envelope: &[u8]) -> Vec<u8> {
    let envelope: Envelope = serde_json::from_slice(envelope).unwrap();
    envelope.payload_bytes().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    skillreg::blobs::Sha256Digest::of(bytes).to_hex()
}

fn libc_sigabrt() -> i32 {
    6
}
