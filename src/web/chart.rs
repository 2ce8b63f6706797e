//! A package's daily downloads as an inline SVG bar chart: no script, no
//! image request, readable without colour (each bar has a `<title>`).

use maud::{html, Markup};

/// Width and height of the drawing, in SVG user units.
const WIDTH: u32 = 720;
const HEIGHT: u32 = 120;

/// Bars for `days` (`YYYY-MM-DD`, count), oldest first, one per day over
/// the `span` days ending with the last one; days without downloads are
/// gaps. Nothing is drawn when there are no downloads.
pub fn daily_downloads(days: &[(String, u64)], span: usize) -> Markup {
    let most = days.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if most == 0 || span == 0 {
        return html! { p.muted { "No downloads in the last " (span) " days." } };
    }
    let bar = WIDTH as f64 / span as f64;
    let today = crate::fsutil::unix_now().div_euclid(86_400);
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            role="img" aria-label={ "Downloads per day over the last " (span) " days" } {
            @for (day, count) in days {
                @if let Some(age) = day_number(day).map(|d| today - d) {
                    @if age >= 0 && (age as usize) < span {
                        @let h = (*count as f64 / most as f64 * (HEIGHT - 4) as f64).max(1.0);
                        @let x = (span - 1 - age as usize) as f64 * bar;
                        rect x=(format!("{x:.1}")) y=(format!("{:.1}", HEIGHT as f64 - h))
                             width=(format!("{:.1}", (bar - 1.0).max(1.0))) height=(format!("{h:.1}")) {
                            title { (day) ": " (count) }
                        }
                    }
                }
            }
        }
        p.muted { (days.iter().map(|(_, n)| n).sum::<u64>()) " downloads in the last " (span) " days; most in a day: " (most) "." }
    }
}

/// The UTC day number of `YYYY-MM-DD`.
fn day_number(day: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339(&format!("{day}T00:00:00Z")).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(secs.div_euclid(86_400))
}
