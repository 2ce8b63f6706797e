//! What every hostile-upstream test checks after an attack: the data
//! directory's keys and the config are byte for byte as before, nothing was
//! stored, no process ran (marker files), the daemon still serves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{tree, Daemon};

/// A snapshot of what an attack must not change, read without side effects.
#[derive(Debug, PartialEq, Eq)]
pub struct Untouched {
    keys: BTreeMap<String, Vec<u8>>,
    config: Vec<u8>,
    versions: Vec<(String, String, String)>,
    blobs: BTreeMap<String, Vec<u8>>,
}

impl Untouched {
    /// Takes the snapshot of `d`.
    pub fn of(d: &Daemon) -> Untouched {
        let blobs = d.data.join("blobs");
        Untouched {
            keys: tree(&d.data.join("keys")),
            config: std::fs::read(config_of(d)).unwrap(),
            versions: versions(&d.data),
            blobs: if blobs.is_dir() {
                tree(&blobs)
            } else {
                BTreeMap::new()
            },
        }
    }

    /// Asserts the keys and config of `d` are as in this snapshot (for an
    /// attack beside which something genuine was stored), and it serves.
    pub fn assert_keys_and_config(&self, d: &Daemon, what: &str) {
        let now = Untouched::of(d);
        assert_eq!(now.keys, self.keys, "{what}: the keys changed");
        assert_eq!(now.config, self.config, "{what}: the config changed");
        d.assert_serving();
    }

    /// Asserts `d` is as this snapshot, and still serves.
    pub fn assert_same(&self, d: &Daemon, what: &str) {
        let now = Untouched::of(d);
        assert_eq!(now.keys, self.keys, "{what}: the keys changed");
        assert_eq!(now.config, self.config, "{what}: the config changed");
        assert_eq!(now.versions, self.versions, "{what}: something was stored");
        assert!(
            now.blobs == self.blobs,
            "{what}: the blob store changed (names, contents or blobs/tmp)"
        );
        d.assert_serving();
    }
}

/// The config file the daemon was started with.
pub fn config_of(d: &Daemon) -> PathBuf {
    d.data.parent().unwrap().join("skillreg.toml")
}

/// Every stored version (name, version, status), read-only.
pub fn versions(data: &Path) -> Vec<(String, String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        data.join("skillreg.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare(
            "SELECT p.name, v.version, v.status FROM versions v JOIN packages p ON p.id = v.package_id ORDER BY p.name, v.version",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// True when any stored blob, unpacked, contains `needle` (a secret that
/// must never be published).
pub fn any_blob_contains(data: &Path, needle: &[u8]) -> bool {
    let blobs = data.join("blobs");
    if !blobs.is_dir() {
        return false;
    }
    tree(&blobs).values().any(|bytes| {
        let mut out = Vec::new();
        let mut gz = flate2::read::GzDecoder::new(&bytes[..]);
        let _ = std::io::Read::read_to_end(&mut gz, &mut out);
        out.windows(needle.len()).any(|w| w == needle)
            || bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// The lines of a run's detail.
pub fn detail(run: &serde_json::Value) -> Vec<String> {
    run["detail"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts some detail line contains every needle.
pub fn assert_detail(run: &serde_json::Value, needles: &[&str]) {
    let lines = detail(run);
    assert!(
        lines.iter().any(|l| needles.iter().all(|n| l.contains(n))),
        "no detail line has {needles:?}: {lines:#?}"
    );
}

/// A shell script that creates `marker` when run: proof that something ran.
pub fn marker_script(marker: &Path) -> Vec<u8> {
    format!("#!/bin/sh\ntouch '{}'\n", marker.display()).into_bytes()
}

/// Makes `path` executable.
pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes `content` at `path`, creating parents.
pub fn write(path: &Path, content: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A marketplace checkout at `dir` with these plugin entries.
pub fn marketplace(dir: &Path, plugins: serde_json::Value) {
    write(
        &dir.join(".claude-plugin/marketplace.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "name": "hostile",
            "owner": {"name": "attacker"},
            "plugins": plugins,
        }))
        .unwrap(),
    );
}

/// A plugin directory with a plugin.json and one skill.
pub fn plugin(dir: &Path, name: &str) {
    write(
        &dir.join(".claude-plugin/plugin.json"),
        format!(r#"{{"name":"{name}","version":"1.0.0"}}"#),
    );
    write(
        &dir.join(format!("skills/{name}-skill/SKILL.md")),
        format!("---\nname: {name}-skill\ndescription: A skill of {name}.\n---\nbody\n"),
    );
}

/// A daemon with one manual-only marketplace source `evil` reading `path`,
/// plus `extra` TOML lines for that source.
pub fn daemon_for(path: &Path, extra: &str) -> Daemon {
    Daemon::with_config(&format!(
        "[[sources]]\nname = \"evil\"\nkind = \"marketplace\"\npath = {path:?}\ninterval = \"0\"\n{extra}\n"
    ))
}

/// Starts a sync of `source` and waits up to `limit` for it; `None` when the
/// daemon stopped answering (crashed) meanwhile, `Err(elapsed)` on timeout.
pub fn sync_within(
    d: &Daemon,
    source: &str,
    limit: Duration,
) -> Result<Option<serde_json::Value>, Duration> {
    d.wait_run(d.start_sync(source), limit)
}

/// Peak resident memory of a process, in bytes (`VmHWM`).
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// `depth` nested directories `d/d/d/…` below `dir`, made one component at
/// a time (a path that long cannot be given to mkdir whole).
pub fn nest(dir: &Path, depth: usize) {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    let mut fd = openat(
        rustix::fs::CWD,
        dir,
        OFlags::DIRECTORY | OFlags::RDONLY,
        Mode::empty(),
    )
    .unwrap();
    for _ in 0..depth {
        mkdirat(&fd, "d", Mode::from_raw_mode(0o755)).unwrap();
        fd = openat(&fd, "d", OFlags::DIRECTORY | OFlags::RDONLY, Mode::empty()).unwrap();
    }
}

/// Bytes below `dir` (apparent sizes), links not followed.
pub fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let m = e.path().symlink_metadata().unwrap();
            total += m.len();
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    total
}

pub fn noise(len: usize, mut x: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// (cksum, upstream JSON) of the one stored version of `name`.
pub fn stored(data: &Path, name: &str) -> (String, serde_json::Value) {
    let db = rusqlite::Connection::open_with_flags(
        data.join("skillreg.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let (cksum, upstream): (String, String) = db
        .query_row(
            "SELECT v.cksum, v.upstream FROM versions v JOIN packages p ON p.id = v.package_id WHERE p.name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (cksum, serde_json::from_str(&upstream).unwrap())
}

/// The unpacked tar stream of the stored blob `cksum`.
pub fn unpacked_blob(data: &Path, cksum: &str) -> Vec<u8> {
    let bytes = std::fs::read(data.join("blobs/sha256").join(&cksum[..2]).join(cksum)).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out).unwrap();
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Processes (pid, command line) whose working directory is below `dir`.
pub fn processes_in(dir: &Path) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(dir) {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let f: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            out.push((
                pid,
                format!(
                    "pgid {} sid {}: {cmd}",
                    f.get(2).unwrap_or(&"?"),
                    f.get(3).unwrap_or(&"?")
                ),
            ));
        }
    }
    out
}
