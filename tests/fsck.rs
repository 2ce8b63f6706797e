//! `skillreg fsck` on a real daemon's data directory, while it runs: clean
//! after publishes; a flipped byte in a blob and a deleted blob are each
//! reported by path and by the versions that name them, with exit 1; an
//! orphan and a temp file are listed without failing; nothing is changed.

mod common;

use common::*;

fn fsck(d: &Daemon) -> (bool, String) {
    let out = cli(&["fsck", "--data", d.data.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The blob file of `name@version` as the daemon serves it.
fn blob_of(d: &Daemon, name: &str, version: &str) -> std::path::PathBuf {
    let (_, bytes) = get_bytes(&format!(
        "{}/api/v1/crates/{name}/{version}/download",
        d.url
    ));
    let hex = skillreg::blobs::Sha256Digest::of(&bytes).to_hex();
    d.data.join("blobs/sha256").join(&hex[..2]).join(hex)
}

#[test]
fn fsck_finds_a_flipped_byte_and_a_missing_blob_and_changes_nothing() {
    let d = Daemon::start();
    d.publish_skill("fsck-one", "1.0.0");
    d.publish_skill("fsck-two", "1.0.0");
    let (ok, text) = fsck(&d);
    assert!(ok, "{text}");
    assert!(
        text.contains("clean: every blob matches its name"),
        "{text}"
    );

    // Orphans and temp files are listed; they are no damage.
    let orphan_bytes = b"nothing names me";
    let hex = skillreg::blobs::Sha256Digest::of(orphan_bytes).to_hex();
    let orphan = d.data.join("blobs/sha256").join(&hex[..2]);
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join(&hex), orphan_bytes).unwrap();
    std::fs::write(d.data.join("blobs/tmp/.half-written.tmp-1-2"), b"x").unwrap();
    let (ok, text) = fsck(&d);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "orphan (nothing names it): {}",
            orphan.join(&hex).display()
        )),
        "{text}"
    );
    assert!(text.contains(".half-written.tmp-1-2"), "{text}");

    // A flipped byte: named by path and by the version.
    let one = blob_of(&d, "fsck-one", "1.0.0");
    let mut bytes = std::fs::read(&one).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&one, &bytes).unwrap();
    let before = d.fingerprint();
    let (ok, text) = fsck(&d);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("DAMAGED {}", one.display())),
        "{text}"
    );
    assert!(
        text.contains("named by fsck-one@1.0.0 (approved)"),
        "{text}"
    );
    assert!(text.contains("1 damaged, 0 missing"), "{text}");
    assert_eq!(d.fingerprint(), before, "fsck changes nothing");

    // A deleted blob.
    let two = blob_of(&d, "fsck-two", "1.0.0");
    let hex_two = two.file_name().unwrap().to_str().unwrap().to_string();
    std::fs::remove_file(&two).unwrap();
    let (ok, text) = fsck(&d);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "MISSING blob {hex_two}, named by fsck-two@1.0.0 (approved)"
        )),
        "{text}"
    );
    assert!(text.contains("1 damaged, 1 missing"), "{text}");
    d.assert_serving();
}
