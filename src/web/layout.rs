//! The frame every page shares: head, navigation, footer.

use maud::{html, Markup, DOCTYPE};

/// Who is looking, as far as the navigation cares.
#[derive(Clone, Debug, Default)]
pub struct Viewer {
    /// The signed-in login, if any.
    pub login: Option<String>,
    /// Whether the signed-in token is an admin's.
    pub admin: bool,
    /// The session's CSRF token, when signed in through the form (the
    /// sign-out button needs it).
    pub csrf: Option<String>,
}

/// A whole page: `title` (escaped) in the tab and `body` in the frame.
pub fn page(title: &str, viewer: &Viewer, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · skillreg" }
                link rel="stylesheet" href=(super::CSS_PATH);
            }
            body {
                header.top {
                    a.brand href="/" { "skillreg" }
                    nav {
                        a href="/" { "Browse" }
                        @if viewer.admin {
                            a href="/admin/pending" { "Pending" }
                            a href="/admin/sources" { "Sources" }
                            a href="/admin/audit" { "Audit" }
                        }
                        @if let Some(login) = &viewer.login {
                            span.who { (login) }
                        }
                        @if let Some(csrf) = &viewer.csrf {
                            form.signout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        } @else if viewer.login.is_none() {
                            a.signin href="/login" { "Sign in" }
                        }
                    }
                }
                main { (body) }
                footer { "skillreg " (env!("CARGO_PKG_VERSION")) }
            }
        }
    }
}

/// The hidden field every form of a session carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf.as_deref().unwrap_or("")); }
}

/// The sign-in form: a token for a session.
pub fn sign_in(viewer: &Viewer, why: Option<&str>) -> Markup {
    page(
        "Sign in",
        viewer,
        html! {
            h1 { "Sign in" }
            @if let Some(why) = why { p.problem { (why) } }
            form.signin method="post" action="/login" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="off" required placeholder="skr_…";
                button type="submit" { "Sign in" }
            }
            p.muted.small { "An admin token opens the review pages; any token opens the catalog of a registry that needs one. An admin makes tokens with " code { "skillreg token create" } ". The session ends after 8 hours, at sign-out, or when the token is revoked." }
        },
    )
}

/// A page that says what went wrong and what to do.
pub fn problem(title: &str, viewer: &Viewer, detail: &str) -> Markup {
    page(
        title,
        viewer,
        html! {
            h1 { (title) }
            p.problem { (detail) }
            p { a href="/" { "Back to the catalog" } }
        },
    )
}

/// `text` with every character that could hide or reorder what a reader
/// sees (controls, bidi overrides and isolates, zero-width characters) as
/// `\u{…}`: for file names, where `notes/\u{202e}gnp.exe` must not read
/// as `notes/exe.png`.
pub fn visible(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}')
    };
    text.chars()
        .map(|c| {
            if hidden(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A count with thousands separators (`12,345`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in bytes as people read it (`1.5 KiB`).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A Unix time as a UTC date (`2026-12-01`).
pub fn date(secs: i64) -> String {
    crate::fsutil::rfc3339(secs)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sizes_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(size(10), "10 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn hidden_characters_are_shown() {
        assert_eq!(visible("notes/\u{202e}gnp.exe"), "notes/\\u{202e}gnp.exe");
        assert_eq!(visible("a\u{200b}b\tc"), "a\\u{200b}b\\u{9}c");
        assert_eq!(visible("plain/файл.md"), "plain/файл.md");
    }

    #[test]
    fn every_value_is_escaped() {
        let html = problem("<script>", &Viewer::default(), "\"><img src=x>").into_string();
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
    }
}
