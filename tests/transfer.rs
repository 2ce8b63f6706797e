//! Air-gap transfers with the real binary: `export-transfer` on a connected
//! daemon → `import` into an air-gapped data dir (pending, idempotent) →
//! review on a daemon there; tampered and hostile archives are refused
//! with the store unchanged; a `drop` directory is watched by a running
//! daemon.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use skillreg::index::sign;
use skillreg::mirror::transfer::{TransferDigest, SUFFIX};

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn export(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "export-transfer",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

fn import(data: &Path, file: &Path, root: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--trust-root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

/// Every (name, version, cksum, yanked), every `name@version=status`, every blob.
type StoreState = (
    Vec<(String, String, String, bool)>,
    Vec<String>,
    Vec<String>,
);

/// What is stored: every version with its status, and every blob.
fn store_state(data: &Path) -> StoreState {
    let store = skillreg::store::Store::open(data).unwrap();
    let published = store.published().unwrap();
    let statuses = published
        .iter()
        .map(|(n, v, ..)| {
            format!(
                "{n}@{v}={}",
                store.review_row(n, v).unwrap().unwrap().status.as_str()
            )
        })
        .collect();
    let blobs = skillreg::blobs::BlobStore::attach(data)
        .unwrap()
        .list()
        .unwrap()
        .iter()
        .map(|d| d.to_hex())
        .collect();
    (published, statuses, blobs)
}

/// A format-2 `manifest.sig` over `manifest`, signed by `key`.
fn digest_sig(manifest: &[u8], key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let digest = sign::canonical(&TransferDigest::of(manifest));
    sign::Envelope::sign(sign::types::TRANSFER, &digest, &[key]).to_bytes()
}

/// A tar.gz of `entries`, as export-transfer writes them.
fn archive(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, &data[..]).unwrap();
    }
    gzip(&tar.into_inner().unwrap())
}

/// Another valid bundle for `name@version` (published by
/// `Daemon::publish_skill`, described "A test skill."), of the same size as
/// `real`, with a description differing in one letter: only the signed
/// sha256 tells it from the real one; bundle validation and size checks
/// pass.
fn substitute(name: &str, version: &str, real: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    for c in ('a'..='z').chain('A'..='Z') {
        let path = skill_dir(dir.path(), name, version, &format!("A test skil{c}."));
        let bytes = skillreg::bundle::pack::pack_dir(&path).unwrap();
        std::fs::remove_dir_all(&path).unwrap();
        if bytes.len() == real.len() && bytes != real {
            return bytes;
        }
    }
    panic!("no substitute of {} bytes for {name}@{version}", real.len());
}

fn pending(d: &Daemon) -> Vec<serde_json::Value> {
    let (status, body) = d.admin_json("GET", "/admin/v1/pending", "");
    assert_eq!(status, 200, "{body}");
    body["pending"].as_array().unwrap().clone()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An upstream daemon with three live skill versions and one yanked.
fn upstream() -> Daemon {
    let up = Daemon::start();
    up.publish_skill("air-alpha", "1.0.0");
    up.publish_skill("air-alpha", "1.1.0");
    up.publish_skill("air-beta", "0.1.0");
    up.publish_skill("air-gone", "0.1.0");
    let (status, body) = delete(
        &format!("{}/api/v1/crates/air-gone/0.1.0/yank", up.url),
        Some(&up.admin),
    );
    assert_eq!(status, 200, "{body}");
    up
}

#[test]
fn export_import_review_and_import_again_changes_nothing() {
    let up = upstream();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let file = work.path().join(format!("first{SUFFIX}"));

    // Export while the upstream daemon runs.
    let out = ok(&export(&up.data, &file, &[]));
    assert!(out.contains("3 version(s) (0 pending)"), "{out}");

    // The archive's layout and signature, as index-spec documents them.
    let bytes = std::fs::read(&file).unwrap();
    let parts = tar_entries(&bytes);
    let names: Vec<&str> = parts.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        &names[..3],
        ["manifest.json", "manifest.sig", "roots/1.json"]
    );
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names[3..].iter().all(|n| n.starts_with("blobs/")));
    let manifest_bytes = &parts[0].1;
    let (_, up_root) = root_of(&parts[2].1);
    let envelope = sign::Envelope::from_bytes(&parts[1].1).unwrap();
    let payload = envelope
        .verify(
            sign::types::TRANSFER,
            "index",
            &up_root.roles["index"],
            &up_root.keys,
        )
        .unwrap();
    // Format 2: manifest.sig signs the manifest's sha256 and size, so it stays small.
    let digest: TransferDigest = serde_json::from_slice(&payload).unwrap();
    assert_eq!(digest, TransferDigest::of(manifest_bytes));
    assert_eq!(
        (digest._type.as_str(), digest.format),
        ("transfer-digest", 2)
    );
    assert_eq!(payload, sign::canonical(&digest), "the digest is canonical");
    assert!(parts[1].1.len() < 1024, "{} bytes", parts[1].1.len());
    assert_eq!(
        sign::canonical(&serde_json::from_slice::<serde_json::Value>(manifest_bytes).unwrap()),
        *manifest_bytes,
        "manifest.json is canonical JSON"
    );
    let manifest: skillreg::mirror::transfer::Manifest =
        serde_json::from_slice(manifest_bytes).unwrap();
    assert_eq!(
        (
            manifest._type.as_str(),
            manifest.format,
            manifest.registry.root_version
        ),
        ("transfer", 2, 1)
    );
    let served = get(&format!("{}/index/ai/r-/air-alpha", up.url)).1;
    for v in &manifest.versions {
        assert!(v.name != "air-gone", "yanked versions stay home");
        assert_eq!(v.blob, format!("blobs/{}", v.cksum));
        if v.name == "air-alpha" {
            assert!(served.contains(&v.line), "the exact served index line");
        }
    }

    // Import into a fresh air-gapped data dir: everything pending.
    let down_dir = tempfile::tempdir().unwrap();
    let down_data = down_dir.path().join("data");
    let err = failed(&import(&down_data, &file, &root, &[]));
    assert!(err.contains("--create"), "{err}");
    let out = ok(&import(&down_data, &file, &root, &["--create"]));
    assert!(out.contains("3 added (3 pending)"), "{out}");
    let first = store_state(&down_data);
    let stored = Fingerprint::of_data_dir(&down_data);
    assert_eq!(
        first.1,
        [
            "air-alpha@1.0.0=pending",
            "air-alpha@1.1.0=pending",
            "air-beta@0.1.0=pending"
        ]
    );
    assert_eq!(first.2.len(), 3);
    assert!(
        std::fs::read_dir(down_data.join("mirror/transfer-staging"))
            .unwrap()
            .next()
            .is_none(),
        "staging is cleaned up"
    );

    // The same archive again: nothing changes.
    let out = ok(&import(&down_data, &file, &root, &[]));
    assert!(out.contains("0 added (0 pending), 3 unchanged"), "{out}");
    assert_eq!(store_state(&down_data), first);
    assert_eq!(Fingerprint::of_data_dir(&down_data), stored);

    // A daemon on the air-gapped side shows them for review; approve one.
    let down = Daemon::start_in(down_dir, down_data.clone(), "");
    let waiting = pending(&down);
    assert_eq!(waiting.len(), 3, "{waiting:?}");
    let alpha = waiting
        .iter()
        .find(|p| p["name"] == "air-alpha" && p["version"] == "1.1.0")
        .unwrap();
    assert_eq!(alpha["source"], "import");
    assert_eq!(alpha["upstream"]["signature"], "verified");
    assert_eq!(alpha["upstream"]["upstream_status"], "approved");
    assert_eq!(
        alpha["upstream"]["transfer"]["archive_sha256"],
        skillreg::blobs::Sha256Digest::of(&bytes).to_hex()
    );
    assert_eq!(alpha["diff"]["against"], serde_json::Value::Null);
    assert_eq!(get(&format!("{}/index/ai/r-/air-alpha", down.url)).0, 404);
    let (status, body) = down.admin_json(
        "POST",
        "/admin/v1/packages/air-alpha/1.1.0/approve",
        r#"{"note":"reviewed offline"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, index) = get(&format!("{}/index/ai/r-/air-alpha", down.url));
    assert_eq!(status, 200);
    assert!(
        index.contains("\"1.1.0\"") && !index.contains("\"1.0.0\""),
        "{index}"
    );

    // Import again while the daemon runs: nothing changes, the approval stays.
    let before = down.fingerprint();
    let state = store_state(&down_data);
    let out = ok(&import(&down_data, &file, &root, &[]));
    assert!(out.contains("0 added (0 pending), 3 unchanged"), "{out}");
    assert_eq!(down.fingerprint(), before);
    assert_eq!(store_state(&down_data), state);
    assert!(state.1.contains(&"air-alpha@1.1.0=approved".to_string()));

    // A newer version upstream arrives by the next (incremental) transfer,
    // and the running daemon lists it at once.
    up.publish_skill("air-alpha", "1.2.0");
    let next = work.path().join(format!("next{SUFFIX}"));
    let out = ok(&export(&up.data, &next, &["--since", "1h"]));
    assert!(out.contains("4 version(s)"), "{out}");
    let none = work.path().join(format!("none{SUFFIX}"));
    let out = ok(&export(&up.data, &none, &["--since", "2999-01-01"]));
    assert!(out.contains("0 version(s)"), "{out}");
    let out = ok(&import(&down_data, &next, &root, &[]));
    assert!(out.contains("1 added (1 pending), 3 unchanged"), "{out}");
    let waiting = pending(&down);
    assert!(waiting
        .iter()
        .any(|p| p["version"] == "1.2.0" && p["diff"]["against"] == "1.1.0"));

    // The air-gapped side can pass its versions on: pending ones only
    // without --approved-only.
    let onward = work.path().join("onward.tar.gz");
    let out = ok(&export(&down_data, &onward, &[]));
    assert!(out.contains("4 version(s) (3 pending)"), "{out}");
    let out = ok(&export(&down_data, &onward, &["--approved-only"]));
    assert!(out.contains("1 version(s) (0 pending)"), "{out}");
    let manifest: skillreg::mirror::transfer::Manifest =
        serde_json::from_slice(&tar_entries(&std::fs::read(&onward).unwrap())[0].1).unwrap();
    assert!(manifest.approved_only);
    let decision = &manifest.versions[0].provenance.as_ref().unwrap()["decision"];
    assert_eq!(decision["payloadType"], sign::types::DECISION, "{decision}");

    // Runs are recorded under the source name.
    let (_, runs) = down.admin_json("GET", "/admin/v1/sync-runs", "");
    let runs = runs["runs"].as_array().unwrap();
    assert!(
        runs.iter().filter(|r| r["source"] == "import").count() >= 4,
        "{runs:?}"
    );
}

#[test]
fn tampered_foreign_and_hostile_archives_are_refused_and_change_nothing() {
    let up = upstream();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let good_file = work.path().join(format!("good{SUFFIX}"));
    ok(&export(&up.data, &good_file, &[]));
    let good = tar_entries(&std::fs::read(&good_file).unwrap());

    // The air-gapped side already holds one earlier import.
    let down_dir = tempfile::tempdir().unwrap();
    let down = down_dir.path().join("data");
    let other = Daemon::start();
    other.publish_skill("air-other", "1.0.0");
    let other_root = export_root(&other.data, work.path(), "other-root.json");
    let other_file = work.path().join(format!("other{SUFFIX}"));
    ok(&export(&other.data, &other_file, &[]));
    ok(&import(&down, &other_file, &other_root, &["--create"]));
    let before = store_state(&down);
    let stored = Fingerprint::of_data_dir(&down);

    let refuse = |label: &str, file: &Path, trust: &Path, want: &str| {
        let err = failed(&import(&down, file, trust, &[]));
        assert!(err.contains(want), "{label}: {err:?} lacks {want:?}");
        assert_eq!(store_state(&down), before, "{label} changed the store");
        assert_eq!(
            Fingerprint::of_data_dir(&down),
            stored,
            "{label} changed the store"
        );
    };
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let path = work.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let blob_at = good
        .iter()
        .position(|(p, _)| p.starts_with("blobs/"))
        .unwrap();

    // A flipped byte in a blob.
    let mut e = good.clone();
    let mid = e[blob_at].1.len() / 2;
    e[blob_at].1[mid] ^= 0x40;
    let f = write("blob.tar.gz", &archive(&e));
    refuse("blob", &f, &root, "does not match the signed manifest");

    // A changed manifest (a version renamed).
    let mut e = good.clone();
    e[0].1 = String::from_utf8(e[0].1.clone())
        .unwrap()
        .replacen("air-beta", "air-betb", 1)
        .into_bytes();
    let f = write("manifest.tar.gz", &archive(&e));
    refuse("manifest", &f, &root, "over other bytes than manifest.json");

    // A manifest signed by a foreign key.
    let mut e = good.clone();
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    e[1].1 = digest_sig(&e[0].1, &stranger);
    let f = write("foreign-sig.tar.gz", &archive(&e));
    refuse("foreign key", &f, &root, "signed by unknown key");

    // Pinned to another registry's root.
    refuse(
        "other root",
        &good_file,
        &other_root,
        "differs from the pinned root",
    );

    // A root v2 that does not chain from the pinned v1 (signed by a stranger).
    let (_, mut forged) = root_of(&good[2].1);
    forged.version = 2;
    let id = sign::key_id(&stranger.verifying_key());
    forged
        .keys
        .insert(id.clone(), sign::PublicKey::of(&stranger.verifying_key()));
    for role in forged.roles.values_mut() {
        role.keyids = vec![id.clone()];
    }
    let mut e = good.clone();
    e.insert(
        3,
        (
            "roots/2.json".into(),
            sign::Envelope::sign(sign::types::ROOT, &sign::canonical(&forged), &[&stranger])
                .to_bytes(),
        ),
    );
    let mut manifest: serde_json::Value = serde_json::from_slice(&e[0].1).unwrap();
    manifest["registry"]["root_version"] = 2.into();
    e[0].1 = sign::canonical(&manifest);
    e[1].1 = digest_sig(&e[0].1, &stranger);
    let f = write("forged-root.tar.gz", &archive(&e));
    refuse(
        "forged root",
        &f,
        &root,
        "does not chain from the pinned root",
    );

    // Hostile entry names and kinds.
    let mut raw = Vec::new();
    for (path, data) in &good {
        raw.push(file_entry(path, data));
    }
    let mut with_dotdot = raw.clone();
    with_dotdot.push(file_entry("../../etc/evil", b"x"));
    let f = write("dotdot.tar.gz", &gzip(&raw_tar(&with_dotdot)));
    refuse("..", &f, &root, "`..` is not allowed");
    let mut absolute = raw.clone();
    absolute.insert(3, file_entry("/etc/passwd", b"x"));
    let f = write("absolute.tar.gz", &gzip(&raw_tar(&absolute)));
    refuse("absolute", &f, &root, "absolute paths are not allowed");
    let mut link = raw.clone();
    link.push((
        raw_header(b"blobs/link", b'2', 0, b"../../etc/shadow"),
        Vec::new(),
    ));
    let f = write("link.tar.gz", &gzip(&raw_tar(&link)));
    refuse("symlink", &f, &root, "regular files only");
    let mut extra = good.clone();
    extra.push(("README".into(), b"hello".to_vec()));
    let f = write("extra.tar.gz", &archive(&extra));
    refuse("extra", &f, &root, "unexpected entry `README`");

    // Truncated, garbage after, not an archive, too big for the limits.
    let bytes = std::fs::read(&good_file).unwrap();
    let f = write("cut.tar.gz", &bytes[..bytes.len() * 2 / 3]);
    refuse("truncated", &f, &root, "corrupt or truncated");
    let f = write("tail.tar.gz", &[bytes.clone(), gzip(b"more")].concat());
    refuse("second member", &f, &root, "data follows the gzip stream");
    let f = write("text.tar.gz", b"not an archive at all");
    refuse("text", &f, &root, "not a gzip file");
    let err = failed(&import(&down, &good_file, &root, &["--max-entries", "3"]));
    assert!(err.contains("more than 3 entries"), "{err}");
    let err = failed(&import(&down, &good_file, &root, &["--max-bytes", "1000"]));
    assert!(err.contains("raise --max-bytes"), "{err}");
    assert_eq!(store_state(&down), before);
    assert_eq!(Fingerprint::of_data_dir(&down), stored);

    // Every refusal is recorded as a failed run with its reason.
    let store = skillreg::store::Store::open(&down).unwrap();
    let runs = store.runs(100).unwrap();
    assert!(runs.iter().filter(|r| r.run.status == "failed").count() >= 12);
    assert!(runs.iter().any(|r| r
        .run
        .error
        .as_deref()
        .unwrap_or("")
        .contains("signed by unknown key")));

    // And the genuine archive still imports.
    let out = ok(&import(&down, &good_file, &root, &[]));
    assert!(out.contains("3 added (3 pending)"), "{out}");
}

#[test]
fn archives_signed_before_a_key_rotation_are_refused_after_a_newer_one() {
    let up = upstream();
    let work = tempfile::tempdir().unwrap();
    let root_v1 = export_root(&up.data, work.path(), "root-v1.json");
    let old = work.path().join(format!("old{SUFFIX}"));
    ok(&export(&up.data, &old, &[]));
    ok(&cli(&[
        "key",
        "rotate",
        "index",
        "--data",
        up.data.to_str().unwrap(),
    ]));
    // The daemon follows the new root; the exporter signs with the new key.
    let new = work.path().join(format!("new{SUFFIX}"));
    let out = ok(&export(&up.data, &new, &[]));
    assert!(out.contains("under root v2"), "{out}");

    let down_dir = tempfile::tempdir().unwrap();
    let down = down_dir.path().join("data");
    // The old archive with the new root added is refused: only the newest
    // root's index key may sign.
    let mut e = tar_entries(&std::fs::read(&old).unwrap());
    let v2 = tar_entries(&std::fs::read(&new).unwrap())
        .into_iter()
        .find(|(p, _)| p == "roots/2.json")
        .unwrap();
    e.insert(3, v2);
    let spliced = work.path().join("spliced.tar.gz");
    std::fs::write(&spliced, archive(&e)).unwrap();
    let err = failed(&import(&down, &spliced, &root_v1, &["--create"]));
    assert!(err.contains("newest root v2"), "{err}");

    // Pinned to v1, the new archive chains to v2 and imports.
    let out = ok(&import(&down, &new, &root_v1, &[]));
    assert!(out.contains("3 added"), "{out}");
    // After that, an archive signed under root v1 is a rollback.
    let before = store_state(&down);
    let stored = Fingerprint::of_data_dir(&down);
    let err = failed(&import(&down, &old, &root_v1, &[]));
    assert!(
        err.contains("already imported from source `import`"),
        "{err}"
    );
    assert_eq!(store_state(&down), before);
    assert_eq!(Fingerprint::of_data_dir(&down), stored);
    // Another source name keeps its own record.
    let out = ok(&import(&down, &old, &root_v1, &["--source", "elsewhere"]));
    assert!(out.contains("3 unchanged"), "{out}");
}

#[test]
fn a_running_daemon_imports_archives_dropped_into_its_directory() {
    let up = upstream();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let staged = work.path().join("staged.tar.gz");
    ok(&export(&up.data, &staged, &[]));

    // A second upstream whose versions an auto-approving source takes.
    let trusted_up = Daemon::start();
    trusted_up.publish_skill("air-trusted", "2.0.0");
    let trusted_root = export_root(&trusted_up.data, work.path(), "trusted-root.json");
    let trusted_file = work.path().join("trusted.tar.gz");
    ok(&export(&trusted_up.data, &trusted_file, &[]));

    let drop_dir = work.path().join("drop");
    let trusted_dir = work.path().join("drop-trusted");
    std::fs::create_dir_all(&drop_dir).unwrap();
    std::fs::create_dir_all(&trusted_dir).unwrap();
    let down = Daemon::with_config(&format!(
        "[[sources]]\nname = \"airgap\"\nkind = \"drop\"\npath = {:?}\nroot_key = {:?}\n\n\
         [[sources]]\nname = \"trusted\"\nkind = \"drop\"\npath = {:?}\nroot_key = {:?}\nauto_approve = true\n",
        drop_dir, root, trusted_dir, trusted_root
    ));
    // The first scheduled run (at start) starts the watchers.
    wait_for("the watcher", || {
        down.log().contains("watching the drop directory")
    });
    wait_for("both watchers", || {
        down.log().matches("watching the drop directory").count() >= 2
    });

    // A partial file (still being written, not yet renamed) is left alone:
    // batch0's, a whole archive under its `.part` name, written first, must
    // still be there, untouched, after the run that takes batch1.
    let partial = drop_dir.join(format!("batch0{SUFFIX}.part"));
    std::fs::copy(&staged, &partial).unwrap();
    let untouched = |what: &str| {
        assert_eq!(
            std::fs::read(&partial).unwrap_or_default(),
            std::fs::read(&staged).unwrap(),
            "{what}: the .part file changed or went"
        );
        for sub in ["imported", "rejected"] {
            let moved: Vec<String> = std::fs::read_dir(drop_dir.join(sub))
                .map(|d| {
                    d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with("batch0"))
                        .collect()
                })
                .unwrap_or_default();
            assert!(moved.is_empty(), "{what}: {sub}/ holds {moved:?}");
        }
    };
    let partial_modified = std::fs::metadata(&partial).unwrap().modified().unwrap();
    // Drop by rename, as documented: written under a `.part` name, renamed.
    let writing = drop_dir.join(format!("batch1{SUFFIX}.part"));
    std::fs::copy(&staged, &writing).unwrap();
    let dropped = drop_dir.join(format!("batch1{SUFFIX}"));
    std::fs::rename(&writing, &dropped).unwrap();
    let imported = drop_dir.join("imported").join(format!("batch1{SUFFIX}"));
    wait_for("the archive to be imported", || imported.exists());
    assert!(!dropped.exists());
    untouched("the run that took batch1");
    assert_eq!(
        std::fs::metadata(&partial).unwrap().modified().unwrap(),
        partial_modified,
        "the .part file was written to"
    );
    wait_for("the versions", || pending(&down).len() == 3);
    let waiting = pending(&down);
    assert!(
        waiting.iter().all(|p| p["source"] == "airgap"),
        "{waiting:?}"
    );
    let (_, runs) = down.admin_json("GET", "/admin/v1/sync-runs", "");
    let run = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "airgap" && r["added"] == 3)
        .cloned()
        .unwrap_or_else(|| panic!("{runs}"));
    assert_eq!(
        (run["status"].as_str(), run["pending"].as_i64()),
        (Some("completed"), Some(3))
    );

    // The same archive dropped again changes nothing.
    let before = down.fingerprint();
    let again = drop_dir.join(format!("again{SUFFIX}"));
    std::fs::copy(&staged, work.path().join("again.tmp")).unwrap();
    std::fs::rename(work.path().join("again.tmp"), &again).unwrap();
    wait_for("the second drop", || {
        drop_dir
            .join("imported")
            .join(format!("again{SUFFIX}"))
            .exists()
    });
    assert_eq!(down.fingerprint(), before);

    // A tampered archive goes to rejected/ with the reason beside it. It
    // carries a version not imported yet, its bundle swapped for another
    // valid one of the same size, so only the signed sha256 can refuse it:
    // a check that let it through would store something.
    up.publish_skill("air-late", "0.1.0");
    let late = work.path().join("late.tar.gz");
    ok(&export(&up.data, &late, &["--package", "air-late"]));
    let mut e = tar_entries(&std::fs::read(&late).unwrap());
    let names: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names[..3],
        ["manifest.json", "manifest.sig", "roots/1.json"],
        "{names:?}"
    );
    assert_eq!(names.len(), 4, "air-late's blob only: {names:?}");
    let last = e.len() - 1;
    e[last].1 = substitute("air-late", "0.1.0", &e[last].1);
    let bad = drop_dir.join(format!("bad{SUFFIX}"));
    std::fs::write(work.path().join("bad.tmp"), archive(&e)).unwrap();
    std::fs::rename(work.path().join("bad.tmp"), &bad).unwrap();
    let rejected = drop_dir.join("rejected").join(format!("bad{SUFFIX}"));
    let note = drop_dir
        .join("rejected")
        .join(format!("bad{SUFFIX}.error.txt"));
    wait_for("the refusal", || note.exists());
    assert!(rejected.exists());
    let why = std::fs::read_to_string(&note).unwrap();
    assert!(why.contains("does not match the signed manifest"), "{why}");
    assert_eq!(down.fingerprint(), before);
    // The control: the same archive untampered imports air-late.
    let genuine = drop_dir.join(format!("late{SUFFIX}"));
    std::fs::copy(&late, work.path().join("late.tmp")).unwrap();
    std::fs::rename(work.path().join("late.tmp"), &genuine).unwrap();
    wait_for("the untampered archive", || {
        drop_dir
            .join("imported")
            .join(format!("late{SUFFIX}"))
            .exists()
    });
    wait_for("air-late", || {
        pending(&down)
            .iter()
            .any(|p| p["name"] == "air-late" && p["version"] == "0.1.0")
    });

    // Files with other names are never touched, also by a requested sync.
    let other = drop_dir.join("notes.tar.gz");
    std::fs::write(&other, b"x").unwrap();
    let (status, started) = down.admin_json("POST", "/admin/v1/sync", r#"{"source":"airgap"}"#);
    assert_eq!(status, 202, "{started}");
    let id = started["run"].as_i64().unwrap();
    wait_for("the requested run", || {
        let (_, runs) = down.admin_json("GET", "/admin/v1/sync-runs", "");
        runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == id && r["status"] == "completed")
    });
    assert!(other.exists());
    untouched("a requested run");

    // The auto-approving source publishes what its exporter had approved.
    let mut file = std::fs::File::create(work.path().join("t.tmp")).unwrap();
    file.write_all(&std::fs::read(&trusted_file).unwrap())
        .unwrap();
    drop(file);
    std::fs::rename(
        work.path().join("t.tmp"),
        trusted_dir.join(format!("t{SUFFIX}")),
    )
    .unwrap();
    wait_for("the trusted import", || {
        get(&format!("{}/index/ai/r-/air-trusted", down.url)).0 == 200
    });
    let user = ClientEnv::new();
    let down_root = export_root(&down.data, work.path(), "down-root.json");
    let project = user.project("p");
    let out = user.run(&[
        "install",
        "air-trusted",
        "--registry",
        &down.url,
        "--trust-root",
        down_root.to_str().unwrap(),
        "--dir",
        project.to_str().unwrap(),
    ]);
    ok(&out);
    assert!(project
        .join(".claude/skills/air-trusted/SKILL.md")
        .is_file());
}

/// Moves `from` into `dir` under its own name by a copy elsewhere and a
/// rename, as the drop directory documents.
fn drop_in(work: &Path, from: &Path, dir: &Path) -> PathBuf {
    let name = from.file_name().unwrap();
    let tmp = work.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::copy(from, &tmp).unwrap();
    let to = dir.join(name);
    std::fs::rename(&tmp, &to).unwrap();
    to
}

#[test]
fn loose_bundles_cross_by_import_and_by_drop_and_tampered_ones_are_refused() {
    let up = upstream();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let out_dir = work.path().join("bundles");
    std::fs::create_dir_all(&out_dir).unwrap();

    // Only what is asked for is written; a name that selects nothing is an
    // error before anything is written.
    let err = failed(&export(
        &up.data,
        &out_dir,
        &[
            "--bundles",
            "--package",
            "air-alpha",
            "--package",
            "air-nope",
        ],
    ));
    assert!(
        err.contains("`air-nope` matches no exportable version"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
    let said = ok(&export(
        &up.data,
        &out_dir,
        &[
            "--bundles",
            "--package",
            "air-alpha@1.1.0",
            "--package",
            "air-beta",
        ],
    ));
    assert!(said.contains("2 bundle(s)"), "{said}");
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "air-alpha-1.1.0.tar.gz",
            "air-alpha-1.1.0.tar.gz.sig",
            "air-beta-0.1.0.tar.gz",
            "air-beta-0.1.0.tar.gz.sig"
        ]
    );
    let alpha = out_dir.join("air-alpha-1.1.0.tar.gz");
    let beta = out_dir.join("air-beta-0.1.0.tar.gz");
    // The bundle is the registry's blob, byte for byte.
    let (status, blob) = get_bytes(&format!("{}/api/v1/crates/air-beta/0.1.0/download", up.url));
    assert_eq!(status, 200);
    assert_eq!(std::fs::read(&beta).unwrap(), blob);
    // Its signature (format 2): the manifest's bytes and a small envelope over their digest.
    let detached: skillreg::mirror::transfer::BundleSignature =
        serde_json::from_slice(&std::fs::read(signature_of(&beta)).unwrap()).unwrap();
    let (_, up_root) = root_of(&detached.roots["1"].to_bytes());
    let payload = detached
        .signature
        .verify(
            sign::types::TRANSFER,
            "index",
            &up_root.roles["index"],
            &up_root.keys,
        )
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<TransferDigest>(&payload).unwrap(),
        TransferDigest::of(detached.manifest.as_bytes())
    );

    // `skillreg import BUNDLE` (its .sig beside it) into an air-gapped data dir.
    let down = work.path().join("down");
    let said = ok(&import(&down, &beta, &root, &["--create"]));
    assert!(said.contains("1 added (1 pending)"), "{said}");
    let after_one = store_state(&down);
    assert_eq!(after_one.1, ["air-beta@0.1.0=pending"]);
    let stored = Fingerprint::of_data_dir(&down);
    let said = ok(&import(&down, &beta, &root, &[]));
    assert!(said.contains("1 unchanged"), "{said}");
    assert_eq!(store_state(&down), after_one);
    assert_eq!(Fingerprint::of_data_dir(&down), stored);

    // Refusals leave the store as it was: a changed bundle, a bundle without
    // its signature, a signature from another registry.
    let evil = work.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let evil_alpha = evil.join("air-alpha-1.1.0.tar.gz");
    let mut bytes = std::fs::read(&alpha).unwrap();
    let n = bytes.len() - 20;
    bytes[n] ^= 1;
    std::fs::write(&evil_alpha, &bytes).unwrap();
    std::fs::copy(
        out_dir.join("air-alpha-1.1.0.tar.gz.sig"),
        evil.join("air-alpha-1.1.0.tar.gz.sig"),
    )
    .unwrap();
    let err = failed(&import(&down, &evil_alpha, &root, &[]));
    assert!(err.contains("does not match its signature"), "{err}");
    let unsigned = work.path().join("air-alpha-1.1.0.tar.gz");
    std::fs::copy(&alpha, &unsigned).unwrap();
    let err = failed(&import(&down, &unsigned, &root, &[]));
    assert!(
        err.contains("put its signature air-alpha-1.1.0.tar.gz.sig"),
        "{err}"
    );
    let stranger = Daemon::start();
    let stranger_root = export_root(&stranger.data, work.path(), "stranger-root.json");
    let err = failed(&import(&down, &alpha, &stranger_root, &[]));
    assert!(err.contains("differs from the pinned root"), "{err}");
    assert_eq!(store_state(&down), after_one);
    assert_eq!(Fingerprint::of_data_dir(&down), stored);

    // A running daemon's drop directory takes pairs; halves wait.
    let drop_dir = work.path().join("drop");
    std::fs::create_dir_all(&drop_dir).unwrap();
    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"airgap\"\nkind = \"drop\"\npath = {drop_dir:?}\nroot_key = {root:?}\n"
    ));
    wait_for("the watcher", || {
        d.log().contains("watching the drop directory")
    });
    // The bundle alone waits (its signature may still be on its way): the
    // watcher's run that takes the next file dropped (a marker, refused:
    // not an archive) passes it by, settled as long as the marker, and
    // names it as waiting.
    let lone = drop_in(work.path(), &alpha, &drop_dir);
    let marker = work.path().join(format!("marker{SUFFIX}"));
    std::fs::write(&marker, b"not an archive").unwrap();
    drop_in(work.path(), &marker, &drop_dir);
    let mut run = serde_json::Value::Null;
    wait_for("the run that refused the marker", || {
        let (_, runs) = d.admin_json("GET", "/admin/v1/sync-runs", "");
        run = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["status"] != "running" && r["detail"].to_string().contains("marker"))
            .cloned()
            .unwrap_or_default();
        !run.is_null()
    });
    assert!(
        drop_dir
            .join("rejected")
            .join(format!("marker{SUFFIX}.error.txt"))
            .exists(),
        "{run}"
    );
    assert!(
        run["detail"]
            .to_string()
            .contains("air-alpha-1.1.0.tar.gz: waiting for its signature"),
        "{run}"
    );
    assert!(lone.exists() && pending(&d).is_empty());
    let (status, started) = d.admin_json("POST", "/admin/v1/sync", r#"{"source":"airgap"}"#);
    assert_eq!(status, 202, "{started}");
    let id = started["run"].clone();
    let mut run = serde_json::Value::Null;
    wait_for("the requested run", || {
        let (_, runs) = d.admin_json("GET", "/admin/v1/sync-runs", "");
        run = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id && r["status"] != "running")
            .cloned()
            .unwrap_or_default();
        !run.is_null()
    });
    assert_eq!(run["status"], "completed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("waiting for its signature"),
        "{run}"
    );
    // Its signature arrives: the pair is imported and moved together.
    drop_in(
        work.path(),
        &out_dir.join("air-alpha-1.1.0.tar.gz.sig"),
        &drop_dir,
    );
    let imported = drop_dir.join("imported").join("air-alpha-1.1.0.tar.gz");
    // The pair is linked into imported/ first, then the originals go (so
    // a crash between leaves both copies, never neither): wait for both.
    wait_for("the pair to be imported", || {
        imported.exists() && signature_of(&imported).exists() && !lone.exists()
    });
    let waiting = pending(&d);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        (
            &waiting[0]["name"],
            &waiting[0]["version"],
            &waiting[0]["source"]
        ),
        (&"air-alpha".into(), &"1.1.0".into(), &"airgap".into())
    );
    assert_eq!(
        waiting[0]["upstream"]["transfer"]["bundle"], "air-alpha-1.1.0.tar.gz",
        "{}",
        waiting[0]
    );

    // A tampered pair goes to rejected/ with the reason, and changes
    // nothing. It is air-beta 0.1.0, not imported here yet, swapped for
    // another valid bundle of the same size, so only the signature can
    // refuse it: a check that let it through would store something.
    let before = d.fingerprint();
    let evil_beta = work.path().join("evil-beta");
    std::fs::create_dir_all(&evil_beta).unwrap();
    let tampered = evil_beta.join("air-beta-0.1.0.tar.gz");
    let swapped = substitute("air-beta", "0.1.0", &std::fs::read(&beta).unwrap());
    std::fs::write(&tampered, swapped).unwrap();
    std::fs::copy(signature_of(&beta), signature_of(&tampered)).unwrap();
    drop_in(work.path(), &signature_of(&tampered), &drop_dir);
    drop_in(work.path(), &tampered, &drop_dir);
    let rejected = drop_dir.join("rejected").join("air-beta-0.1.0.tar.gz");
    let note = drop_dir
        .join("rejected")
        .join("air-beta-0.1.0.tar.gz.error.txt");
    wait_for("the refusal", || note.exists());
    let why = std::fs::read_to_string(&note).unwrap();
    assert!(why.contains("does not match its signature"), "{why}");
    assert!(rejected.exists() && signature_of(&rejected).exists());
    assert_eq!(d.fingerprint(), before);
    d.assert_serving();
    // The control: the genuine pair imports air-beta.
    drop_in(work.path(), &signature_of(&beta), &drop_dir);
    drop_in(work.path(), &beta, &drop_dir);
    let imported = drop_dir.join("imported").join("air-beta-0.1.0.tar.gz");
    wait_for("the genuine pair", || {
        imported.exists() && signature_of(&imported).exists()
    });
    let waiting = pending(&d);
    assert!(
        waiting
            .iter()
            .any(|p| p["name"] == "air-beta" && p["version"] == "0.1.0"),
        "{waiting:?}"
    );

    // Approved, the loose bundle installs with the verifying client.
    let (status, body) = d.admin_json(
        "POST",
        "/admin/v1/packages/air-alpha/1.1.0/approve",
        r#"{"note":"carried by hand"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let user = ClientEnv::new();
    let d_root = export_root(&d.data, work.path(), "d-root.json");
    let project = user.project("p");
    ok(&user.run(&[
        "install",
        "air-alpha@1.1.0",
        "--registry",
        &d.url,
        "--trust-root",
        d_root.to_str().unwrap(),
        "--dir",
        project.to_str().unwrap(),
    ]));
    assert!(project.join(".claude/skills/air-alpha/SKILL.md").is_file());
}

fn signature_of(bundle: &Path) -> PathBuf {
    skillreg::mirror::transfer::signature_path(bundle)
}
