//! The admin's running view: `/admin/sources` (each upstream with its
//! state, its pending count and *Sync now*), `/admin/runs` (the sync
//! history, each run's detail behind a click) and `/admin/audit` (the
//! decisions, filtered, with a CSV export).

use maud::{html, Markup};

use super::layout::{csrf_field, page, Viewer};
use crate::mirror::SourceStatus;
use crate::store::{AuditRecord, SyncRunRow};

/// One source and how many of its versions wait for review.
pub struct SourceRow<'a> {
    /// What the mirror knows of it.
    pub status: &'a SourceStatus,
    /// Its last run, if any.
    pub last: Option<&'a SyncRunRow>,
    /// Its pending versions.
    pub pending: usize,
}

/// The status dot's class and words for a source.
fn state(row: &SourceRow) -> (&'static str, String) {
    if row.status.running {
        return ("running", "running".into());
    }
    match row.last {
        Some(run) if run.run.status == "failed" => ("failed", "last run failed".into()),
        Some(run) => ("completed", format!("last run {}", run.run.status)),
        None => ("never", "never run".into()),
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS` UTC.
fn when(secs: i64) -> String {
    crate::fsutil::rfc3339(secs)
        .replace('T', " ")
        .replace('Z', "")
}

/// The sources page.
pub fn sources(rows: &[SourceRow], notice: Option<&str>, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Sources" }
        @if let Some(notice) = notice { p.notice role="status" { (notice) } }
        @if rows.is_empty() {
            p.empty { "No upstream is configured. Add a " code { "[[sources]]" } " table to the config file." }
        } @else {
            table.sources {
                thead { tr { th { "" } th { "Source" } th { "Kind" } th { "Last run" } th.num { "Items" } th { "Next run" } th.num { "Pending" } th { "" } } }
                tbody {
                    @for row in rows {
                        @let (class, words) = state(row);
                        tr {
                            td { span.dot.(class) title=(words) {} span.sr { (words) } }
                            td { (row.status.name) @if row.status.auto_approve { " " span.badge { "auto-approve" } } }
                            td { (format!("{:?}", row.status.kind).to_lowercase()) }
                            td { @match row.last { Some(run) => { a href={ "/admin/runs#run-" (run.id) } { (when(run.started_at)) } " " (run.run.status) }, None => { span.muted { "never" } } } }
                            td.num { (row.last.map(|r| r.run.discovered).unwrap_or(0)) }
                            td { @match row.status.next_run { Some(t) => { (when(t)) }, None => { span.muted { "on demand" } } } }
                            td.num { a href="/admin/pending" { (row.pending) } }
                            td {
                                form method="post" action="/admin/sources/sync" {
                                    (csrf_field(viewer))
                                    input type="hidden" name="source" value=(row.status.name);
                                    button type="submit" disabled[row.status.running] { "Sync now" }
                                }
                            }
                        }
                    }
                }
            }
            p { a href="/admin/runs" { "Sync history" } }
        }
    };
    page("Sources", viewer, body)
}

/// The sync history, newest first.
pub fn runs(runs: &[SyncRunRow], viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Sync history" }
        @if runs.is_empty() { p.empty { "No run yet." } } @else {
            table.runs {
                thead { tr { th { "Started" } th { "Source" } th { "Status" } th.num { "Added" } th.num { "Updated" } th.num { "Skipped" } th.num { "Failed" } th { "Detail" } } }
                tbody {
                    @for r in runs {
                        tr id={ "run-" (r.id) } {
                            td { (when(r.started_at)) }
                            td { (r.source) }
                            td { span.dot.(r.run.status.as_str()) {} " " (r.run.status) }
                            td.num { (r.run.added) }
                            td.num { (r.run.updated) }
                            td.num { (r.run.skipped) }
                            td.num { (r.run.failed) }
                            td {
                                details.run {
                                    summary { "run " (r.id) }
                                    dl.facts {
                                        dt { "Finished" } dd { (r.finished_at.map(when).unwrap_or_else(|| "not yet".into())) }
                                        dt { "Seen" } dd { (r.run.discovered) }
                                        dt { "Unchanged" } dd { (r.run.unchanged) }
                                        dt { "Pending" } dd { (r.run.pending) }
                                        dt { "Rejected" } dd { (r.run.rejected) }
                                        @if let Some(error) = &r.run.error { dt { "Error" } dd.problem { (error) } }
                                    }
                                    @if !r.run.detail.is_empty() { ul { @for line in &r.run.detail { li { (line) } } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Sync history", viewer, body)
}

/// What the audit page is filtered by (each a substring, case-insensitive;
/// dates as `YYYY-MM-DD`, inclusive, UTC).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The package (or other subject).
    pub package: String,
    /// From this day on.
    pub from: String,
    /// Up to this day.
    pub to: String,
}

impl AuditFilter {
    /// Whether `record` passes.
    pub fn keeps(&self, record: &AuditRecord) -> bool {
        let has = |field: &str, wanted: &str| {
            wanted.is_empty() || field.to_lowercase().contains(&wanted.to_lowercase())
        };
        let day = &crate::fsutil::rfc3339(record.at)[..10];
        has(&record.actor, &self.actor)
            && has(&record.action, &self.action)
            && has(&record.subject, &self.package)
            && (self.from.is_empty() || day >= self.from.as_str())
            && (self.to.is_empty() || day <= self.to.as_str())
    }

    /// The query string that repeats this filter.
    pub fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &self.actor)
            .append_pair("action", &self.action)
            .append_pair("package", &self.package)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .finish()
    }
}

/// The audit page: the filter form and the matching records.
pub fn audit(records: &[&AuditRecord], filter: &AuditFilter, viewer: &Viewer) -> Markup {
    let body = html! {
        h1 { "Audit log" }
        form.filters method="get" action="/admin/audit" {
            input type="text" name="actor" value=(filter.actor) placeholder="Actor" aria-label="Actor";
            input type="text" name="action" value=(filter.action) placeholder="Action" aria-label="Action";
            input type="text" name="package" value=(filter.package) placeholder="Package" aria-label="Package";
            input type="date" name="from" value=(filter.from) aria-label="From";
            input type="date" name="to" value=(filter.to) aria-label="To";
            button type="submit" { "Filter" }
            a href={ "/admin/audit.csv?" (filter.query()) } download { "Export CSV" }
        }
        p.muted { (records.len()) " records" }
        table.audit {
            thead { tr { th { "Time (UTC)" } th { "Actor" } th { "Action" } th { "Subject" } th { "Detail" } } }
            tbody {
                @for r in records {
                    tr {
                        td { (when(r.at)) }
                        td { (r.actor) }
                        td { code { (r.action) } }
                        td { (r.subject) }
                        td.description { (r.detail) }
                    }
                }
            }
        }
    };
    page("Audit log", viewer, body)
}

/// The records as CSV (RFC 4180): a header line, then one line each. A
/// field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`,
/// tab, CR) is prefixed with `'`, since the text came from outside.
pub fn audit_csv(records: &[&AuditRecord]) -> String {
    fn field(value: &str) -> String {
        let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{value}")
        } else {
            value.to_string()
        };
        if value.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value
        }
    }
    let mut out = String::from("time,actor,action,subject,detail\r\n");
    for r in records {
        let line = [
            crate::fsutil::rfc3339(r.at),
            r.actor.clone(),
            r.action.clone(),
            r.subject.clone(),
            r.detail.clone(),
        ]
        .iter()
        .map(|v| field(v))
        .collect::<Vec<_>>()
        .join(",");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let r = AuditRecord {
            at: 0,
            actor: "=cmd|' /C calc'!A0".into(),
            action: "reject".into(),
            subject: "a,b".into(),
            detail: "said \"no\"\nthen left".into(),
        };
        let csv = audit_csv(&[&r]);
        assert_eq!(
            csv,
            "time,actor,action,subject,detail\r\n1970-01-01T00:00:00Z,'=cmd|' /C calc'!A0,reject,\"a,b\",\"said \"\"no\"\"\nthen left\"\r\n"
        );
    }
}
