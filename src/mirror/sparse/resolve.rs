//! The versions a selection needs: each requirement's newest matching
//! version that is not yanked (what cargo picks for a fresh resolve), and
//! transitively the same for its dependencies (normal and build ones,
//! optional ones, every target's); exact locked versions as they are, yanked
//! or not, without walking further (a lockfile is already closed).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::selection::Selection;
use crate::client::verify::IndexLine;
use crate::package::normalize;

/// One index file as fetched and parsed.
#[derive(Debug)]
pub struct IndexFile {
    /// Its path below the index root.
    pub path: String,
    /// The sha256 of its bytes.
    pub sha256: String,
    /// Its lines that parse and name the crate.
    pub lines: Vec<IndexLine>,
}

/// A version to mirror, and why it is needed.
#[derive(Debug, Clone)]
pub struct Needed {
    /// The line, as the upstream served it.
    pub line: IndexLine,
    /// The file it is in.
    pub file: Arc<IndexFile>,
    /// What asked for it (a spec, a lockfile, a dependent).
    pub why: String,
}

/// The result of a resolution.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Every version to mirror, by (normalized name, version).
    pub needed: BTreeMap<(String, String), Needed>,
    /// Requirements that found nothing, with why (each counts as failed).
    pub failures: Vec<String>,
    /// Dependencies left out on purpose (other registries), for the detail.
    pub notes: Vec<String>,
    /// Every index file read, so yanks of stored versions can be followed.
    pub files: Vec<Arc<IndexFile>>,
}

/// What to follow while resolving.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    /// Dev-dependencies of the crates named by `crates`.
    pub dev_dependencies: bool,
    /// The most versions one run may resolve, and index files it may
    /// fetch: a hostile upstream cannot grow a closure without end.
    pub max_versions: usize,
}

/// The most dependencies one version may declare and have followed (real
/// crates declare tens; the largest, a few hundred).
pub const MAX_DEPS_PER_VERSION: usize = 2_000;

/// A crate's index file, as far as one run got it.
#[derive(Clone)]
enum Fetched {
    File(Arc<IndexFile>),
    Missing,
    Failed,
}

enum Need {
    Req {
        req: semver::VersionReq,
        text: String,
        root: bool,
    },
    Exact {
        version: String,
        checksum: Option<String>,
    },
}

/// Resolves `selection`; `fetch` returns a crate's index file, `Ok(None)`
/// when the upstream has none, `Err` with the reason it could not be had.
pub fn resolve(
    selection: &Selection,
    follow: Follow,
    mut fetch: impl FnMut(&str) -> Result<Option<Arc<IndexFile>>, String>,
) -> Resolved {
    let mut out = Resolved::default();
    let mut queue: VecDeque<(String, Need, String)> = VecDeque::new();
    for spec in &selection.specs {
        let text = spec.req.to_string();
        let why = format!("crates: {}@{text}", spec.name);
        queue.push_back((
            spec.name.clone(),
            Need::Req {
                req: spec.req.clone(),
                text,
                root: true,
            },
            why,
        ));
    }
    for locked in &selection.locked {
        queue.push_back((
            locked.name.clone(),
            Need::Exact {
                version: locked.version.clone(),
                checksum: locked.checksum.clone(),
            },
            format!("locked by {}", locked.origin),
        ));
    }
    let mut files: HashMap<String, Fetched> = HashMap::new();
    let mut seen: HashSet<(String, String, bool)> = HashSet::new();
    while let Some((name, need, why)) = queue.pop_front() {
        let key = normalize(&name);
        if let Need::Req { text, root, .. } = &need {
            if !seen.insert((key.clone(), text.clone(), *root)) {
                continue;
            }
        }
        if out.needed.len() >= follow.max_versions || files.len() >= follow.max_versions {
            out.failures.push(format!(
                "{name} ({why}): not resolved, the run reached its limit of {} versions",
                follow.max_versions
            ));
            continue;
        }
        let file = match files.get(&key) {
            Some(file) => file.clone(),
            None => {
                let file = match fetch(&name) {
                    Ok(Some(file)) => Fetched::File(file),
                    Ok(None) => Fetched::Missing,
                    Err(reason) => {
                        out.failures.push(format!("{name} ({why}): {reason}"));
                        Fetched::Failed
                    }
                };
                files.insert(key.clone(), file.clone());
                if let Fetched::File(file) = &file {
                    out.files.push(file.clone());
                }
                if let Fetched::Failed = file {
                    continue;
                }
                file
            }
        };
        let file = match file {
            Fetched::File(file) => file,
            Fetched::Missing => {
                out.failures
                    .push(format!("{name} ({why}): the upstream has no such crate"));
                continue;
            }
            // Said once, when the fetch failed.
            Fetched::Failed => continue,
        };
        match need {
            Need::Exact { version, checksum } => {
                let Some(line) = file.lines.iter().find(|l| l.entry.vers == version) else {
                    out.failures.push(format!(
                        "{name}@{version} ({why}): the upstream's index lists no such version"
                    ));
                    continue;
                };
                if let Some(sum) = checksum.filter(|s| !s.eq_ignore_ascii_case(&line.entry.cksum)) {
                    out.failures.push(format!(
                        "{name}@{version} ({why}): the lockfile's checksum {sum} is not the upstream's cksum {}; not mirrored",
                        line.entry.cksum
                    ));
                    continue;
                }
                out.needed
                    .entry((key, line.entry.vers.clone()))
                    .or_insert_with(|| Needed {
                        line: line.clone(),
                        file: file.clone(),
                        why,
                    });
            }
            Need::Req { req, text, root } => {
                let Some(line) = file
                    .lines
                    .iter()
                    .filter(|l| !l.entry.yanked && req.matches(&l.version))
                    .max_by(|a, b| a.version.cmp(&b.version))
                else {
                    let yanked: Vec<&str> = file
                        .lines
                        .iter()
                        .filter(|l| req.matches(&l.version))
                        .map(|l| l.entry.vers.as_str())
                        .collect();
                    let said =
                        format!("{name} ({why}): no version that is not yanked matches `{text}`");
                    // Versions yanked upstream are no failure of the run.
                    match yanked.is_empty() {
                        true => out.failures.push(said),
                        false => out
                            .notes
                            .push(format!("{said}; yanked upstream: {}", yanked.join(", "))),
                    }
                    continue;
                };
                let vkey = (key, line.entry.vers.clone());
                if out.needed.contains_key(&vkey) && !root {
                    continue;
                }
                out.needed.entry(vkey).or_insert_with(|| Needed {
                    line: line.clone(),
                    file: file.clone(),
                    why,
                });
                let dependent = format!("dependency of {}@{}", line.entry.name, line.entry.vers);
                if line.entry.deps.len() > MAX_DEPS_PER_VERSION {
                    out.failures.push(format!(
                        "{}@{}: declares {} dependencies, more than the {MAX_DEPS_PER_VERSION} followed; its dependencies are not mirrored",
                        line.entry.name,
                        line.entry.vers,
                        line.entry.deps.len()
                    ));
                    continue;
                }
                for dep in &line.entry.deps {
                    let wanted = match dep.kind.as_str() {
                        "dev" => root && follow.dev_dependencies,
                        _ => true,
                    };
                    if !wanted {
                        continue;
                    }
                    let dep_name = dep.package.clone().unwrap_or_else(|| dep.name.clone());
                    if let Some(registry) = &dep.registry {
                        out.notes.push(format!(
                            "{dep_name} ({dependent}) comes from the registry {registry}, not this upstream; not mirrored"
                        ));
                        continue;
                    }
                    if seen.contains(&(normalize(&dep_name), dep.req.clone(), false)) {
                        continue;
                    }
                    match semver::VersionReq::parse(&dep.req) {
                        Ok(req) => queue.push_back((
                            dep_name,
                            Need::Req {
                                req,
                                text: dep.req.clone(),
                                root: false,
                            },
                            dependent.clone(),
                        )),
                        Err(e) => out.failures.push(format!(
                            "{dep_name} ({dependent}): the requirement `{}` does not parse: {e}",
                            dep.req
                        )),
                    }
                }
            }
        }
    }
    out
}
