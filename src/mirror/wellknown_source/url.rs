//! Resolving an index entry's `url` against the index's URL (RFC 3986
//! §5.2, for the forms an index uses), and refusing every scheme but
//! http(s): an entry names what the mirror fetches, so `file:`, `ftp:` or
//! a bare host must never get that far.

/// Why an entry's `url` cannot be fetched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Empty.
    #[error("the entry's `url` is empty")]
    Empty,
    /// Spaces, control characters or backslashes, which URL parsers read
    /// in different ways.
    #[error("the entry's `url` `{0}` holds a space, a control character or a backslash")]
    Characters(String),
    /// Another scheme than http or https.
    #[error("the entry's `url` `{url}` is a `{scheme}:` URL; only http and https are fetched")]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// No host.
    #[error("the entry's `url` `{0}` names no host")]
    NoHost(String),
}

/// `reference` resolved against `base` (an absolute http(s) URL without a
/// fragment); the fragment of `reference` is dropped.
pub fn resolve(base: &str, reference: &str) -> Result<String, UrlError> {
    if reference.is_empty() {
        return Err(UrlError::Empty);
    }
    if reference
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(UrlError::Characters(reference.to_string()));
    }
    // Encoded dots and separators would slip past the dot removal here and
    // be merged by the server: a path outside the base, the token with it.
    let lower = reference.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
        return Err(UrlError::Characters(reference.to_string()));
    }
    let reference = reference.split('#').next().unwrap_or_default();
    if let Some(scheme) = scheme_of(reference) {
        let lower = scheme.to_ascii_lowercase();
        if lower != "http" && lower != "https" {
            return Err(UrlError::Scheme {
                url: reference.to_string(),
                scheme: scheme.to_string(),
            });
        }
        let rest = &reference[scheme.len() + 1..];
        return with_authority(&lower, rest, reference);
    }
    let (scheme, authority, base_path) = split_base(base);
    if reference.starts_with("//") {
        return with_authority(scheme, reference, reference);
    }
    let (path, query) = match reference.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (reference, None),
    };
    let path = if path.starts_with('/') {
        remove_dots(path)
    } else if path.is_empty() {
        base_path.to_string()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        remove_dots(&format!("{dir}{path}"))
    };
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!("{scheme}://{authority}{path}{query}"))
}

/// The scheme of an absolute reference (`ALPHA *( ALPHA / DIGIT / "+" /
/// "-" / "." ) ":"` before any `/`, `?`).
fn scheme_of(reference: &str) -> Option<&str> {
    let end = reference.find(':')?;
    let scheme = &reference[..end];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// `scheme:` + `rest`, where `rest` must be `//host…`.
fn with_authority(scheme: &str, rest: &str, original: &str) -> Result<String, UrlError> {
    let Some(after) = rest.strip_prefix("//") else {
        return Err(UrlError::NoHost(original.to_string()));
    };
    let host_end = after.find(['/', '?']).unwrap_or(after.len());
    let authority = &after[..host_end];
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(UrlError::NoHost(original.to_string()));
    }
    let tail = &after[host_end..];
    let tail = if tail.starts_with('/') {
        let (p, q) = match tail.split_once('?') {
            Some((p, q)) => (p, format!("?{q}")),
            None => (tail, String::new()),
        };
        format!("{}{q}", remove_dots(p))
    } else if tail.is_empty() {
        "/".to_string()
    } else {
        format!("/{tail}")
    };
    Ok(format!("{scheme}://{authority}{tail}"))
}

/// (scheme, authority, path) of the index URL, which skillreg built from
/// the configured `url` (checked http(s) at config load).
fn split_base(base: &str) -> (&str, &str, &str) {
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    match rest.find('/') {
        Some(i) => (scheme, &rest[..i], &rest[i..]),
        None => (scheme, rest, "/"),
    }
}

/// RFC 3986 §5.2.4 on an absolute path: `.` and `..` segments removed,
/// never above the root.
fn remove_dots(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "https://h.example/teams/a/.well-known/agent-skills/index.json";

    #[test]
    fn relative_references_resolve_against_the_index_file() {
        let cases = [
            (
                "files/x.zip",
                "https://h.example/teams/a/.well-known/agent-skills/files/x.zip",
            ),
            (
                "./x.zip",
                "https://h.example/teams/a/.well-known/agent-skills/x.zip",
            ),
            ("../x.zip", "https://h.example/teams/a/.well-known/x.zip"),
            ("../../../../../x.zip", "https://h.example/x.zip"),
            ("/top.zip", "https://h.example/top.zip"),
            ("/a/../b/./c.zip?v=1#frag", "https://h.example/b/c.zip?v=1"),
            ("//cdn.example/s.zip", "https://cdn.example/s.zip"),
            (
                "HTTP://Other.example:8080/s.zip",
                "http://Other.example:8080/s.zip",
            ),
            ("https://cdn.example", "https://cdn.example/"),
            (
                "x/..",
                "https://h.example/teams/a/.well-known/agent-skills/",
            ),
        ];
        for (reference, want) in cases {
            assert_eq!(
                resolve(INDEX, reference).as_deref(),
                Ok(want),
                "{reference}"
            );
        }
    }

    #[test]
    fn other_schemes_and_odd_characters_are_refused() {
        for bad in [
            "file:///etc/passwd",
            "ftp://h/x.zip",
            "javascript:alert(1)",
            "data:application/zip;base64,AAAA",
            "gopher://h/",
        ] {
            assert!(
                matches!(resolve(INDEX, bad), Err(UrlError::Scheme { .. })),
                "{bad}"
            );
        }
        for bad in [
            "",
            "a b.zip",
            "a\\b.zip",
            "x\n.zip",
            "https:x.zip",
            "https://",
            "//:80/x",
        ] {
            assert!(resolve(INDEX, bad).is_err(), "{bad}");
        }
    }
}
