//! The one way to touch files that came from outside: marketplace
//! checkouts, remote plugin clones, drop directories, and the trees the
//! client extracts. It never follows a symbolic link it did not create.
//!
//! - A [`Dir`] is an open directory handle. Every path below it is opened
//!   one component at a time with `O_NOFOLLOW`, so a link anywhere on the
//!   way (`a -> /etc`, `a/b -> ../../keys`) is refused, not followed, and a
//!   rename racing the walk cannot send it elsewhere: each step starts from
//!   the handle of the step before.
//! - Regular files are opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO must
//!   not hang the reader) and judged by `fstat` on the open handle, never by
//!   a path looked at first; their size is read from that handle too.
//! - Things are created exclusively (`O_EXCL`, `mkdirat`), so a link planted
//!   where a file or directory is about to be made is never written through.
//! - Symbolic links inside a tree are reported as links with their targets
//!   ([`walk`]), for the bundle rules to judge; nothing here resolves them.
//!
//! Only a root the admin named (a configured path, a command-line argument)
//! is opened by its path with [`Dir::open`]; links in it are the admin's own.

#[cfg(test)]
mod tests;
mod walk;

pub use walk::{walk, TreeEntry, TreeKind};

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

/// Why a path from outside could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SafeFsError {
    /// A component is a symbolic link, which is never followed.
    #[error("`{path}` is a symbolic link; skillreg never follows links in content from outside")]
    Symlink {
        /// The path up to and including the link.
        path: String,
    },
    /// A component that must be a directory is not one.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The path.
        path: String,
    },
    /// A regular file was expected.
    #[error("`{path}` is a {kind}; only regular files are read")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is (`directory`, `FIFO`, `socket`, …).
        kind: &'static str,
    },
    /// Nothing is there.
    #[error("`{path}` does not exist")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A file is larger than the caller allows.
    #[error("`{path}` is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A relative path that could leave its directory, or that cannot be
    /// represented.
    #[error("`{path}` {reason}")]
    UnsafePath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A regular file with more than one name: from outside, its other name
    /// may be a file of ours (a key hard-linked into a checkout).
    #[error("`{path}` has {links} hard links; skillreg reads no hard-linked file from outside, since its other names may be anywhere")]
    HardLinked {
        /// The path.
        path: String,
        /// Its link count.
        links: u64,
    },
    /// A file's length changed between `fstat` and the end of reading it.
    #[error("`{path}` changed while it was read; try again when it is complete")]
    Changed {
        /// The path.
        path: String,
    },
    /// Any other system error.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The system error.
        source: io::Error,
    },
}

impl SafeFsError {
    /// What is wrong, without the path: for messages that name the path
    /// their own way (as the catalog spells it).
    pub fn reason(&self) -> String {
        match self {
            SafeFsError::Symlink { .. } => {
                "is (or runs through) a symbolic link; skillreg never follows links in content from outside".into()
            }
            SafeFsError::NotADirectory { .. } => "is not a directory".into(),
            SafeFsError::NotAFile { kind, .. } => format!("is a {kind}, not a regular file"),
            SafeFsError::NotFound { .. } => "does not exist".into(),
            SafeFsError::TooLarge { size, limit, .. } => {
                format!("is {size} bytes, more than the {limit} allowed")
            }
            SafeFsError::UnsafePath { reason, .. } => reason.to_string(),
            SafeFsError::Changed { .. } => "changed while it was read".into(),
            SafeFsError::HardLinked { links, .. } => format!(
                "has {links} hard links; skillreg reads no hard-linked file from outside"
            ),
            SafeFsError::Io { action, source, .. } => format!("cannot be {action}: {source}"),
        }
    }
}

/// What a directory entry is, as `fstatat` without following links sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// A FIFO, socket or device: never read.
    Special(&'static str),
}

/// One entry of [`Dir::entries`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name (one component, UTF-8).
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
}

/// A regular file opened beneath a [`Dir`], with what `fstat` said of it.
#[derive(Debug)]
pub struct RegularFile {
    /// The open file.
    pub file: File,
    /// Its size when opened.
    pub len: u64,
    /// True when any execute bit is set.
    pub executable: bool,
    shown: String,
}

impl RegularFile {
    /// Reads the whole file, refusing it if its length is not the one
    /// `fstat` gave (it is being written or was truncated).
    pub fn read_all(self) -> Result<Vec<u8>, SafeFsError> {
        let mut out = Vec::with_capacity(self.len as usize);
        let shown = self.shown.clone();
        let len = self.len;
        self.into_reader().read_to_end(&mut out).map_err(|e| {
            match e.get_ref().is_some_and(|i| i.is::<LengthChanged>()) {
                true => SafeFsError::Changed {
                    path: shown.clone(),
                },
                false => io_error("read", &shown)(e),
            }
        })?;
        debug_assert_eq!(out.len() as u64, len);
        Ok(out)
    }

    /// A reader that yields exactly the `fstat` length and fails (with an
    /// error [`SafeFsError::Changed`] is made from) if the file ends early
    /// or goes on.
    pub fn into_reader(self) -> impl Read {
        ExactLength {
            inner: self.file,
            remaining: self.len,
        }
    }
}

/// A directory handle; every path below it is resolved without links.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    shown: PathBuf,
}

/// Flags on every open: never follow, never leak the fd to git.
fn base_flags() -> OFlags {
    OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY
}

impl Dir {
    /// Opens a directory the admin named (a configured path or a
    /// command-line argument): the one open that follows links, because
    /// the path is the admin's own.
    pub fn open(path: &Path) -> Result<Dir, SafeFsError> {
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| classify_open(e.into(), &path.display().to_string(), true))?;
        Ok(Dir {
            fd,
            shown: path.to_path_buf(),
        })
    }

    /// Creates `path` (mode `mode`, parents 0700) if missing and opens it.
    /// Its last component must be a real directory, never a link.
    pub fn create_private(path: &Path, mode: u32) -> Result<Dir, SafeFsError> {
        let shown = path.display().to_string();
        let (parent, name) = match (path.parent(), path.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => return Dir::open(path),
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        crate::fsutil::create_private_dir(parent).map_err(io_error("create", &shown))?;
        let parent = Dir::open(parent)?;
        let name = name.to_str().ok_or_else(|| SafeFsError::UnsafePath {
            path: shown.clone(),
            reason: "is not UTF-8",
        })?;
        parent.ensure_dir(name, mode)
    }

    /// The path this handle was opened as, for messages.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    fn shown(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.shown.display().to_string()
        } else {
            self.shown.join(rel).display().to_string()
        }
    }

    /// Opens the directory at `rel` (one or more components) below this
    /// one, following no link on the way.
    pub fn open_dir(&self, rel: &str) -> Result<Dir, SafeFsError> {
        let parts = components(rel)?;
        let mut current: Option<Dir> = None;
        let mut done = String::new();
        for part in parts {
            push_component(&mut done, part);
            let from = current.as_ref().unwrap_or(self);
            current = Some(from.open_child_dir(part, &self.shown(&done))?);
        }
        match current {
            Some(dir) => Ok(dir),
            None => self.try_clone(),
        }
    }

    /// A second handle to the same directory.
    pub fn try_clone(&self) -> Result<Dir, SafeFsError> {
        let fd = self
            .fd
            .try_clone()
            .map_err(io_error("duplicate", &self.shown("")))?;
        Ok(Dir {
            fd,
            shown: self.shown.clone(),
        })
    }

    fn open_child_dir(&self, name: &str, shown: &str) -> Result<Dir, SafeFsError> {
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | base_flags(),
            Mode::empty(),
        )
        .map_err(|e| self.classify(name, e.into(), shown, true))?;
        Ok(Dir {
            fd,
            shown: PathBuf::from(shown),
        })
    }

    /// Why opening `name` failed, in words: a link, not a directory, gone.
    fn classify(&self, name: &str, e: io::Error, shown: &str, want_dir: bool) -> SafeFsError {
        match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) | Some(libc::EMLINK) => {
                match self.entry_kind(name) {
                    Ok(Some(EntryKind::Symlink)) => SafeFsError::Symlink { path: shown.into() },
                    Ok(Some(_)) if want_dir => SafeFsError::NotADirectory { path: shown.into() },
                    _ => classify_open(e, shown, want_dir),
                }
            }
            _ => classify_open(e, shown, want_dir),
        }
    }

    /// The parent directory of `rel` and its last component.
    fn parent_of<'a>(&self, rel: &'a str) -> Result<(Dir, &'a str), SafeFsError> {
        let parts = components(rel)?;
        let Some((last, dirs)) = parts.split_last() else {
            return Err(SafeFsError::UnsafePath {
                path: rel.into(),
                reason: "names no file",
            });
        };
        Ok((self.open_dir(&dirs.join("/"))?, last))
    }

    /// What `name` (one component) is, without following it; `None` if
    /// nothing is there.
    fn entry_kind(&self, name: &str) -> io::Result<Option<EntryKind>> {
        match rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(kind_of(FileType::from_raw_mode(stat.st_mode)))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// What `rel` is (links not followed), or `None` when nothing is there.
    /// For choosing what to read; what is then opened is judged again on
    /// its handle.
    pub fn kind(&self, rel: &str) -> Result<Option<EntryKind>, SafeFsError> {
        let (parent, last) = match self.parent_of(rel) {
            Ok(found) => found,
            Err(SafeFsError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        parent
            .entry_kind(last)
            .map_err(io_error("inspect", &self.shown(rel)))
    }

    /// When the entry at `rel` (not followed) was last modified; `None`
    /// if nothing is there.
    pub fn modified(&self, rel: &str) -> Result<Option<std::time::SystemTime>, SafeFsError> {
        let shown = self.shown(rel);
        let (parent, last) = self.parent_of(rel)?;
        match rfs::statat(&parent.fd, last, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => {
                let secs = std::time::Duration::new(
                    stat.st_mtime.max(0) as u64,
                    (stat.st_mtime_nsec as u32).min(999_999_999),
                );
                Ok(Some(std::time::UNIX_EPOCH + secs))
            }
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(io_error("inspect", &shown)(e.into())),
        }
    }

    /// Opens the regular file at `rel` for reading: no link on the way or
    /// at the end, `O_NONBLOCK`, and refused unless `fstat` on the open
    /// handle says it is a regular file of at most `limit` bytes.
    pub fn open_file(&self, rel: &str, limit: u64) -> Result<RegularFile, SafeFsError> {
        self.open_regular(rel, limit, true)
    }

    /// [`Dir::open_file`], but a file with other hard links is read too.
    /// Only for a tree that is the admin's own as a whole (a backup, which
    /// tools like `rsync --link-dest` hard-link between runs), where a
    /// second name leads nowhere new: links are still refused.
    pub fn open_file_linked(&self, rel: &str, limit: u64) -> Result<RegularFile, SafeFsError> {
        self.open_regular(rel, limit, false)
    }

    fn open_regular(
        &self,
        rel: &str,
        limit: u64,
        one_name: bool,
    ) -> Result<RegularFile, SafeFsError> {
        let shown = self.shown(rel);
        let (parent, last) = self.parent_of(rel)?;
        // A device must not even be opened (its driver acts on open): look
        // first, then judge the handle, which is what counts.
        match parent
            .entry_kind(last)
            .map_err(io_error("inspect", &shown))?
        {
            None => return Err(SafeFsError::NotFound { path: shown }),
            Some(EntryKind::Symlink) => return Err(SafeFsError::Symlink { path: shown }),
            Some(EntryKind::Dir) => {
                return Err(SafeFsError::NotAFile {
                    path: shown,
                    kind: "directory",
                })
            }
            Some(EntryKind::Special(kind)) => {
                return Err(SafeFsError::NotAFile { path: shown, kind })
            }
            Some(EntryKind::File) => {}
        }
        let fd = rfs::openat(
            &parent.fd,
            last,
            OFlags::RDONLY | OFlags::NONBLOCK | base_flags(),
            Mode::empty(),
        )
        .map_err(|e| parent.classify(last, e.into(), &shown, false))?;
        let stat = rfs::fstat(&fd).map_err(|e| io_error("inspect", &shown)(e.into()))?;
        match kind_of(FileType::from_raw_mode(stat.st_mode)) {
            EntryKind::File => {}
            EntryKind::Dir => {
                return Err(SafeFsError::NotAFile {
                    path: shown,
                    kind: "directory",
                })
            }
            EntryKind::Symlink => return Err(SafeFsError::Symlink { path: shown }),
            EntryKind::Special(kind) => return Err(SafeFsError::NotAFile { path: shown, kind }),
        }
        if one_name && stat.st_nlink > 1 {
            return Err(SafeFsError::HardLinked {
                path: shown,
                links: stat.st_nlink as u64,
            });
        }
        let len = stat.st_size as u64;
        if len > limit {
            return Err(SafeFsError::TooLarge {
                path: shown,
                size: len,
                limit,
            });
        }
        Ok(RegularFile {
            file: File::from(fd),
            len,
            executable: stat.st_mode & 0o111 != 0,
            shown,
        })
    }

    /// Reads the regular file at `rel` whole, at most `limit` bytes.
    pub fn read(&self, rel: &str, limit: u64) -> Result<Vec<u8>, SafeFsError> {
        self.open_file(rel, limit)?.read_all()
    }

    /// The target of the symbolic link at `rel` (UTF-8), without following it.
    pub fn read_link(&self, rel: &str) -> Result<String, SafeFsError> {
        let shown = self.shown(rel);
        let (parent, last) = self.parent_of(rel)?;
        let target = rfs::readlinkat(&parent.fd, last, Vec::new())
            .map_err(|e| io_error("read the link", &shown)(e.into()))?;
        target.into_string().map_err(|_| SafeFsError::UnsafePath {
            path: shown,
            reason: "is a link whose target is not UTF-8",
        })
    }

    /// The entries of this directory (not `.` and `..`), sorted by name.
    /// A name that is not UTF-8 is refused: it cannot be a bundle path.
    pub fn entries(&self) -> Result<Vec<DirEntry>, SafeFsError> {
        let shown = self.shown("");
        let mut stream =
            rfs::Dir::read_from(&self.fd).map_err(|e| io_error("list", &shown)(e.into()))?;
        let mut out = Vec::new();
        while let Some(entry) = stream.read() {
            let entry = entry.map_err(|e| io_error("list", &shown)(e.into()))?;
            let raw = entry.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            let name = std::str::from_utf8(raw)
                .map_err(|_| SafeFsError::UnsafePath {
                    path: self.shown(&String::from_utf8_lossy(raw)),
                    reason: "has a name that is not UTF-8",
                })?
                .to_string();
            // d_type may be DT_UNKNOWN on some file systems: ask fstatat.
            let kind = match self.entry_kind(&name) {
                Ok(Some(kind)) => kind,
                // Removed since the listing.
                Ok(None) => continue,
                Err(e) => return Err(io_error("inspect", &self.shown(&name))(e)),
            };
            out.push(DirEntry { name, kind });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates the directory `name` (one component), which must not exist.
    pub fn create_dir(&self, name: &str, mode: u32) -> Result<Dir, SafeFsError> {
        let shown = self.shown(name);
        single(name)?;
        rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode))
            .map_err(|e| io_error("create", &shown)(e.into()))?;
        self.open_child_dir(name, &shown)
    }

    /// Opens the directory `name` (one component), creating it if missing;
    /// a link or a file there is refused.
    pub fn ensure_dir(&self, name: &str, mode: u32) -> Result<Dir, SafeFsError> {
        let shown = self.shown(name);
        single(name)?;
        match rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io_error("create", &shown)(e.into())),
        }
        self.open_child_dir(name, &shown)
    }

    /// Creates the file `name` (one component) for writing; it must not
    /// exist, so a link planted there is never written through.
    pub fn create_file(&self, name: &str, mode: u32) -> Result<File, SafeFsError> {
        let shown = self.shown(name);
        single(name)?;
        let fd = rfs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | base_flags(),
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| io_error("create", &shown)(e.into()))?;
        Ok(File::from(fd))
    }

    /// Writes `bytes` to the new file `name` and fsyncs it.
    pub fn write_new(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), SafeFsError> {
        let shown = self.shown(name);
        let mut file = self.create_file(name, mode)?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &shown))
    }

    /// Creates the symbolic link `name` → `target` (the target is stored,
    /// never resolved here).
    pub fn symlink(&self, target: &str, name: &str) -> Result<(), SafeFsError> {
        single(name)?;
        rfs::symlinkat(target, &self.fd, name)
            .map_err(|e| io_error("create the link", &self.shown(name))(e.into()))
    }

    /// Renames `name` here to `to_name` in `to`, refusing to replace
    /// anything there.
    pub fn rename_new(&self, name: &str, to: &Dir, to_name: &str) -> Result<(), SafeFsError> {
        single(name)?;
        single(to_name)?;
        rfs::renameat_with(&self.fd, name, &to.fd, to_name, rfs::RenameFlags::NOREPLACE)
            .map_err(|e| io_error("move", &self.shown(name))(e.into()))
    }

    /// Renames `name` here to `to_name` in `to`, replacing a file there; a
    /// link there is replaced itself, never followed.
    pub fn rename_over(&self, name: &str, to: &Dir, to_name: &str) -> Result<(), SafeFsError> {
        single(name)?;
        single(to_name)?;
        rfs::renameat(&self.fd, name, &to.fd, to_name)
            .map_err(|e| io_error("move", &self.shown(name))(e.into()))
    }

    /// Hard-links `name` here as `to_name` in `to` (a link at `name` is
    /// linked itself, never followed).
    pub fn hard_link(&self, name: &str, to: &Dir, to_name: &str) -> Result<(), SafeFsError> {
        single(name)?;
        single(to_name)?;
        rfs::linkat(&self.fd, name, &to.fd, to_name, AtFlags::empty())
            .map_err(|e| io_error("link", &self.shown(name))(e.into()))
    }

    /// Removes the file or link `name` (one component).
    pub fn remove_file(&self, name: &str) -> Result<(), SafeFsError> {
        single(name)?;
        rfs::unlinkat(&self.fd, name, AtFlags::empty())
            .map_err(|e| io_error("remove", &self.shown(name))(e.into()))
    }

    /// Fsyncs the directory, so renames and creates in it survive a crash.
    pub fn sync(&self) -> Result<(), SafeFsError> {
        rfs::fsync(&self.fd).map_err(|e| io_error("sync", &self.shown(""))(e.into()))
    }

    /// Sets the directory's own mode on its handle.
    pub fn set_mode(&self, mode: u32) -> Result<(), SafeFsError> {
        rfs::fchmod(&self.fd, Mode::from_raw_mode(mode))
            .map_err(|e| io_error("change the mode of", &self.shown(""))(e.into()))
    }

    /// The directory's own mode bits, from its handle.
    pub fn mode(&self) -> Result<u32, SafeFsError> {
        rfs::fstat(&self.fd)
            .map(|s| s.st_mode & 0o7777)
            .map_err(|e| io_error("inspect", &self.shown(""))(e.into()))
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The components of a relative path from outside: `.` and empty ones
/// dropped; absolute paths, `..`, backslashes and NUL refused.
pub fn components(rel: &str) -> Result<Vec<&str>, SafeFsError> {
    let unsafe_path = |reason| SafeFsError::UnsafePath {
        path: rel.to_string(),
        reason,
    };
    if rel.starts_with('/') {
        return Err(unsafe_path("is absolute"));
    }
    if rel.contains('\\') {
        return Err(unsafe_path("contains `\\`; use `/`"));
    }
    if rel.contains('\0') {
        return Err(unsafe_path("contains a NUL byte"));
    }
    let mut out = Vec::new();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path("uses `..` and could leave its directory")),
            p => out.push(p),
        }
    }
    Ok(out)
}

/// A single path component (for what this module creates or moves).
fn single(name: &str) -> Result<(), SafeFsError> {
    match components(name)?.as_slice() {
        [one] if *one == name => Ok(()),
        _ => Err(SafeFsError::UnsafePath {
            path: name.to_string(),
            reason: "must be a single file name",
        }),
    }
}

fn push_component(path: &mut String, part: &str) {
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(part);
}

fn kind_of(t: FileType) -> EntryKind {
    match t {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        FileType::Fifo => EntryKind::Special("FIFO"),
        FileType::Socket => EntryKind::Special("socket"),
        FileType::CharacterDevice => EntryKind::Special("character device"),
        FileType::BlockDevice => EntryKind::Special("block device"),
        _ => EntryKind::Special("special file"),
    }
}

fn classify_open(e: io::Error, shown: &str, want_dir: bool) -> SafeFsError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => SafeFsError::NotFound { path: shown.into() },
        Some(libc::ELOOP) => SafeFsError::Symlink { path: shown.into() },
        Some(libc::ENOTDIR) if want_dir => SafeFsError::NotADirectory { path: shown.into() },
        _ => SafeFsError::Io {
            action: "open",
            path: shown.into(),
            source: e,
        },
    }
}

fn io_error<'a>(
    action: &'static str,
    shown: &'a str,
) -> impl FnOnce(io::Error) -> SafeFsError + 'a {
    move |source| SafeFsError::Io {
        action,
        path: shown.to_string(),
        source,
    }
}

/// The error [`ExactLength`] fails with.
#[derive(Debug)]
struct LengthChanged;

impl std::fmt::Display for LengthChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the file's length changed while it was read")
    }
}

impl std::error::Error for LengthChanged {}

/// Yields exactly `remaining` bytes of `inner`, and fails if it has fewer
/// or more: a file being written cannot slip other content through.
struct ExactLength<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactLength<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // One byte more means the file grew.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LengthChanged)),
            };
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::other(LengthChanged));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
