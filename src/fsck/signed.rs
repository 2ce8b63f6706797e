//! Re-verifying the signed metadata: the root chain in the database, each
//! version's stored index line against its blob, and a static tree's
//! timestamp, snapshot, index files and statements (`index-spec/signing.md`
//! §9, with `index::sign`'s own verifier, the snapshot's tree expanded
//! node by node), each index file against what the
//! database renders and each line's blob against its checksum.
//!
//! The daemon keeps its own index files, statements, snapshot and timestamp
//! in memory only, rendered from the database at every start; so what can
//! go bad on disk is the database (roots, lines) and a written tree.

use std::collections::BTreeMap;
use std::path::Path;

use super::{hash_reader, Report, SignedDamage};
use crate::blobs::Sha256Digest;
use crate::index::sign::{
    self, paths, types, Envelope, FileMeta, IndexFileStatement, Root, Snapshot, Timestamp,
};
use crate::index::snapshot_tree;
use crate::index::{self, export};
use crate::keys::{self, KeyRole};
use crate::safe_fs::Dir;
use crate::store::{Store, VersionCheck};

/// The largest document or index file read from a tree; a snapshot of a
/// very large registry stays well below it.
const MAX_TREE_FILE: u64 = 64 * 1024 * 1024;

/// What to do about a damaged signed document of a tree.
const REEXPORT: &str =
    "run `skillreg fsck --repair` (it re-renders the tree from the database), or `skillreg export-static` again";

/// Verifies every root in the database as a client walks the chain (v1
/// self-signed, each next one signed by its predecessor's root keys and its
/// own) and returns the newest. Notes when the key files differ from it.
pub(super) fn roots(store: &Store, data: &Path, report: &mut Report) -> Option<Root> {
    let stored = match store.roots() {
        Ok(stored) => stored,
        Err(e) => {
            report.signed_bad.push(SignedDamage::db(
                "the root documents (signed_roots)",
                format!("cannot be read: {e}"),
            ));
            return None;
        }
    };
    let mut trusted: Option<Root> = None;
    for (version, bytes) in &stored {
        report.signed_checked += 1;
        let what = format!("root v{version} in the database (signed_roots)");
        let next = match &trusted {
            None => sign::self_signed_root(bytes).map_err(|e| e.to_string()),
            Some(previous) => sign::next_root(previous, bytes).map_err(|e| e.to_string()),
        };
        match next {
            Ok((root, _)) if root.version == *version => trusted = Some(root),
            Ok((root, _)) => {
                report.signed_bad.push(SignedDamage::db(
                    &what,
                    format!("its payload says version {}", root.version),
                ));
                return trusted;
            }
            Err(e) => {
                report
                    .signed_bad
                    .push(SignedDamage::db(&what, format!("does not verify: {e}")));
                return trusted;
            }
        }
    }
    if let Some(root) = &trusted {
        for role in KeyRole::ALL {
            let path = keys::key_path(data, role);
            let key = match keys::read_seed(&path) {
                Ok(key) => key,
                Err(e) => {
                    report.notes.push(format!(
                        "{} cannot be read ({e}): run fsck as the daemon's user; if the file is gone or garbled, restore DATA/keys from a backup",
                        path.display()
                    ));
                    continue;
                }
            };
            let id = sign::key_id(&key.verifying_key());
            let named = root
                .roles
                .get(role.as_str())
                .is_some_and(|r| r.keyids.contains(&id));
            if !named {
                report.notes.push(format!(
                    "{} (key id {id}) is not the {} key root v{} names: a rotation in progress, or the key was replaced; if you did neither, restore DATA/keys from a backup",
                    path.display(),
                    role.as_str(),
                    root.version
                ));
            }
        }
    }
    trusted
}

/// Checks that each version's stored index line names that version and its
/// blob's sha256: the line is what the signed index file serves.
pub(super) fn lines(versions: &[VersionCheck], report: &mut Report) {
    for v in versions {
        report.lines += 1;
        let line: serde_json::Value = match serde_json::from_str(&v.entry_json) {
            Ok(line) => line,
            Err(e) => {
                report
                    .bad_lines
                    .push((v.clone(), format!("is not JSON: {e}")));
                continue;
            }
        };
        let field = |k: &str| line.get(k).and_then(|x| x.as_str()).unwrap_or("");
        let problem = if !field("cksum").eq_ignore_ascii_case(&v.cksum) {
            Some(format!(
                "names checksum {:?}, but its blob is {}",
                field("cksum"),
                v.cksum
            ))
        } else if field("vers") != v.version
            || index::path_for(field("name")) != index::path_for(&v.name)
        {
            Some(format!("names {}@{}", field("name"), field("vers")))
        } else {
            None
        };
        if let Some(problem) = problem {
            report.bad_lines.push((v.clone(), problem));
        }
    }
}

/// Checks the static tree at `out` against `root` and the database.
pub(super) fn tree(
    store: &Store,
    root: &Root,
    roots: &[(u64, Vec<u8>)],
    out: &Path,
    report: &mut Report,
) {
    for (version, bytes) in roots {
        for path in [paths::root(*version)]
            .into_iter()
            .chain((*version == root.version).then(|| paths::ROOT.to_string()))
        {
            report.signed_checked += 1;
            if read_tree(out, &path).ok().as_ref() != Some(bytes) {
                let problem = format!("is not root v{version} as the database holds it");
                bad(report, out, &path, problem);
            }
        }
    }
    let (timestamp, snapshot) = match head(root, out, report) {
        Ok(head) => head,
        Err((path, problem)) => return bad(report, out, &path, problem),
    };
    for (what, expires) in [
        ("timestamp", &timestamp.expires),
        ("snapshot", &snapshot.expires),
    ] {
        if expired(expires) {
            report.notes.push(format!(
                "the tree's {what} expired at {expires}: clients refuse it until it is re-signed ({REEXPORT})"
            ));
        }
    }
    let listed = match expand_tree(out, &snapshot, report) {
        Ok(listed) => listed,
        Err((path, problem)) => return bad(report, out, &path, problem),
    };
    files(store, root, out, &listed, report);
}

/// Every file the snapshot lists, each node of its tree read from the
/// tree and verified against its parent's pin: or the node that fails.
fn expand_tree(
    out: &Path,
    snapshot: &Snapshot,
    report: &mut Report,
) -> Result<BTreeMap<String, FileMeta>, (String, String)> {
    let mut failed = String::new();
    let expanded = snapshot_tree::expand(&snapshot.children, |_, meta| {
        report.signed_checked += 1;
        failed = paths::tree_node(&meta.sha256);
        read_tree(out, &failed)
    });
    expanded.map_err(|e| match e {
        snapshot_tree::WalkError::Fetch(problem) => (failed.clone(), problem),
        snapshot_tree::WalkError::Tree(e) => (failed.clone(), e.to_string()),
    })
}

/// The tree's timestamp, verified, and the snapshot it names, verified:
/// or the path that fails and why.
fn head(
    root: &Root,
    out: &Path,
    report: &mut Report,
) -> Result<(Timestamp, Snapshot), (String, String)> {
    report.signed_checked += 2;
    fn at(path: &str) -> impl Fn(String) -> (String, String) + '_ {
        move |problem| (path.to_string(), problem)
    }
    let timestamp =
        read_verified::<Timestamp>(out, paths::TIMESTAMP, types::TIMESTAMP, "timestamp", root)
            .map_err(at(paths::TIMESTAMP))?;
    if timestamp._type != "timestamp" {
        return Err(at(paths::TIMESTAMP)(format!(
            "says it is a {:?}",
            timestamp._type
        )));
    }
    let snapshot_path = paths::snapshot(timestamp.snapshot.version);
    let bytes = read_tree(out, &snapshot_path).unwrap_or_default();
    let sha256 = Sha256Digest::of(&bytes).to_hex();
    if bytes.len() as u64 != timestamp.snapshot.length || sha256 != timestamp.snapshot.sha256 {
        return Err(at(&snapshot_path)(format!(
            "is not the snapshot the timestamp names ({} bytes, sha256 {}); it has {} bytes, sha256 {sha256}",
            timestamp.snapshot.length,
            timestamp.snapshot.sha256,
            bytes.len(),
        )));
    }
    let snapshot =
        verify::<Snapshot>(&bytes, types::SNAPSHOT, "index", root).map_err(at(&snapshot_path))?;
    if snapshot._type != "snapshot" {
        return Err(at(&snapshot_path)(format!(
            "says it is a {:?}",
            snapshot._type
        )));
    }
    if snapshot.version != timestamp.snapshot.version || snapshot.root_version != root.version {
        return Err(at(&snapshot_path)(format!(
            "is version {} under root v{}; the timestamp names version {} and the newest root is v{}",
            snapshot.version, snapshot.root_version, timestamp.snapshot.version, root.version
        )));
    }
    Ok((timestamp, snapshot))
}

/// Every file the snapshot lists: its bytes, its statement, what the
/// database renders for it, and its lines' blobs; and every file the
/// database serves is listed.
fn files(
    store: &Store,
    root: &Root,
    out: &Path,
    listed: &BTreeMap<String, FileMeta>,
    report: &mut Report,
) {
    let rendered = rendered_files(store);
    for (path, meta) in listed {
        report.signed_checked += 2;
        let bytes = read_tree(out, path).unwrap_or_default();
        if bytes.len() as u64 != meta.length || Sha256Digest::of(&bytes).to_hex() != meta.sha256 {
            let problem = format!(
                "does not match the snapshot ({} bytes, sha256 {})",
                meta.length, meta.sha256
            );
            bad(report, out, path, problem);
            continue;
        }
        let statement_path = paths::statement(path);
        let statement = read_verified::<IndexFileStatement>(
            out,
            &statement_path,
            types::INDEX_FILE,
            "index",
            root,
        );
        match statement {
            Ok(s)
                if s._type == "index-file"
                    && s.path == *path
                    && s.length == meta.length
                    && s.sha256 == meta.sha256 => {}
            Ok(s) => {
                let problem = format!(
                    "is about {} ({} bytes, sha256 {}), not this file",
                    s.path, s.length, s.sha256
                );
                bad(report, out, &statement_path, problem);
            }
            Err(e) => bad(report, out, &statement_path, e),
        }
        if path == "config.json" || path.starts_with('_') {
            continue;
        }
        let problem = match rendered.get(path) {
            Some(want) if *want == bytes => None,
            Some(_) => Some("differs from what the database renders for it"),
            None => Some("names a package the database does not serve"),
        };
        if let Some(problem) = problem {
            bad(report, out, path, problem.into());
        }
        tree_blobs(out, &bytes, report);
    }
    for path in rendered.keys() {
        if !listed.contains_key(path) {
            let problem = "is served by the database but missing from the tree's snapshot";
            bad(report, out, path, problem.into());
        }
    }
}

/// Records a damaged file of the tree at index path `path`.
fn bad(report: &mut Report, out: &Path, path: &str, problem: String) {
    report.signed_bad.push(SignedDamage {
        what: export::index_file_path(out, path).display().to_string(),
        problem,
        fix: REEXPORT.into(),
        rebuildable: true,
    });
}

/// Each line's blob in the tree must hash to the line's checksum.
fn tree_blobs(out: &Path, index_file: &[u8], report: &mut Report) {
    for line in index_file.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let cksum = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("cksum").and_then(|c| c.as_str()).map(str::to_string))
            .unwrap_or_default();
        let Some(digest) = Sha256Digest::from_hex(&cksum) else {
            continue;
        };
        let path = export::blob_path(out, &digest);
        let problem = match hash_tree_file(out, &format!("blobs/{}", digest.to_hex())) {
            Ok((sha, _)) if sha == cksum => continue,
            Ok((sha, _)) => {
                format!("its bytes have sha256 {sha}, not the {cksum} its index line names")
            }
            Err(e) => e,
        };
        report.signed_bad.push(SignedDamage {
            what: path.display().to_string(),
            problem,
            fix: REEXPORT.into(),
            rebuildable: true,
        });
    }
}

/// What the database serves: index path → index file.
fn rendered_files(store: &Store) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for package in store.packages().unwrap_or_default() {
        let Ok(entries) = store.entries(package.id) else {
            continue;
        };
        match index::render(&entries) {
            Ok(body) if !body.is_empty() => {
                out.insert(index::path_for(&package.name), body);
            }
            _ => {}
        }
    }
    out
}

/// The file at index path `path` of the tree `out`, opened beneath the
/// tree's handle: a link, FIFO or device there (a tree others can write
/// into) is refused, never followed or waited on, and its size is capped.
pub(super) fn read_tree(out: &Path, path: &str) -> Result<Vec<u8>, String> {
    Dir::open(out)
        .and_then(|tree| tree.open_file_linked(&format!("index/{path}"), MAX_TREE_FILE))
        .and_then(|file| file.read_all())
        .map_err(|e| format!("cannot be read: {}", e.reason()))
}

/// The sha256 and length of the tree file at `rel` (below `out`), opened
/// as [`read_tree`] opens and streamed.
fn hash_tree_file(out: &Path, rel: &str) -> Result<(String, u64), String> {
    let file = Dir::open(out)
        .and_then(|tree| tree.open_file_linked(rel, u64::MAX))
        .map_err(|e| format!("cannot be read: {}", e.reason()))?;
    hash_reader(file.into_reader()).map_err(|e| format!("cannot be read: {e}"))
}

fn read_verified<T: serde::de::DeserializeOwned>(
    out: &Path,
    path: &str,
    payload_type: &'static str,
    role: &str,
    root: &Root,
) -> Result<T, String> {
    let bytes = read_tree(out, path)?;
    verify(&bytes, payload_type, role, root)
}

/// Verifies an envelope with `role`'s keys of `root` and parses it.
fn verify<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    payload_type: &'static str,
    role: &str,
    root: &Root,
) -> Result<T, String> {
    let keys = root
        .roles
        .get(role)
        .ok_or_else(|| format!("root v{} names no `{role}` role", root.version))?;
    let envelope =
        Envelope::from_bytes(bytes).map_err(|e| format!("is not a signed envelope: {e}"))?;
    let payload = envelope
        .verify(payload_type, role, keys, &root.keys)
        .map_err(|e| format!("does not verify: {e}"))?;
    sign::parse(&payload).map_err(|e| format!("does not parse: {e}"))
}

fn expired(expires: &str) -> bool {
    humantime::parse_rfc3339(expires).map_or(true, |t| t <= std::time::SystemTime::now())
}
