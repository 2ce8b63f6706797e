//! Resolving requested packages and their dependencies against the
//! verified index: one version per name meeting every requirement.

use super::*;

/// A requirement on a package, and who made it.
#[derive(Clone, Debug)]
pub(super) struct Want {
    pub(super) name: String,
    pub(super) req: VersionReq,
    pub(super) by: String,
}

pub(super) fn describe_versions(lines: &[IndexLine]) -> String {
    if lines.is_empty() {
        return "it has no versions".into();
    }
    let mut live: Vec<&IndexLine> = lines.iter().filter(|l| !l.entry.yanked).collect();
    let mut yanked: Vec<&IndexLine> = lines.iter().filter(|l| l.entry.yanked).collect();
    live.sort_by(|a, b| a.version.cmp(&b.version));
    yanked.sort_by(|a, b| a.version.cmp(&b.version));
    let join = |v: &[&IndexLine]| {
        v.iter()
            .map(|l| l.entry.vers.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = if live.is_empty() {
        "no version is available".to_string()
    } else {
        format!("available: {}", join(&live))
    };
    if !yanked.is_empty() {
        out.push_str(&format!("; yanked (never chosen): {}", join(&yanked)));
    }
    out
}

/// Resolution: the registry's entries, fetched once per name.
pub(super) struct Resolver<'a> {
    pub(super) registry: &'a TrustedRegistry,
    pub(super) entries: HashMap<String, Vec<IndexLine>>,
}

pub(super) enum Outcome {
    Done(Vec<IndexLine>),
    Conflict {
        name: String,
        first: Want,
        second: Want,
    },
}

impl Resolver<'_> {
    pub(super) fn lines(&mut self, want: &Want) -> Result<&Vec<IndexLine>, InstallError> {
        let key = normalized_name(&want.name);
        if !self.entries.contains_key(&key) {
            let lines = match self.registry.entries(&want.name) {
                Ok(lines) => lines,
                Err(TrustError::NotFound { .. }) => {
                    return Err(InstallError::NotFound {
                        name: want.name.clone(),
                        by: want.by.clone(),
                        url: self.registry.base().to_string(),
                    })
                }
                Err(e) => return Err(e.into()),
            };
            self.entries.insert(key.clone(), lines);
        }
        Ok(&self.entries[&key])
    }

    /// One greedy pass: highest non-yanked version meeting the requirement
    /// (and every requirement in `extra` on that name).
    pub(super) fn pass(
        &mut self,
        roots: &[Want],
        extra: &BTreeMap<String, Vec<Want>>,
    ) -> Result<Outcome, InstallError> {
        let mut queue: VecDeque<Want> = roots.iter().cloned().collect();
        let mut chosen: BTreeMap<String, (IndexLine, Want)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        while let Some(want) = queue.pop_front() {
            let key = normalized_name(&want.name);
            if let Some((line, first)) = chosen.get(&key) {
                if !want.req.matches(&line.version) {
                    return Ok(Outcome::Conflict {
                        name: want.name.clone(),
                        first: first.clone(),
                        second: want,
                    });
                }
                continue;
            }
            let extra_reqs = extra.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let lines = self.lines(&want)?;
            let best = lines
                .iter()
                .filter(|l| !l.entry.yanked)
                .filter(|l| want.req.matches(&l.version))
                .filter(|l| extra_reqs.iter().all(|w| w.req.matches(&l.version)))
                .max_by(|a, b| a.version.cmp(&b.version))
                .cloned();
            let Some(line) = best else {
                return Err(InstallError::NoMatch {
                    name: want.name.clone(),
                    req: want.req.to_string(),
                    by: want.by.clone(),
                    available: describe_versions(lines),
                });
            };
            if line.entry.kind == Kind::Crate {
                return Err(InstallError::Crate {
                    name: line.entry.name.clone(),
                    by: want.by.clone(),
                });
            }
            let me = format!("{}@{}", line.entry.name, line.entry.vers);
            for dep in &line.entry.deps {
                if dep.optional || !(dep.kind.is_empty() || dep.kind == "normal") {
                    continue;
                }
                let bad = |reason: String| InstallError::BadDependency {
                    name: line.entry.name.clone(),
                    version: line.entry.vers.clone(),
                    dep: dep.name.clone(),
                    reason,
                };
                if let Some(registry) = &dep.registry {
                    return Err(bad(format!(
                        "comes from another registry ({registry}); install it from there"
                    )));
                }
                let name = dep.package.clone().unwrap_or_else(|| dep.name.clone());
                verify::validate_name(&name).map_err(|e| bad(e.to_string()))?;
                let req = VersionReq::parse(&dep.req)
                    .map_err(|e| bad(format!("has the invalid requirement `{}` ({e})", dep.req)))?;
                queue.push_back(Want {
                    name,
                    req,
                    by: me.clone(),
                });
            }
            order.push(key.clone());
            chosen.insert(key, (line, want));
        }
        Ok(Outcome::Done(
            order
                .iter()
                .map(|k| chosen.remove(k).expect("chosen").0)
                .collect(),
        ))
    }
}

/// Resolves `specs` and their dependencies. A name required twice gets one
/// version meeting both requirements, or an error naming both.
pub(super) fn resolve(
    registry: &TrustedRegistry,
    specs: &[(String, Option<VersionReq>)],
) -> Result<Vec<IndexLine>, InstallError> {
    let roots: Vec<Want> = specs
        .iter()
        .map(|(name, req)| Want {
            name: name.clone(),
            req: req.clone().unwrap_or(VersionReq::STAR),
            by: "the command line".into(),
        })
        .collect();
    let mut resolver = Resolver {
        registry,
        entries: HashMap::new(),
    };
    // Greedy passes; on a conflict, retry with both requirements applied
    // from the start when some version meets them all.
    let mut extra: BTreeMap<String, Vec<Want>> = BTreeMap::new();
    for _ in 0..64 {
        match resolver.pass(&roots, &extra)? {
            Outcome::Done(plan) => return Ok(plan),
            Outcome::Conflict {
                name,
                first,
                second,
            } => {
                let key = normalized_name(&name);
                let known = extra.entry(key.clone()).or_default();
                let lines = &resolver.entries[&key];
                let mut reqs: Vec<&Want> = known.iter().collect();
                reqs.push(&first);
                reqs.push(&second);
                let possible = lines
                    .iter()
                    .any(|l| !l.entry.yanked && reqs.iter().all(|w| w.req.matches(&l.version)));
                let already = known
                    .iter()
                    .any(|w| w.req == second.req && w.by == second.by)
                    && known.iter().any(|w| w.req == first.req && w.by == first.by);
                if !possible || already {
                    return Err(InstallError::Conflict {
                        name,
                        first: format!("`{}` (required by {})", first.req, first.by),
                        second: format!("`{}` (required by {})", second.req, second.by),
                        detail: format!(" ({})", describe_versions(lines)),
                    });
                }
                known.push(first);
                known.push(second);
            }
        }
    }
    Err(InstallError::NoMatch {
        name: specs.first().map(|s| s.0.clone()).unwrap_or_default(),
        req: "*".into(),
        by: "the command line".into(),
        available:
            "the requirements could not be resolved in 64 passes; install fewer packages at once"
                .into(),
    })
}
