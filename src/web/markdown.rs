//! A package's Markdown (its SKILL.md or README) as safe HTML.
//!
//! The text comes from whoever published or mirrored the package, so the
//! HTML pulldown-cmark renders goes through ammonia, which keeps a fixed set
//! of tags and attributes and drops everything else: raw HTML blocks,
//! `<script>`, `<style>`, event handlers, `javascript:` and `data:` links,
//! SVG. Links get `rel="noopener noreferrer nofollow"`. Images keep only
//! `alt` text: an image URL would make the reader's browser fetch from a
//! stranger's host (the page's CSP would block it too).

use std::collections::HashSet;

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// The Markdown of `text` (with any YAML frontmatter left out) as
/// sanitized HTML.
pub fn to_safe_html(text: &str) -> String {
    let body = without_frontmatter(text);
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    // Images become their alt text before rendering: nothing is fetched.
    let events = Parser::new_ext(body, options).filter(|event| {
        !matches!(
            event,
            Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image)
        )
    });
    let mut rendered = String::new();
    html::push_html(&mut rendered, events);
    sanitizer().clean(&rendered).to_string()
}

/// The sanitizer: ammonia's defaults, minus images, with only web and mail
/// links and the `rel` every link gets.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .rm_tags(["img"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"]);
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
        for bad in [
            "<script",
            "javascript:",
            "data:",
            "onerror",
            "onclick",
            "<img",
            "<svg",
            "<iframe",
            "<style",
            "attacker.example/pixel",
        ] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
        assert!(html.contains("remote"), "the alt text stays: {html}");
        assert!(
            html.contains("rel=\"noopener noreferrer nofollow\""),
            "{html}"
        );
    }
}
