//! Reading a tar.gz as hostile input.
//!
//! [`inspect`] streams the archive once, never touching the disk, and refuses
//! anything an installer could be tricked by: absolute paths, `..`, links that
//! leave the root, device files and FIFOs, non-UTF-8 names, duplicate paths,
//! and archives that unpack past the configured limits (gzip bombs) or whose
//! headers lie about lengths.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read};

use super::BundleError;

/// The limits [`inspect`] enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Largest compressed size.
    pub max_compressed: u64,
    /// Largest total unpacked size of the tar stream.
    pub max_unpacked: u64,
    /// Most entries.
    pub max_entries: u64,
}

impl Default for ArchiveLimits {
    /// The limits of a registry with the default configuration (the
    /// `[limits]` defaults are these numbers).
    fn default() -> Self {
        ArchiveLimits {
            max_compressed: 50 * 1024 * 1024,
            max_unpacked: 200 * 1024 * 1024,
            max_entries: 10_000,
        }
    }
}

/// What kind of entry a path is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to the given relative target.
    Symlink(String),
    /// A hard link to another path in the archive.
    Hardlink(String),
}

/// One entry of a checked archive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Normalized relative path (no `./`, no trailing `/`).
    pub path: String,
    /// Its kind.
    pub kind: EntryKind,
    /// Size in bytes (files only).
    pub size: u64,
    /// True when any execute bit is set.
    pub executable: bool,
    /// Hex sha256 of the content (files only).
    pub sha256: String,
}

/// A checked archive: every entry, plus the contents of the files the caller asked to keep.
#[derive(Debug, Default)]
pub struct Archive {
    /// Entries by path.
    pub entries: BTreeMap<String, Entry>,
    /// Contents of kept files.
    pub kept: HashMap<String, Vec<u8>>,
}

impl Archive {
    /// The content of a kept file.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.kept.get(path).map(Vec::as_slice)
    }
}

/// Most zero bytes allowed after the tar end-of-archive marker (tar tools
/// pad to their record size, 10 KiB for GNU tar).
pub const MAX_PADDING: u64 = 64 * 1024;

/// Largest file [`inspect`] keeps in memory for validation (manifests are small).
pub const MAX_KEPT_FILE: u64 = 1024 * 1024;

/// The tar entry types [`inspect`] takes for regular files (regular and
/// contiguous): whoever reads a checked archive again must read exactly
/// these as files, or a checked file vanishes from what it writes.
pub fn is_file_type(entry_type: tar::EntryType) -> bool {
    matches!(
        entry_type,
        tar::EntryType::Regular | tar::EntryType::Continuous
    )
}

/// Checks a tar.gz and returns its entries. `keep` selects the files whose
/// contents are returned (each at most [`MAX_KEPT_FILE`]).
pub fn inspect(
    bytes: &[u8],
    limits: &ArchiveLimits,
    keep: impl Fn(&str) -> bool,
) -> Result<Archive, BundleError> {
    if bytes.len() as u64 > limits.max_compressed {
        return Err(BundleError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_compressed,
        });
    }
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Err(BundleError::NotGzip);
    }
    // Exactly one gzip member: tar and gunzip would also read a second one,
    // so anything after the first is refused below rather than left unchecked.
    let budget = Budget {
        inner: flate2::bufread::GzDecoder::new(bytes),
        // tar headers and padding count too; a little slack for them on top
        // of the file-content limit, which is checked exactly below.
        remaining: limits
            .max_unpacked
            .saturating_add(limits.max_entries.saturating_mul(1024) + 10240),
        exceeded: false,
    };
    let mut tar = tar::Archive::new(budget);
    let mut archive = Archive::default();
    let mut unpacked: u64 = 0;
    let entries = tar.entries().map_err(|e| corrupt(&e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| read_error(&e, limits))?;
        if archive.entries.len() as u64 >= limits.max_entries {
            return Err(BundleError::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let Some((path, kind, mode, size)) = entry_header(&entry, &archive)? else {
            continue;
        };
        if archive.entries.contains_key(&path) {
            return Err(BundleError::DuplicatePath(path));
        }
        let mut sha256 = String::new();
        let mut file_size = 0;
        if kind == EntryKind::File {
            unpacked = unpacked.saturating_add(size);
            if unpacked > limits.max_unpacked {
                return Err(BundleError::UnpackedTooLarge {
                    limit: limits.max_unpacked,
                });
            }
            let wanted = keep(&path) && size <= MAX_KEPT_FILE;
            let (hash, content) = read_file(&mut entry, &path, size, wanted, limits)?;
            if let Some(content) = content {
                archive.kept.insert(path.clone(), content);
            }
            sha256 = hash;
            file_size = size;
        }
        archive.entries.insert(
            path.clone(),
            Entry {
                path,
                kind,
                size: file_size,
                executable: mode & 0o111 != 0,
                sha256,
            },
        );
    }
    check_trailer(tar.into_inner(), limits)?;
    check_no_folded_collisions_or_paths_through_links(&archive)?;
    Ok(archive)
}

/// One entry's normalized path, kind, mode and size, checked; `None` for
/// what is skipped (pax global headers, the `./` root directory).
fn entry_header<R: Read>(
    entry: &tar::Entry<'_, R>,
    archive: &Archive,
) -> Result<Option<(String, EntryKind, u32, u64)>, BundleError> {
    let raw_path = entry.path_bytes().into_owned();
    let path = std::str::from_utf8(&raw_path)
        .map_err(|_| BundleError::NonUtf8Path {
            lossy: String::from_utf8_lossy(&raw_path).into_owned(),
        })?
        .to_string();
    let entry_type = entry.header().entry_type();
    let path = normalize_path(&path)?;
    if path.split('/').count() > MAX_DEPTH {
        return Err(BundleError::UnsafePath {
            path,
            reason: "nests more than 64 directories deep",
        });
    }
    if let Some(git) = path.split('/').find(|part| is_git_dir_name(part)) {
        return Err(BundleError::GitDirectory {
            path: path.clone(),
            name: git.to_string(),
        });
    }
    let size = entry.header().size().map_err(|e| corrupt(&e))?;
    let mode = entry.header().mode().map_err(|e| corrupt(&e))?;
    if mode & 0o7000 != 0 {
        return Err(BundleError::SpecialMode { path, mode });
    }
    let kind = match entry_type {
        t if is_file_type(t) => EntryKind::File,
        tar::EntryType::Directory => EntryKind::Dir,
        tar::EntryType::Symlink => {
            let target = link_target(entry, &path)?;
            check_symlink(&path, &target)?;
            EntryKind::Symlink(target)
        }
        tar::EntryType::Link => {
            let target = link_target(entry, &path)?;
            let target = normalize_path(&target).map_err(|_| BundleError::LinkEscapes {
                path: path.clone(),
                target: target.clone(),
            })?;
            match archive.entries.get(&target) {
                Some(e) if e.kind == EntryKind::File => {}
                _ => {
                    return Err(BundleError::LinkEscapes {
                        path: path.clone(),
                        target: format!("{target} (not a file earlier in the archive)"),
                    })
                }
            }
            EntryKind::Hardlink(target)
        }
        tar::EntryType::XGlobalHeader => return Ok(None),
        other => {
            return Err(BundleError::ForbiddenEntry {
                path,
                kind: entry_kind_name(other),
            })
        }
    };
    if path.is_empty() {
        // "./" itself: the root directory entry some tar tools write.
        if kind == EntryKind::Dir {
            return Ok(None);
        }
        return Err(BundleError::UnsafePath {
            path: String::from("."),
            reason: "an entry must have a name",
        });
    }
    Ok(Some((path, kind, mode, size)))
}

/// Reads a file entry to its end: its sha256, and its content when
/// `wanted`; refused if it holds other than the `size` its header claims.
fn read_file(
    entry: &mut impl Read,
    path: &str,
    size: u64,
    wanted: bool,
    limits: &ArchiveLimits,
) -> Result<(String, Option<Vec<u8>>), BundleError> {
    let mut hasher = Sha256::new();
    let mut content = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut read_total = 0u64;
    loop {
        let n = entry.read(&mut buf).map_err(|e| read_error(&e, limits))?;
        if n == 0 {
            break;
        }
        read_total += n as u64;
        hasher.update(&buf[..n]);
        if wanted {
            content.extend_from_slice(&buf[..n]);
        }
    }
    if read_total != size {
        return Err(BundleError::Corrupt(format!(
            "`{path}` claims {size} bytes but the archive holds {read_total}"
        )));
    }
    Ok((hex::encode(hasher.finalize()), wanted.then_some(content)))
}

/// What follows the end-of-archive marker must be zero padding: read it
/// through the budget, so a bomb hidden there is caught, a truncated gzip
/// is noticed, and nothing is smuggled past this check; and nothing may
/// follow the gzip member.
fn check_trailer(
    mut rest: Budget<flate2::bufread::GzDecoder<&[u8]>>,
    limits: &ArchiveLimits,
) -> Result<(), BundleError> {
    let mut buf = [0u8; 64 * 1024];
    let mut padding = 0u64;
    loop {
        let n = rest.read(&mut buf).map_err(|e| read_error(&e, limits))?;
        if n == 0 {
            break;
        }
        padding += n as u64;
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(BundleError::Corrupt(
                "there is data after the end of the tar archive".into(),
            ));
        }
        if padding > MAX_PADDING {
            return Err(BundleError::Corrupt(format!(
                "more than {MAX_PADDING} bytes of padding follow the end of the tar archive"
            )));
        }
    }
    if !rest.inner.into_inner().is_empty() {
        return Err(BundleError::Corrupt(
            "data follows the gzip stream (a second gzip member or garbage); a bundle is one gzip member".into(),
        ));
    }
    Ok(())
}

/// Deepest nesting a bundle may have (path components). Deeper trees are
/// no skill's and cost every reader time and stack.
pub const MAX_DEPTH: usize = 64;

/// Code points HFS+ ignores when it compares names (git's `protectHFS`
/// list): a name holding them is the same file as the name without them.
fn hfs_ignored(c: char) -> bool {
    matches!(c, '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// The form one path component shares with every spelling a
/// case-insensitive, normalizing file system (APFS, HFS+, NTFS, ext4 with
/// casefold) stores as the same name: HFS+-ignored code points dropped,
/// trailing dots and spaces dropped (Windows), then canonical caseless
/// matching (NFD, full case folding, NFD).
fn fold_component(name: &str) -> String {
    use caseless::Caseless;
    use unicode_normalization::UnicodeNormalization;
    let kept: String = name.chars().filter(|c| !hfs_ignored(*c)).collect();
    let trimmed = kept.trim_end_matches(['.', ' ']);
    let base = if trimmed.is_empty() {
        kept.as_str()
    } else {
        trimmed
    };
    base.chars().nfd().default_case_fold().nfd().collect()
}

/// The form two paths share when a case-insensitive, normalizing file
/// system would store them as one (each component folded as the archive
/// rules say: HFS+-ignored code points and trailing dots and spaces dropped,
/// then canonical caseless matching).
pub fn fold_key(path: &str) -> String {
    path.split('/')
        .map(fold_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// True for a component that is, or on some client's file system is, a git
/// repository's `.git` (`.GIT`, `.git.`, `.g\u{200c}it`, NTFS's `git~1`).
pub fn is_git_dir_name(name: &str) -> bool {
    let folded = fold_component(name);
    folded == ".git" || folded == "git~1"
}

/// The paths of an archive as a tree of folded components, so every check
/// that compares spellings costs one lookup per component.
struct FoldTree<'a> {
    /// (parent node, folded component) → node.
    children: HashMap<(usize, String), usize>,
    /// Each node's exact path (node 0 is the root, "").
    spelled: Vec<String>,
    /// Nodes that are symlinks in the archive.
    links: HashSet<usize>,
    /// Folded form of each distinct component.
    folds: HashMap<&'a str, String>,
}

impl<'a> FoldTree<'a> {
    fn fold(&mut self, part: &'a str) -> String {
        self.folds
            .entry(part)
            .or_insert_with(|| fold_component(part))
            .clone()
    }

    /// The node of `part` below `parent`, if the archive has it.
    fn child(&mut self, parent: usize, part: &'a str) -> Option<usize> {
        let key = (parent, self.fold(part));
        self.children.get(&key).copied()
    }

    /// Builds the tree; two spellings of one node are a collision: on a
    /// case-insensitive file system they are one file, so an extractor
    /// would write one through the other, and the link checks, which compare
    /// exact strings, would be sound only where the bundle is checked
    /// (`a/b/L -> ../..` beside `a/b/l/E`, `é` composed and decomposed).
    fn build(archive: &'a Archive) -> Result<FoldTree<'a>, BundleError> {
        let mut tree = FoldTree {
            children: HashMap::new(),
            spelled: vec![String::new()],
            links: HashSet::new(),
            folds: HashMap::new(),
        };
        let mut leaves: HashMap<usize, &str> = HashMap::new();
        let mut below: Vec<(usize, &str)> = Vec::new();
        for entry in archive.entries.values() {
            let mut node = 0;
            for (i, part) in entry.path.split('/').enumerate() {
                if i > 0 {
                    below.push((node, &entry.path));
                }
                let key = (node, tree.fold(part));
                let exact = match tree.spelled[node].as_str() {
                    "" => part.to_string(),
                    parent => format!("{parent}/{part}"),
                };
                node = match tree.children.get(&key) {
                    Some(&id) if tree.spelled[id] != exact => {
                        return Err(BundleError::FoldedCollision {
                            path: exact,
                            other: tree.spelled[id].clone(),
                        })
                    }
                    Some(&id) => id,
                    None => {
                        let id = tree.spelled.len();
                        tree.spelled.push(exact);
                        tree.children.insert(key, id);
                        id
                    }
                };
            }
            if matches!(entry.kind, EntryKind::Symlink(_)) {
                tree.links.insert(node);
            }
            // Links have their own rule (no path runs through one).
            if matches!(entry.kind, EntryKind::File | EntryKind::Hardlink(_)) {
                leaves.insert(node, &entry.path);
            }
        }
        // A file (or link) that other paths lie below (`a` and `a/b`): no
        // file system can hold both, so the bundle would install
        // differently with every tool, or not at all.
        for (node, path) in below {
            if let Some(file) = leaves.get(&node) {
                return Err(BundleError::FileHoldsPaths {
                    path: path.to_string(),
                    file: file.to_string(),
                });
            }
        }
        Ok(tree)
    }
}

/// Refuses paths that collide when folded (see [`FoldTree::build`]), paths
/// that run through a symlink in the archive, and symlinks whose targets
/// do: each link is checked lexically from its own location, which is sound
/// only when no directory on the way is itself a link (an extractor would
/// follow it, e.g. `a/b -> ..` then `a/b/c -> ..`). Links are compared by
/// folded form: a target spelled `B/c` runs through the link `b` on a
/// case-insensitive file system.
fn check_no_folded_collisions_or_paths_through_links(archive: &Archive) -> Result<(), BundleError> {
    let mut tree = FoldTree::build(archive)?;
    if tree.links.is_empty() {
        return Ok(());
    }
    for entry in archive.entries.values() {
        let parts: Vec<&str> = entry.path.split('/').collect();
        let mut node = 0;
        for part in &parts[..parts.len() - 1] {
            node = tree.child(node, part).expect("every prefix is in the tree");
            if tree.links.contains(&node) {
                return Err(BundleError::ThroughSymlink {
                    path: entry.path.clone(),
                    link: tree.spelled[node].clone(),
                });
            }
        }
        let EntryKind::Symlink(target) = &entry.kind else {
            continue;
        };
        // Walk the target from the link's directory; a step outside the
        // tree (a name the archive lacks) can hold no link below it.
        let mut dir: Vec<Option<usize>> = vec![Some(0)];
        dir.extend(
            parts[..parts.len() - 1]
                .iter()
                .scan(0usize, |n, p| {
                    *n = tree.child(*n, p).unwrap_or(usize::MAX);
                    Some(*n)
                })
                .map(|n| (n != usize::MAX).then_some(n)),
        );
        let steps: Vec<&str> = target
            .split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .collect();
        for (i, step) in steps.iter().enumerate() {
            if *step == ".." {
                dir.pop();
                continue;
            }
            let here = dir.last().copied().flatten();
            let next = here.and_then(|n| tree.child(n, step));
            dir.push(next);
            if i + 1 < steps.len() {
                if let Some(n) = next.filter(|n| tree.links.contains(n)) {
                    return Err(BundleError::ThroughSymlink {
                        path: format!("{} -> {target}", entry.path),
                        link: tree.spelled[n].clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Turns an archive path into a safe relative path: strips `./` and empty
/// components, refuses absolute paths, `..`, backslashes and control characters.
pub fn normalize_path(raw: &str) -> Result<String, BundleError> {
    let unsafe_path = |reason| BundleError::UnsafePath {
        path: raw.to_string(),
        reason,
    };
    if raw.starts_with('/') {
        return Err(unsafe_path("absolute paths are not allowed"));
    }
    if raw.contains('\\') {
        return Err(unsafe_path("backslashes are not allowed in paths"));
    }
    if raw.chars().any(|c| c.is_control()) {
        return Err(unsafe_path("control characters are not allowed in paths"));
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(unsafe_path("`..` is not allowed in paths")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>, path: &str) -> Result<String, BundleError> {
    let raw = entry
        .link_name_bytes()
        .ok_or_else(|| BundleError::Corrupt(format!("link `{path}` has no target")))?;
    std::str::from_utf8(&raw)
        .map(str::to_string)
        .map_err(|_| BundleError::NonUtf8Path {
            lossy: String::from_utf8_lossy(&raw).into_owned(),
        })
}

/// A symlink's target, resolved from the link's own directory, must stay inside.
fn check_symlink(path: &str, target: &str) -> Result<(), BundleError> {
    let escapes = || BundleError::LinkEscapes {
        path: path.to_string(),
        target: target.to_string(),
    };
    if target.starts_with('/') || target.is_empty() || target.contains('\\') {
        return Err(escapes());
    }
    let mut depth: Vec<&str> = path.split('/').collect();
    depth.pop(); // the link's own name
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return Err(escapes());
                }
            }
            p => depth.push(p),
        }
    }
    Ok(())
}

fn entry_kind_name(t: tar::EntryType) -> &'static str {
    match t {
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}

fn corrupt(e: &io::Error) -> BundleError {
    BundleError::Corrupt(e.to_string())
}

fn read_error(e: &io::Error, limits: &ArchiveLimits) -> BundleError {
    if e.get_ref()
        .is_some_and(|inner| inner.is::<BudgetExceeded>())
    {
        BundleError::UnpackedTooLarge {
            limit: limits.max_unpacked,
        }
    } else {
        corrupt(e)
    }
}

#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unpacked size limit exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

/// A reader that fails once more than `remaining` bytes come out of the
/// decompressor: the gzip-bomb guard.
struct Budget<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.exceeded {
            return Err(io::Error::other(BudgetExceeded));
        }
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            self.exceeded = true;
            return Err(io::Error::other(BudgetExceeded));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
