//! Signed documents (DSSE-style envelopes): the parser, the verifier, the
//! self-signed root check and the root chain step, against a fixed
//! trusted root (root key 1, index key 2; fuzz/src/lib.rs).
//!
//! Properties: no panic; an envelope that parses serializes to bytes that
//! parse to the same envelope, and serializing is idempotent; a root that
//! verifies names its keys under their own ids; nothing the fuzzer makes
//! verifies under the index role (it cannot sign with key 2) unless it
//! carries a signature copied from a seed over the same payload.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use skillreg::index::sign::{
    self, key_id, next_root, self_signed_root, types, DecisionStatement, Envelope,
    IndexFileStatement, PublisherStatement, Root, Snapshot, Timestamp,
};

fn trusted() -> &'static Root {
    static R: OnceLock<Root> = OnceLock::new();
    R.get_or_init(skillreg_fuzz::trusted)
}

fuzz_target!(|data: &[u8]| {
    let trusted = trusted();
    if let Ok(envelope) = Envelope::from_bytes(data) {
        let bytes = envelope.to_bytes();
        let again = Envelope::from_bytes(&bytes).expect("a served envelope parses");
        assert_eq!(again, envelope);
        assert_eq!(again.to_bytes(), bytes);
        let index = &trusted.roles["index"];
        for ty in [
            types::TIMESTAMP,
            types::SNAPSHOT,
            types::INDEX_FILE,
            types::PUBLISHER,
            types::DECISION,
            types::TRANSFER,
        ] {
            if let Ok(payload) = envelope.verify(ty, "index", index, &trusted.keys) {
                let _ = sign::parse::<Timestamp>(&payload);
                let _ = sign::parse::<Snapshot>(&payload);
                let _ = sign::parse::<IndexFileStatement>(&payload);
                let _ = sign::parse::<PublisherStatement>(&payload);
                let _ = sign::parse::<DecisionStatement>(&payload);
            }
        }
    }
    if let Ok((root, payload)) = self_signed_root(data) {
        for (id, key) in &root.keys {
            assert_eq!(&key_id(&key.verifying_key().unwrap()), id);
        }
        assert_eq!(sign::parse::<Root>(&payload).unwrap(), root);
    }
    if let Ok((next, _)) = next_root(trusted, data) {
        assert_eq!(next.version, trusted.version + 1);
    }
});
