//! `skillreg export-marketplace DIR`: the Claude Code marketplace as a
//! directory a team can commit to its own git server, with relative plugin
//! sources and every plugin unpacked:
//!
//! ```text
//! DIR/.claude-plugin/marketplace.json
//! DIR/plugins/<name>/…            each listed plugin (a skill as a one-skill plugin)
//! ```
//!
//! The plugins come from the same zips the daemon's marketplace serves.
//! Only `.claude-plugin/marketplace.json` and `plugins/` are ever written
//! (a `.git` or README beside them is left alone); `plugins/` is built in a
//! fresh folder and swapped in by rename, so a reader sees the old tree or
//! the new one.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::feeds::{FeedView, Feeds};
use super::RegistryError;
use crate::blobs::{BlobStore, Sha256Digest};
use crate::config::Config;
use crate::feeds::marketplace;
use crate::fsutil;
use crate::store::Store;

/// What an export wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MarketplaceExport {
    /// Plugins unpacked.
    pub plugins: usize,
    /// Files written below `plugins/`.
    pub files: usize,
}

/// Writes the marketplace of the registry in `config.data_dir` to `out`.
/// Safe while the daemon runs. `out` must be empty, absent, or an earlier
/// export (it holds `.claude-plugin/marketplace.json`).
pub fn export_marketplace(config: &Config, out: &Path) -> Result<MarketplaceExport, RegistryError> {
    let data_dir = &config.data_dir;
    if !data_dir.join(crate::store::DB_FILE).exists() {
        return Err(RegistryError::BadRequest(format!(
            "{} holds no skillreg database; pass the daemon's --data directory",
            data_dir.display()
        )));
    }
    check_target(out)?;
    let store = Store::open(data_dir)?;
    let blobs = BlobStore::attach(data_dir)?;
    let mut feeds = Feeds::default();
    let view = FeedView::default();
    for package in store.packages()? {
        feeds.package_changed(&view, &store, &blobs, &package, &config.limits.archive())?;
    }
    std::fs::create_dir_all(out)?;
    let staging = out.join(format!(".plugins.new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir(&staging)?;
    let unpacked = unpack_all(config, &feeds, &blobs, &staging);
    let summary = match unpacked {
        Ok(summary) => summary,
        Err(e) => {
            // Nothing half-written is left to make the next run refuse `out`.
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    fsutil::sync_dir(&staging)?;
    swap_in(out, &staging)?;
    let catalog = marketplace::render_directory(&config.feeds, feeds.items());
    let manifest_dir = out.join(".claude-plugin");
    match std::fs::symlink_metadata(&manifest_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(RegistryError::BadRequest(format!(
                "{} is not a folder (a link or a file); remove it and export again",
                manifest_dir.display()
            )))
        }
        Err(_) => {
            std::fs::create_dir(&manifest_dir)?;
            fsutil::sync_dir(out)?;
        }
    }
    fsutil::write_durable(&manifest_dir.join("marketplace.json"), &catalog, 0o644)?;
    Ok(summary)
}

/// Unpacks every listed plugin's zip into `staging/<name>/`.
fn unpack_all(
    config: &Config,
    feeds: &Feeds,
    blobs: &BlobStore,
    staging: &Path,
) -> Result<MarketplaceExport, RegistryError> {
    let mut summary = MarketplaceExport::default();
    for (item, zip) in marketplace::listed(&config.feeds, feeds.items()) {
        let digest = Sha256Digest::from_hex(&zip.sha256).ok_or_else(|| {
            RegistryError::Io(std::io::Error::other("stored zip digest is not hex"))
        })?;
        let bytes = blobs.read(&digest)?;
        if Sha256Digest::of(&bytes) != digest {
            return Err(RegistryError::Io(std::io::Error::other(format!(
                "blob {digest} in the store does not match its name"
            ))));
        }
        summary.files += unpack(&bytes, &staging.join(&item.name))?;
        summary.plugins += 1;
    }
    Ok(summary)
}

/// Refuses a target that is neither empty nor an earlier export, and one
/// that is a link (the admin names a real folder).
fn check_target(out: &Path) -> Result<(), RegistryError> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    let refuse = |why: &str| {
        Err(RegistryError::BadRequest(format!(
            "{} {why}; name an empty folder or an earlier export-marketplace",
            out.display()
        )))
    };
    if !meta.is_dir() {
        return refuse("is not a folder");
    }
    let manifest_dir = out.join(".claude-plugin");
    if let Ok(meta) = std::fs::symlink_metadata(&manifest_dir) {
        if !meta.is_dir() {
            return Err(RegistryError::BadRequest(format!(
                "{} is not a folder (a link or a file); remove it and export again",
                manifest_dir.display()
            )));
        }
    }
    let earlier = out.join(".claude-plugin/marketplace.json").is_file();
    let empty = std::fs::read_dir(out)?
        .flatten()
        .all(|e| e.file_name() == ".git");
    if !earlier && !empty {
        return refuse("holds other files");
    }
    Ok(())
}

/// Replaces `out/plugins` with `staging` by renames.
fn swap_in(out: &Path, staging: &Path) -> Result<(), RegistryError> {
    let target = out.join("plugins");
    let old: Option<PathBuf> = match std::fs::symlink_metadata(&target) {
        Ok(_) => {
            let old = out.join(format!(".plugins.old-{}", std::process::id()));
            std::fs::rename(&target, &old)?;
            Some(old)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    std::fs::rename(staging, &target)?;
    fsutil::sync_dir(out)?;
    if let Some(old) = old {
        std::fs::remove_dir_all(old)?;
    }
    Ok(())
}

/// Unpacks one of the feeds' own zips (regular files only, paths checked
/// again) into `dir`; returns the number of files.
fn unpack(zip_bytes: &[u8], dir: &Path) -> Result<usize, RegistryError> {
    let bad = |e: zip::result::ZipError| {
        RegistryError::Io(std::io::Error::other(format!(
            "a stored plugin zip is unreadable: {e}"
        )))
    };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(bad)?;
    std::fs::create_dir_all(dir)?;
    let mut count = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(bad)?;
        let rel = crate::bundle::archive::normalize_path(file.name())?;
        if !file.is_file() || rel.split('/').any(|c| c == ".." || c.is_empty()) {
            continue;
        }
        let target = dir.join(&rel);
        let parent = target.parent().expect("a file path has a parent");
        std::fs::create_dir_all(parent)?;
        let mut content = Vec::with_capacity(file.size() as usize);
        file.read_to_end(&mut content)?;
        let mode = if file.unix_mode().is_some_and(|m| m & 0o111 != 0) {
            0o755
        } else {
            0o644
        };
        fsutil::write_durable(&target, &content, mode)?;
        count += 1;
    }
    Ok(count)
}
