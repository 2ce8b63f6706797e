//! The policy: what an admin should know about a mirrored version
//! before approving it.
//!
//! Nothing mirrored from an upstream catalog reaches clients until an admin
//! approves it. [`evaluate`] reads the version's bundle as hostile input (with
//! [`bundle::inspect`](crate::bundle::inspect)) and returns [`Finding`]s: licence
//! problems, sizes, suspicious content, hidden Unicode, binaries, nested
//! archives, what a plugin runs on the user's machine (hooks, MCP servers,
//! `bin/`, scripts), `SKILL.md` spec problems and reserved names. Rules listed
//! in [`PolicyConfig::auto_reject`] turn their findings into
//! [`Severity::Reject`], which rejects the version without an admin.
//!
//! Every rule has a stable id (see [`RULES`]); findings come back sorted by
//! rule, path and detail, so the same bundle and policy always give the same
//! list.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use crate::bundle::archive::MAX_KEPT_FILE;
use crate::bundle::{inspect, plugin, skill, Archive, ArchiveLimits, BundleError, EntryKind};
use crate::package::{normalize, Kind};

mod content;
mod inventory;
mod licence;
#[cfg(test)]
mod tests;
mod unicode;

use content::{archive_magic, binary_kind};
use inventory::frontmatter_hooks;
use unicode::{describe_char, hidden_char, hidden_unicode_in};

/// Every rule id a [`Finding`] can carry, with what it means.
///
/// - `license-deny`: the declared licence cannot be used without an id in
///   `license_deny`.
/// - `license-not-allowed`: `license_allow` is set and the declared licence
///   cannot be satisfied with allowed ids alone.
/// - `license-missing`: no licence is declared.
/// - `license-file-proprietary`: a `LICENSE*`/`LICENCE*`/`COPYING*` file reads
///   as proprietary and holds no known open-source licence text.
/// - `size`: the compressed bundle is larger than `max_bundle_bytes`.
/// - `file-size`: a file is larger than `max_file_bytes` (and is not scanned).
/// - `unscanned`: a file within `max_file_bytes` but larger than the
///   1 MiB the archive reader keeps ([`MAX_KEPT_FILE`]), so its content was
///   not scanned.
/// - `content-pattern`: a text file matches one of `content_patterns`.
/// - `hidden-unicode`: bidi controls, zero-width or tag characters in a text
///   file or a path.
/// - `binary`: an executable (ELF, Mach-O, PE) or other binary data.
/// - `nested-archive`: an archive inside the bundle (by name or magic bytes).
/// - `hook`: a hook the plugin (or a skill's frontmatter) installs.
/// - `mcp-server`: an MCP server the plugin starts or connects to.
/// - `bin`: a file in a plugin's `bin/`, which Claude Code puts on `PATH`.
/// - `script`: a file with an execute bit or a `#!` line.
/// - `skill-md`: a `SKILL.md` that breaks (or strains) the Agent Skills spec.
/// - `reserved-name`: a name in `reserved_names` (only its owner may use it).
/// - `reserved-word`: a name containing "anthropic" or "claude", which Claude
///   refuses for uploaded skills and which suggests an official package; a
///   warning by default, since community packages use such names too.
pub const RULES: &[&str] = &[
    "license-deny",
    "license-not-allowed",
    "license-missing",
    "license-file-proprietary",
    "size",
    "file-size",
    "unscanned",
    "content-pattern",
    "hidden-unicode",
    "binary",
    "nested-archive",
    "hook",
    "mcp-server",
    "bin",
    "script",
    "skill-md",
    "reserved-name",
    "reserved-word",
];

/// The `[policy]` table of the configuration file. Every key is optional;
/// the defaults are those of [`PolicyConfig::default`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// SPDX licence ids a version may use (matched case-insensitively); empty
    /// allows any. Default: empty.
    pub license_allow: Vec<String>,
    /// SPDX licence ids a version may not depend on. Default: empty.
    pub license_deny: Vec<String>,
    /// Largest compressed bundle before a `size` finding; 0 adds no limit
    /// beyond `limits.max_bundle_bytes`. Default: 0.
    pub max_bundle_bytes: u64,
    /// Largest single file before a `file-size` finding; 0 means no limit.
    /// Default: 10 MiB.
    pub max_file_bytes: u64,
    /// Regular expressions (Rust `regex` syntax) flagged in text files as
    /// `content-pattern` findings. Default: `eval\(`, `\bexec\(`,
    /// `subprocess`, `os\.system`, `curl … | sh`, `wget … | sh`,
    /// `base64 -d`, `rm -rf /`.
    pub content_patterns: Vec<String>,
    /// Flag bidi controls (U+202A–202E, U+2066–2069), zero-width characters
    /// (U+200B–200D), U+FEFF other than at the start of a file, and tag
    /// characters (U+E0000–E007F). Default: true.
    pub hidden_unicode: bool,
    /// Flag files with NUL bytes in their first 8 KiB or ELF, Mach-O or PE
    /// magic. Default: true.
    pub flag_binaries: bool,
    /// Flag archives inside the bundle (.zip .tar .tgz .gz .7z .rar .jar .whl
    /// .xz .bz2 .zst, by name or by magic bytes). Default: true.
    pub flag_nested_archives: bool,
    /// `"lenient"` or `"strict"`. Lenient: a `SKILL.md` that does not parse
    /// is a Warning and spec warnings (unknown keys, XML tags, a name that is
    /// not the folder's) are Info. Strict: both are Reject. Default: lenient.
    pub skill_md: String,
    /// Names only their owners may use (compared after lowercasing and
    /// mapping `_` to `-`); skill and plugin names containing "anthropic" or
    /// "claude" are flagged too. Default: the reserved marketplace names
    /// `claude-plugins-official`, `anthropic-agent-skills`, `agent-skills`,
    /// `claude-code-plugins`, `anthropic-plugins`.
    pub reserved_names: Vec<String>,
    /// Rule ids (see [`RULES`]) whose findings reject the version
    /// automatically. Default: `license-deny`, `reserved-name`.
    pub auto_reject: Vec<String>,
}

/// Default `content_patterns`.
pub const DEFAULT_CONTENT_PATTERNS: &[&str] = &[
    r"\beval\(",
    r"\bexec\(",
    r"\b(create_)?subprocess(\b|_)",
    r"os\.system",
    r"curl[^\n|]*\|\s*(ba)?sh",
    r"wget[^\n|]*\|\s*(ba)?sh",
    r"base64\s+(-d|--decode)",
    r"(?m)rm\s+-rf\s+(/+|~/*)([^\w./-]|$)",
];

/// Default `reserved_names` (protocols.md §5).
pub const DEFAULT_RESERVED_NAMES: &[&str] = &[
    "claude-plugins-official",
    "anthropic-agent-skills",
    "agent-skills",
    "claude-code-plugins",
    "anthropic-plugins",
];

/// Default `auto_reject`.
pub const DEFAULT_AUTO_REJECT: &[&str] = &["license-deny", "reserved-name"];

/// Default `max_file_bytes`: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

impl Default for PolicyConfig {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
        PolicyConfig {
            license_allow: Vec::new(),
            license_deny: Vec::new(),
            max_bundle_bytes: 0,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            content_patterns: strings(DEFAULT_CONTENT_PATTERNS),
            hidden_unicode: true,
            flag_binaries: true,
            flag_nested_archives: true,
            skill_md: "lenient".into(),
            reserved_names: strings(DEFAULT_RESERVED_NAMES),
            auto_reject: strings(DEFAULT_AUTO_REJECT),
        }
    }
}

/// A `[policy]` value serde accepts but the policy cannot use.
#[derive(Debug, thiserror::Error)]
pub enum PolicyConfigError {
    /// An empty content pattern.
    #[error(
        "policy.content_patterns has an empty pattern, which would match every file; remove it"
    )]
    EmptyPattern,
    /// A content pattern that does not compile.
    #[error("policy.content_patterns has the invalid regular expression `{pattern}`: {source}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// Why.
        source: regex::Error,
    },
    /// `skill_md` is neither mode.
    #[error("policy.skill_md is `{0}`; use `lenient` or `strict`")]
    SkillMd(String),
    /// `auto_reject` names a rule that does not exist.
    #[error("policy.auto_reject names the unknown rule `{0}`; the rules are {rules}", rules = RULES.join(", "))]
    UnknownRule(String),
}

impl PolicyConfig {
    /// Checks the values serde cannot: every `content_patterns` entry must
    /// compile (the error quotes the bad pattern), `skill_md` must be
    /// `lenient` or `strict`, and `auto_reject` may only name rules in
    /// [`RULES`]. The error names the key, e.g. `policy.content_patterns`.
    pub fn check(&self) -> Result<(), PolicyConfigError> {
        for p in &self.content_patterns {
            if p.is_empty() {
                return Err(PolicyConfigError::EmptyPattern);
            }
            regex::bytes::Regex::new(p).map_err(|source| PolicyConfigError::BadPattern {
                pattern: p.clone(),
                source,
            })?;
        }
        if !matches!(self.skill_md.as_str(), "lenient" | "strict") {
            return Err(PolicyConfigError::SkillMd(self.skill_md.clone()));
        }
        for rule in &self.auto_reject {
            if !RULES.contains(&rule.as_str()) {
                return Err(PolicyConfigError::UnknownRule(rule.clone()));
            }
        }
        Ok(())
    }

    fn strict(&self) -> bool {
        self.skill_md == "strict"
    }
}

/// How much a finding matters.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing when reviewing (what a plugin runs, scripts, …).
    Info,
    /// Needs an admin's attention before approval.
    Warning,
    /// The version is rejected without review.
    Reject,
}

/// One thing the policy found in a version.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The stable rule id (one of [`RULES`]).
    pub rule: String,
    /// How much it matters; `Reject` for every rule in `auto_reject`.
    pub severity: Severity,
    /// The file inside the bundle it concerns, if any.
    pub path: Option<String>,
    /// What was found and where, for a human (line numbers, commands, ids).
    pub detail: String,
}

impl Finding {
    fn new(rule: &str, severity: Severity, path: Option<&str>, detail: String) -> Finding {
        debug_assert!(RULES.contains(&rule), "unknown rule {rule}");
        Finding {
            rule: rule.to_string(),
            severity,
            path: path.map(str::to_string),
            detail,
        }
    }
}

/// A content pattern, compiled once per process: a mirror evaluates the
/// same few patterns for every version it sees.
fn compiled(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, regex::bytes::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return Ok(re.clone());
    }
    let re = regex::bytes::Regex::new(pattern)?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pattern.to_string(), re.clone());
    Ok(re)
}

/// True when any finding has severity [`Severity::Reject`].
pub fn rejects(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Reject)
}

/// Evaluates `policy` against one version's bundle.
///
/// `kind` and `name` are the package's; `license` is the SPDX expression the
/// catalog or manifest declares (when `None`, the bundle's own manifest is
/// read: `SKILL.md` `license`, plugin.json `license`, Cargo.toml
/// `package.license`). The bundle is checked with
/// [`inspect`] under `limits`: an archive it refuses
/// is an error, not a finding. Files up to 1 MiB ([`MAX_KEPT_FILE`]) are
/// scanned; larger ones get an `unscanned` (or `file-size`) finding.
///
/// The findings are sorted by rule, path and detail, without duplicates.
pub fn evaluate(
    policy: &PolicyConfig,
    kind: Kind,
    name: &str,
    license: Option<&str>,
    bundle: &[u8],
    limits: &ArchiveLimits,
) -> Result<Vec<Finding>, BundleError> {
    let archive = inspect(bundle, limits, |_| true)?;
    let mut eval = Eval {
        policy,
        kind,
        archive: &archive,
        findings: Vec::new(),
    };
    eval.license(license);
    eval.license_files();
    eval.sizes(bundle.len() as u64);
    eval.contents();
    eval.paths();
    if kind == Kind::Plugin {
        eval.plugin_inventory();
    }
    eval.scripts();
    eval.skill_mds(name);
    eval.name(name);
    let auto: BTreeSet<&str> = policy.auto_reject.iter().map(String::as_str).collect();
    let mut findings = eval.findings;
    for f in &mut findings {
        // paths and manifest text are untrusted: no hidden characters in details
        f.detail = sanitize(&f.detail);
        if auto.contains(f.rule.as_str()) {
            f.severity = Severity::Reject;
        }
    }
    findings.sort_by(|a, b| {
        (&a.rule, &a.path, &a.detail, a.severity).cmp(&(&b.rule, &b.path, &b.detail, b.severity))
    });
    findings.dedup();
    Ok(findings)
}

/// How many bytes of a file the binary check looks at.
const SNIFF_BYTES: usize = 8192;

/// The state of one evaluation.
struct Eval<'a> {
    policy: &'a PolicyConfig,
    kind: Kind,
    archive: &'a Archive,
    findings: Vec<Finding>,
}

impl<'a> Eval<'a> {
    fn push(&mut self, rule: &str, severity: Severity, path: Option<&str>, detail: String) {
        self.findings
            .push(Finding::new(rule, severity, path, detail));
    }

    /// The content of a file the policy may scan: kept by `inspect` and
    /// within `max_file_bytes`.
    fn scannable(&self, path: &str) -> Option<&'a [u8]> {
        let content = self.archive.file(path)?;
        let max = self.policy.max_file_bytes;
        (max == 0 || content.len() as u64 <= max).then_some(content)
    }

    /// Scannable text: not binary, not an archive.
    fn text(&self, path: &str) -> Option<&'a [u8]> {
        self.scannable(path)
            .filter(|c| binary_kind(c).is_none() && archive_magic(c).is_none())
    }

    // ---- sizes -------------------------------------------------------------

    fn sizes(&mut self, compressed: u64) {
        let files = || {
            self.archive
                .entries
                .values()
                .filter(|e| e.kind == EntryKind::File)
        };
        let max = self.policy.max_bundle_bytes;
        if max > 0 && compressed > max {
            let unpacked: u64 = files().map(|e| e.size).sum();
            let count = files().count();
            self.push(
                "size",
                Severity::Warning,
                None,
                format!(
                    "the bundle is {compressed} bytes compressed ({unpacked} bytes in {count} files unpacked); policy.max_bundle_bytes is {max}"
                ),
            );
        }
        let max = self.policy.max_file_bytes;
        let big: Vec<(String, u64)> = files()
            .filter(|e| (max > 0 && e.size > max) || e.size > MAX_KEPT_FILE)
            .map(|e| (e.path.clone(), e.size))
            .collect();
        for (path, size) in big {
            if max > 0 && size > max {
                self.push(
                    "file-size",
                    Severity::Warning,
                    Some(&path),
                    format!(
                        "`{path}` is {size} bytes; policy.max_file_bytes is {max}, so it was not scanned"
                    ),
                );
            } else {
                self.push(
                    "unscanned",
                    Severity::Info,
                    Some(&path),
                    format!(
                        "`{path}` is {size} bytes, more than the {MAX_KEPT_FILE} bytes the policy reads of a file, so its content was not scanned; review it by hand"
                    ),
                );
            }
        }
    }

    /// Hidden characters in paths themselves.
    fn paths(&mut self) {
        if !self.policy.hidden_unicode {
            return;
        }
        let archive = self.archive;
        for path in archive.entries.keys() {
            let hidden: BTreeSet<String> = path
                .chars()
                .filter(|c| hidden_char(*c).is_some())
                .map(describe_char)
                .collect();
            if !hidden.is_empty() {
                let shown = sanitize(path);
                self.push(
                    "hidden-unicode",
                    Severity::Warning,
                    Some(path),
                    format!(
                        "the path `{shown}` contains {}",
                        hidden.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
    }

    // ---- SKILL.md ----------------------------------------------------------

    fn skill_mds(&mut self, name: &str) {
        let strict = self.policy.strict();
        // (a problem that stops parsing, a spec warning)
        let (error, warning) = if strict {
            (Severity::Reject, Severity::Reject)
        } else {
            (Severity::Warning, Severity::Info)
        };
        let mode = if strict { "strict" } else { "lenient" };
        // (path, the name the skill must have)
        let mut skills: Vec<(String, String)> = Vec::new();
        match self.kind {
            Kind::Crate => return,
            Kind::Skill => {
                if !self.archive.entries.contains_key("SKILL.md") {
                    self.push(
                        "skill-md",
                        error,
                        None,
                        "the skill has no SKILL.md at its root".into(),
                    );
                    return;
                }
                skills.push(("SKILL.md".into(), name.to_string()));
            }
            Kind::Plugin => {
                for path in self.archive.entries.keys() {
                    let parts: Vec<&str> = path.split('/').collect();
                    if let ["skills", folder, "SKILL.md"] = parts.as_slice() {
                        skills.push((path.clone(), folder.to_string()));
                    }
                }
            }
        }
        for (path, expected) in skills {
            let Some(text) = self.archive.file(&path) else {
                self.push(
                    "skill-md",
                    error,
                    Some(&path),
                    format!("`{path}` is not a regular file of at most 1 MiB, so it cannot be read ({mode})"),
                );
                continue;
            };
            match skill::parse(&path, text) {
                Err(e) => self.push("skill-md", error, Some(&path), format!("{e} ({mode})")),
                Ok(m) => {
                    for w in &m.warnings {
                        self.push("skill-md", warning, Some(&path), format!("{w} ({mode})"));
                    }
                    if m.name != expected {
                        let whose = if self.kind == Kind::Skill {
                            "the package"
                        } else {
                            "its folder"
                        };
                        self.push(
                            "skill-md",
                            warning,
                            Some(&path),
                            format!(
                                "`{path}` names the skill `{}` but {whose} is `{expected}`; the spec requires them to be equal ({mode})",
                                m.name
                            ),
                        );
                    }
                }
            }
            // Claude Code runs hooks declared in a skill's frontmatter.
            if let Some(hooks) = frontmatter_hooks(text) {
                self.hooks(&path, &hooks);
            }
        }
    }

    // ---- names -------------------------------------------------------------

    fn name(&mut self, name: &str) {
        if self.kind == Kind::Crate {
            return;
        }
        let key = normalize(name);
        if self
            .policy
            .reserved_names
            .iter()
            .any(|r| normalize(r.trim()) == key)
        {
            self.push(
                "reserved-name",
                Severity::Warning,
                None,
                format!(
                    "the name `{name}` is reserved (policy.reserved_names): only its owner's repositories may use it, so a mirror must rename it"
                ),
            );
            return;
        }
        if let Some(word) = ["anthropic", "claude"]
            .into_iter()
            .find(|w| key.contains(w))
        {
            self.push(
                "reserved-word",
                Severity::Warning,
                None,
                format!(
                    "the name `{name}` contains \"{word}\"; Claude refuses skills whose names contain \"anthropic\" or \"claude\", and such names suggest an official package"
                ),
            );
        }
    }
}

// ---- helpers ----------------------------------------------------------------

/// Makes untrusted text safe to show: control and hidden characters become
/// `\u{…}` escapes.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c.is_control() && c != ' ') || hidden_char(c).is_some() {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `s`, with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// A JSON value as short, safe text.
fn compact(v: &Value) -> String {
    clip(&sanitize(&v.to_string()), 200)
}

/// `` `a`, `b` and `c` ``.
fn quote_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{}`", sanitize(i))).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
