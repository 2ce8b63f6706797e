//! The archive reader: a tar.gz or zip upload as hostile input.
//!
//! Properties: no panic; memory bounded by the limits; an archive
//! [`inspect`] accepts reads again with [`checked_files`] to exactly the
//! files it saw (same sizes, same sha256), as the registry relies on when
//! it serves a stored bundle's files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use skillreg::bundle::unpack::{checked_files, upstream_files};
use skillreg::bundle::{inspect, read_manifest, ArchiveLimits, EntryKind};

fuzz_target!(|data: &[u8]| {
    // Small limits: a bomb is refused in a few MB rather than the
    // default 200 MB, so a run stays inside -rss_limit_mb.
    let limits = ArchiveLimits {
        max_compressed: 1 << 20,
        max_unpacked: 8 << 20,
        max_entries: 2_000,
    };
    if let Ok(archive) = inspect(data, &limits, |_| true) {
        let files = checked_files(data, &archive).expect("an inspected archive reads again");
        for (path, entry) in &archive.entries {
            if entry.kind != EntryKind::File {
                continue;
            }
            let (executable, content) = &files[path];
            assert_eq!(*executable, entry.executable, "{path}");
            assert_eq!(content.len() as u64, entry.size, "{path}");
            assert_eq!(hex::encode(Sha256::digest(content)), entry.sha256, "{path}");
        }
    }
    let _ = upstream_files(data, &limits);
    let _ = read_manifest(data, &limits);
});
