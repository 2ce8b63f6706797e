//! `skillreg fsck --repair`: with the daemon stopped, takes out of service
//! what cannot be served as published and re-renders what the database can
//! rebuild. Nothing is deleted:
//!
//! - a damaged blob is moved to `DATA/quarantine/<sha256>.<unix time>`
//!   (a rename in the same file system, both directories fsynced), and the
//!   versions naming it are quarantined: not in the index, the catalog or
//!   the feeds, their download answers 410 naming fsck;
//! - a missing blob quarantines its versions the same way;
//! - a version whose stored index line does not name its blob is
//!   quarantined;
//! - a quarantined version whose blob is back and whole (an admin restored
//!   it into `DATA/blobs/sha256/`) is served again;
//! - a static tree (`--export`) is written again from the database by the
//!   export's own renderer (`registry::export_static`), after its damaged
//!   blobs are moved to `DATA/quarantine/<sha256>.<unix time>.export`.
//!
//! The daemon renders its index, statements, snapshot and timestamp from
//! the database at every start, so starting it again is its repair. Every
//! quarantine and release is in the audit log with actor `fsck`.

use std::path::{Path, PathBuf};

use super::{check_with, signed, FsckError, Options, Report};
use crate::config::Config;
use crate::fsutil::{self, unix_now, DataDirLock};
use crate::safe_fs::Dir;
use crate::store::Store;

/// The audit log's actor for repairs.
const ACTOR: &str = "fsck";

/// What a repair did.
#[derive(Debug, Default)]
pub struct Repaired {
    /// The check before the repair.
    pub before: Report,
    /// Where each damaged blob went.
    pub moved: Vec<(PathBuf, PathBuf)>,
    /// Versions quarantined now (`name@version`).
    pub quarantined: Vec<String>,
    /// Versions served again.
    pub released: Vec<String>,
    /// The static tree written again, if any.
    pub tree: Option<PathBuf>,
    /// The check after the repair.
    pub after: Report,
}

/// Repairs the data directory of `config` (and the tree of `options`).
/// Refuses while a daemon holds the data directory.
pub fn repair(config: &Config, options: &Options) -> Result<Repaired, FsckError> {
    let data = &config.data_dir;
    let _lock = DataDirLock::try_take(data, true)
        .map_err(|source| FsckError::Io {
            what: "lock",
            path: data.join(fsutil::DATA_DIR_LOCK),
            source,
        })?
        .ok_or_else(|| FsckError::DaemonRunning { data: data.clone() })?;
    let store_err = |source| FsckError::Store {
        data: data.clone(),
        source,
    };
    // Opening for writing migrates an older schema (the quarantine columns).
    let mut store = Store::open(data).map_err(store_err)?;
    let before = check_with(data, options)?;
    let mut done = Repaired::default();
    let quarantine = data.join("quarantine");
    let versions = store.version_checks().map_err(store_err)?;
    let live_ids = |sha: &str| -> Vec<i64> {
        versions
            .iter()
            .filter(|v| v.quarantined.is_none() && v.cksum.eq_ignore_ascii_case(sha))
            .map(|v| v.id)
            .collect()
    };
    for d in &before.damaged {
        let sha = file_name(&d.path);
        let to = move_aside(&d.path, &quarantine, &sha, "")?;
        let reason = format!(
            "its blob was damaged ({}); moved to {}",
            d.reason,
            to.display()
        );
        done.quarantined.extend(
            store
                .quarantine_versions(&live_ids(&sha), &reason, ACTOR)
                .map_err(store_err)?,
        );
        store
            .forget_feed_zips(&sha, &reason, ACTOR)
            .map_err(store_err)?;
        done.moved.push((d.path.clone(), to));
    }
    for sha in before.missing.keys() {
        let reason = "its blob is missing from DATA/blobs";
        done.quarantined.extend(
            store
                .quarantine_versions(&live_ids(sha), reason, ACTOR)
                .map_err(store_err)?,
        );
        store
            .forget_feed_zips(sha, reason, ACTOR)
            .map_err(store_err)?;
    }
    for (v, problem) in &before.bad_lines {
        let reason = format!("its index line {problem}");
        done.quarantined.extend(
            store
                .quarantine_versions(&[v.id], &reason, ACTOR)
                .map_err(store_err)?,
        );
    }
    release(data, &mut store, &versions, &mut done).map_err(store_err)?;
    if let Some(out) = &options.export {
        if !before.signed_bad.is_empty()
            || !done.quarantined.is_empty()
            || !done.released.is_empty()
        {
            rerender_tree(config, options, out, &before, &quarantine, &mut done)?;
        }
    }
    drop(store);
    done.after = check_with(data, options)?;
    done.before = before;
    Ok(done)
}

/// Serves again each quarantined version whose blob is back and whole and
/// whose index line names it.
fn release(
    data: &Path,
    store: &mut Store,
    versions: &[crate::store::VersionCheck],
    done: &mut Repaired,
) -> Result<(), crate::store::StoreError> {
    let mut ids = Vec::new();
    for v in versions.iter().filter(|v| v.quarantined.is_some()) {
        let whole = super::hash_file(&super::blob_path(data, &v.cksum))
            .is_ok_and(|(sha, _)| sha == v.cksum);
        let mut line = Report::default();
        signed::lines(std::slice::from_ref(v), &mut line);
        if whole && line.bad_lines.is_empty() {
            ids.push(v.id);
        }
    }
    done.released = store.clear_quarantine(&ids, ACTOR)?;
    Ok(())
}

/// Moves the tree's damaged blobs aside and writes the tree again.
fn rerender_tree(
    config: &Config,
    options: &Options,
    out: &Path,
    before: &Report,
    quarantine: &Path,
    done: &mut Repaired,
) -> Result<(), FsckError> {
    let tree_blobs = out.join("blobs");
    for d in &before.signed_bad {
        let path = PathBuf::from(&d.what);
        if d.rebuildable && path.parent() == Some(tree_blobs.as_path()) && path.is_file() {
            let to = move_aside(&path, quarantine, &file_name(&path), ".export")?;
            done.moved.push((path, to));
        }
    }
    let base_url = match &options.base_url {
        Some(url) => url.clone(),
        None => tree_base_url(out).ok_or_else(|| FsckError::Export {
            out: out.to_path_buf(),
            source: crate::registry::RegistryError::BadRequest(
                "its config.json does not say where it is served; pass --base-url".into(),
            ),
        })?,
    };
    crate::registry::export_static(config, out, &base_url).map_err(|source| FsckError::Export {
        out: out.to_path_buf(),
        source,
    })?;
    done.tree = Some(out.to_path_buf());
    Ok(())
}

/// The base URL a tree's `config.json` names (`BASE/blobs/{sha256-checksum}`).
fn tree_base_url(out: &Path) -> Option<String> {
    let bytes = signed::read_tree(out, "config.json").ok()?;
    let config: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let base = config
        .get("dl")?
        .as_str()?
        .strip_suffix("/blobs/{sha256-checksum}")?
        .to_string();
    (base.starts_with("http://") || base.starts_with("https://")).then_some(base)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Renames `path` into `dir` as `<name>.<unix time><suffix>` (never over
/// another file), durably: both directories are fsynced. `dir` is opened
/// beneath its parent and must be a real directory: a link planted there
/// (by whoever can write DATA) would move the file wherever it points.
fn move_aside(path: &Path, dir: &Path, name: &str, suffix: &str) -> Result<PathBuf, FsckError> {
    let unsafe_fs = |what, path: &Path| {
        let path = path.to_path_buf();
        move |e: crate::safe_fs::SafeFsError| FsckError::Io {
            what,
            path,
            source: std::io::Error::other(e.to_string()),
        }
    };
    let quarantine = Dir::create_private(dir, 0o700).map_err(unsafe_fs("create", dir))?;
    let parent = path.parent().unwrap_or(Path::new("."));
    let from = Dir::open(parent).map_err(unsafe_fs("open", parent))?;
    let from_name = file_name(path);
    let now = unix_now();
    let mut to_name = format!("{name}.{now}{suffix}");
    let mut n = 1;
    while quarantine
        .kind(&to_name)
        .map_err(unsafe_fs("inspect", dir))?
        .is_some()
    {
        to_name = format!("{name}.{now}-{n}{suffix}");
        n += 1;
    }
    from.rename_new(&from_name, &quarantine, &to_name)
        .map_err(unsafe_fs("move", path))?;
    quarantine.sync().map_err(unsafe_fs("sync", dir))?;
    from.sync().map_err(unsafe_fs("sync", parent))?;
    Ok(dir.join(to_name))
}
