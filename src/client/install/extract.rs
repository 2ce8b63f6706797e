//! Putting packages in place: each bundle extracted beneath a temp
//! directory's handle (links last), then all renamed into place, or all
//! undone.

use super::*;

/// Everything an install changed on disk, undone on drop unless committed.
#[derive(Default)]
pub(super) struct Transaction {
    /// Directories created for targets' parents (outermost first).
    pub(super) created_dirs: Vec<PathBuf>,
    /// Temp dirs holding extracted packages, and their targets.
    pub(super) staged: Vec<(PathBuf, PathBuf)>,
    /// Renames done: (target, the previous installation moved aside, new in place).
    pub(super) swapped: Vec<(PathBuf, Option<PathBuf>, bool)>,
    pub(super) committed: bool,
}

impl Transaction {
    /// Creates `dir` and its missing parents below `project`, recording them.
    /// (An existing `.claude` or `.claude/skills` may be a symlink the user
    /// made; it is followed. The package directories themselves never are.)
    pub(super) fn ensure_dir(
        &mut self,
        project: &Path,
        rel: &str,
    ) -> Result<PathBuf, InstallError> {
        let mut path = project.to_path_buf();
        for part in rel.split('/') {
            path.push(part);
            match fs::metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(InstallError::Io {
                        action: "install into",
                        path: path.display().to_string(),
                        source: io::Error::other("it exists and is not a directory"),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::DirBuilder::new()
                        .mode(0o755)
                        .create(&path)
                        .map_err(io_err("create", &path))?;
                    self.created_dirs.push(path.clone());
                }
                Err(e) => return Err(io_err("inspect", &path)(e)),
            }
        }
        Ok(path)
    }

    /// Extracts a checked bundle into a fresh temp dir next to `target`.
    pub(super) fn stage(
        &mut self,
        parent: &Path,
        target: PathBuf,
        bytes: &[u8],
        archive: &Archive,
    ) -> Result<(), InstallError> {
        let tmp = parent.join(format!("{TMP_PREFIX}{}", random_suffix()));
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&tmp)
            .map_err(io_err("create", &tmp))?;
        self.staged.push((tmp.clone(), target));
        extract(bytes, archive, &tmp)
    }

    /// Moves every staged package into place, the old ones aside. (A temp
    /// dir moved into place no longer exists, so dropping the transaction
    /// removes only those still staged.)
    pub(super) fn swap_in(&mut self) -> Result<(), InstallError> {
        for (tmp, target) in self.staged.clone() {
            let parent = target.parent().expect("targets have parents").to_path_buf();
            let old = match fs::symlink_metadata(&target) {
                Ok(_) => {
                    let old = parent.join(format!("{OLD_PREFIX}{}", random_suffix()));
                    fs::rename(&target, &old).map_err(io_err("move aside", &target))?;
                    Some(old)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err("inspect", &target)(e)),
            };
            self.swapped.push((target.clone(), old, false));
            fs::rename(&tmp, &target).map_err(io_err("move into place", &target))?;
            self.swapped.last_mut().expect("just pushed").2 = true;
            let _ = crate::fsutil::sync_dir(&parent);
        }
        Ok(())
    }

    /// Keeps the new state and removes the replaced installations.
    pub(super) fn commit(mut self) {
        self.committed = true;
        for (_, old, _) in &self.swapped {
            if let Some(old) = old {
                let _ = fs::remove_dir_all(old).or_else(|_| fs::remove_file(old));
            }
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (target, old, placed) in self.swapped.iter().rev() {
            if *placed {
                let _ = fs::remove_dir_all(target);
            }
            if let Some(old) = old {
                let _ = fs::rename(old, target);
            }
        }
        for (tmp, _) in &self.staged {
            let _ = fs::remove_dir_all(tmp);
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes a new file `name` in `dir` from `reader` with the given exec bit
/// (never through a link planted there); returns its sha256.
pub(super) fn write_file(
    dir: &Dir,
    name: &str,
    reader: &mut dyn Read,
    executable: bool,
) -> Result<String, InstallError> {
    let shown = dir.path().join(name);
    let mut file = dir
        .create_file(name, if executable { 0o755 } else { 0o644 })
        .map_err(|e| safe_err("create", &shown, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(io_err("extract", &shown))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_err("write", &shown))?;
    }
    file.sync_all().map_err(io_err("write", &shown))?;
    Ok(hex::encode(hasher.finalize()))
}

pub(super) fn safe_err(
    action: &'static str,
    path: &Path,
    e: crate::safe_fs::SafeFsError,
) -> InstallError {
    InstallError::Io {
        action,
        path: path.display().to_string(),
        source: io::Error::other(e.to_string()),
    }
}

/// The directory of `rel`'s parent below `root`, created (0755) where
/// missing, never through a link; and `rel`'s last component.
pub(super) fn parent_dir<'a>(root: &Dir, rel: &'a str) -> Result<(Dir, &'a str), InstallError> {
    let (dirs, name) = match rel.rsplit_once('/') {
        Some((dirs, name)) => (Some(dirs), name),
        None => (None, rel),
    };
    let mut dir = root
        .try_clone()
        .map_err(|e| safe_err("open", root.path(), e))?;
    for part in dirs.into_iter().flat_map(|d| d.split('/')) {
        dir = dir
            .ensure_dir(part, 0o755)
            .map_err(|e| safe_err("create", &dir.path().join(part), e))?;
    }
    Ok((dir, name))
}

/// Extracts an archive [`bundle::inspect`] accepted into the fresh
/// directory `dest`. Every entry must be the one inspect saw; files are
/// checked against its hashes. Everything is created beneath `dest`'s
/// handle without following links, and links are made last, so no entry
/// can be written through one (not even on a case-insensitive disk, where
/// a link spelled `L` would otherwise be the directory `l`).
pub(super) fn extract(bytes: &[u8], archive: &Archive, dest: &Path) -> Result<(), InstallError> {
    let corrupt = |detail: String| InstallError::Io {
        action: "extract into",
        path: dest.display().to_string(),
        source: io::Error::other(detail),
    };
    let root = Dir::open(dest).map_err(|e| safe_err("open", dest, e))?;
    let mut links = Vec::new();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = tar
        .entries()
        .map_err(|e| corrupt(format!("the bundle cannot be read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(format!("the bundle cannot be read: {e}")))?;
        let entry_type = entry.header().entry_type();
        if entry_type == tar::EntryType::XGlobalHeader {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let raw = std::str::from_utf8(&raw).map_err(|_| corrupt("a path is not UTF-8".into()))?;
        let path = bundle::archive::normalize_path(raw).map_err(|e| corrupt(e.to_string()))?;
        if path.is_empty() {
            continue;
        }
        let Some(checked) = archive.entries.get(&path) else {
            return Err(corrupt(format!("`{path}` was not in the checked archive")));
        };
        let shown = dest.join(&path);
        match (&checked.kind, entry_type) {
            (EntryKind::Dir, tar::EntryType::Directory) => {
                let (parent, name) = parent_dir(&root, &path)?;
                parent
                    .ensure_dir(name, 0o755)
                    .map_err(|e| safe_err("create", &shown, e))?;
            }
            (EntryKind::File, tar::EntryType::Regular | tar::EntryType::Continuous) => {
                let (parent, name) = parent_dir(&root, &path)?;
                let sha = write_file(&parent, name, &mut entry, checked.executable)?;
                if sha != checked.sha256 {
                    return Err(corrupt(format!(
                        "`{path}` changed between checking and extracting"
                    )));
                }
            }
            (EntryKind::Symlink(target), tar::EntryType::Symlink) => {
                links.push((path.clone(), target.clone()));
            }
            (EntryKind::Hardlink(target), tar::EntryType::Link) => {
                let mut from = root
                    .open_file(target, u64::MAX)
                    .map_err(|e| safe_err("read", &dest.join(target), e))?
                    .into_reader();
                let (parent, name) = parent_dir(&root, &path)?;
                write_file(&parent, name, &mut from, checked.executable)?;
            }
            _ => {
                return Err(corrupt(format!(
                    "`{path}` is not the kind of entry the check saw"
                )))
            }
        }
    }
    for (path, target) in links {
        let (parent, name) = parent_dir(&root, &path)?;
        parent
            .symlink(&target, name)
            .map_err(|e| safe_err("create", &dest.join(&path), e))?;
    }
    Ok(())
}
