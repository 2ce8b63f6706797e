//! `/packages/{name}`: one package, as a person deciding whether to
//! install it wants to see it, and `/packages/{name}/{version}/files/{path}`,
//! one text file of a version, escaped.

use maud::{html, Markup, PreEscaped};

use super::browse::{package_href, provenance_badge};
use super::layout::{count, date, page, size, visible, Viewer};
use crate::package::Kind;
use crate::registry::{CatalogFile, CatalogPackage, CatalogVersion};

/// How many days the downloads chart spans.
pub const CHART_DAYS: usize = 90;

/// The Markdown shown on the page, if the version has one.
pub enum Readme {
    /// Rendered and sanitized ([`super::markdown::to_safe_html`]).
    Rendered {
        /// Its path in the bundle (`SKILL.md`, `README.md`).
        path: String,
        /// Safe HTML.
        html: String,
        /// Its length in bytes, for the context cost.
        bytes: u64,
    },
    /// The version has none.
    Missing,
    /// It could not be shown, and why (too large, not text).
    Unreadable(String),
}

/// Where clients reach this registry, for the install lines.
pub struct Endpoints<'a> {
    /// The daemon's base URL.
    pub base_url: &'a str,
    /// The Claude Code marketplace's name.
    pub marketplace: &'a str,
    /// Whether skills are offered as one-skill plugins too.
    pub skills_as_plugins: bool,
}

/// Everything the package page shows.
pub struct PackageView<'a> {
    /// The package.
    pub package: &'a CatalogPackage,
    /// The version shown (the latest, or the one asked for).
    pub version: &'a CatalogVersion,
    /// Its SKILL.md or README.
    pub readme: Readme,
    /// Its regular files.
    pub files: &'a [CatalogFile],
    /// Downloads of each of `package.versions`, in that order.
    pub downloads: &'a [u64],
    /// Downloads per day (`YYYY-MM-DD`, count), oldest first.
    pub by_day: &'a [(String, u64)],
    /// Packages whose current version depends on this one.
    pub dependents: &'a [String],
    /// Where clients reach the registry.
    pub endpoints: Endpoints<'a>,
}

/// Tokens a model spends on `bytes` of text, estimated as one per four
/// bytes: the usual rule of thumb for English text and code with
/// byte-pair tokenizers (cl100k_base and its kin), within about 20 %.
pub fn estimated_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

/// The package page's content (the same for every viewer; the frame
/// around it is [`super::layout::page`]'s, titled with the package name).
pub fn render(view: &PackageView) -> Markup {
    let (p, v) = (view.package, view.version);
    let total: u64 = view.downloads.iter().sum();
    let body = html! {
        div.heading {
            h1 { (p.name) }
            span.kind { (p.kind.as_str()) }
            span.version { (v.version) }
            @if v.yanked { span.badge.yanked { "yanked" } }
        }
        p.lead { (crate::feeds::one_line(&v.description)) }
        div.columns {
            section.main {
                (readme(&view.readme))
                h2 { "Files" }
                (file_tree(p, v, view.files))
            }
            aside {
                h2 { "Install" }
                (install_lines(p, &view.endpoints))
                h2 { "Facts" }
                dl.facts {
                    dt { "Licence" } dd { (v.license.as_deref().unwrap_or("not stated")) }
                    dt { "Published" } dd { (date(v.published_at)) }
                    dt { "Provenance" } dd { (provenance_badge(v)) " by " code { (v.published_by) } }
                    dt { "Signature" } dd {
                        @match &v.signed_by {
                            Some((publisher, keyid)) => { "signed by " code { (publisher) } ", key " code.hash { (keyid) } " (verified at publish)" }
                            None => { span.muted { "not signed by its publisher" } }
                        }
                    }
                    @if let Some((admin, note)) = &v.approved_by {
                        dt { "Approved" } dd { "by " code { (admin) } @if !note.is_empty() { ": " (note) } }
                    }
                    dt { "Checksum" } dd { code.hash title="sha256 of the bundle" { (v.cksum) } }
                    dt { "Size" } dd { (size(v.size)) }
                    dt { "Downloads" } dd { (count(total)) }
                    dt { "Keywords" } dd { @if v.keywords.is_empty() { "none" } @else { (v.keywords.join(", ")) } }
                }
                h2 { "Context cost" }
                (context_cost(&view.readme, view.files))
                h2 { "Dependencies" }
                @if v.dependencies.is_empty() { p.muted { "None." } } @else {
                    ul { @for d in &v.dependencies {
                        li { a href=(package_href(d.package.as_deref().unwrap_or(&d.name))) { (d.package.as_deref().unwrap_or(&d.name)) } " " code { (d.req) } @if d.kind != "normal" { " (" (d.kind) ")" } }
                    } }
                }
                h2 { "Dependents" }
                @if view.dependents.is_empty() { p.muted { "None in this registry." } } @else {
                    ul { @for name in view.dependents { li { a href=(package_href(name)) { (name) } } } }
                }
            }
        }
        h2 { "Downloads" }
        (super::chart::daily_downloads(view.by_day, CHART_DAYS))
        h2 { "Versions" }
        table.versions {
            thead { tr { th { "Version" } th { "Published" } th.num { "Downloads" } th { "" } } }
            tbody {
                @for (version, downloads) in p.versions.iter().zip(view.downloads) {
                    tr.current[version.id == v.id] {
                        td { a href=(version_href(&p.name, &version.version)) { (version.version) } }
                        td { (date(version.published_at)) }
                        td.num { (count(*downloads)) }
                        td { @if version.yanked { span.badge.yanked { "yanked" } } }
                    }
                }
            }
        }
    };
    body
}

/// The SKILL.md or README, sanitized.
fn readme(readme: &Readme) -> Markup {
    match readme {
        Readme::Rendered { path, html, .. } => html! {
            article.readme aria-label=(path) { (PreEscaped(html)) }
        },
        Readme::Missing => html! { p.muted { "This version has no SKILL.md or README." } },
        Readme::Unreadable(why) => html! { p.problem { (why) } },
    }
}

/// The files with their sizes, each linked to the viewer.
fn file_tree(p: &CatalogPackage, v: &CatalogVersion, files: &[CatalogFile]) -> Markup {
    html! {
        table.files {
            tbody {
                @for f in files {
                    tr {
                        td { a href=(file_href(&p.name, &v.version, &f.path)) { code { (visible(&f.path)) } } }
                        td.num { (size(f.size)) }
                    }
                }
            }
        }
    }
}

/// Token estimates, with the method, and the counts seed catalogs show.
fn context_cost(readme: &Readme, files: &[CatalogFile]) -> Markup {
    let all: u64 = files.iter().map(|f| f.size).sum();
    let under = |dirs: &[&str]| {
        files
            .iter()
            .filter(|f| dirs.iter().any(|d| f.path.starts_with(d)))
            .count()
    };
    html! {
        dl.facts {
            @if let Readme::Rendered { path, bytes, .. } = readme {
                dt { (path) } dd { "≈ " (count(estimated_tokens(*bytes))) " tokens" }
            }
            dt { "Whole bundle" } dd { "≈ " (count(estimated_tokens(all))) " tokens" }
            dt { "Scripts" } dd { (under(&["scripts/", "bin/"])) }
            dt { "References" } dd { (under(&["references/", "reference/"])) }
        }
        p.muted.small { "Estimated at one token per 4 bytes, the rule of thumb for byte-pair tokenizers such as cl100k_base (±20 %)." }
    }
}

/// Copyable install lines for every client that can take this package.
fn install_lines(p: &CatalogPackage, e: &Endpoints) -> Markup {
    let name = &p.name;
    let base = e.base_url;
    let mut lines: Vec<(&str, String)> = vec![(
        "skillreg",
        format!("skillreg install {name} --registry {base} --trust-root skillreg-root.json"),
    )];
    match p.kind {
        Kind::Skill => {
            lines.push((
                "skills CLI",
                format!("npx skills add {base} --skill {name} -y -a claude-code"),
            ));
            if e.skills_as_plugins {
                lines.push(("Claude Code", claude_line(name, e)));
            }
            lines.push((
                "ClawHub",
                format!("clawhub --registry {base} install {name}"),
            ));
        }
        Kind::Plugin => lines.push(("Claude Code", claude_line(name, e))),
        Kind::Crate => lines.push(("cargo", format!("cargo add {name} --registry skillreg"))),
    }
    html! {
        @for (client, line) in lines {
            div.install {
                span.client { (client) }
                pre { code { (line) } }
            }
        }
    }
}

/// The two Claude Code commands that install `name` from the marketplace.
fn claude_line(name: &str, e: &Endpoints) -> String {
    format!(
        "claude plugin marketplace add {}/claude/marketplace.json\nclaude plugin install {name}@{}",
        e.base_url, e.marketplace
    )
}

/// Where one version's page is.
pub fn version_href(name: &str, version: &str) -> String {
    format!(
        "{}/{}",
        package_href(name),
        percent_encoding::utf8_percent_encode(version, super::SEGMENT)
    )
}

/// Where the viewer of one file is.
pub fn file_href(name: &str, version: &str, path: &str) -> String {
    let path: Vec<String> = path
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, super::SEGMENT).to_string())
        .collect();
    format!("{}/files/{}", version_href(name, version), path.join("/"))
}

/// The viewer: a text file of a version, escaped in a `<pre>`.
pub fn file_page(
    p: &CatalogPackage,
    v: &CatalogVersion,
    path: &str,
    text: &str,
    viewer: &Viewer,
) -> Markup {
    let body = html! {
        p.crumbs {
            a href=(package_href(&p.name)) { (p.name) } " / "
            a href=(version_href(&p.name, &v.version)) { (v.version) } " / "
            code { (visible(path)) }
        }
        pre.file { (text) }
    };
    page(&format!("{} · {}", visible(path), p.name), viewer, body)
}
