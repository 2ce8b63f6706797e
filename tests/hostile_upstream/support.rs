//! What every hostile-upstream test checks after an attack: the data
//! directory's keys and the config are byte for byte as before, nothing was
//! stored, no process ran (marker files), the daemon still serves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
        assert_eq!(
            now.blobs.keys().collect::<Vec<_>>(),
            self.blobs.keys().collect::<Vec<_>>(),
            "{what}: the blob store changed"
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
