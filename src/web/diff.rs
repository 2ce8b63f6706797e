//! A line diff as a table: unified, with three lines of context, each
//! line numbered in the old and the new file and marked by kind. The text
//! is escaped like every other value; the marks are classes, not colours
//! alone (`+`, `−` and a space lead each line).

use maud::{html, Markup};
use similar::{ChangeTag, TextDiff};

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// Lines of either file beyond which no diff is computed: Myers' cost
/// grows with the product of the lengths in the worst case.
const MAX_LINES: usize = 20_000;

/// The unified diff of `old` to `new`.
pub fn unified(old: &str, new: &str) -> Markup {
    if old.lines().count() > MAX_LINES || new.lines().count() > MAX_LINES {
        return html! { p.muted { "The file has more than " (MAX_LINES) " lines: compare it by downloading both versions." } };
    }
    let diff = TextDiff::configure()
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new);
    if diff.ratio() == 1.0 {
        return html! { p.muted { "No change." } };
    }
    html! {
        table.diff {
            @for (i, group) in diff.grouped_ops(CONTEXT).iter().enumerate() {
                @if i > 0 { tr.gap { td.no { "…" } td.no { "…" } td {} } }
                @for op in group {
                    @for change in diff.iter_changes(op) {
                        @let (class, mark) = match change.tag() {
                            ChangeTag::Delete => ("delete", "−"),
                            ChangeTag::Insert => ("insert", "+"),
                            ChangeTag::Equal => ("equal", " "),
                        };
                        tr class=(class) {
                            td.no { (change.old_index().map(|n| (n + 1).to_string()).unwrap_or_default()) }
                            td.no { (change.new_index().map(|n| (n + 1).to_string()).unwrap_or_default()) }
                            td.line { (mark) " " (change.value().trim_end_matches(['\n', '\r'])) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn changed_lines_are_marked_and_escaped() {
        let html = unified("a\nb\nc\n", "a\n<script>x</script>\nc\n").into_string();
        assert!(html.contains("class=\"delete\""), "{html}");
        assert!(html.contains("class=\"insert\""), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(unified("same\n", "same\n")
            .into_string()
            .contains("No change"));
    }
}
