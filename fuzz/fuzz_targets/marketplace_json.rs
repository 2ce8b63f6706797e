//! The marketplace.json reader of the mirror (`.claude-plugin/marketplace.json`
//! of a checkout), with a small fixed checkout around it: a plugin folder
//! with a skill, and a loose skill, for entries to point at.
//!
//! Properties: no panic; memory bounded (the reader counts values before
//! parsing); every item is a valid package name, its bundle hashes to its
//! `content_sha256`, and no two items share a normalized name (registry
//! names are unique across kinds).
#![no_main]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use skillreg::mirror::marketplace::{read_catalog, NoHistory};
use skillreg::package::{normalize, PackageName};

fn checkout() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = skillreg_fuzz::scratch("marketplace");
        let files: [(&str, &str); 4] = [
            (
                "plugins/demo/.claude-plugin/plugin.json",
                r#"{"name":"demo","version":"1.0.0","description":"A demo plugin"}"#,
            ),
            (
                "plugins/demo/skills/hello/SKILL.md",
                "---\nname: hello\ndescription: Says hello\n---\nHello.\n",
            ),
            (
                "skills/solo/SKILL.md",
                "---\nname: solo\ndescription: A loose skill\nmetadata:\n  version: 0.2.0\n---\nSolo.\n",
            ),
            ("plugins/bare/README.md", "A plugin folder without a manifest.\n"),
        ];
        for (path, text) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        std::fs::create_dir_all(dir.join(".claude-plugin")).unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = checkout();
    std::fs::write(dir.join(".claude-plugin/marketplace.json"), data).unwrap();
    let Ok(catalog) = read_catalog(dir, None, &NoHistory) else {
        return;
    };
    let mut names = HashSet::new();
    for item in &catalog.items {
        PackageName::parse(item.kind, &item.name).expect("an item's name is valid for its kind");
        assert_eq!(
            hex::encode(Sha256::digest(&item.bundle)),
            item.content_sha256
        );
        assert!(names.insert(normalize(&item.name)), "{} twice", item.name);
    }
});
