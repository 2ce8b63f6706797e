//! Publisher signatures: register a key, sign name+version+cksum on publish,
//! the registry verifies and shows it as provenance; refusals change nothing.

mod common;

use common::*;
use ed25519_dalek::Verifier;
use skillreg::index::sign::{self, types, Envelope, PublisherStatement};

fn generate(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let file = dir.join(name);
    let out = cli(&["publisher-key", "generate", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

fn register(d: &Daemon, token: &str, key: &std::path::Path) {
    let out = cli(&[
        "publisher-key",
        "register",
        key.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        token,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("registered key"));
}

fn signed_body(
    key_file: &std::path::Path,
    name: &str,
    signed_version: &str,
    version: &str,
) -> Vec<u8> {
    let tarball = skill_tarball(name, version);
    let seed = std::fs::read_to_string(key_file).unwrap();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(seed.trim(), &mut bytes).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
    let cksum = skillreg::blobs::Sha256Digest::of(&tarball).to_hex();
    let statement = sign::canonical(&PublisherStatement::new(name, signed_version, &cksum));
    let envelope = Envelope::sign(types::PUBLISHER, &statement, &[&key]);
    let meta = serde_json::json!({"name": name, "vers": version, "kind": "skill", "deps": [], "signature": envelope});
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), &tarball)
}

#[test]
fn signed_publish_is_verified_and_shown_as_provenance() {
    let d = Daemon::start();
    let alice = d.token("publisher", "alice");
    let dir = tempfile::tempdir().unwrap();
    let key = generate(dir.path(), "alice.key");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions())
            & 0o777,
        0o600
    );
    let again = cli(&["publisher-key", "generate", key.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing key file is never overwritten"
    );
    register(&d, &alice, &key);

    let skill = skill_dir(
        dir.path(),
        "signed-skill",
        "1.0.0",
        "Signed by its publisher.",
    );
    let out = cli(&[
        "publish",
        skill.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &alice,
        "--sign-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, index) = get(&format!("{}/index/si/gn/signed-skill", d.url));
    let line: serde_json::Value = serde_json::from_str(index.trim()).unwrap();
    let provenance = &line["provenance"];
    assert_eq!(provenance["publisher"], "alice");
    // The web pages show it: a badge in the catalog, the key on the page.
    let (_, browse) = get(&format!("{}/?q=signed-skill", d.url));
    assert!(browse.contains("class=\"badge signed\""), "{browse}");
    let (_, page) = get(&format!("{}/packages/signed-skill", d.url));
    let keyid = provenance["keyid"].as_str().unwrap();
    assert!(
        page.contains("signed by <code>alice</code>") && page.contains(keyid),
        "{page}"
    );
    // The provenance verifies on its own: rebuild the statement, check the signature.
    let public = hex::decode(provenance["public_key"].as_str().unwrap()).unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public.try_into().unwrap()).unwrap();
    assert_eq!(provenance["keyid"], sign::key_id(&public));
    let statement = sign::canonical(&PublisherStatement::new(
        "signed-skill",
        "1.0.0",
        line["cksum"].as_str().unwrap(),
    ));
    let sig = base64_decode(provenance["sig"].as_str().unwrap());
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    public
        .verify(&sign::pae(types::PUBLISHER, &statement), &sig)
        .unwrap();
    // The key list shows it; readers cannot register keys.
    let keys = get_with(
        &format!("{}/api/v1/me/keys", d.url),
        &[("authorization", &alice)],
    );
    assert_eq!(keys.status(), 200);
    let reader = d.token("reader", "rita");
    let (status, _) = put(
        &format!("{}/api/v1/me/keys", d.url),
        Some(&reader),
        br#"{"public_key":"00"}"#,
    );
    assert_eq!(status, 403);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn bad_signatures_are_refused_and_change_nothing() {
    let d = Daemon::start();
    let alice = d.token("publisher", "alice");
    let dir = tempfile::tempdir().unwrap();
    let registered = generate(dir.path(), "registered.key");
    let stranger = generate(dir.path(), "stranger.key");
    d.publish_skill("baseline", "1.0.0");
    let url = format!("{}/api/v1/crates/new", d.url);

    // Signed before any key is registered.
    let before = d.fingerprint();
    let (status, body) = put(
        &url,
        Some(&alice),
        &signed_body(&registered, "early", "1.0.0", "1.0.0"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(detail(&body).contains("no registered key"), "{body}");
    assert_eq!(d.fingerprint(), before);

    register(&d, &alice, &registered);
    // The registration is a change: the refusals below compare with it.
    let before = d.fingerprint();
    let cases = [
        (
            signed_body(&stranger, "sneaky", "1.0.0", "1.0.0"),
            "unknown key",
        ),
        (
            signed_body(&registered, "sneaky", "0.9.0", "1.0.0"),
            "different statement",
        ),
    ];
    for (body, needle) in cases {
        let (status, text) = put(&url, Some(&alice), &body);
        assert_eq!(status, 400, "{text}");
        assert!(detail(&text).contains(needle), "{needle}: {text}");
        assert_eq!(d.fingerprint(), before, "{needle}");
    }
    let (status, body) = put(
        &format!("{}/api/v1/me/keys", d.url),
        Some(&alice),
        br#"{"public_key":"zz"}"#,
    );
    assert_eq!(status, 400);
    assert!(detail(&body).contains("64 hex digits"), "{body}");
    assert_eq!(d.fingerprint(), before, "a malformed key");
    // The control: the registered key over the right statement is accepted.
    let (status, body) = put(
        &url,
        Some(&alice),
        &signed_body(&registered, "sneaky", "1.0.0", "1.0.0"),
    );
    assert_eq!(status, 200, "{body}");
    d.assert_serving();
}

#[test]
fn config_can_require_signatures_per_kind() {
    let d = Daemon::with_config("[signing]\nrequire_publisher_signature = [\"skill\"]\n");
    let alice = d.token("publisher", "alice");
    let dir = tempfile::tempdir().unwrap();
    let skill = skill_dir(dir.path(), "must-sign", "1.0.0", "Needs a signature.");
    let out = cli(&[
        "publish",
        skill.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &alice,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--sign-key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Plugins are not required to sign here.
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-plugin");
    let out = cli(&[
        "publish",
        examples.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &alice,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = generate(dir.path(), "k");
    register(&d, &alice, &key);
    let out = cli(&[
        "publish",
        skill.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &alice,
        "--sign-key",
        key.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
