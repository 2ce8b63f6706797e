//! Licences: the declared SPDX expression against the allow and deny
//! lists, and licence files that read as proprietary.

use super::*;

impl Eval<'_> {
    // ---- licences ----------------------------------------------------------

    pub(super) fn license(&mut self, declared: Option<&str>) {
        let (expr, source) = match declared {
            Some(l) => (Some(l.trim().to_string()), String::new()),
            None => match self.manifest_license() {
                Some((l, file)) => (Some(l.trim().to_string()), format!(" (from `{file}`)")),
                None => (None, String::new()),
            },
        };
        let expr = expr.filter(|e| {
            !e.is_empty()
                && !e.eq_ignore_ascii_case("NONE")
                && !e.eq_ignore_ascii_case("NOASSERTION")
        });
        let Some(expr) = expr else {
            let files: Vec<&str> = self
                .archive
                .entries
                .keys()
                .filter(|p| is_license_file(p))
                .map(String::as_str)
                .collect();
            let hint = if files.is_empty() {
                "and the bundle has no LICENSE file".to_string()
            } else {
                format!("; read {} to learn the terms", quote_list(&files))
            };
            self.push(
                "license-missing",
                Severity::Warning,
                None,
                format!(
                    "no licence is declared (neither by the catalog nor in the manifest) {hint}"
                ),
            );
            return;
        };
        let alternatives = spdx_alternatives(&expr);
        let deny = &self.policy.license_deny;
        if !deny.is_empty()
            && alternatives
                .iter()
                .all(|alt| alt.iter().any(|t| t.matches(deny)))
        {
            let denied: BTreeSet<String> = alternatives
                .iter()
                .flatten()
                .filter(|t| t.matches(deny))
                .map(Term::display)
                .collect();
            let denied: Vec<&str> = denied.iter().map(String::as_str).collect();
            self.push(
                "license-deny",
                Severity::Warning,
                None,
                format!(
                    "the licence `{}`{source} cannot be used without {}, which policy.license_deny lists",
                    clip(&expr, 200),
                    quote_list(&denied)
                ),
            );
        }
        let allow = &self.policy.license_allow;
        if !allow.is_empty()
            && !alternatives
                .iter()
                .any(|alt| alt.iter().all(|t| t.matches_id(allow)))
        {
            let other: BTreeSet<String> = alternatives
                .iter()
                .flatten()
                .filter(|t| !t.matches_id(allow))
                .map(|t| t.id.clone())
                .collect();
            let other: Vec<&str> = other.iter().map(String::as_str).collect();
            self.push(
                "license-not-allowed",
                Severity::Warning,
                None,
                format!(
                    "the licence `{}`{source} needs {}, which policy.license_allow does not list",
                    clip(&expr, 200),
                    quote_list(&other)
                ),
            );
        }
    }

    /// The licence the bundle's own manifest declares, and where.
    fn manifest_license(&self) -> Option<(String, String)> {
        match self.kind {
            Kind::Skill => {
                let text = self.archive.file("SKILL.md")?;
                let m = skill::parse("SKILL.md", text).ok()?;
                m.license.map(|l| (l, "SKILL.md".into()))
            }
            Kind::Plugin => {
                let json: Value =
                    serde_json::from_slice(self.archive.file(plugin::PLUGIN_JSON)?).ok()?;
                let l = json.get("license")?.as_str()?;
                Some((l.to_string(), plugin::PLUGIN_JSON.into()))
            }
            Kind::Crate => {
                let path = self.archive.entries.keys().find(|p| {
                    let parts: Vec<&str> = p.split('/').collect();
                    matches!(parts.as_slice(), [_, "Cargo.toml"])
                })?;
                let text = std::str::from_utf8(self.archive.file(path)?).ok()?;
                let toml: toml::Table = toml::from_str(text).ok()?;
                let l = toml.get("package")?.get("license")?.as_str()?;
                Some((l.to_string(), path.clone()))
            }
        }
    }

    pub(super) fn license_files(&mut self) {
        let paths: Vec<String> = self
            .archive
            .entries
            .keys()
            .filter(|p| is_license_file(p))
            .cloned()
            .collect();
        for path in paths {
            let Some(text) = self.text(&path) else {
                continue;
            };
            let text = collapse_whitespace(&String::from_utf8_lossy(text).to_lowercase());
            if OPEN_SOURCE_MARKERS.iter().any(|m| text.contains(m)) {
                continue;
            }
            let found: Vec<&str> = PROPRIETARY_PHRASES
                .iter()
                .copied()
                .filter(|p| text.contains(p))
                .collect();
            if !found.is_empty() {
                self.push(
                    "license-file-proprietary",
                    Severity::Warning,
                    Some(&path),
                    format!(
                        "`{path}` reads as a proprietary licence ({}) and holds no known open-source licence text",
                        found
                            .iter()
                            .map(|p| format!("\"{p}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }
}

// ---- SPDX expressions -------------------------------------------------------

/// A licence id, with the exception after `WITH` if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Term {
    id: String,
    exception: Option<String>,
}

impl Term {
    pub(super) fn display(&self) -> String {
        match &self.exception {
            Some(e) => format!("{} WITH {e}", self.id),
            None => self.id.clone(),
        }
    }

    /// The id (or its exception, or both together) is in `list`.
    fn matches(&self, list: &[String]) -> bool {
        let has = |s: &str| list.iter().any(|l| l.trim().eq_ignore_ascii_case(s));
        has(&self.id)
            || self.exception.as_deref().is_some_and(has)
            || (self.exception.is_some() && has(&self.display()))
    }

    /// The licence itself is in `list` (an exception only adds permissions).
    fn matches_id(&self, list: &[String]) -> bool {
        let has = |s: &str| list.iter().any(|l| l.trim().eq_ignore_ascii_case(s));
        has(&self.id) || (self.exception.is_some() && has(&self.display()))
    }
}

#[derive(Debug)]
pub(super) enum Expr {
    Term(Term),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tok {
    Open,
    Close,
    And,
    Or,
    With,
    Word(String),
}

pub(super) fn tokenize(s: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, toks: &mut Vec<Tok>| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        toks.push(match w.to_ascii_uppercase().as_str() {
            "AND" => Tok::And,
            "OR" => Tok::Or,
            "WITH" => Tok::With,
            _ => Tok::Word(w),
        });
    };
    for c in s.chars() {
        match c {
            '(' | ')' | '/' => {
                flush(&mut word, &mut toks);
                toks.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    // `MIT/Apache-2.0`, the old cargo form, means OR
                    _ => Tok::Or,
                });
            }
            c if c.is_whitespace() => flush(&mut word, &mut toks),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut toks);
    toks
}

pub(super) struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn or(&mut self) -> Option<Expr> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Option<Expr> {
        let mut items = vec![self.primary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.primary()?);
        }
        Some(if items.len() == 1 {
            items.pop()?
        } else {
            Expr::And(items)
        })
    }

    fn primary(&mut self) -> Option<Expr> {
        match self.toks.get(self.pos)? {
            Tok::Open => {
                self.depth += 1;
                if self.depth > 32 {
                    return None;
                }
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return None;
                }
                self.pos += 1;
                self.depth -= 1;
                Some(e)
            }
            Tok::Word(id) => {
                let id = id.clone();
                self.pos += 1;
                let mut exception = None;
                if self.peek() == Some(&Tok::With) {
                    self.pos += 1;
                    match self.toks.get(self.pos) {
                        Some(Tok::Word(e)) => exception = Some(e.clone()),
                        _ => return None,
                    }
                    self.pos += 1;
                }
                Some(Expr::Term(Term { id, exception }))
            }
            _ => None,
        }
    }
}

/// Most alternatives an expression expands to before the check falls back
/// to requiring every id.
pub(super) const MAX_ALTERNATIVES: usize = 64;

/// The ways an SPDX expression can be satisfied: each alternative is a set of
/// licences that must all be accepted (`A AND (B OR C)` gives `[A, B]`,
/// `[A, C]`). An expression that does not parse (free text such as
/// `Apache 2.0`) or expands too far is one alternative holding every id, the
/// cautious reading.
pub(super) fn spdx_alternatives(expr: &str) -> Vec<Vec<Term>> {
    let toks = tokenize(expr);
    let all_ids = || {
        let mut terms = Vec::new();
        let mut after_with = false;
        for t in &toks {
            match t {
                Tok::Word(w) if after_with => {
                    if let Some(Term { exception, .. }) = terms.last_mut() {
                        *exception = Some(w.clone());
                    }
                    after_with = false;
                }
                Tok::Word(w) => terms.push(Term {
                    id: w.clone(),
                    exception: None,
                }),
                Tok::With => after_with = true,
                _ => after_with = false,
            }
        }
        vec![terms]
    };
    let mut parser = Parser {
        toks: tokenize(expr),
        pos: 0,
        depth: 0,
    };
    let parsed = parser.or().filter(|_| parser.pos == parser.toks.len());
    match parsed.and_then(|e| dnf(&e)) {
        Some(alts) => alts,
        None => all_ids(),
    }
}

/// Disjunctive normal form, or `None` past [`MAX_ALTERNATIVES`].
pub(super) fn dnf(e: &Expr) -> Option<Vec<Vec<Term>>> {
    match e {
        Expr::Term(t) => Some(vec![vec![t.clone()]]),
        Expr::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(dnf(i)?);
                if out.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(out)
        }
        Expr::And(items) => {
            let mut out: Vec<Vec<Term>> = vec![Vec::new()];
            for i in items {
                let alts = dnf(i)?;
                if out.len() * alts.len() > MAX_ALTERNATIVES {
                    return None;
                }
                out = out
                    .iter()
                    .flat_map(|prefix| {
                        alts.iter().map(move |alt| {
                            let mut v = prefix.clone();
                            v.extend(alt.iter().cloned());
                            v
                        })
                    })
                    .collect();
            }
            Some(out)
        }
    }
}

// ---- licence files ----------------------------------------------------------

/// `LICENSE*`, `LICENCE*` and `COPYING*`, anywhere in the bundle.
pub(super) fn is_license_file(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path).to_ascii_uppercase();
    base.starts_with("LICENSE") || base.starts_with("LICENCE") || base.starts_with("COPYING")
}

/// Phrases of well-known open-source licences (lowercase, single-spaced).
pub(super) const OPEN_SOURCE_MARKERS: &[&str] = &[
    "permission is hereby granted, free of charge",
    "the mit license",
    "apache license",
    "gnu general public license",
    "gnu lesser general public license",
    "gnu library general public license",
    "gnu affero general public license",
    "mozilla public license",
    "redistribution and use in source and binary forms",
    "permission to use, copy, modify, and/or distribute this software",
    "permission to use, copy, modify, and distribute this software",
    "this is free and unencumbered software released into the public domain",
    "creative commons",
    "boost software license",
    "eclipse public license",
    "european union public licence",
    "common development and distribution license",
    "artistic license",
    "universal permissive license",
    "python software foundation license",
    "altered source versions must be plainly marked as such",
    "do what the fuck you want to",
];

/// Phrases of proprietary terms (lowercase, single-spaced).
pub(super) const PROPRIETARY_PHRASES: &[&str] = &[
    "all rights reserved",
    "proprietary",
    "confidential",
    "may not be copied",
    "may not be distributed",
    "may not be redistributed",
    "may not be reproduced",
    "may not be modified",
    "unauthorized copying",
    "without the express written permission",
    "without the prior written permission",
];

pub(super) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
