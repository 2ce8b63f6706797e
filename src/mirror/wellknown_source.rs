//! A `wellknown` source: an Agent Skills discovery index, read as the
//! `skills` CLI reads it. `url` + `.well-known/agent-skills/index.json`
//! first; when that is not there (404), the older layout at `url` +
//! `.well-known/skills/index.json`. The document's `$schema` decides how
//! it is read, as in the CLI: the 0.2.0 schema's entries name an archive
//! or a SKILL.md by `url` (relative to the index file) and `digest`; a
//! document without `$schema` is the 0.1.0 layout, whose entries list
//! `files` fetched from `.well-known/skills/{name}/`. Any other `$schema`
//! refuses the whole index.
//!
//! Nothing is signed: trust is TLS to the upstream, and for 0.2.0 each
//! artifact's sha256 against its entry's `digest` (the 0.1.0 layout has no
//! digest). Every artifact is read as hostile input and packed again as
//! skillreg's bundle ([`super::skill_offer`]); its version is SKILL.md's
//! `metadata.version`, else a `0.0.N` that grows with each content change
//! ([`super::fallback`]). The index is revalidated with its ETag, and an
//! entry whose digest was mirrored before is not downloaded again, so a
//! run with nothing new costs one conditional request.

mod url;

use std::path::Path;

use serde_json::Value;

use super::fallback::FallbackVersions;
use super::progress::Progress;
use super::skill_offer::{self, segment, SkillArchiveError, UpstreamSkill};
use super::upstream_http::{FetchError, UpstreamHttp};
use crate::blobs::Sha256Digest;
use crate::config::SourceConfig;
use crate::package::{Kind, PackageName};
use crate::registry::Registry;
use crate::store::{SyncRun, VersionStatus};

/// The 0.2.0 discovery schema, the only `$schema` read.
pub const SCHEMA_V2: &str = crate::feeds::wellknown::SCHEMA;
/// The index of the current layout, below the source's `url`.
const INDEX_V2: &str = ".well-known/agent-skills/index.json";
/// The folder of the older layout, below the source's `url`.
const LEGACY_DIR: &str = ".well-known/skills";
/// Largest index read.
const MAX_INDEX_BYTES: u64 = 4 * 1024 * 1024;
/// The most entries one index may offer; more refuses the index.
const MAX_ENTRIES: usize = 5_000;
/// The most files one 0.1.0 entry may list.
const MAX_LEGACY_FILES: usize = 1_000;

/// Why a wellknown source's run stopped (an entry that cannot be mirrored
/// is not an error: it is counted and named in the run's detail).
#[derive(Debug, thiserror::Error)]
pub enum WellknownError {
    /// The HTTP client cannot be set up.
    #[error("{0}")]
    Http(FetchError),
    /// The index cannot be fetched.
    #[error("cannot read the Agent Skills index: {0}")]
    Fetch(FetchError),
    /// Neither layout has an index.
    #[error(
        "no Agent Skills index at {current} nor at {legacy} (both 404); check the source's `url`"
    )]
    NoIndex {
        /// The 0.2.0 location.
        current: String,
        /// The 0.1.0 location.
        legacy: String,
    },
    /// The index is not JSON of the right shape.
    #[error("the Agent Skills index at {url} is refused: {reason}")]
    Invalid {
        /// Its URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The index is not JSON.
    #[error("the Agent Skills index at {url} is not JSON: {source}")]
    Json {
        /// Its URL.
        url: String,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// An unknown `$schema`: what its entries mean cannot be known.
    #[error("the Agent Skills index at {url} has the $schema {schema:?}; only {SCHEMA_V2} (or none, the 0.1.0 layout) is read, so the whole index is refused")]
    UnknownSchema {
        /// Its URL.
        url: String,
        /// The schema it names.
        schema: String,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("the Agent Skills index at {url} has {count} entries, more than the {MAX_ENTRIES} one source may offer; the whole index is refused")]
    TooManyEntries {
        /// Its URL.
        url: String,
        /// How many.
        count: usize,
    },
    /// The store failed.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
}

/// Why one entry was not mirrored. [`EntryError::failed`] ones fail the
/// run (the upstream did not deliver what it promised); the rest are
/// skipped with the reason.
#[derive(Debug, thiserror::Error)]
enum EntryError {
    /// The entry breaks the schema.
    #[error("{0}")]
    Invalid(String),
    /// The entry's `url` cannot be fetched.
    #[error("{0}")]
    Url(#[from] url::UrlError),
    /// A download failed.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The bytes are not the ones the index promised.
    #[error("the bytes at {url} have sha256 {actual}, but the index's digest says {expected}: changed or tampered with on the way or upstream; not stored")]
    Digest {
        /// Where they came from.
        url: String,
        /// The entry's digest (hex).
        expected: String,
        /// What came.
        actual: String,
    },
    /// The artifact is not a skill skillreg can take.
    #[error("{0}")]
    Skill(#[from] SkillArchiveError),
    /// The index and the SKILL.md disagree on the name.
    #[error("the index names it `{entry}`, but its SKILL.md names `{declared}`; a skill is mirrored only under the name it declares")]
    Name {
        /// The entry's name.
        entry: String,
        /// SKILL.md's.
        declared: String,
    },
    /// SKILL.md's `metadata.version` is not semver.
    #[error("its SKILL.md metadata.version `{0}` is not a semver version, and skillreg stores a skill only under the version it declares")]
    Version(String),
}

impl skill_offer::ItemTrouble for EntryError {
    fn failed(&self) -> bool {
        matches!(self, EntryError::Fetch(_) | EntryError::Digest { .. })
    }
}

/// What one entry names, checked.
struct Entry {
    name: String,
    artifact: Artifact,
}

enum Artifact {
    /// 0.2.0: an archive or a SKILL.md at `url` with sha256 `digest` (hex).
    Digest {
        url: String,
        digest: String,
        archive: bool,
    },
    /// 0.1.0: these files (normalized paths) below the skill's folder.
    Files(Vec<String>),
}

/// One run of a wellknown source.
struct WellknownSync<'a> {
    registry: &'a Registry,
    source: &'a SourceConfig,
    http: UpstreamHttp,
    /// The URL the index was read from.
    index_url: String,
    /// The base below which `.well-known/` is.
    base: String,
}

/// Syncs `source` into `registry` (run `run_id`); `state` is the source's
/// own state directory (its HTTP cache).
pub(super) fn sync(
    registry: &Registry,
    state: &Path,
    source: &SourceConfig,
    run_id: i64,
    run: &mut SyncRun,
    progress: &mut Progress<'_>,
) -> Result<(), WellknownError> {
    let base = format!("{}/", source.url.trim_end_matches('/'));
    let token = source.token.clone().map(|t| (base.clone(), t));
    let http = UpstreamHttp::new(state, source.ca_cert.as_deref(), token, &base)
        .map_err(WellknownError::Http)?;
    let mut sync = WellknownSync {
        registry,
        source,
        http,
        index_url: String::new(),
        base,
    };
    let result = sync.run(run_id, run, progress);
    // Failed or not, the run names its requests and the cache keeps only
    // what it read.
    sync.http.end_run(run);
    result
}

impl WellknownSync<'_> {
    fn run(
        &mut self,
        run_id: i64,
        run: &mut SyncRun,
        progress: &mut Progress<'_>,
    ) -> Result<(), WellknownError> {
        let entries = self.index(run)?;
        let fallback = FallbackVersions::new(self.registry, &self.source.name);
        let mut seen = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (i, entry) in entries.iter().enumerate() {
            let entry = match entry_of(entry, &self.index_url) {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    run.discovered += 1;
                    run.skipped += 1;
                    run.detail.push(format!("entry {i}: {e}; skipped"));
                    continue;
                }
            };
            if !super::registry_source::wanted(self.source, &entry.name) {
                continue;
            }
            run.discovered += 1;
            // One entry per name: a repeated name would offer its contents
            // in turn, every run.
            if !names.insert(crate::package::normalize(&entry.name)) {
                run.skipped += 1;
                run.detail.push(format!(
                    "entry {i}: `{}` is listed again; the first entry of a name counts, skipped",
                    entry.name
                ));
                continue;
            }
            match self.entry(&entry, &fallback, run) {
                Ok(Some(version)) => seen.push((entry.name.clone(), version)),
                Ok(None) => {}
                Err(Outcome::Item(e)) => {
                    skill_offer::note(run, &format!("skill {}", entry.name), &e)
                }
                Err(Outcome::Stop(e)) => return Err(e),
            }
            progress.tick(run);
        }
        self.registry.record_run_versions(run_id, &seen)?;
        Ok(())
    }

    /// The index's entries: the current layout's, else the older one's.
    fn index(&mut self, run: &mut SyncRun) -> Result<Vec<Value>, WellknownError> {
        let current = format!("{}{INDEX_V2}", self.base);
        let legacy = format!("{}{LEGACY_DIR}/index.json", self.base);
        let doc = match self.http.get_document(&current, MAX_INDEX_BYTES) {
            Ok(doc) => {
                self.index_url = current;
                doc
            }
            Err(FetchError::NotFound { .. }) => {
                match self.http.get_document(&legacy, MAX_INDEX_BYTES) {
                    Ok(doc) => {
                        self.index_url = legacy;
                        doc
                    }
                    Err(FetchError::NotFound { .. }) => {
                        return Err(WellknownError::NoIndex { current, legacy })
                    }
                    Err(e) => return Err(WellknownError::Fetch(e)),
                }
            }
            Err(e) => return Err(WellknownError::Fetch(e)),
        };
        if doc.changed {
            run.updated += 1;
        }
        let url = self.index_url.clone();
        let value: Value =
            serde_json::from_slice(&doc.body).map_err(|source| WellknownError::Json {
                url: url.clone(),
                source,
            })?;
        let invalid = |reason| WellknownError::Invalid {
            url: url.clone(),
            reason,
        };
        let Value::Object(mut index) = value else {
            return Err(invalid("it is not a JSON object"));
        };
        let schema = match index.get("$schema") {
            None => "0.1.0",
            Some(Value::String(s)) if s == SCHEMA_V2 => "0.2.0",
            Some(other) => {
                let schema = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_string);
                return Err(WellknownError::UnknownSchema { url, schema });
            }
        };
        let Some(Value::Array(skills)) = index.remove("skills") else {
            return Err(invalid("it has no `skills` array"));
        };
        if skills.len() > MAX_ENTRIES {
            return Err(WellknownError::TooManyEntries {
                url,
                count: skills.len(),
            });
        }
        run.detail.push(format!(
            "index {url}: schema {schema}, {} entr{}",
            skills.len(),
            if skills.len() == 1 { "y" } else { "ies" }
        ));
        // Tag each entry with the layout, so entry_of reads it rightly.
        Ok(skills
            .into_iter()
            .map(|e| serde_json::json!({ "schema": schema, "entry": e }))
            .collect())
    }

    /// One entry: skipped when its digest was mirrored before and its
    /// version is stored, else fetched, checked, packed and offered.
    /// Returns the version when it is stored.
    fn entry(
        &self,
        entry: &Entry,
        fallback: &FallbackVersions<'_>,
        run: &mut SyncRun,
    ) -> Result<Option<String>, Outcome> {
        let state_key = format!("wellknown:{}", crate::package::normalize(&entry.name));
        if let Artifact::Digest { digest, .. } = &entry.artifact {
            let done = self
                .registry
                .mirror_state(&self.source.name, &state_key)
                .map_err(Outcome::stop)?;
            if let Some((hash, version)) = done.as_deref().and_then(|v| v.split_once(' ')) {
                if hash == digest {
                    let status = self
                        .registry
                        .version_status(&entry.name, version)
                        .map_err(Outcome::stop)?;
                    match status {
                        Some(VersionStatus::Rejected) => {
                            run.rejected += 1;
                            return Ok(None);
                        }
                        Some(_) => {
                            run.unchanged += 1;
                            return Ok(Some(version.to_string()));
                        }
                        None => {}
                    }
                }
            }
        }
        let (skill, facts) = self.fetch(entry)?;
        if skill.name != entry.name {
            return Err(EntryError::Name {
                entry: entry.name.clone(),
                declared: skill.name,
            }
            .into());
        }
        let version = match &skill.declared_version {
            Some(v) => crate::package::parse_version(v)
                .map_err(|_| EntryError::Version(v.clone()))?
                .to_string(),
            None => fallback.version_for(&skill.name, &skill.sha256),
        };
        let stored = skill_offer::offer(self.registry, self.source, &skill, &version, facts, run)
            .map_err(Outcome::stop)?;
        if !stored {
            return Ok(None);
        }
        if let Artifact::Digest { digest, .. } = &entry.artifact {
            self.registry
                .set_mirror_state(
                    &self.source.name,
                    &state_key,
                    &format!("{digest} {version}"),
                )
                .map_err(Outcome::stop)?;
        }
        Ok(Some(version))
    }

    /// Fetches an entry's artifact (or files) and packs it; returns it
    /// with the facts a reviewer sees.
    fn fetch(&self, entry: &Entry) -> Result<(UpstreamSkill, Value), EntryError> {
        let limits = skill_offer::limits(self.registry);
        match &entry.artifact {
            Artifact::Digest {
                url,
                digest,
                archive,
            } => {
                let bytes = self.http.get(url, limits.max_compressed)?;
                let actual = Sha256Digest::of(&bytes).to_hex();
                if actual != *digest {
                    return Err(EntryError::Digest {
                        url: url.clone(),
                        expected: digest.clone(),
                        actual,
                    });
                }
                let skill = if *archive {
                    skill_offer::from_archive(&bytes, &limits)?
                } else {
                    let files = [("SKILL.md".to_string(), (false, bytes))].into();
                    skill_offer::from_files(files, &limits)?
                };
                let facts = serde_json::json!({
                    "index": self.index_url,
                    "schema": SCHEMA_V2,
                    "url": url,
                    "type": if *archive { "archive" } else { "skill-md" },
                    "digest": format!("sha256:{digest}"),
                    "files": skill.files,
                    "signature": "none (Agent Skills index: TLS to the upstream and the entry's sha256 digest)",
                });
                Ok((skill, facts))
            }
            Artifact::Files(paths) => self.fetch_files(&entry.name, paths, &limits),
        }
    }

    /// 0.1.0: every listed file, each revalidated, within the registry's
    /// unpacked limit altogether. A file that cannot be fetched fails the
    /// entry (the `skills` CLI would install without it; a mirror must
    /// not store half a skill).
    fn fetch_files(
        &self,
        name: &str,
        paths: &[String],
        limits: &crate::bundle::ArchiveLimits,
    ) -> Result<(UpstreamSkill, Value), EntryError> {
        let folder = format!("{}{LEGACY_DIR}/{}/", self.base, segment(name));
        let mut files = crate::bundle::unpack::Files::new();
        let mut used = 0u64;
        for path in paths {
            let encoded: Vec<String> = path.split('/').map(segment).collect();
            let url = format!("{folder}{}", encoded.join("/"));
            let left = limits.max_unpacked.saturating_sub(used);
            let doc = self.http.get_document(&url, left)?;
            used += doc.body.len() as u64;
            files.insert(path.clone(), (false, doc.body));
        }
        let skill = skill_offer::from_files(files, limits)?;
        let facts = serde_json::json!({
            "index": self.index_url,
            "schema": "0.1.0 (no $schema: the .well-known/skills layout)",
            "url": folder,
            "files": paths,
            "signature": "none (0.1.0 Agent Skills index: TLS to the upstream only; the layout carries no digest)",
        });
        Ok((skill, facts))
    }
}

/// What stops one item: its own trouble, or the run's.
type Outcome = skill_offer::Outcome<EntryError, WellknownError>;

/// Reads one tagged entry of [`WellknownSync::index`]: `Ok(None)` for none
/// at all (never happens with the tags it writes).
fn entry_of(tagged: &Value, index_url: &str) -> Result<Option<Entry>, EntryError> {
    let invalid = |s: String| EntryError::Invalid(s);
    let Some(Value::Object(e)) = tagged.get("entry") else {
        return Err(invalid("it is not a JSON object".into()));
    };
    let name = match e.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => return Err(invalid("it has no string `name`".into())),
    };
    if !crate::package::is_kebab(&name) || PackageName::parse(Kind::Skill, &name).is_err() {
        return Err(invalid(format!(
            "the name {name:?} is not a skill name (a-z, 0-9 and single `-`, at most 64)"
        )));
    }
    let text = |key: &str| match e.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        _ => Err(invalid(format!("`{name}` has no string `{key}`"))),
    };
    if tagged.get("schema").and_then(Value::as_str) == Some("0.1.0") {
        let Some(Value::Array(list)) = e.get("files") else {
            return Err(invalid(format!("`{name}` has no `files` list")));
        };
        return Ok(Some(Entry {
            artifact: Artifact::Files(legacy_files(&name, list)?),
            name,
        }));
    }
    let archive = match text("type")? {
        "archive" => true,
        "skill-md" => false,
        other => {
            return Err(invalid(format!(
                "`{name}` has the type {other:?}; an entry is an `archive` or a `skill-md`"
            )))
        }
    };
    let url = url::resolve(index_url, text("url")?)?;
    let digest = text("digest")?;
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| {
            invalid(format!(
                "`{name}` has the digest {digest:?}; the schema takes sha256:<64 lowercase hex>"
            ))
        })?;
    Ok(Some(Entry {
        artifact: Artifact::Digest {
            url,
            digest: hex.to_string(),
            archive,
        },
        name,
    }))
}

/// The `files` of a 0.1.0 entry, each a safe relative path (no `/` at the
/// start, no `..`, no backslash or control character), one of them
/// `SKILL.md`.
fn legacy_files(name: &str, list: &[Value]) -> Result<Vec<String>, EntryError> {
    let invalid = |s: String| EntryError::Invalid(s);
    if list.len() > MAX_LEGACY_FILES {
        return Err(invalid(format!(
            "`{name}` lists {} files; at most {MAX_LEGACY_FILES} are taken",
            list.len()
        )));
    }
    let mut paths = Vec::with_capacity(list.len());
    for file in list {
        let Some(raw) = file.as_str() else {
            return Err(invalid(format!(
                "`{name}` lists a file that is not a string"
            )));
        };
        let path = crate::bundle::archive::normalize_path(raw)
            .ok()
            .filter(|p| !p.is_empty() && *p == raw)
            .ok_or_else(|| invalid(format!("`{name}` lists the unsafe file path {raw:?}")))?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    if !paths.iter().any(|p| p == "SKILL.md") {
        return Err(invalid(format!("`{name}` does not list SKILL.md")));
    }
    Ok(paths)
}
