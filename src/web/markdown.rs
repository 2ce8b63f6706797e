//! A package's Markdown (its SKILL.md or README) as safe HTML.
//!
//! The text comes from whoever published or mirrored the package. Three
//! rules keep it inert and cheap, before and after pulldown-cmark renders:
//!
//! - **Raw HTML is text.** An HTML block or inline tag in the Markdown is
//!   shown as its source, escaped: no tag a stranger wrote reaches the
//!   page, and the sanitizer never parses a stranger's markup (html5ever's
//!   tree building is quadratic in nesting depth: 50 KB of `<div>` took
//!   two minutes).
//! - **Nesting is bounded.** Containers (quotes, lists, emphasis, …) deeper
//!   than [`MAX_DEPTH`] are flattened into their parent, so `>` × 50,000
//!   renders in linear time.
//! - **Then ammonia** keeps a fixed set of the tags pulldown-cmark makes,
//!   and links only to `http`, `https` or `mailto` URLs and to `#` anchors
//!   of the page: a relative link could lead an admin's browser to one of
//!   the registry's own pages with chosen parameters. Links get
//!   `rel="noopener noreferrer nofollow"`. Images keep only their alt text:
//!   an image URL would make the reader's browser fetch from a stranger's
//!   host (the page's CSP would block it too).

use std::borrow::Cow;
use std::collections::HashSet;

use pulldown_cmark::{html, Event, Options, Parser, Tag};

/// Deepest nesting of Markdown containers kept as such.
pub const MAX_DEPTH: usize = 32;

/// The Markdown of `text` (with any YAML frontmatter left out) as
/// sanitized HTML.
pub fn to_safe_html(text: &str) -> String {
    let body = without_frontmatter(text);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    // For every open container: whether its start was kept (so its end is).
    let mut open: Vec<bool> = Vec::new();
    let events = Parser::new_ext(body, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(tag) => {
            let keep = open.len() < MAX_DEPTH && !matches!(tag, Tag::Image { .. });
            open.push(keep);
            keep.then_some(Event::Start(tag))
        }
        Event::End(tag) => open.pop().unwrap_or(false).then_some(Event::End(tag)),
        other => Some(other),
    });
    let mut rendered = String::new();
    html::push_html(&mut rendered, events);
    sanitizer().clean(&rendered).to_string()
}

/// Whether `href` is a link a page may carry: an absolute web or mail URL,
/// or an anchor of the same page.
fn allowed_href(href: &str) -> bool {
    let lower = href.trim_start().to_ascii_lowercase();
    lower.starts_with('#')
        || lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
}

/// The sanitizer: ammonia's defaults, minus images, with only the links of
/// [`allowed_href`] and the `rel` every link gets; `input` only as the
/// disabled checkbox of a task list.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .rm_tags(["img"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tags(["input"])
        .add_tag_attributes("input", ["checked", "disabled"])
        .set_tag_attribute_value("input", "type", "checkbox")
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("a", "href") if !allowed_href(value) => None,
            _ => Some(Cow::Borrowed(value)),
        });
    builder
}

/// `text` without a leading `---` … `---` YAML block (shown as facts on the
/// page, not as Markdown).
pub fn without_frontmatter(text: &str) -> &str {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return text;
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        if line.trim_end() == "---" {
            return &rest[offset..];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deepest element nesting of `html` (void elements not counted).
    fn max_depth(html: &str) -> usize {
        let (mut depth, mut deepest) = (0usize, 0usize);
        for piece in html.split('<').skip(1) {
            if piece.starts_with('/') {
                depth = depth.saturating_sub(1);
            } else if !["br", "hr", "input"].iter().any(|v| piece.starts_with(v)) {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        deepest
    }

    /// What made the sanitizer quadratic (deep trees) cannot reach it: the
    /// rendered HTML is never nested deeper than the bound, and raw tags
    /// are text.
    #[test]
    fn deep_nesting_is_flattened_and_raw_markup_stays_text() {
        for hostile in [
            ">".repeat(50_000),
            "<div>".repeat(60_000),
            "* ".repeat(20_000) + "x",
            "*".repeat(50_000) + "x" + &"*".repeat(50_000),
            "[".repeat(50_000),
        ] {
            let html = to_safe_html(&hostile);
            assert!(
                max_depth(&html) <= MAX_DEPTH,
                "{}: depth {}",
                &hostile[..10],
                max_depth(&html)
            );
            assert!(!html.contains("<div"), "raw tags stay text");
        }
        assert_eq!(max_depth("<p><em>a</em><br></p>"), 2);
    }

    #[test]
    fn only_web_mail_and_anchor_links_survive() {
        let html = to_safe_html(
            "[a](/admin/pending?all=1) [b](../../admin/x) [c](//evil.example/x) [d](references/x.md) \
             [e](https://ok.example/) [f](mailto:a@b.example) [g](#usage) [h](jav&#x61;script:alert(1))\n\n- [x] done\n",
        );
        for gone in [
            "/admin",
            "../",
            "//evil",
            "references/x.md",
            "javascript",
            "jav&amp;",
        ] {
            assert!(!html.contains(&format!("href=\"{gone}")), "{gone}: {html}");
        }
        for kept in ["https://ok.example/", "mailto:a@b.example", "#usage"] {
            assert!(html.contains(&format!("href=\"{kept}\"")), "{kept}: {html}");
        }
        assert!(html.contains("type=\"checkbox\""), "a task list: {html}");
    }

    #[test]
    fn markdown_renders_and_the_frontmatter_is_left_out() {
        let html = to_safe_html("---\nname: x\n---\n# Title\n\n*fine* `code`\n");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>fine</em>") && html.contains("<code>code</code>"));
        assert!(!html.contains("name: x"), "{html}");
    }

    #[test]
    fn hostile_markdown_is_inert() {
        let hostile = concat!(
            "<script>alert(1)</script>\n\n",
            "[click](javascript:alert(2)) [data](data:text/html,<b>x</b>)\n\n",
            "<img src=x onerror=alert(3)>\n\n",
            "![remote](https://attacker.example/pixel.png)\n\n",
            "<svg><script>alert(4)</script></svg>\n\n",
            "<a href=\"https://ok.example\" onclick=\"alert(5)\">ok</a>\n\n",
            "<iframe src=\"https://attacker.example\"></iframe><style>body{}</style>\n",
        );
        let html = to_safe_html(hostile);
        // Raw HTML is shown as escaped text; no tag or attribute of it is real.
        for bad in [
            "<script",
            "href=\"javascript:",
            "href=\"data:",
            "<img",
            "<svg",
            "<iframe",
            "<style",
            "attacker.example/pixel",
        ] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
        let handler = regex::Regex::new(r"<[a-zA-Z][^>]*\son[a-z]+\s*=").unwrap();
        assert!(
            !handler.is_match(&html),
            "an event handler survived: {html}"
        );
        assert!(html.contains("remote"), "the alt text stays: {html}");
        assert!(
            html.contains("&lt;script&gt;"),
            "raw HTML is shown as text: {html}"
        );
        assert!(
            html.contains("rel=\"noopener noreferrer nofollow\""),
            "{html}"
        );
    }
}
