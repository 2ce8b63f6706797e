//! The sparse index line readers: the verbatim scanner a mirror keeps
//! upstream lines with (src/index/verbatim.rs), the client's index file
//! parser, and the entry type the registry renders.
//!
//! Properties: no panic; a line kept verbatim gives back exactly the
//! upstream line when its yank state is restored, and its stored form
//! parses as JSON with `"yanked": false`; `with_yanked` only ever touches
//! the `yanked` value; an entry that parses renders to a line that parses
//! to the same entry, and rendering is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillreg::client::verify::parse_index_lines;
use skillreg::index::verbatim::{refuse_own_fields, with_yanked, yanked_value, VerbatimLine};
use skillreg::index::{line, IndexEntry};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for raw in text.split('\n') {
        check_line(raw);
    }
    // The client reads a whole file for one name; take the first line's.
    if let Some(name) = text
        .lines()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
    {
        for l in parse_index_lines(&name, data) {
            assert!(text.contains(&l.raw));
        }
    }
});

fn check_line(raw: &str) {
    let _ = refuse_own_fields(raw);
    if let Some(span) = yanked_value(raw) {
        let value = &raw[span.clone()];
        assert!(value == "true" || value == "false");
        for yanked in [true, false] {
            let out = with_yanked(raw, yanked).expect("a line with a yanked value");
            assert_eq!(&out[..span.start], &raw[..span.start]);
            assert_eq!(&out[out.len() - (raw.len() - span.end)..], &raw[span.end..]);
        }
    }
    if let Ok(kept) = VerbatimLine::new(raw) {
        assert_eq!(with_yanked(&kept.stored, kept.yanked).as_deref(), Some(raw));
        let stored: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&kept.stored).expect("the stored line is JSON");
        assert_eq!(stored.get("yanked"), Some(&serde_json::Value::Bool(false)));
    }
    if let Ok(entry) = serde_json::from_str::<IndexEntry>(raw) {
        let rendered = line(&entry);
        let again: IndexEntry = serde_json::from_str(&rendered).expect("a rendered line parses");
        // A rendered line is the stored form: never yanked (see `index::line`).
        let mut want = entry.clone();
        want.yanked = false;
        assert_eq!(again, want);
        assert_eq!(line(&again), rendered);
    }
}
