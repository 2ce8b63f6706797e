//! Unit tests of the verifying client's pure parts: messages, names and
//! paths, URLs, limits, index lines, roots and expiry.

use super::expiry::check_expiry;
use super::index::safe_index_path;
use super::roots::root_problem;
use super::*;
use crate::index::sign::{self, self_signed_root, types, Envelope, Root};
use std::path::Path;

#[test]
fn mirror_messages_advise_the_mirroring_admin() {
    let status = TrustError::Status {
        url: "http://up/index/config.json".into(),
        status: 401,
        detail: ": a token is required".into(),
    };
    assert!(status.to_string().contains("pass --token"));
    let mirrored = status.for_mirror();
    assert!(
        mirrored.contains("a token is required") && mirrored.contains("set `token` in the source")
    );
    assert!(!mirrored.contains("--token"), "{mirrored}");
    let transport = TrustError::Transport {
        url: "http://up".into(),
        message: "connection refused".into(),
    };
    assert!(transport.to_string().contains("--offline"));
    let mirrored = transport.for_mirror();
    assert!(mirrored.contains("connection refused") && mirrored.contains("the source's `url`"));
    assert!(!mirrored.contains("--registry") && !mirrored.contains("--offline"));
}

#[test]
fn dl_without_markers_appends_the_cargo_path() {
    assert_eq!(
        download_url("http://h/api/v1/crates", "hello", "1.0.0", "ab"),
        "http://h/api/v1/crates/hello/1.0.0/download"
    );
}

#[test]
fn dl_markers_are_replaced() {
    let dl = "http://h/{prefix}/{lowerprefix}/{crate}/{version}/{sha256-checksum}";
    assert_eq!(
        download_url(dl, "HeLLo", "1.0.0+b", "ff"),
        "http://h/He/LL/he/ll/HeLLo/1.0.0+b/ff"
    );
    assert_eq!(
        download_url(dl, "a", "1.0.0", "ff"),
        "http://h/1/1/a/1.0.0/ff"
    );
    assert_eq!(
        download_url(dl, "ab", "1.0.0", "ff"),
        "http://h/2/2/ab/1.0.0/ff"
    );
    assert_eq!(
        download_url(dl, "Abc", "1.0.0", "ff"),
        "http://h/3/A/3/a/Abc/1.0.0/ff"
    );
    assert_eq!(
        download_url("http://h/blobs/{sha256-checksum}", "x", "1", "ff"),
        "http://h/blobs/ff"
    );
}

#[test]
fn names_are_checked_before_they_become_paths() {
    assert!(validate_name("base-skill").is_ok());
    assert!(validate_name("Serde_Json").is_ok());
    for bad in ["", "../x", "a/b", "-a", "é", ".hidden", &"a".repeat(65)] {
        assert!(validate_name(bad).is_err(), "{bad}");
    }
    assert!(safe_index_path("he/ll/hello"));
    assert!(safe_index_path("config.json"));
    assert!(!safe_index_path("../x"));
    assert!(!safe_index_path("_skillreg/root.json"));
    assert!(!safe_index_path("/etc/passwd"));
    assert!(safe_index_path("ab/_c/ab_c"));
}

#[test]
fn limited_reads_refuse_endless_data() {
    let data = [7u8; 100];
    assert_eq!(read_limited(&mut &data[..], 100, "u").unwrap().len(), 100);
    let err = read_limited(&mut std::io::repeat(1), 1000, "u").unwrap_err();
    assert!(err.to_string().contains("endless data"), "{err}");
}

#[test]
fn urls_and_state_dirs() {
    assert_eq!(normalize_url("http://h:1/").unwrap(), "http://h:1");
    assert!(normalize_url("ftp://h").is_err());
    assert!(normalize_url("http://").is_err());
    let a = state_dir_for(Path::new("/s"), "http://h:1");
    assert_eq!(a.parent().unwrap(), Path::new("/s/registries"));
    assert_eq!(a.file_name().unwrap().len(), 16);
    assert_ne!(a, state_dir_for(Path::new("/s"), "http://h:2"));
}

#[test]
fn index_lines_skip_garbage_and_other_names() {
    let line = |name: &str, vers: &str| {
        format!(
            r#"{{"name":"{name}","vers":"{vers}","deps":[],"cksum":"00","features":{{}},"yanked":false,"links":null,"v":1,"rust_version":null,"pubtime":"2026-01-01T00:00:00Z","kind":"skill","description":null,"license":null,"size":12}}"#
        )
    };
    let body = format!(
        "{}\nnot json\n{}\n{}\n",
        line("hello", "1.0.0"),
        line("other", "1.0.0"),
        line("hello", "1.1.0")
    );
    let lines = parse_index_lines("hello", body.as_bytes());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].version, semver::Version::new(1, 1, 0));
    assert_eq!(lines[0].size, Some(12));
}

#[test]
fn pinned_roots_must_be_sound() {
    use ed25519_dalek::SigningKey;
    let key = SigningKey::from_bytes(&[3u8; 32]);
    let id = sign::key_id(&key.verifying_key());
    let root = |spec: &str, listed_id: &str| {
        let root = Root {
            _type: "root".into(),
            spec_version: spec.into(),
            version: 1,
            expires: "2999-01-01T00:00:00Z".into(),
            keys: [(
                listed_id.to_string(),
                sign::PublicKey::of(&key.verifying_key()),
            )]
            .into(),
            roles: [(
                "root".to_string(),
                sign::RoleKeys {
                    keyids: vec![listed_id.to_string()],
                    threshold: 1,
                },
            )]
            .into(),
        };
        Envelope::sign(types::ROOT, &sign::canonical(&root), &[&key]).to_bytes()
    };
    assert!(self_signed_root(&root("1", &id)).is_ok());
    let err = self_signed_root(&root("2", &id)).unwrap_err();
    assert!(err.to_string().contains("spec_version"), "{err}");
    let worded = root_problem(err).to_string();
    assert!(worded.contains("understands only `1`"), "{worded}");
    // Listed under another id: the signature's key id is unknown.
    assert!(self_signed_root(&root("1", &"0".repeat(64))).is_err());
}

#[test]
fn expiry_is_checked() {
    assert!(check_expiry("timestamp", "u", "2000-01-01T00:00:00Z").is_err());
    assert!(check_expiry("timestamp", "u", "2999-01-01T00:00:00Z").is_ok());
    assert!(check_expiry("timestamp", "u", "soon").is_err());
}
