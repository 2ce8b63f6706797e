//! The transfer archive reader (`skillreg import`, `drop` sources): a
//! .tar.gz from another registry, as hostile input, verified against a
//! fixed pinned root (root key 1, index key 2; fuzz/src/lib.rs). The seeds
//! are valid archives signed by those keys, so mutations reach past the
//! signature checks into the root chain, the manifest and the blobs.
//!
//! Properties: no panic; memory bounded by the limits (blobs and the
//! manifest are staged on disk); whatever verifies names only blobs the
//! archive carried, each with its checksum.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skillreg::mirror::transfer::{verify_archive, PinnedRoot, TransferLimits};

struct Fixture {
    dir: PathBuf,
    pin: PinnedRoot,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = skillreg_fuzz::scratch("transfer");
        let pin_file = dir.join("root.json");
        std::fs::write(&pin_file, skillreg_fuzz::trusted_root()).unwrap();
        let pin = PinnedRoot::load(&pin_file).expect("the fixed root loads");
        Fixture { dir, pin }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let file = f.dir.join("in.skillreg-transfer.tar.gz");
    std::fs::write(&file, data).unwrap();
    let staging = f.dir.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    let limits = TransferLimits {
        max_bytes: 4 << 20,
        max_entries: 1_000,
        max_manifest_bytes: 1 << 20,
    };
    if let Ok(manifest) = verify_archive(&file, &f.pin, &limits, 1 << 20, &staging) {
        for v in &manifest.versions {
            assert_eq!(v.blob, format!("blobs/{}", v.cksum));
        }
    }
});
