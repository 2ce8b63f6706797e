//! Writes the seed corpora that need code to make: signed transfer
//! archives and envelopes (fixed keys, fuzz/src/lib.rs), tarballs and zips
//! of skills and plugins, publish bodies. `fuzz/seed.sh` runs it; the
//! other seeds are copied from the test suite's own inputs.
//!
//! Usage: seed CORPUS_DIR

use std::path::Path;

use sha2::{Digest, Sha256};
use skillreg::api::encode_publish;
use skillreg::index::sign::{canonical, types, Envelope};
use skillreg::mirror::transfer::TransferDigest;
use skillreg_fuzz::{key, root_envelope, tar_gz, trusted_root, zip};

const SKILL: &[u8] = b"---\nname: hello\ndescription: Says hello\nlicense: MIT\nmetadata:\n  version: 1.2.0\n---\n# Hello\n";
const PLUGIN: &[u8] = br#"{"name":"demo","version":"1.0.0","description":"A demo","keywords":["x"],"skills":"./skills/"}"#;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A transfer archive of one skill version, with the roots `roots`.
fn transfer(roots: &[(&str, Vec<u8>)], index: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let blob = tar_gz(&[("SKILL.md", SKILL)]);
    let cksum = sha(&blob);
    let line = format!(
        r#"{{"name":"hello","vers":"1.2.0","deps":[],"cksum":"{cksum}","features":{{}},"yanked":false,"links":null,"v":1,"rust_version":null,"pubtime":"1970-01-01T00:00:00Z","kind":"skill","description":null,"license":null,"size":{}}}"#,
        blob.len()
    );
    let root_version = roots.len() as u64;
    let manifest = canonical(&serde_json::json!({
        "_type": "transfer",
        "format": 2,
        "created": "1970-01-01T00:00:00Z",
        "registry": {"root_version": root_version, "keyids": {}},
        "approved_only": false,
        "versions": [{
            "name": "hello", "version": "1.2.0", "kind": "skill",
            "cksum": cksum, "size": blob.len(), "line": line,
            "status": "approved", "published": "1970-01-01T00:00:00Z",
            "blob": format!("blobs/{cksum}"),
        }],
    }));
    let sig = Envelope::sign(
        types::TRANSFER,
        &canonical(&TransferDigest::of(&manifest)),
        &[index],
    )
    .to_bytes();
    let blob_path = format!("blobs/{cksum}");
    let mut entries: Vec<(&str, &[u8])> =
        vec![("manifest.json", &manifest), ("manifest.sig", &sig)];
    for (path, bytes) in roots {
        entries.push((path, bytes));
    }
    entries.push((&blob_path, &blob));
    tar_gz(&entries)
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seed CORPUS_DIR");
    let dir = Path::new(&dir);
    let plugin_skill = b"---\nname: inner\ndescription: A plugin's skill\n---\nInner.\n";

    // archive: skill and plugin bundles as tar.gz and zip.
    write(
        dir,
        "archive",
        "skill.tar.gz",
        &tar_gz(&[("SKILL.md", SKILL), ("docs/notes.md", b"notes\n")]),
    );
    write(
        dir,
        "archive",
        "plugin.tar.gz",
        &tar_gz(&[
            (".claude-plugin/plugin.json", PLUGIN),
            ("skills/inner/SKILL.md", plugin_skill),
        ]),
    );
    write(
        dir,
        "archive",
        "skill.zip",
        &zip(&[("SKILL.md", SKILL), ("scripts/run.sh", b"#!/bin/sh\n")]),
    );
    write(
        dir,
        "archive",
        "plugin.zip",
        &zip(&[(".claude-plugin/plugin.json", PLUGIN)]),
    );

    // publish_framing: cargo's body, and a skill publish.
    let meta = br#"{"name":"demo","vers":"0.1.0","deps":[{"name":"serde","version_req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"features":{},"authors":[],"description":"d","license":"MIT","links":null}"#;
    write(
        dir,
        "publish_framing",
        "crate.bin",
        &encode_publish(
            meta,
            &tar_gz(&[("demo-0.1.0/Cargo.toml", b"[package]\nname = \"demo\"\n")]),
        ),
    );
    let skill_meta = br#"{"name":"hello","vers":"1.2.0","kind":"skill","deps":[],"features":{}}"#;
    write(
        dir,
        "publish_framing",
        "skill.bin",
        &encode_publish(skill_meta, &tar_gz(&[("SKILL.md", SKILL)])),
    );

    // transfer_archive: one root, and a rotation to root 2 (key 3).
    let (k1, k2, k3) = (key(1), key(2), key(3));
    write(
        dir,
        "transfer_archive",
        "one-root.tar.gz",
        &transfer(&[("roots/1.json", trusted_root())], &k2),
    );
    let root2 = root_envelope(2, &k3, &k2, &[&k1, &k3]);
    write(
        dir,
        "transfer_archive",
        "rotated.tar.gz",
        &transfer(
            &[
                ("roots/1.json", trusted_root()),
                ("roots/2.json", root2.clone()),
            ],
            &k2,
        ),
    );

    // signed_envelope: roots, and index-role documents.
    write(dir, "signed_envelope", "root1.json", &trusted_root());
    write(dir, "signed_envelope", "root2.json", &root2);
    let timestamp = canonical(&serde_json::json!({
        "_type": "timestamp", "spec_version": "1", "version": 3,
        "expires": "2099-01-01T00:00:00Z",
        "snapshot": {"version": 3, "length": 120, "sha256": sha(b"snapshot")},
    }));
    write(
        dir,
        "signed_envelope",
        "timestamp.json",
        &Envelope::sign(types::TIMESTAMP, &timestamp, &[&k2]).to_bytes(),
    );
    let digest = canonical(&TransferDigest::of(b"{}"));
    write(
        dir,
        "signed_envelope",
        "transfer-digest.json",
        &Envelope::sign(types::TRANSFER, &digest, &[&k2]).to_bytes(),
    );
}
