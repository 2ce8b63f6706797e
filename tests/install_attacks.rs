//! `skillreg install` refusing tampered registries: each attack is served by
//! a static file server from a byte-exact copy of what the real daemon
//! served (the daemon's `public_url` is the static server, so config.json's
//! `dl` points there too), with some bytes changed and nothing re-signed
//! unless the attack is about keys. Every refusal must leave the project as
//! it was: no `.claude/`, no temp dirs, the lock file byte-identical. Every
//! test first installs from the untampered tree, so a refusal is never the
//! fixture's fault.

mod common;

#[path = "install_attacks/moved_node.rs"]
mod moved_node;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::*;
use ed25519_dalek::SigningKey;
use skillreg::index::sign::{self, canonical, key_id, paths, types, Envelope};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

const NAME: &str = "hello-skill";
const INDEX_FILE: &str = "index/he/ll/hello-skill";
const STATEMENT: &str = "index/_skillreg/sig/he/ll/hello-skill";
const TIMESTAMP: &str = "index/_skillreg/timestamp.json";
const DOWNLOAD: &str = "api/v1/crates/hello-skill/1.0.0/download";
/// A valid lock an attacked project already has; a refusal must not touch it.
const LOCK_BEFORE: &str = "{\n  \"lock_version\": 1,\n  \"packages\": {}\n}\n";

/// A daemon whose public URL is a static server serving copies of it.
struct Fixture {
    server: StaticServer,
    daemon: Option<Daemon>,
    tmp: tempfile::TempDir,
    /// The daemon's root, as `skillreg key export-root` printed it.
    root: PathBuf,
    /// The tree as first mirrored (hello-skill 1.0.0).
    pristine: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_config("")
    }

    fn with_config(extra: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let server = StaticServer::serve(&empty);
        let daemon = Daemon::with_config(&format!("public_url = \"{}\"\n{extra}", server.url));
        daemon.publish_skill(NAME, "1.0.0");
        let root = export_root(&daemon.data, tmp.path(), "root.json");
        let mut fx = Fixture {
            server,
            daemon: Some(daemon),
            tmp,
            root,
            pristine: PathBuf::new(),
        };
        fx.pristine = fx.mirror("pristine");
        fx.serve(&fx.pristine.clone());
        fx
    }

    fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("daemon running")
    }

    /// Mirrors what the daemon serves now into a new tree.
    fn mirror(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        mirror_registry(&self.daemon().url, &dir);
        dir
    }

    fn serve(&self, tree: &Path) {
        self.server.set_root(tree);
    }

    /// A copy of `from` changed by `change`, served from now on.
    fn tamper(&self, from: &Path, name: &str, change: impl FnOnce(&Path)) -> PathBuf {
        let dir = self.tmp.path().join(name);
        copy_tree(from, &dir);
        change(&dir);
        self.serve(&dir);
        dir
    }

    fn install(
        &self,
        env: &ClientEnv,
        project: &Path,
        root: Option<&Path>,
        extra: &[&str],
    ) -> Output {
        let mut args = vec![
            "install",
            NAME,
            "--registry",
            &self.server.url,
            "--dir",
            project.to_str().unwrap(),
        ];
        if let Some(root) = root {
            args.extend(["--trust-root", root.to_str().unwrap()]);
        }
        args.extend_from_slice(extra);
        env.run(&args)
    }

    /// The control: a new user installs from `tree`. Returns that user.
    fn control(&self, tree: &Path) -> ClientEnv {
        self.serve(tree);
        let env = ClientEnv::new();
        let project = env.project("control");
        let out = self.install(&env, &project, Some(&self.root), &[]);
        assert!(
            out.status.success(),
            "the control install failed, so the fixture is broken: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(project
            .join(".claude/skills")
            .join(NAME)
            .join("SKILL.md")
            .is_file());
        env
    }
}

static PROJECTS: AtomicUsize = AtomicUsize::new(0);

/// Installs as `env` into a new project holding [`LOCK_BEFORE`], expects a
/// refusal whose message has every `wants`, and that nothing changed.
fn refused(fx: &Fixture, env: &ClientEnv, root: Option<&Path>, wants: &[&str]) -> String {
    let project = env.project(&format!(
        "attacked-{}",
        PROJECTS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(project.join("skillreg.lock"), LOCK_BEFORE).unwrap();
    let out = fx.install(env, &project, root, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a refusal; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    for want in wants {
        assert!(stderr.contains(want), "{want:?} not in: {stderr}");
    }
    let entries: Vec<String> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        ["skillreg.lock"],
        "nothing but the old lock may be left"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("skillreg.lock")).unwrap(),
        LOCK_BEFORE
    );
    stderr
}

fn read_envelope(path: &Path) -> Envelope {
    Envelope::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

/// Flips one bit of the first signature of the envelope at `path`.
fn flip_signature(path: &Path) {
    let mut env = read_envelope(path);
    let mut sig = B64.decode(&env.signatures[0].sig).unwrap();
    sig[10] ^= 1;
    env.signatures[0].sig = B64.encode(sig);
    std::fs::write(path, env.to_bytes()).unwrap();
}

/// Replaces the signatures of the envelope at `path` with one by `key`.
fn resign(path: &Path, key: &SigningKey) {
    let env = read_envelope(path);
    let payload = env.payload_bytes().unwrap();
    let types = [
        types::TIMESTAMP,
        types::SNAPSHOT,
        types::INDEX_FILE,
        types::ROOT,
    ];
    let ty = types.iter().find(|t| **t == env.payload_type).unwrap();
    std::fs::write(path, Envelope::sign(ty, &payload, &[key]).to_bytes()).unwrap();
}

fn timestamp_of(tree: &Path) -> sign::Timestamp {
    sign::parse(
        &read_envelope(&tree.join(TIMESTAMP))
            .payload_bytes()
            .unwrap(),
    )
    .unwrap()
}

/// The snapshot file of a tree (the one its timestamp names).
fn snapshot_path(tree: &Path) -> PathBuf {
    tree.join("index")
        .join(paths::snapshot(timestamp_of(tree).snapshot.version))
}

/// A key from the daemon's data dir: what an attacker who stole it holds.
fn stolen_key(data: &Path, file: &str) -> SigningKey {
    let hex_seed = std::fs::read_to_string(data.join("keys").join(file)).unwrap();
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_seed.trim(), &mut seed).unwrap();
    SigningKey::from_bytes(&seed)
}

#[test]
fn bad_signatures_are_refused() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    fx.tamper(&fx.pristine, "ts-sig", |d| {
        flip_signature(&d.join(TIMESTAMP))
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "the timestamp from",
            "failed verification",
            "signature does not verify",
            "nothing was installed",
        ],
    );
    fx.tamper(&fx.pristine, "statement-sig", |d| {
        flip_signature(&d.join(STATEMENT))
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "the index-file statement from",
            "sig/he/ll/hello-skill",
            "failed verification",
        ],
    );
}

#[test]
fn a_modified_index_line_is_refused() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    // Point the line at an attacker's bundle (served at the download path).
    let src = tempfile::tempdir().unwrap();
    let evil =
        skillreg::bundle::pack::pack_dir(&skill_dir(src.path(), NAME, "1.0.0", "Evil.")).unwrap();
    fx.tamper(&fx.pristine, "line", |d| {
        let line = std::fs::read_to_string(d.join(INDEX_FILE)).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        let cksum = v["cksum"].as_str().unwrap();
        let evil_sum = skillreg::blobs::Sha256Digest::of(&evil).to_hex();
        assert_ne!(cksum, evil_sum);
        std::fs::write(d.join(INDEX_FILE), line.replace(cksum, &evil_sum)).unwrap();
        std::fs::write(d.join(DOWNLOAD), &evil).unwrap();
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "mix-and-match",
            "the index file `he/ll/hello-skill`",
            "the signed snapshot lists",
        ],
    );
}

#[test]
fn rollback_to_older_metadata_is_refused() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    let old = fx.pristine.clone();
    fx.daemon().publish_skill(NAME, "1.1.0");
    let new = fx.mirror("new");
    // This user has seen the newer timestamp and snapshot.
    let env = fx.control(&new);
    assert!(timestamp_of(&new).version > timestamp_of(&old).version);

    fx.serve(&old);
    refused(
        &fx,
        &env,
        Some(&fx.root),
        &[
            "rollback: ",
            "served timestamp version",
            "older than version",
        ],
    );

    // With the stolen timestamp key, an attacker signs a timestamp newer than
    // any seen that names the old snapshot: the snapshot version gives it away.
    let key = stolen_key(&fx.daemon().data, "timestamp.ed25519");
    let newest = timestamp_of(&new).version;
    let replay = fx.tamper(&old, "replay", |d| {
        let mut ts = timestamp_of(d);
        ts.version = newest + 10;
        std::fs::write(
            d.join(TIMESTAMP),
            Envelope::sign(types::TIMESTAMP, &canonical(&ts), &[&key]).to_bytes(),
        )
        .unwrap();
    });
    refused(
        &fx,
        &env,
        Some(&fx.root),
        &[
            "rollback: ",
            "served snapshot version",
            "older than version",
        ],
    );
    // Control: that tree is validly signed, so a user who never saw the
    // newer snapshot accepts it.
    fx.control(&replay);
}

#[test]
fn an_expired_timestamp_is_refused_as_a_freeze() {
    let fx = Fixture::with_config("[signing]\ntimestamp_expiry_secs = 8\n");
    let early = fx.control(&fx.pristine);
    let expires = timestamp_of(&fx.pristine).expires;
    let mut fx = fx;
    drop(fx.daemon.take().unwrap().stop());
    let at = humantime::parse_rfc3339(&expires).unwrap() + Duration::from_secs(1);
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["freeze: ", "the timestamp from", "expired at"],
    );
    // The user who installed before the freeze is refused online too, and
    // may still install offline from what was verified then.
    refused(&fx, &early, None, &["freeze: "]);
    let project = early.project("offline");
    let out = fx.install(&early, &project, None, &["--offline"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mix_and_match_of_index_files_is_refused() {
    let fx = Fixture::new();
    let old = fx.pristine.clone();
    fx.daemon().publish_skill(NAME, "1.1.0");
    let new = fx.mirror("new");
    fx.control(&new);
    // The old index file with its old statement: both validly signed, but
    // the current snapshot lists other bytes.
    fx.tamper(&new, "mixed", |d| {
        for rel in [INDEX_FILE, STATEMENT] {
            std::fs::copy(old.join(rel), d.join(rel)).unwrap();
        }
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "mix-and-match",
            "the index file `he/ll/hello-skill`",
            "the signed snapshot lists",
        ],
    );
}

#[test]
fn a_bundle_with_another_sha256_is_refused_and_not_cached() {
    let fx = Fixture::new();
    // Where the control user's client cached the genuine bundle: the place
    // a refused one must not reach.
    let control = fx.control(&fx.pristine);
    let genuine =
        skillreg::blobs::Sha256Digest::of(&std::fs::read(fx.pristine.join(DOWNLOAD)).unwrap())
            .to_hex();
    assert_eq!(
        control.cached_bundles(),
        [(genuine.clone(), genuine.clone())].into(),
        "the control cached the genuine bundle under its sha256"
    );
    fx.tamper(&fx.pristine, "blob", |d| {
        let mut bytes = std::fs::read(d.join(DOWNLOAD)).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(d.join(DOWNLOAD), bytes).unwrap();
    });
    let env = ClientEnv::new();
    refused(
        &fx,
        &env,
        Some(&fx.root),
        &[
            "the bundle of `hello-skill@1.0.0`",
            "has sha256",
            "the signed index says",
            "nothing was installed",
        ],
    );
    assert_eq!(env.cached_bundles(), [].into(), "a bad bundle was cached");
    // The same user then installs the genuine bundle: it is cached, where
    // the refused one was not.
    fx.serve(&fx.pristine);
    let project = env.project("after");
    let out = fx.install(&env, &project, Some(&fx.root), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.cached_bundles(), [(genuine.clone(), genuine)].into());
}

#[test]
fn a_foreign_root_is_refused() {
    let fx = Fixture::new();
    let env = fx.control(&fx.pristine);
    let other = Daemon::start();
    other.publish_skill(NAME, "1.0.0");
    let foreign = export_root(&other.data, fx.tmp.path(), "foreign.json");
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&foreign),
        &["foreign root: ", "root key(s)", "--trust-root"],
    );
    // A user who trusts this registry, when another registry answers at its URL.
    let impostor = fx.tmp.path().join("impostor");
    mirror_registry(&other.url, &impostor);
    fx.serve(&impostor);
    refused(&fx, &env, None, &["foreign root: "]);
    refused(&fx, &env, Some(&fx.root), &["foreign root: "]);
}

#[test]
fn a_forged_root_rotation_is_refused() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    let rogue = SigningKey::from_bytes(&[9u8; 32]);
    let rogue_id = key_id(&rogue.verifying_key());
    // Root v2 naming the attacker's key for every role, signed only by it.
    fx.tamper(&fx.pristine, "forged-root", |d| {
        let (_, mut root) = root_of(&std::fs::read(d.join("index/_skillreg/root/1.json")).unwrap());
        root.version = 2;
        root.keys = [(
            rogue_id.clone(),
            sign::PublicKey::of(&rogue.verifying_key()),
        )]
        .into();
        for role in root.roles.values_mut() {
            role.keyids = vec![rogue_id.clone()];
        }
        let env = Envelope::sign(types::ROOT, &canonical(&root), &[&rogue]);
        std::fs::write(d.join("index/_skillreg/root/2.json"), env.to_bytes()).unwrap();
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "root v2",
            "does not continue the chain of trust",
            "unknown key id",
            &rogue_id,
        ],
    );
}

#[test]
fn endless_and_oversized_responses_are_refused() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    for (path, wants) in [
        (
            "/index/_skillreg/timestamp.json",
            ["endless data", "timestamp.json"],
        ),
        (
            "/index/_skillreg/root/1.json",
            ["endless data", "root/1.json"],
        ),
        (
            "/index/_skillreg/root/2.json",
            ["endless data", "root/2.json"],
        ),
        (
            "/index/_skillreg/sig/he/ll/hello-skill",
            ["endless data", "sig/he/ll/hello-skill"],
        ),
        (
            "/api/v1/crates/hello-skill/1.0.0/download",
            ["endless data", "download"],
        ),
    ] {
        fx.server.set_endless(Some(path));
        refused(&fx, &ClientEnv::new(), Some(&fx.root), &wants);
    }
    // A snapshot-tree node: no more than its parent's signed length is read.
    let node = node_files(&fx.pristine, "he/ll/hello-skill").remove(0);
    let node_url = format!(
        "/{}",
        node.strip_prefix(&fx.pristine).unwrap().to_str().unwrap()
    );
    fx.server.set_endless(Some(&node_url));
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["endless data", "_skillreg/tree/"],
    );
    fx.server.set_endless(None);
    // More bytes than the signed lengths, even when they end.
    let padded = |from: &Path, name: &str, which: PathBuf| {
        fx.tamper(from, name, |d| {
            let path = d.join(which.strip_prefix(from).unwrap());
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.extend_from_slice(b"\n\n");
            std::fs::write(&path, bytes).unwrap();
        })
    };
    padded(&fx.pristine, "long-snapshot", snapshot_path(&fx.pristine));
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["endless data", "snapshot/"],
    );
    padded(&fx.pristine, "long-node", node.clone());
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["endless data", "_skillreg/tree/"],
    );
    padded(&fx.pristine, "long-index", fx.pristine.join(INDEX_FILE));
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["endless data", "he/ll/hello-skill"],
    );
    // Control after all that: the same server still serves a good tree.
    fx.control(&fx.pristine);
}

#[test]
fn a_signature_by_an_unknown_key_is_refused_naming_the_key() {
    let fx = Fixture::new();
    fx.control(&fx.pristine);
    let rogue = SigningKey::from_bytes(&[7u8; 32]);
    let rogue_id = key_id(&rogue.verifying_key());
    fx.tamper(&fx.pristine, "rogue-ts", |d| {
        resign(&d.join(TIMESTAMP), &rogue)
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["the timestamp from", "unknown key id", &rogue_id],
    );
    fx.tamper(&fx.pristine, "rogue-statement", |d| {
        resign(&d.join(STATEMENT), &rogue)
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &["index-file statement", "unknown key id", &rogue_id],
    );
    // The index key signing a timestamp is a key of the wrong role: refused too.
    let index_key = stolen_key(&fx.daemon().data, "index.ed25519");
    fx.tamper(&fx.pristine, "wrong-role", |d| {
        resign(&d.join(TIMESTAMP), &index_key)
    });
    refused(
        &fx,
        &ClientEnv::new(),
        Some(&fx.root),
        &[
            "the timestamp from",
            "unknown key id",
            &key_id(&index_key.verifying_key()),
        ],
    );
}

/// The files below `tree/index/` of the snapshot-tree nodes on the way from
/// the tree's signed top to the bin of `index_path`, top-most first.
fn node_files(tree: &Path, index_path: &str) -> Vec<PathBuf> {
    use skillreg::index::snapshot_tree::{self, Node};
    let snapshot: sign::Snapshot =
        sign::parse(&read_envelope(&snapshot_path(tree)).payload_bytes().unwrap()).unwrap();
    let position = snapshot_tree::position(index_path);
    let mut children = snapshot.children;
    let mut out = Vec::new();
    for level in 1..=snapshot_tree::DEPTH {
        let prefix = &position[..level];
        let meta = children[&prefix[level - 1..]].clone();
        let file = tree.join("index").join(paths::tree_node(&meta.sha256));
        let bytes = std::fs::read(&file).unwrap();
        out.push(file);
        match snapshot_tree::verify_node(prefix, &meta, &bytes).unwrap() {
            Node::Interior(next) => children = next,
            Node::Bin(_) => break,
        }
    }
    out
}

/// Every snapshot-tree node a user's client cached (its state directory).
fn cached_nodes(env: &ClientEnv) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut dirs = vec![env.state_home()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.parent().unwrap().ends_with("tree") {
                out.push(std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// Refuses as [`refused`] does, and checks that the refused node's bytes
/// did not reach the user's node cache; then the genuine `tree` installs.
fn refused_node(fx: &Fixture, env: &ClientEnv, served: &[u8], tree: &Path, wants: &[&str]) {
    refused(fx, env, Some(&fx.root), wants);
    assert!(
        !cached_nodes(env).iter().any(|n| n == served),
        "a refused node was cached"
    );
    let genuine = fx.tmp.path().join(format!(
        "genuine-{}",
        PROJECTS.fetch_add(1, Ordering::SeqCst)
    ));
    copy_tree(tree, &genuine);
    fx.serve(&genuine);
    let project = env.project(&format!("after-{}", PROJECTS.load(Ordering::SeqCst)));
    let out = fx.install(env, &project, Some(&fx.root), &[]);
    assert!(
        out.status.success(),
        "after the refusal the genuine tree installs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_stale_bin_is_refused_even_from_a_poisoned_cache() {
    let fx = Fixture::new();
    let old = fx.pristine.clone();
    // This user's client cached the bins of the first snapshot.
    let env = fx.control(&old);
    fx.daemon().publish_skill(NAME, "1.1.0");
    let new = fx.mirror("new");
    let (old_bin, new_bin) = (
        node_files(&old, "he/ll/hello-skill").pop().unwrap(),
        node_files(&new, "he/ll/hello-skill").pop().unwrap(),
    );
    let stale = std::fs::read(&old_bin).unwrap();
    assert_ne!(stale, std::fs::read(&new_bin).unwrap());
    // The new top and timestamp, the old bin at the new bin's address and
    // the old index file with its (validly signed) statement.
    fx.tamper(&new, "stale-bin", |d| {
        std::fs::write(d.join(new_bin.strip_prefix(&new).unwrap()), &stale).unwrap();
        for rel in [INDEX_FILE, STATEMENT] {
            std::fs::copy(old.join(rel), d.join(rel)).unwrap();
        }
    });
    // The user's cache holds the old bin under its prefix: poisoned with
    // validly made, outdated bytes, it must not stand in for the pinned one.
    assert!(
        cached_nodes(&env).contains(&stale),
        "the control cached the bin"
    );
    let wants = [
        "mix-and-match",
        "the snapshot node `",
        "stale, from another snapshot, or rolled back",
        "the signed snapshot lists",
    ];
    refused(&fx, &env, Some(&fx.root), &wants);
    // A new user, with nothing cached, is refused the same way.
    refused_node(&fx, &ClientEnv::new(), &stale, &new, &wants);
}

#[test]
fn a_bin_from_another_snapshot_is_refused() {
    let fx = Fixture::new();
    fx.daemon().publish_skill(NAME, "1.1.0");
    let current = fx.mirror("current");
    fx.daemon().publish_skill(NAME, "1.2.0");
    let later = fx.mirror("later");
    fx.control(&current);
    // Served the current top: a parent node and a bin of a later snapshot
    // (all validly made by the registry), each at the address the current
    // snapshot pins for its own, with the later index file and statement.
    let (now, then) = (
        node_files(&current, "he/ll/hello-skill"),
        node_files(&later, "he/ll/hello-skill"),
    );
    let mixed_parent = std::fs::read(&then[1]).unwrap();
    fx.tamper(&current, "mixed-bin", |d| {
        for (mine, theirs) in now.iter().zip(&then).skip(1) {
            std::fs::copy(theirs, d.join(mine.strip_prefix(&current).unwrap())).unwrap();
        }
        for rel in [INDEX_FILE, STATEMENT] {
            std::fs::copy(later.join(rel), d.join(rel)).unwrap();
        }
    });
    refused_node(
        &fx,
        &ClientEnv::new(),
        &mixed_parent,
        &current,
        &[
            "mix-and-match",
            &format!(
                "the snapshot node `{}`",
                &skillreg::index::snapshot_tree::position("he/ll/hello-skill")[..2]
            ),
            "but the signed snapshot lists",
        ],
    );
}

#[test]
fn a_bin_rollback_is_refused() {
    let fx = Fixture::new();
    let old = fx.pristine.clone();
    fx.daemon().publish_skill(NAME, "1.1.0");
    let new = fx.mirror("new");
    // This user has seen the newer snapshot.
    let env = fx.control(&new);
    // The new (current, validly signed) timestamp and top, with every node
    // below them rolled back to the old snapshot's, each at the address the
    // new top pins: the old view of the package, under a fresh signature.
    let (was, is) = (
        node_files(&old, "he/ll/hello-skill"),
        node_files(&new, "he/ll/hello-skill"),
    );
    let rolled_back = std::fs::read(&was[0]).unwrap();
    fx.tamper(&new, "bin-rollback", |d| {
        for (theirs, mine) in was.iter().zip(&is) {
            std::fs::copy(theirs, d.join(mine.strip_prefix(&new).unwrap())).unwrap();
        }
        for rel in [INDEX_FILE, STATEMENT] {
            std::fs::copy(old.join(rel), d.join(rel)).unwrap();
        }
    });
    // This user's cache holds the new nodes and index file, each pinned by
    // the new top: it reads none of the rolled-back files, and installs
    // the current version.
    let project = env.project("warm");
    let out = fx.install(&env, &project, Some(&fx.root), &[]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("hello-skill@1.1.0"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A user with nothing cached fetches the rolled-back top-most node.
    refused_node(
        &fx,
        &ClientEnv::new(),
        &rolled_back,
        &new,
        &[
            "mix-and-match",
            &format!(
                "the snapshot node `{}`",
                &skillreg::index::snapshot_tree::position("he/ll/hello-skill")[..1]
            ),
            "stale, from another snapshot, or rolled back",
        ],
    );
}
