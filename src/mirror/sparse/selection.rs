//! What a `sparse` source is asked to mirror, since a sparse index cannot
//! be listed: requirements (`crates`), exact versions read from
//! `Cargo.lock` files (`lockfiles`), and the pins an admin carried in
//! (`index_pins`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::package::{glob_matches, CrateSpec};

/// The lockfile `source` of crates.io, in both spellings cargo writes.
pub const CRATES_IO_LOCK_SOURCES: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Largest `Cargo.lock` read (the biggest real ones are a few MB).
const MAX_LOCKFILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a selection cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// A lockfile could not be read.
    #[error("cannot read the lockfile {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A lockfile is not a `Cargo.lock`.
    #[error("{origin} is not a Cargo.lock: {reason}")]
    Lockfile {
        /// The file, or where the text came from.
        origin: String,
        /// Why.
        reason: String,
    },
    /// The pins file could not be read or parsed.
    #[error("the source's `index_pins` file {}: {reason}", .path.display())]
    Pins {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One crate version a lockfile locks from this upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// The crate's name.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The `.crate`'s sha256 the lockfile records, when it records one.
    pub checksum: Option<String>,
    /// Which lockfile.
    pub origin: String,
}

/// Everything a run starts from.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Requirements, resolved with their dependencies.
    pub specs: Vec<CrateSpec>,
    /// Exact versions, mirrored as they are.
    pub locked: Vec<Locked>,
    /// What could not be read or is not this upstream's, for the run's detail.
    pub notes: Vec<String>,
}

impl Selection {
    /// Adds the versions of `text` (a `Cargo.lock` from `origin`) whose
    /// `source` is one of `lock_sources`. Packages from path or git sources
    /// and from other registries are noted, not mirrored.
    pub fn add_lockfile(
        &mut self,
        text: &str,
        origin: &str,
        lock_sources: &[String],
    ) -> Result<(), SelectionError> {
        let bad = |reason: String| SelectionError::Lockfile {
            origin: origin.to_string(),
            reason,
        };
        let doc: toml::Table = toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        let packages = match doc.get("package") {
            None => return Ok(()),
            Some(toml::Value::Array(packages)) => packages,
            Some(_) => return Err(bad("`package` is not an array of tables".into())),
        };
        let mut other_registries = BTreeMap::<String, usize>::new();
        for package in packages {
            let field = |key: &str| package.get(key).and_then(|v| v.as_str());
            let (Some(name), Some(version)) = (field("name"), field("version")) else {
                return Err(bad("a [[package]] has no `name` or `version`".into()));
            };
            let Some(source) = field("source") else {
                continue; // a workspace member or path dependency
            };
            if !lock_sources.iter().any(|s| s == source) {
                *other_registries.entry(source.to_string()).or_default() += 1;
                continue;
            }
            self.locked.push(Locked {
                name: name.to_string(),
                version: version.to_string(),
                checksum: field("checksum").map(str::to_string),
                origin: origin.to_string(),
            });
        }
        for (source, n) in other_registries {
            self.notes.push(format!(
                "{origin}: {n} package(s) locked from `{source}`, which is not this source's upstream (see `lock_sources`); not mirrored"
            ));
        }
        Ok(())
    }

    /// Adds every file matching `pattern`; a pattern matching nothing is noted.
    pub fn add_lockfile_glob(
        &mut self,
        pattern: &str,
        lock_sources: &[String],
    ) -> Result<(), SelectionError> {
        let files = expand_glob(pattern);
        if files.is_empty() {
            self.notes
                .push(format!("lockfiles: `{pattern}` matches no file"));
        }
        for path in files {
            let text = read_capped(&path)?;
            self.add_lockfile(&text, &path.display().to_string(), lock_sources)?;
        }
        Ok(())
    }
}

/// Reads a lockfile of at most [`MAX_LOCKFILE_BYTES`].
fn read_capped(path: &Path) -> Result<String, SelectionError> {
    use std::io::Read;
    let read = |source| SelectionError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let mut text = String::new();
    file.take(MAX_LOCKFILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read)?;
    if text.len() as u64 > MAX_LOCKFILE_BYTES {
        return Err(read(std::io::Error::other(format!(
            "it is larger than {MAX_LOCKFILE_BYTES} bytes"
        ))));
    }
    Ok(text)
}

/// The files matching an absolute `pattern` whose components may hold `*`
/// and `?`, sorted. Only the admin writes these patterns; the directories
/// they walk are the admin's own.
pub fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from(if pattern.starts_with('/') {
        "/"
    } else {
        "."
    })];
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for dir in &found {
            if !part.contains(['*', '?']) {
                let path = dir.join(part);
                if (last && path.is_file()) || (!last && path.is_dir()) {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                if glob_matches(part, name)
                    && ((last && path.is_file()) || (!last && path.is_dir()))
                {
                    next.push(path);
                }
            }
        }
        found = next;
    }
    found.sort();
    found
}

/// Index files pinned by the admin: path below the index root → sha256.
#[derive(Debug, Clone, Default)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    /// Reads `SHA256  PATH` lines (`sha256sum` output; a `*` before the
    /// path, blank lines and `#` comments allowed).
    pub fn read(path: &Path) -> Result<Pins, SelectionError> {
        let bad = |reason: String| SelectionError::Pins {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let mut pins = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((hash, file)) = line.split_once(char::is_whitespace) else {
                return Err(bad(format!("line {} is not `SHA256  PATH`", n + 1)));
            };
            let file = file.trim().trim_start_matches('*').trim_start_matches("./");
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!("line {}: `{hash}` is not a sha256", n + 1)));
            }
            pins.insert(file.to_ascii_lowercase(), hash.to_ascii_lowercase());
        }
        Ok(Pins(pins))
    }

    /// The pinned sha256 of the index file at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }
}
