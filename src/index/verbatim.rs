//! Index lines kept exactly as an upstream served them.
//!
//! A mirrored crate's line is stored byte for byte (whitespace, field order
//! and fields skillreg does not know included), so what cargo reads here is
//! what it read upstream. Only `yanked` may differ, and it is changed in
//! place: [`yanked_value`] finds the top-level field's value by scanning
//! the JSON text, never by re-serializing it.

use std::ops::Range;

/// Why an upstream line cannot be kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerbatimError {
    /// The line has no top-level `yanked` field holding `true` or `false`.
    #[error("the index line has no top-level `\"yanked\": true|false` field, so it cannot be kept byte for byte with its yank state")]
    NoYanked,
    /// The line is not one JSON object on one line.
    #[error("the index line is not a single-line JSON object")]
    NotAnObject,
    /// The line is longer than any real one.
    #[error("the index line is {0} bytes long; at most {MAX_LINE_BYTES} are kept")]
    TooLong(usize),
    /// A top-level key appears twice: JSON readers disagree on which one
    /// counts (the last, the first, or an error, as cargo's does), so the
    /// yank state or checksum skillreg reads might not be a client's.
    #[error("the index line repeats its top-level key `{0}`; readers disagree on which value counts, so it is not kept")]
    DuplicateKey(String),
    /// The line carries fields only skillreg's own signed lines may carry.
    #[error("the index line carries skillreg's own field(s) {0}, which an unsigned upstream may not set (they would be shown as verified facts)")]
    OwnFields(String),
}

/// The longest line kept (real crates.io lines are well under 200 KB,
/// even with thousands of features).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Top-level fields skillreg adds to its own lines: believed only from a
/// signed skillreg upstream, never from a plain sparse index.
pub const OWN_FIELDS: [&str; 5] = ["kind", "description", "license", "size", "provenance"];

/// An upstream index line, ready to store: the text with `yanked` set to
/// `false` (the stored form, see [`super::render`]) and the upstream's
/// yank state beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerbatimLine {
    /// The line as served, except that a `true` yank reads `false`.
    pub stored: String,
    /// Whether the upstream served it yanked.
    pub yanked: bool,
}

impl VerbatimLine {
    /// Prepares `line` (one line, no trailing newline) for storing.
    pub fn new(line: &str) -> Result<VerbatimLine, VerbatimError> {
        if line.len() > MAX_LINE_BYTES {
            return Err(VerbatimError::TooLong(line.len()));
        }
        if line.contains(['\n', '\r']) {
            return Err(VerbatimError::NotAnObject);
        }
        match serde_json::from_str::<TopLevelKeys>(line) {
            Ok(TopLevelKeys(None)) => {}
            Ok(TopLevelKeys(Some(key))) => return Err(VerbatimError::DuplicateKey(key)),
            Err(_) => return Err(VerbatimError::NotAnObject),
        }
        let span = yanked_value(line).ok_or(VerbatimError::NoYanked)?;
        let yanked = &line[span.clone()] == "true";
        let mut stored = line.to_string();
        if yanked {
            stored.replace_range(span, "false");
        }
        Ok(VerbatimLine { stored, yanked })
    }
}

/// A JSON object read only for its top-level keys (escapes decoded):
/// the first key that repeats, if any.
struct TopLevelKeys(Option<String>);

impl<'de> serde::Deserialize<'de> for TopLevelKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = TopLevelKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevelKeys, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut repeated = None;
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if !seen.insert(key.clone()) && repeated.is_none() {
                        repeated = Some(key);
                    }
                }
                Ok(TopLevelKeys(repeated))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// Refuses a line from an unsigned upstream that sets any of [`OWN_FIELDS`].
pub fn refuse_own_fields(line: &str) -> Result<(), VerbatimError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|_| VerbatimError::NotAnObject)?;
    let found: Vec<&str> = OWN_FIELDS
        .into_iter()
        .filter(|f| map.contains_key(*f))
        .collect();
    match found.is_empty() {
        true => Ok(()),
        false => Err(VerbatimError::OwnFields(found.join(", "))),
    }
}

/// Writes `line` (a stored line) with its `yanked` value set to `yanked`.
/// `None` when the line has no top-level `yanked` boolean.
pub fn with_yanked(line: &str, yanked: bool) -> Option<String> {
    let span = yanked_value(line)?;
    let mut out = String::with_capacity(line.len() + 1);
    out.push_str(&line[..span.start]);
    out.push_str(if yanked { "true" } else { "false" });
    out.push_str(&line[span.end..]);
    Some(out)
}

/// The byte range of the value of the top-level `"yanked"` key of a JSON
/// object, when it is `true` or `false`. Strings are skipped with their
/// escapes, so a feature or description that spells `"yanked":false`
/// never matches; keys inside nested objects never match either.
pub fn yanked_value(line: &str) -> Option<Range<usize>> {
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    // A string just closed at depth 1 in key position may be the key.
    let mut expect_key = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                let end = string_end(bytes, start)?;
                let is_key = depth == 1 && expect_key;
                i = end + 1;
                if is_key {
                    expect_key = false;
                    let after_colon = skip_ws(bytes, i);
                    if bytes.get(after_colon) != Some(&b':') {
                        return None;
                    }
                    if &bytes[start..end] == b"yanked" {
                        let v = skip_ws(bytes, after_colon + 1);
                        for word in ["true", "false"] {
                            if bytes[v..].starts_with(word.as_bytes()) {
                                return Some(v..v + word.len());
                            }
                        }
                        return None;
                    }
                    i = after_colon + 1;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1 && bytes[i] == b'{';
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                i += 1;
            }
            b',' => {
                expect_key = depth == 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The index of the quote that closes the string starting at `start`.
fn string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests;
