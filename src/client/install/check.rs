//! `skillreg verify`: re-hashing an installation against its lock.

use super::*;

/// One way an installation differs from its lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Present, but not as locked.
    Modified {
        /// Path relative to the project.
        path: String,
        /// How it differs.
        detail: String,
    },
    /// Locked but absent.
    Missing {
        /// Path relative to the project.
        path: String,
    },
    /// Present but not locked.
    Extra {
        /// Path relative to the project.
        path: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Modified { path, detail } => write!(f, "modified: {path} ({detail})"),
            Difference::Missing { path } => write!(f, "missing:  {path}"),
            Difference::Extra { path } => write!(f, "extra:    {path} (not in {LOCK_FILE})"),
        }
    }
}

/// What [`verify()`] found.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    /// Packages checked.
    pub packages: usize,
    /// Paths checked.
    pub files: usize,
    /// Every difference; empty when the installation matches the lock.
    pub differences: Vec<Difference>,
}

/// What is on disk at one path.
pub(super) enum Found {
    Locked(LockedFile),
    Special,
}

pub(super) fn scan(root: &Path, rel: &str, out: &mut BTreeMap<String, Found>) -> io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    for item in fs::read_dir(&dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let full = item.path();
        let meta = fs::symlink_metadata(&full)?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&full)?.to_string_lossy().into_owned();
            out.insert(path, Found::Locked(LockedFile::Symlink { target }));
        } else if ft.is_dir() {
            out.insert(path.clone(), Found::Locked(LockedFile::Dir));
            scan(root, &path, out)?;
        } else if ft.is_file() {
            let mut hasher = Sha256::new();
            io::copy(&mut fs::File::open(&full)?, &mut hasher)?;
            out.insert(
                path,
                Found::Locked(LockedFile::File {
                    sha256: hex::encode(hasher.finalize()),
                    executable: meta.permissions().mode() & 0o111 != 0,
                }),
            );
        } else {
            out.insert(path, Found::Special);
        }
    }
    Ok(())
}

pub(super) fn describe(file: &LockedFile) -> &'static str {
    match file {
        LockedFile::File { .. } => "a file",
        LockedFile::Dir => "a directory",
        LockedFile::Symlink { .. } => "a symlink",
    }
}

pub(super) fn compare(locked: &LockedFile, found: &Found) -> Option<String> {
    let found = match found {
        Found::Special => {
            return Some(format!(
                "locked as {} but now a special file",
                describe(locked)
            ))
        }
        Found::Locked(f) => f,
    };
    match (locked, found) {
        (a, b) if a == b => None,
        (
            LockedFile::File {
                sha256: a,
                executable: ea,
            },
            LockedFile::File { sha256: b, .. },
        ) => Some(if a != b {
            format!("content changed: sha256 {b}, locked {a}")
        } else if *ea {
            "no longer executable".into()
        } else {
            "now executable".into()
        }),
        (LockedFile::Symlink { target: a }, LockedFile::Symlink { target: b }) => {
            Some(format!("link points to `{b}`, locked `{a}`"))
        }
        (a, b) => Some(format!("locked as {} but now {}", describe(a), describe(b))),
    }
}

/// A lock path that stays inside the project.
pub(super) fn safe_rel(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Re-hashes every installed path against the lock at `lock_path` and
/// reports each modified, missing and extra path.
pub fn verify(lock_path: &Path) -> Result<VerifyReport, InstallError> {
    let lock = Lock::read(lock_path)?.ok_or_else(|| InstallError::NoLock {
        path: lock_path.display().to_string(),
    })?;
    let project = lock_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut report = VerifyReport {
        packages: lock.packages.len(),
        files: 0,
        differences: Vec::new(),
    };
    for (name, package) in &lock.packages {
        if !safe_rel(&package.path) || package.files.keys().any(|f| !safe_rel(f)) {
            return Err(InstallError::BadLock {
                path: lock_path.display().to_string(),
                detail: format!("the paths of `{name}` leave the project directory"),
            });
        }
        let root = project.join(&package.path);
        match fs::symlink_metadata(&root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                report.differences.push(Difference::Modified {
                    path: package.path.clone(),
                    detail: format!("`{name}` should be a directory"),
                });
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.differences.push(Difference::Missing {
                    path: package.path.clone(),
                });
                continue;
            }
            Err(e) => return Err(io_err("inspect", &root)(e)),
        }
        let mut found = BTreeMap::new();
        scan(&root, "", &mut found).map_err(io_err("read", &root))?;
        let shown = |p: &str| format!("{}/{p}", package.path);
        for (path, locked) in &package.files {
            report.files += 1;
            match found.get(path) {
                None => report
                    .differences
                    .push(Difference::Missing { path: shown(path) }),
                Some(f) => {
                    if let Some(detail) = compare(locked, f) {
                        report.differences.push(Difference::Modified {
                            path: shown(path),
                            detail,
                        });
                    }
                }
            }
        }
        for path in found.keys() {
            if !package.files.contains_key(path) {
                report
                    .differences
                    .push(Difference::Extra { path: shown(path) });
            }
        }
    }
    Ok(report)
}
