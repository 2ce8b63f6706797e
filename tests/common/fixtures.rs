//! Files on disk: read-only fixtures, and directory trees read or copied.

use std::path::{Path, PathBuf};

/// The read-only fixtures directory: `$SKILLREG_FIXTURES`, else `shared/`
/// beside the repository (as CI lays it out), else `/work/shared`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKILLREG_FIXTURES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/fixtures")
}

/// Every file below `root`, relative path → bytes.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A writable copy of the tree `from` at `to`: directories and regular
/// files, each file `0755` if any exec bit was set and `0644` otherwise
/// (read-only fixtures become writable), and symlinks recreated as the same
/// links, never followed.
pub fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            let exec = entry.metadata().unwrap().permissions().mode() & 0o111 != 0;
            std::fs::copy(&src, &dst).unwrap();
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}
