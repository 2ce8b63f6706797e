//! The catalog: every approved version of every package, with the facts the
//! JSON metadata API and the ClawHub routes show (`index-spec/clawhub.md`),
//! kept in memory so those routes run no SQL on the install path.
//!
//! Like the feeds, it is brought up to date under the writer lock on every
//! change to a package, and readers see a snapshot swapped in when the next
//! snapshot is signed: a read never waits for a write. Pending and rejected
//! versions are never in it, so a package waiting for review is, to these
//! routes, a name that does not exist.
//!
//! Every approved version of a skill is also rendered once as a zip with
//! `SKILL.md` at its root (the shape ClawHub unpacks), kept as a blob like
//! the feeds' zips, so any version downloads without rendering on a read.

mod query;

pub(super) use query::tags;
pub use query::{CatalogHit, CatalogPage, CatalogQuery, Sort, TagCount};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::feeds::{latest, zip_of};
use super::{Registry, RegistryError};
use crate::blobs::{BlobStore, Sha256Digest};
use crate::bundle::{ArchiveLimits, EntryKind};
use crate::feeds::{archive, StoredZip};
use crate::index::{IndexDep, IndexEntry};
use crate::package::{normalize, Kind};
use crate::store::{PackageRow, PublicVersion, SearchFilter, SearchText, Store};

/// The largest file `GET …/file` shows: text for a reader, not a download
/// (the most a bundle check keeps of one file).
pub const MAX_FILE_BYTES: u64 = crate::bundle::archive::MAX_KEPT_FILE;

/// Why a catalog read failed. The detail names the package as asked, and
/// a package waiting for review gets exactly the answer a missing one does.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No approved version of this name (any spelling).
    #[error("`{0}` was not found in this registry")]
    NotFound(String),
    /// The package has no approved version of that number.
    #[error("`{name}` has no version `{version}` in this registry")]
    NoVersion {
        /// The package.
        name: String,
        /// The version asked for.
        version: String,
    },
    /// No version was named and every approved one is yanked.
    #[error("every version of `{0}` is yanked; name one to install it anyway (`clawhub install {0} --version V`)")]
    AllYanked(String),
    /// ClawHub installs skills; this package is another kind.
    #[error("`{name}` is a {kind}, and ClawHub installs skills only (install a plugin with `claude plugin install`, a crate with cargo)")]
    NotASkill {
        /// The package.
        name: String,
        /// Its kind.
        kind: Kind,
    },
    /// The version's bundle cannot take the zip shape ClawHub unpacks.
    #[error("`{name}@{version}` cannot be served as a skill zip: {reason}")]
    NotServable {
        /// The package.
        name: String,
        /// The version.
        version: String,
        /// Why, as the feeds record it.
        reason: String,
    },
    /// The version's zip could not be rendered (storage trouble on the
    /// server); it is retried.
    #[error("`{name}@{version}` cannot be served right now; retry later (an admin sees why in `skillreg admin feeds`)")]
    NotRenderedYet {
        /// The package.
        name: String,
        /// The version.
        version: String,
    },
    /// The version has no regular file at that path.
    #[error("`{name}@{version}` has no file `{path}`")]
    NoFile {
        /// The package.
        name: String,
        /// The version.
        version: String,
        /// The path asked for.
        path: String,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("`{path}` in `{name}@{version}` is {size} bytes; files are shown up to {MAX_FILE_BYTES} bytes (download the version to read it)")]
    FileTooLarge {
        /// The package.
        name: String,
        /// The version.
        version: String,
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The file is not UTF-8 text (or holds NUL bytes).
    #[error("`{path}` in `{name}@{version}` is not UTF-8 text; only text files are shown (download the version to read it)")]
    NotText {
        /// The package.
        name: String,
        /// The version.
        version: String,
        /// The file.
        path: String,
    },
    /// The store or the blobs failed.
    #[error("{0}")]
    Registry(#[from] RegistryError),
}

/// One approved version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogVersion {
    /// Row id (downloads are counted against it).
    pub id: i64,
    /// Exact version.
    pub version: String,
    /// Unix seconds of the publish (or import).
    pub published_at: i64,
    /// Yanked now.
    pub yanked: bool,
    /// Hex sha256 of the bundle.
    pub cksum: String,
    /// Bundle size in bytes.
    pub size: u64,
    /// One-line description.
    pub description: String,
    /// Keywords, in publish order.
    pub keywords: Vec<String>,
    /// Licence expression, as in the index line.
    pub license: Option<String>,
    /// Dependencies, as in the index line.
    pub dependencies: Vec<IndexDep>,
    /// The `[[sources]]` name of a mirrored version.
    pub source: Option<String>,
    /// Who published it: a login, or `mirror:SOURCE` for a mirrored version.
    pub published_by: String,
    /// The publisher's signature the registry verified at publish: the
    /// publisher's login and key id.
    pub signed_by: Option<(String, String)>,
    /// The admin who approved a reviewed version, and their note.
    pub approved_by: Option<(String, String)>,
    /// For a skill: its zip with `SKILL.md` at the root, or why there is
    /// none. `None` for other kinds.
    pub skill_zip: Option<Result<StoredZip, String>>,
}

/// A package with at least one approved version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogPackage {
    /// Name as first published.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Its approved versions, highest SemVer first; never empty.
    pub versions: Vec<CatalogVersion>,
    /// Which of them is the latest: the highest non-yanked release, else
    /// the highest non-yanked pre-release; `None` when all are yanked.
    pub latest: Option<usize>,
}

impl CatalogPackage {
    /// The latest version, when one is not yanked.
    pub fn latest(&self) -> Option<&CatalogVersion> {
        self.latest.map(|i| &self.versions[i])
    }

    /// The version whose description and keywords stand for the package:
    /// the latest, else the highest.
    pub fn current(&self) -> &CatalogVersion {
        self.latest().unwrap_or(&self.versions[0])
    }

    /// The approved version `version`, exactly as written.
    pub fn version(&self, version: &str) -> Option<&CatalogVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// When its first approved version was published (Unix seconds).
    pub fn created_at(&self) -> i64 {
        self.versions
            .iter()
            .map(|v| v.published_at)
            .min()
            .unwrap_or(0)
    }

    /// When its newest approved version was published (Unix seconds). Only
    /// approved versions count, so a pending one leaves no trace here.
    pub fn updated_at(&self) -> i64 {
        self.versions
            .iter()
            .map(|v| v.published_at)
            .max()
            .unwrap_or(0)
    }

    /// All downloads of all its versions, given each version's count.
    pub fn downloads(&self, of: impl Fn(i64) -> u64) -> u64 {
        self.versions.iter().map(|v| of(v.id)).sum()
    }
}

/// A file of a stored version, as its review record lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct CatalogFile {
    /// Normalized relative path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256 of the content.
    pub sha256: String,
}

/// A skill zip ready to stream.
#[derive(Clone, Debug)]
pub struct SkillZip {
    /// Where its blob is.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Hex sha256 of its bytes.
    pub sha256: String,
    /// The version it was rendered from (downloads count against it).
    pub version_id: i64,
    /// That version.
    pub version: String,
}

/// What readers see: the packages by normalized name.
pub type Catalogue = BTreeMap<String, Arc<CatalogPackage>>;

/// The catalog's state, under the writer lock.
#[derive(Default)]
pub(super) struct Catalog {
    packages: Catalogue,
    dirty: bool,
}

/// The snapshot readers take, swapped whole.
#[derive(Default)]
pub(super) struct CatalogView {
    current: RwLock<Arc<Catalogue>>,
}

impl Catalog {
    /// Brings one package up to date with the store; renders the skill zip
    /// of any approved version that has none yet.
    pub(super) fn package_changed(
        &mut self,
        store: &Store,
        blobs: &BlobStore,
        package: &PackageRow,
        limits: &ArchiveLimits,
    ) -> Result<(), RegistryError> {
        let key = normalize(&package.name);
        let rows = store.public_versions(package.id)?;
        let latest_id = latest(&rows).map(|v| v.id);
        let mut versions = Vec::with_capacity(rows.len());
        for row in &rows {
            versions.push(catalog_version(store, blobs, package, row, limits)?);
        }
        versions.sort_by_cached_key(|v| std::cmp::Reverse(semver_key(&v.version)));
        let new = (!versions.is_empty()).then(|| CatalogPackage {
            name: package.name.clone(),
            kind: package.kind,
            latest: versions.iter().position(|v| Some(v.id) == latest_id),
            versions,
        });
        match new {
            Some(new) if self.packages.get(&key).map(|p| &**p) != Some(&new) => {
                self.packages.insert(key, Arc::new(new));
                self.dirty = true;
            }
            None if self.packages.remove(&key).is_some() => self.dirty = true,
            _ => {}
        }
        Ok(())
    }

    /// The package `name` (any spelling), if it has an approved version.
    pub(super) fn get(&self, name: &str) -> Option<&Arc<CatalogPackage>> {
        self.packages.get(&normalize(name))
    }

    /// Every package with an approved version, by normalized name.
    pub(super) fn packages(&self) -> &Catalogue {
        &self.packages
    }

    /// Shows readers the packages as they are now, after changes.
    pub(super) fn publish(&mut self, view: &CatalogView) {
        if std::mem::take(&mut self.dirty) {
            *view.current.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(self.packages.clone());
        }
    }
}

/// Orders versions by SemVer; one that does not parse sorts lowest.
fn semver_key(version: &str) -> Option<semver::Version> {
    semver::Version::parse(version).ok()
}

/// One approved version's facts, its skill zip rendered if it has none.
/// A zip that cannot be rendered now (an unreadable blob) is logged and
/// recorded as a reason, so one bad old version does not stop the daemon.
fn catalog_version(
    store: &Store,
    blobs: &BlobStore,
    package: &PackageRow,
    row: &PublicVersion,
    limits: &ArchiveLimits,
) -> Result<CatalogVersion, RegistryError> {
    let entry: Option<IndexEntry> = serde_json::from_str(&row.entry_json).ok();
    let skill_zip = match package.kind {
        Kind::Skill => Some(
            match zip_of(store, blobs, package, row, archive::Shape::Skill, limits) {
                Ok(zip) => zip,
                Err(RegistryError::Io(e)) => {
                    tracing::error!(package = %package.name, version = %row.version, error = %e, "rendering the skill zip failed");
                    Err(format!("its zip could not be rendered ({e}); an operator should check the daemon log"))
                }
                Err(e) => return Err(e),
            },
        ),
        _ => None,
    };
    Ok(CatalogVersion {
        id: row.id,
        version: row.version.clone(),
        published_at: row.published_at,
        yanked: row.yanked,
        cksum: row.cksum.clone(),
        size: row.size,
        description: row.description.clone(),
        keywords: row.keywords.clone(),
        license: entry.as_ref().and_then(|e| e.license.clone()),
        dependencies: entry.as_ref().map(|e| e.deps.clone()).unwrap_or_default(),
        source: row.source.clone(),
        published_by: row.published_by.clone(),
        signed_by: entry
            .as_ref()
            .and_then(|e| e.provenance.as_ref())
            .map(|p| (p.publisher.clone(), p.keyid.clone())),
        approved_by: row
            .decided_by
            .clone()
            .map(|by| (by, row.decision_note.clone().unwrap_or_default())),
        skill_zip,
    })
}

/// The regular files of an approved version, from its stored file list.
pub(super) fn stored_files(
    store: &Store,
    version: &CatalogVersion,
) -> Result<Vec<CatalogFile>, RegistryError> {
    #[derive(serde::Deserialize)]
    struct Stored {
        #[serde(flatten)]
        file: CatalogFile,
        kind: serde_json::Value,
    }
    let json = store.version_files(version.id)?.unwrap_or_default();
    let stored: Vec<Stored> = serde_json::from_str(&json).unwrap_or_default();
    Ok(stored
        .into_iter()
        .filter(|s| s.kind == "file")
        .map(|s| s.file)
        .collect())
}

impl Registry {
    /// Every package with an approved version, by normalized name: a
    /// snapshot, consistent across the package it is read for.
    pub fn catalog(&self) -> Arc<Catalogue> {
        self.catalog_view
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The package `name` (any spelling), if it has an approved version.
    pub fn catalog_package(&self, name: &str) -> Result<Arc<CatalogPackage>, CatalogError> {
        self.catalog()
            .get(&normalize(name))
            .cloned()
            .ok_or_else(|| CatalogError::NotFound(name.to_string()))
    }

    /// Every version's downloads so far (version id → count), flushed or not.
    pub fn download_totals(&self) -> HashMap<i64, u64> {
        self.downloads.totals()
    }

    /// Lists, searches and sorts the catalog, one page at a time. Words
    /// are looked up in the store's search index (no scan of the catalog);
    /// a text longer than a search needs is a bad request.
    pub fn catalog_query(&self, query: &CatalogQuery) -> Result<CatalogPage, RegistryError> {
        let text =
            SearchText::parse(&query.text).map_err(|e| RegistryError::BadRequest(e.to_string()))?;
        let catalogue = self.catalog();
        if query.exact || text.is_blank() {
            return Ok(query.run(&catalogue, &self.download_totals()));
        }
        let prefix = normalize(query.prefix.trim());
        let filter = SearchFilter {
            kinds: &query.kinds,
            prefix: &prefix,
            source: query.source.as_deref(),
        };
        // The index ranks by relevance itself and pages in SQL; any other
        // order needs every match.
        let (offset, limit) = match query.sort {
            Sort::Relevance => (query.offset, query.limit),
            _ => (0, usize::MAX),
        };
        let found = self
            .reader()
            .search_packages(&text, &filter, offset, limit)?;
        let versions = found
            .rows
            .iter()
            .filter_map(|row| catalogue.get(&row.normalized))
            .flat_map(|p| p.versions.iter().map(|v| v.id));
        let downloads = self.downloads.totals_of(versions);
        Ok(query.run_found(&catalogue, &downloads, &found, &text))
    }

    /// Keywords of the packages (of `kind`, if given) with how many use each.
    pub fn catalog_tags(&self, kind: Option<Kind>) -> Vec<TagCount> {
        query::tags(&self.catalog(), kind)
    }

    /// The skill zip of `name` at `version` (the latest when `None`). The
    /// caller counts the download once it serves the bytes.
    pub fn skill_zip(&self, name: &str, version: Option<&str>) -> Result<SkillZip, CatalogError> {
        let package = self.catalog_package(name)?;
        let chosen = match version {
            Some(v) => package.version(v).ok_or_else(|| CatalogError::NoVersion {
                name: name.to_string(),
                version: v.to_string(),
            })?,
            None => package
                .latest()
                .ok_or_else(|| CatalogError::AllYanked(package.name.clone()))?,
        };
        let zip = match &chosen.skill_zip {
            None => {
                return Err(CatalogError::NotASkill {
                    name: package.name.clone(),
                    kind: package.kind,
                })
            }
            Some(Err(reason)) if reason.starts_with(super::feeds::RENDER_FAILED) => {
                return Err(CatalogError::NotRenderedYet {
                    name: package.name.clone(),
                    version: chosen.version.clone(),
                })
            }
            Some(Err(reason)) => {
                return Err(CatalogError::NotServable {
                    name: package.name.clone(),
                    version: chosen.version.clone(),
                    reason: reason.clone(),
                })
            }
            Some(Ok(zip)) => zip,
        };
        let digest = Sha256Digest::from_hex(&zip.sha256).ok_or_else(|| {
            RegistryError::Io(std::io::Error::other("stored zip digest is not hex"))
        })?;
        Ok(SkillZip {
            path: self.blobs.local_path(&digest).map_err(|e| {
                tracing::error!(zip = %digest, error = %e, "a skill zip cannot be read");
                CatalogError::NotRenderedYet {
                    name: package.name.clone(),
                    version: chosen.version.clone(),
                }
            })?,
            size: zip.size,
            sha256: zip.sha256.clone(),
            version_id: chosen.id,
            version: chosen.version.clone(),
        })
    }

    /// The regular files of an approved version (from its stored file
    /// list: one row read, for `inspect --files`).
    pub fn version_files(
        &self,
        version: &CatalogVersion,
    ) -> Result<Vec<CatalogFile>, CatalogError> {
        Ok(stored_files(&self.reader(), version)?)
    }

    /// The text of one file of an approved version, read from its stored
    /// bundle, checked again as hostile input. Only a path that is a
    /// regular file of the bundle, as its checked entries name it, is read:
    /// no other spelling of a path reaches the archive.
    pub fn version_file(
        &self,
        package: &CatalogPackage,
        version: &CatalogVersion,
        path: &str,
    ) -> Result<String, CatalogError> {
        self.bundle_file(&package.name, &version.version, &version.cksum, path)
    }

    /// The text of the file `path` of the stored bundle `cksum` (of
    /// `name@version`, for the errors), whatever the version's status: the
    /// callers decide who may read it.
    pub(super) fn bundle_file(
        &self,
        name: &str,
        version: &str,
        cksum: &str,
        path: &str,
    ) -> Result<String, CatalogError> {
        let no_file = || CatalogError::NoFile {
            name: name.to_string(),
            version: version.to_string(),
            path: path.to_string(),
        };
        let digest = Sha256Digest::from_hex(cksum).ok_or_else(|| {
            RegistryError::Io(std::io::Error::other("stored checksum is not hex"))
        })?;
        let bundle = self.blobs.read(&digest).map_err(RegistryError::from)?;
        // Content is kept only for this path, and only up to the limit.
        let checked = crate::bundle::inspect(&bundle, &self.archive_limits(), |p| p == path)
            .map_err(|e| RegistryError::Io(std::io::Error::other(e.to_string())))?;
        let entry = checked
            .entries
            .get(path)
            .filter(|e| e.kind == EntryKind::File)
            .ok_or_else(no_file)?;
        if entry.size > MAX_FILE_BYTES {
            return Err(CatalogError::FileTooLarge {
                name: name.to_string(),
                version: version.to_string(),
                path: path.to_string(),
                size: entry.size,
            });
        }
        let bytes = checked.file(path).ok_or_else(no_file)?;
        match std::str::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => Ok(text.to_string()),
            _ => Err(CatalogError::NotText {
                name: name.to_string(),
                version: version.to_string(),
                path: path.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
