//! The lock file, `skillreg.lock`: what was installed, from where, under
//! which keys, file by file.

use super::*;

/// The lock file. See the module documentation for the format.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Always [`LOCK_VERSION`].
    pub lock_version: u32,
    /// Installed packages by name.
    pub packages: BTreeMap<String, LockedPackage>,
}

/// One package in the lock.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Exact version.
    pub version: String,
    /// Kind.
    pub kind: Kind,
    /// Hex sha256 of the bundle.
    pub cksum: String,
    /// Registry base URL.
    pub registry: String,
    /// Root version that verified the metadata.
    pub root_version: u64,
    /// Key ids of each role of that root.
    pub keys: BTreeMap<String, Vec<String>>,
    /// Install path, relative to the lock's directory.
    pub path: String,
    /// Every path below `path`.
    pub files: BTreeMap<String, LockedFile>,
}

/// One installed path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LockedFile {
    /// A regular file.
    File {
        /// Hex sha256 of its content.
        sha256: String,
        /// Any execute bit set.
        executable: bool,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// Its target, as written.
        target: String,
    },
}

impl Lock {
    /// Reads the lock at `path`; `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Lock>, InstallError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", path)(e)),
        };
        let lock: Lock = serde_json::from_slice(&bytes).map_err(|e| InstallError::BadLock {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        if lock.lock_version != LOCK_VERSION {
            return Err(InstallError::BadLock {
                path: path.display().to_string(),
                detail: format!(
                    "lock_version {} (this skillreg reads {LOCK_VERSION})",
                    lock.lock_version
                ),
            });
        }
        Ok(Some(lock))
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("the lock serializes");
        out.push(b'\n');
        out
    }
}

/// What the lock records for a checked archive: every entry, plus the
/// directories implied by paths (an archive need not list them).
pub(super) fn locked_files(archive: &Archive) -> BTreeMap<String, LockedFile> {
    let mut files = BTreeMap::new();
    for (path, entry) in &archive.entries {
        let locked = match &entry.kind {
            EntryKind::Dir => LockedFile::Dir,
            EntryKind::File => LockedFile::File {
                sha256: entry.sha256.clone(),
                executable: entry.executable,
            },
            EntryKind::Symlink(target) => LockedFile::Symlink {
                target: target.clone(),
            },
            EntryKind::Hardlink(target) => LockedFile::File {
                sha256: archive
                    .entries
                    .get(target)
                    .map(|t| t.sha256.clone())
                    .unwrap_or_default(),
                executable: entry.executable,
            },
        };
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            files.entry(prefix.clone()).or_insert(LockedFile::Dir);
        }
        files.insert(path.clone(), locked);
    }
    files
}
