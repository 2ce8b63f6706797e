//! The plugin.json parser.
//!
//! Properties: no panic; an accepted manifest's name is a valid plugin
//! name; its fields written back as plugin.json parse to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillreg::bundle::plugin::parse_manifest;
use skillreg::package::{Kind, PackageName};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = parse_manifest(data) else {
        return;
    };
    PackageName::parse(Kind::Plugin, &m.name).expect("an accepted name is a plugin name");
    let doc = serde_json::json!({
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "license": m.license,
        "keywords": m.keywords,
    });
    let again = parse_manifest(doc.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("rendered {doc} does not parse: {e}"));
    assert_eq!(again.name, m.name);
    assert_eq!(again.version, m.version);
    assert_eq!(again.description, m.description);
    assert_eq!(again.license, m.license);
    assert_eq!(again.keywords, m.keywords);
});
