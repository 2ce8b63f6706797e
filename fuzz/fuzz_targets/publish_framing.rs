//! cargo's publish body: u32 LE length, JSON, u32 LE length, tarball.
//!
//! Properties: no panic; a body that decodes encodes back to the same
//! bytes; the parts respect the limits; the metadata JSON is parsed as the
//! server parses it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skillreg::api::{decode_publish, encode_publish, PublishMetadata};

fuzz_target!(|data: &[u8]| {
    let (max_metadata, max_tarball) = (64 * 1024, 1 << 20);
    let Ok((json, tarball)) = decode_publish(data, max_metadata, max_tarball) else {
        return;
    };
    assert!(json.len() as u64 <= max_metadata && tarball.len() as u64 <= max_tarball);
    assert_eq!(encode_publish(json, tarball), data);
    if let Ok(meta) = serde_json::from_slice::<PublishMetadata>(json) {
        // What the server keeps of it must serialize again.
        let again = serde_json::to_vec(&meta).expect("metadata serializes");
        let _: PublishMetadata = serde_json::from_slice(&again).expect("metadata round-trips");
    }
});
