//! The SKILL.md frontmatter parser (strict, for publishing).
//!
//! Properties: no panic; the frontmatter is a slice of the input; a
//! manifest that parses, written back as YAML frontmatter, parses to the
//! same name, description, license and metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillreg::bundle::skill::{frontmatter, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(yaml) = frontmatter(text) {
            assert!(text.contains(yaml));
        }
    }
    let Ok(m) = parse("SKILL.md", data) else {
        return;
    };
    let _ = m.dependencies("SKILL.md");
    let mut fields = frontmatter_of(&m);
    fields.push_str("---\nbody\n");
    let again = parse("SKILL.md", fields.as_bytes())
        .unwrap_or_else(|e| panic!("rendered manifest {fields:?} does not parse: {e}"));
    assert_eq!(again.name, m.name);
    assert_eq!(again.description, m.description);
    assert_eq!(again.license, m.license);
    assert_eq!(again.metadata, m.metadata);
});

/// The manifest as frontmatter, through serde_json (JSON is YAML 1.2).
///
/// The YAML 1.1 parser takes three characters JSON leaves raw as line
/// breaks (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR) and folds them into a
/// space inside a quoted string, so they are written as `\uXXXX` escapes,
/// which both read alike. (Found by CI's 20-second run: `\N` in a quoted
/// value, read as NEL, came back as a space; the input is kept in the
/// corpus as `regression-nel-escape`.)
fn frontmatter_of(m: &skillreg::bundle::skill::SkillManifest) -> String {
    let mut doc = serde_json::Map::new();
    doc.insert("name".into(), m.name.clone().into());
    doc.insert("description".into(), m.description.clone().into());
    if let Some(l) = &m.license {
        doc.insert("license".into(), l.clone().into());
    }
    if !m.metadata.is_empty() {
        doc.insert(
            "metadata".into(),
            serde_json::to_value(&m.metadata).expect("strings serialize"),
        );
    }
    let json = serde_json::Value::Object(doc)
        .to_string()
        .replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("---\n{json}\n")
}
