//! The web pages people read (`index-spec/web-pages.md`): the catalog to
//! browse, each package's page, and a viewer for a version's text files.
//! Server-rendered HTML, templates compiled into the binary ([`maud`]
//! escapes every value it is given), one embedded style sheet, no script:
//! the pages work without JavaScript and under a `Content-Security-Policy`
//! that allows none.
//!
//! Everything here is a pure function of catalog facts handed in by the
//! server's page routes (`server::pages`), which own requests, tokens and
//! headers. Content from packages (a SKILL.md, a file, a name) is hostile:
//! Markdown is rendered and then sanitized ([`markdown`]), everything else
//! is escaped.

pub mod browse;
pub mod chart;
pub mod diff;
pub mod layout;
pub mod markdown;
pub mod operations;
pub mod package;
pub mod review;

/// The style sheet every page links, served at [`CSS_PATH`].
pub const CSS: &str = include_str!("style.css");

/// Where [`CSS`] is served: versioned by content so it can be cached for
/// good.
pub const CSS_PATH: &str = "/static/skillreg-1.css";

/// What a path segment of a page's URL escapes: everything but letters,
/// digits and `-._~` (so `/packages/pdf-fill` stays readable).
pub const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
