//! Package identity: kinds, names and versions, each validated once at the edge.
//!
//! Names are unique across kinds, case-insensitively and with `-` equal to `_`
//! ([`PackageName::normalized`]). Versions are semver; two versions that differ
//! only in build metadata are the same version ([`version_key`]).

use std::fmt;

/// The kind of a package. Each kind has its own bundle layout and name rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An agent skill: a tar.gz with `SKILL.md` at its root.
    Skill,
    /// A Claude Code plugin: a tar.gz with `.claude-plugin/plugin.json`.
    Plugin,
    /// A cargo `.crate`: everything under `{name}-{version}/`.
    Crate,
}

impl Kind {
    /// The lowercase word used in the index, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Skill => "skill",
            Kind::Plugin => "plugin",
            Kind::Crate => "crate",
        }
    }

    /// Parses `skill`, `plugin` or `crate`.
    pub fn parse(s: &str) -> Result<Kind, NameError> {
        match s {
            "skill" => Ok(Kind::Skill),
            "plugin" => Ok(Kind::Plugin),
            "crate" => Ok(Kind::Crate),
            other => Err(NameError(format!(
                "unknown package kind `{other}`: use one of skill, plugin, crate"
            ))),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name or version that breaks the rules; the message says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

/// The longest name any kind accepts (cargo's and the Agent Skills spec's limit).
pub const MAX_NAME_LEN: usize = 64;

/// A package name that passed its kind's rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageName(String);

impl PackageName {
    /// Checks `name` against the rules of `kind`.
    ///
    /// ```
    /// use skillreg::package::{Kind, PackageName};
    /// let crate_name = PackageName::parse(Kind::Crate, "Serde_Json").unwrap();
    /// assert_eq!(crate_name.normalized(), "serde-json");
    /// let err = PackageName::parse(Kind::Skill, "Serde_Json").unwrap_err();
    /// assert!(err.to_string().contains("lowercase"));
    /// ```
    ///
    /// Crates follow cargo (ASCII letter first, then letters, digits, `-`, `_`);
    /// skills and plugins follow the Agent Skills spec (`a-z0-9-`, no leading,
    /// trailing or doubled `-`).
    pub fn parse(kind: Kind, name: &str) -> Result<PackageName, NameError> {
        if name.is_empty() {
            return Err(NameError("the package name is empty".into()));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError(format!(
                "the name `{}` is {} characters long; the limit is {MAX_NAME_LEN}",
                name.escape_debug(),
                name.chars().count()
            )));
        }
        match kind {
            Kind::Crate => check_crate_name(name)?,
            Kind::Skill | Kind::Plugin => check_kebab_name(kind, name)?,
        }
        Ok(PackageName(name.to_string()))
    }

    /// The name as published.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness: lowercase, with `_` turned into `-`.
    pub fn normalized(&self) -> String {
        normalize(&self.0)
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercases and maps `_` to `-`: two names with the same normalized form collide.
pub fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

fn check_crate_name(name: &str) -> Result<(), NameError> {
    let first = name.chars().next().expect("checked non-empty");
    if !first.is_ascii_alphabetic() {
        return Err(NameError(format!(
            "the crate name `{}` must start with an ASCII letter",
            name.escape_debug()
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(NameError(format!(
            "the crate name `{}` contains `{}`; use only ASCII letters, digits, `-` and `_`",
            name.escape_debug(),
            bad.escape_debug()
        )));
    }
    Ok(())
}

/// Whether `name` is a kebab-case name of at most 64 characters (`a`-`z`,
/// `0`-`9`, single `-` inside): the skill and plugin name rule, which the
/// agent tools apply to skill folders and marketplace names too.
pub fn is_kebab(name: &str) -> bool {
    (1..=64).contains(&name.len()) && check_kebab_name(Kind::Skill, name).is_ok()
}

fn check_kebab_name(kind: Kind, name: &str) -> Result<(), NameError> {
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(NameError(format!(
            "the {kind} name `{}` contains `{}`; use only lowercase letters, digits and `-`",
            name.escape_debug(),
            bad.escape_debug()
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(NameError(format!(
            "the {kind} name `{name}` may not start or end with `-`"
        )));
    }
    if name.contains("--") {
        return Err(NameError(format!(
            "the {kind} name `{name}` may not contain `--`"
        )));
    }
    Ok(())
}

/// Parses a semver version, with a message that says what is wrong.
pub fn parse_version(s: &str) -> Result<semver::Version, NameError> {
    semver::Version::parse(s).map_err(|e| {
        NameError(format!(
            "`{}` is not a semver version ({e}); use MAJOR.MINOR.PATCH, e.g. 1.0.0",
            s.escape_debug()
        ))
    })
}

/// The version without build metadata: `1.0.0+a` and `1.0.0+b` share a key and
/// may not both exist.
pub fn version_key(v: &semver::Version) -> String {
    let mut v = v.clone();
    v.build = semver::BuildMetadata::EMPTY;
    v.to_string()
}

/// A crate a mirror is asked for: `NAME` (any version: the newest) or
/// `NAME@REQ`, REQ a cargo version requirement (`^1`, `=1.40.0`, `>=0.3, <0.5`).
///
/// ```
/// use skillreg::package::CrateSpec;
/// let spec = CrateSpec::parse("tokio@^1").unwrap();
/// assert_eq!(spec.name, "tokio");
/// assert!(spec.req.matches(&semver::Version::new(1, 40, 0)));
/// assert!(CrateSpec::parse("tokio@one").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateSpec {
    /// The crate's name as written.
    pub name: String,
    /// The versions it accepts.
    pub req: semver::VersionReq,
}

impl CrateSpec {
    /// Parses `NAME` or `NAME@REQ`.
    pub fn parse(spec: &str) -> Result<CrateSpec, NameError> {
        let (name, req) = match spec.trim().split_once('@') {
            Some((name, req)) => (name.trim(), req.trim()),
            None => (spec.trim(), "*"),
        };
        PackageName::parse(Kind::Crate, name)?;
        let req = semver::VersionReq::parse(req).map_err(|e| {
            NameError(format!(
                "`{spec}`: `{req}` is not a cargo version requirement like ^1 or =1.2.3: {e}"
            ))
        })?;
        Ok(CrateSpec {
            name: name.to_string(),
            req,
        })
    }
}

#[cfg(test)]
mod tests;

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one
/// character, ASCII case ignored), as source filters and feed scopes use.
/// Linear backtracking to the last `*`, so no pattern is exponential.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(b'?') => {
                pi += 1;
                ni += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&n[ni]) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}
