//! `/admin/pending`: what the mirror brought in and waits for an admin,
//! fast to go through and safe to look at. The queue (select, approve,
//! reject with a reason), one version's findings, inventory, files and
//! diff, and one file of it beside the last approved version's.

use maud::{html, Markup};

use super::layout::{csrf_field, page, size, visible, Viewer};
use super::package::estimated_tokens;
use crate::policy::{Finding, Severity};
use crate::registry::{PendingVersion, ReviewFile};

/// One file of a pending version, as its stored file list names it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ListedFile {
    /// Path in the bundle.
    pub path: String,
    /// `file`, `symlink`, `dir`, …
    #[serde(default)]
    pub kind: serde_json::Value,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// The findings of a pending version, read from what the policy stored.
pub fn findings(pending: &PendingVersion) -> Vec<Finding> {
    serde_json::from_value(pending.findings.clone()).unwrap_or_default()
}

/// The files of a pending version.
pub fn files(pending: &PendingVersion) -> Vec<ListedFile> {
    serde_json::from_value(pending.files.clone()).unwrap_or_default()
}

/// The rules whose findings are the inventory (what a version runs or
/// brings), shown apart from the problems.
const INVENTORY_RULES: [&str; 4] = ["hook", "mcp-server", "bin", "script"];

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Reject => "reject",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// Where one pending version's page is.
pub fn item_href(name: &str, version: &str) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, super::SEGMENT).to_string();
    format!("/admin/pending/{}/{}", enc(name), enc(version))
}

/// Where the review of one file is.
fn file_href(name: &str, version: &str, path: &str) -> String {
    let path: Vec<String> = path
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, super::SEGMENT).to_string())
        .collect();
    format!("{}/files/{}", item_href(name, version), path.join("/"))
}

/// The value a queue checkbox sends: `name@version`.
pub fn selection(pending: &PendingVersion) -> String {
    format!("{}@{}", pending.name, pending.version)
}

/// Counts of findings by severity, most severe first.
fn severity_counts(findings: &[Finding]) -> Markup {
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    html! {
        @for s in [Severity::Reject, Severity::Warning, Severity::Info] {
            @if count(s) > 0 {
                span.badge.(severity_name(s)) { (count(s)) " " (severity_name(s)) }
                " "
            }
        }
    }
}

/// The queue, with the boxes of `checked` checked (every box after the
/// "Select all" link, which needs no script; the boxes of a refused
/// decision); `notice` reports the last decision.
pub fn queue(
    pending: &[PendingVersion],
    checked: &std::collections::BTreeSet<String>,
    notice: Option<&str>,
    viewer: &Viewer,
) -> Markup {
    let body = html! {
        h1 { "Pending review (" (pending.len()) ")" }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if pending.is_empty() {
            p.empty { "Nothing waits for review." }
        } @else {
            form method="post" action="/admin/pending" {
                (csrf_field(viewer))
                div.actions {
                    a href={ "/admin/pending?all=" (viewer.csrf.as_deref().unwrap_or("")) } { "Select all" }
                    a href="/admin/pending" { "Select none" }
                    button name="action" value="approve" type="submit" { "Approve selected" }
                    input type="text" name="reason" placeholder="Reason (needed to reject)" aria-label="Reason";
                    button.danger name="action" value="reject" type="submit" { "Reject selected" }
                }
                table.pending {
                    thead { tr { th { "" } th { "Package" } th { "Version" } th { "Source" } th { "Description" } th { "Findings" } th { "Changes" } th.num { "Context" } } }
                    tbody {
                        @for p in pending {
                            @let f = findings(p);
                            @let listed = files(p);
                            @let total: u64 = listed.iter().map(|f| f.size).sum();
                            tr {
                                td { input type="checkbox" name="select" value=(selection(p)) checked[checked.contains(&selection(p))] aria-label={ "Select " (selection(p)) }; }
                                td { a href=(item_href(&p.name, &p.version)) { (p.name) } " " span.kind { (p.kind.as_str()) } }
                                td { (p.version) }
                                td { (p.source.as_deref().unwrap_or("—")) }
                                td.description { (description(p)) }
                                td.findings { (severity_counts(&f)) }
                                td { (diff_summary(p)) }
                                td.num { "≈ " (super::layout::count(estimated_tokens(total))) }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Pending review", viewer, body)
}

/// The description it was stored with, on one line.
fn description(p: &PendingVersion) -> String {
    crate::feeds::one_line(&p.description).into_owned()
}

/// `+2 −1 ~3 against 1.0.0`, or `first version`.
fn diff_summary(p: &PendingVersion) -> Markup {
    match &p.diff.against {
        None => html! { span.muted { "first version" } },
        Some(against) => html! {
            "+" (p.diff.added.len()) " −" (p.diff.removed.len()) " ~" (p.diff.changed.len())
            span.muted { " against " (against) }
        },
    }
}

/// One pending version: what it is, what it runs, what the policy found,
/// what changed, and the decision.
pub fn item(p: &PendingVersion, viewer: &Viewer) -> Markup {
    let all = findings(p);
    let (inventory, problems): (Vec<&Finding>, Vec<&Finding>) = all
        .iter()
        .partition(|f| INVENTORY_RULES.contains(&f.rule.as_str()) && f.severity == Severity::Info);
    let listed = files(p);
    let skill_md = listed.iter().find(|f| f.path == "SKILL.md").map(|f| f.size);
    let total: u64 = listed.iter().map(|f| f.size).sum();
    let body = html! {
        p.crumbs { a href="/admin/pending" { "Pending" } " / " (p.name) " " (p.version) }
        div.heading { h1 { (p.name) } span.kind { (p.kind.as_str()) } span.version { (p.version) } }
        p.lead { (description(p)) }
        dl.facts {
            dt { "Source" } dd { (p.source.as_deref().unwrap_or("—")) }
            dt { "Checksum" } dd { code.hash { (p.cksum) } }
            @for (key, value) in p.upstream.as_object().into_iter().flatten() {
                dt { (key) } dd { (value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())) }
            }
            @if let Some(bytes) = skill_md { dt { "SKILL.md" } dd { "≈ " (super::layout::count(estimated_tokens(bytes))) " tokens" } }
            dt { "Whole bundle" } dd { "≈ " (super::layout::count(estimated_tokens(total))) " tokens (one per 4 bytes)" }
        }
        form method="post" action="/admin/pending" {
            (csrf_field(viewer))
            input type="hidden" name="select" value=(selection(p));
            div.actions {
                input type="text" name="note" placeholder="Note or reason (a reason is needed to reject)" aria-label="Note or reason";
                button name="action" value="approve" type="submit" { "Approve" }
                button.danger name="action" value="reject" type="submit" { "Reject" }
            }
        }
        h2 { "Findings" }
        @if problems.is_empty() { p.muted { "The policy found nothing to look at." } }
        @for s in [Severity::Reject, Severity::Warning, Severity::Info] {
            @let group: Vec<&&Finding> = problems.iter().filter(|f| f.severity == s).collect();
            @if !group.is_empty() {
                h3 { (severity_name(s)) " (" (group.len()) ")" }
                table.findings {
                    tbody {
                        @for f in group {
                            tr {
                                td.(severity_name(s)) { code { (f.rule) } }
                                td { @if let Some(path) = &f.path { a href=(file_href(&p.name, &p.version, path)) { code { (visible(path)) } } } }
                                td { (f.detail) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "What it runs and brings" }
        @if inventory.is_empty() { p.muted { "No hooks, MCP servers, bin/ or scripts." } } @else {
            ul { @for f in &inventory {
                li { code { (f.rule) } " " @if let Some(path) = &f.path { a href=(file_href(&p.name, &p.version, path)) { code { (visible(path)) } } } " " (f.detail) }
            } }
        }
        h2 { "Changes" }
        @match &p.diff.against {
            None => { p.muted { "The first version of this package: every file is new." } }
            Some(against) => {
                p { "Against the last approved version, " (against) ":" }
                ul.changes {
                    @for path in &p.diff.added { li { "added " a href=(file_href(&p.name, &p.version, path)) { code { (visible(path)) } } } }
                    @for path in &p.diff.changed { li { "changed " a href=(file_href(&p.name, &p.version, path)) { code { (visible(path)) } } } }
                    @for path in &p.diff.removed { li { "removed " code { (visible(path)) } } }
                }
            }
        }
        h2 { "Files" }
        table.files { tbody {
            @for f in &listed {
                tr {
                    td { @if f.kind == "file" { a href=(file_href(&p.name, &p.version, &f.path)) { code { (visible(&f.path)) } } } @else { code { (visible(&f.path)) } " " span.muted { (f.kind.as_str().unwrap_or("")) } } }
                    td.num { (size(f.size)) }
                }
            }
        } }
    };
    page(&format!("Review {}", p.name), viewer, body)
}

/// One file of a pending version, with its diff against the last approved
/// version's file of the same path (unified, the changed lines marked).
pub fn file(p: &PendingVersion, path: &str, file: &ReviewFile, viewer: &Viewer) -> Markup {
    let body = html! {
        p.crumbs {
            a href="/admin/pending" { "Pending" } " / "
            a href=(item_href(&p.name, &p.version)) { (p.name) " " (p.version) } " / "
            code { (visible(path)) }
        }
        @match &file.previous {
            Some((against, Some(old))) => {
                h2 { "Changes against " (against) }
                (super::diff::unified(old, &file.text))
            }
            Some((against, None)) => { p.muted { "New in this version (not in " (against) ")." } }
            None => { p.muted { "The first version of this package." } }
        }
        h2 { "The file" }
        pre.file { (file.text) }
    };
    page(
        &format!("{} · review {}", visible(path), p.name),
        viewer,
        body,
    )
}
