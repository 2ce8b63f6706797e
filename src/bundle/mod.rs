//! Bundles: the tar.gz (or `.crate`) behind each version.
//!
//! - [`archive`] reads an archive as hostile input, within limits.
//! - [`validate`] checks a bundle against its kind's rules and returns what
//!   the index needs (description, license, dependencies, warnings).
//! - [`pack`] makes a deterministic bundle from a directory or from files
//!   in memory; [`unpack`] reads the files out of an archive (a stored
//!   bundle, or an upstream's zip or tar.gz) as hostile input.
//! - [`skill`] and [`plugin`] hold the manifest rules.

pub mod archive;
pub mod pack;
pub mod plugin;
pub mod skill;
pub mod unpack;

pub use archive::{inspect, Archive, ArchiveLimits, Entry, EntryKind};

use crate::package::{Kind, PackageName};

/// Why a bundle was refused. Every message names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Larger than the compressed limit.
    #[error("the bundle is {size} bytes; the limit is {limit} bytes (limits.max_bundle_bytes)")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not gzip data.
    #[error("the bundle is not a gzip-compressed tar archive")]
    NotGzip,
    /// Unpacks to more than the limit.
    #[error("the bundle unpacks to more than {limit} bytes (limits.max_unpacked_bytes); remove large files or raise the limit")]
    UnpackedTooLarge {
        /// The limit.
        limit: u64,
    },
    /// Too many entries.
    #[error("the bundle has more than {limit} entries (limits.max_entries)")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// Truncated, or headers that lie.
    #[error("the bundle is truncated or corrupt: {0}")]
    Corrupt(String),
    /// A path that could write outside the install directory.
    #[error("unsafe path `{path}` in the bundle: {reason}")]
    UnsafePath {
        /// The path as written in the archive.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A path that is not UTF-8.
    #[error("a path in the bundle is not UTF-8 (`{lossy}`); rename the file")]
    NonUtf8Path {
        /// The path with invalid bytes replaced.
        lossy: String,
    },
    /// A link leaving the bundle root.
    #[error(
        "the link `{path}` points to `{target}`, outside the bundle; links must stay inside it"
    )]
    LinkEscapes {
        /// The link.
        path: String,
        /// Where it points.
        target: String,
    },
    /// A path that runs through a symlink in the same archive.
    #[error("`{path}` lies under `{link}`, which is a symlink in the bundle; an extractor would follow it, so paths may not run through links")]
    ThroughSymlink {
        /// The entry (or link target) that runs through the link.
        path: String,
        /// The symlink.
        link: String,
    },
    /// setuid, setgid or sticky bits.
    #[error(
        "`{path}` has mode {mode:o} with setuid, setgid or sticky bits; bundles may not carry them"
    )]
    SpecialMode {
        /// The entry.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// Devices, FIFOs and other special entries.
    #[error("`{path}` is a {kind}; bundles may hold only files, directories and links")]
    ForbiddenEntry {
        /// The path.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// The same path twice.
    #[error("the path `{0}` appears twice in the bundle")]
    DuplicatePath(String),
    /// A `.git` directory (in any spelling a client's file system reads as one).
    #[error("`{path}` lies in `{name}`, which is (or on macOS or Windows is) a git repository's directory; bundles may not carry one, since git run inside the installed package would obey its configuration")]
    GitDirectory {
        /// The entry.
        path: String,
        /// The component.
        name: String,
    },
    /// Two spellings of one path on a case-insensitive file system.
    #[error("the paths `{path}` and `{other}` differ only in case or Unicode normalization; on macOS, Windows and case-folding Linux file systems they are one file, so rename one")]
    FoldedCollision {
        /// The later spelling.
        path: String,
        /// The spelling seen first.
        other: String,
    },
    /// A path below a file or link of the same bundle.
    #[error("`{path}` lies below `{file}`, which is a file or link in the same bundle; no file system can hold both, so remove one")]
    FileHoldsPaths {
        /// The path below it.
        path: String,
        /// The file or link.
        file: String,
    },
    /// A required file is missing.
    #[error("the bundle has no `{0}`")]
    Missing(String),
    /// A manifest breaks a rule.
    #[error("`{file}` {reason}")]
    Manifest {
        /// The manifest file.
        file: String,
        /// The rule and how to fix it.
        reason: String,
    },
    /// A tree to pack holds something that cannot be packed safely (a
    /// FIFO or device, a path through a link, a name that is not UTF-8).
    #[error("cannot pack: {0}")]
    Source(#[from] crate::safe_fs::SafeFsError),
    /// A generated file cannot be added where the tree already has an entry.
    #[error("cannot add the generated `{generated}`: `{path}` already exists in the tree and is not a plain directory")]
    Occupied {
        /// The entry in the way.
        path: String,
        /// The file that was to be generated.
        generated: String,
    },
    /// Reading a directory to pack failed.
    #[error("cannot pack {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What a valid bundle tells the index.
#[derive(Debug, Default)]
pub struct Validated {
    /// Description from the manifest.
    pub description: Option<String>,
    /// Licence from the manifest.
    pub license: Option<String>,
    /// Keywords from the manifest.
    pub keywords: Vec<String>,
    /// Non-fatal problems.
    pub warnings: Vec<String>,
    /// Dependencies the manifest declares: a skill's `metadata.dependencies`
    /// in `SKILL.md`, a plugin's `dependencies` in `plugin.json`. Always empty
    /// for crates, whose dependencies come from cargo's publish JSON.
    pub dependencies: Vec<Dependency>,
    /// The checked archive.
    pub archive: Archive,
}

/// A dependency declared in a skill or plugin manifest: another skill or
/// plugin, by name, with a version requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package depended on; follows the skill/plugin name rules.
    pub name: String,
    /// A `semver::VersionReq` in canonical form (as `semver` prints it, so
    /// `1.2` becomes `^1.2`); `*` when the manifest gives none.
    pub req: String,
}

/// Checks one declared dependency: `name` must follow the name rules of
/// `kind` and `req` must parse as a `semver::VersionReq` (`None` means any
/// version). `item` is the entry as written, quoted in errors.
fn check_dependency(
    file: &str,
    field: &str,
    kind: Kind,
    item: &str,
    name: &str,
    req: Option<&str>,
) -> Result<Dependency, BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: file.to_string(),
        reason,
    };
    PackageName::parse(kind, name).map_err(|e| {
        bad(format!(
            "has the dependency `{item}` in `{field}` with an invalid name: {e}"
        ))
    })?;
    let req = match req {
        None => semver::VersionReq::STAR,
        Some(r) => semver::VersionReq::parse(r).map_err(|e| {
            bad(format!(
                "has the dependency `{item}` in `{field}` with an invalid version requirement `{r}` ({e}); write a semver requirement such as `^1.2`, `~2.0` or `*`"
            ))
        })?,
    };
    Ok(Dependency {
        name: name.to_string(),
        req: req.to_string(),
    })
}

/// Refuses a dependency list that names a package twice or names `own`.
fn check_dependency_set(
    file: &str,
    field: &str,
    own: &str,
    deps: &[Dependency],
) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::Manifest {
        file: file.to_string(),
        reason,
    };
    let mut seen = std::collections::BTreeSet::new();
    for d in deps {
        let key = crate::package::normalize(&d.name);
        if key == crate::package::normalize(own) {
            return Err(bad(format!(
                "lists `{}` in `{field}`, which is the package itself; a package cannot depend on itself, so remove it",
                d.name
            )));
        }
        if !seen.insert(key) {
            return Err(bad(format!(
                "lists `{}` more than once in `{field}`; keep one entry per dependency",
                d.name
            )));
        }
    }
    Ok(())
}

/// A bundle's own account of what it is, read without trusting anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The kind, from the layout.
    pub kind: Kind,
    /// The name from the manifest.
    pub name: String,
    /// The version from the manifest, when it has one.
    pub version: Option<String>,
}

/// Paths whose contents validation needs.
fn is_manifest_path(path: &str) -> bool {
    if path == "SKILL.md" || path == plugin::PLUGIN_JSON {
        return true;
    }
    let parts: Vec<&str> = path.split('/').collect();
    matches!(parts.as_slice(), ["skills", _, "SKILL.md"])
        || matches!(parts.as_slice(), [_, "Cargo.toml"])
}

/// Checks `bytes` as a bundle of `kind` for `name@version`.
pub fn validate(
    kind: Kind,
    name: &PackageName,
    version: &semver::Version,
    bytes: &[u8],
    limits: &ArchiveLimits,
) -> Result<Validated, BundleError> {
    let archive = inspect(bytes, limits, is_manifest_path)?;
    let mut validated = match kind {
        Kind::Skill => validate_skill(name, version, &archive)?,
        Kind::Plugin => plugin::validate(name, version, &archive)?,
        Kind::Crate => validate_crate(name, version, &archive)?,
    };
    validated.archive = archive;
    Ok(validated)
}

/// Reads the kind, name and version a bundle declares (used by the CLI to
/// publish a packed file).
pub fn read_manifest(bytes: &[u8], limits: &ArchiveLimits) -> Result<Manifest, BundleError> {
    let archive = inspect(bytes, limits, is_manifest_path)?;
    if let Some(json) = archive.file(plugin::PLUGIN_JSON) {
        let m = plugin::parse_manifest(json)?;
        return Ok(Manifest {
            kind: Kind::Plugin,
            name: m.name,
            version: m.version,
        });
    }
    if let Some(text) = archive.file("SKILL.md") {
        let m = skill::parse("SKILL.md", text)?;
        return Ok(Manifest {
            kind: Kind::Skill,
            version: m.version().map(str::to_string),
            name: m.name,
        });
    }
    Err(BundleError::Missing(
        "SKILL.md or .claude-plugin/plugin.json at the archive root (crates are published with `cargo publish`)".into(),
    ))
}

fn validate_skill(
    name: &PackageName,
    version: &semver::Version,
    archive: &Archive,
) -> Result<Validated, BundleError> {
    let text = archive
        .file("SKILL.md")
        .ok_or_else(|| BundleError::Missing("SKILL.md at the archive root".into()))?;
    let manifest = skill::parse("SKILL.md", text)?;
    if manifest.name != name.as_str() {
        return Err(BundleError::Manifest {
            file: "SKILL.md".into(),
            reason: format!(
                "names the skill `{}` but it is published as `{name}`; the names must be equal",
                manifest.name
            ),
        });
    }
    check_declared_version("SKILL.md", "metadata.version", manifest.version(), version)?;
    let dependencies = manifest.dependencies("SKILL.md")?;
    Ok(Validated {
        description: Some(manifest.description),
        license: manifest.license,
        keywords: Vec::new(),
        warnings: manifest.warnings,
        dependencies,
        archive: Archive::default(),
    })
}

/// A version written in a manifest must be the version being published.
fn check_declared_version(
    file: &str,
    field: &str,
    declared: Option<&str>,
    version: &semver::Version,
) -> Result<(), BundleError> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let parsed = crate::package::parse_version(declared).map_err(|e| BundleError::Manifest {
        file: file.into(),
        reason: format!("has an invalid `{field}`: {e}"),
    })?;
    if &parsed != version {
        return Err(BundleError::Manifest {
            file: file.into(),
            reason: format!(
                "declares {field} {declared} but version {version} is being published; make them equal"
            ),
        });
    }
    Ok(())
}

fn validate_crate(
    name: &PackageName,
    version: &semver::Version,
    archive: &Archive,
) -> Result<Validated, BundleError> {
    let root = format!("{name}-{version}");
    let prefix = format!("{root}/");
    if let Some(stray) = archive
        .entries
        .keys()
        .find(|p| **p != root && !p.starts_with(&prefix))
    {
        return Err(BundleError::Manifest {
            file: stray.clone(),
            reason: format!(
                "is outside `{prefix}`; a .crate keeps everything under {{name}}-{{version}}/"
            ),
        });
    }
    let manifest_path = format!("{prefix}Cargo.toml");
    let text = archive
        .file(&manifest_path)
        .ok_or_else(|| BundleError::Missing(manifest_path.clone()))?;
    let bad = |reason: String| BundleError::Manifest {
        file: manifest_path.clone(),
        reason,
    };
    let text = std::str::from_utf8(text).map_err(|_| bad("is not UTF-8".into()))?;
    let toml: toml::Table =
        toml::from_str(text).map_err(|e| bad(format!("is not valid TOML: {e}")))?;
    let package = toml
        .get("package")
        .and_then(|p| p.as_table())
        .ok_or_else(|| bad("has no [package] table".into()))?;
    match package.get("name").and_then(|n| n.as_str()) {
        Some(n) if n == name.as_str() => {}
        Some(n) => {
            return Err(bad(format!(
                "names the crate `{n}` but it is published as `{name}`"
            )))
        }
        None => return Err(bad("has no package.name".into())),
    }
    if let Some(v) = package.get("version").and_then(|v| v.as_str()) {
        check_declared_version(&manifest_path, "package.version", Some(v), version)?;
    }
    Ok(Validated::default())
}

#[cfg(test)]
mod tests;
