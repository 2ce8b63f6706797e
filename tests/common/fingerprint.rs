//! What "a refusal changed nothing" compares: [`Daemon::fingerprint`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};
use skillreg::index::sign::{self, paths, Envelope};

use super::{get_with, Daemon};

/// Tables left out of a [`Fingerprint`], each with why it may change
/// without the change a test is about.
pub const UNFINGERPRINTED_TABLES: &[(&str, &str)] = &[
    (
        "sync_runs",
        "the log of mirror runs: every run records itself, refused or not (its \
         outcome is what the tests read through /admin/v1/sync-runs), and the \
         daemon starts runs by itself (at start, on schedule, from a drop \
         directory's watcher, resuming an interrupted run)",
    ),
    (
        "sync_run_versions",
        "which versions each mirror run resolved: part of the run's own log \
         (a refused run records the versions it found stored), read through \
         the bulk decision by run",
    ),
    (
        "downloads",
        "download counts: the daemon writes what earlier downloads counted \
         every few seconds, whenever that falls, so a flush may land between \
         two fingerprints; counts are not content (tests read them through \
         the metadata API)",
    ),
];

/// Everything a refusal must leave as it was, read without side effects:
///
/// - every row of every table of `DATA/skillreg.db` (but
///   [`UNFINGERPRINTED_TABLES`]), read through a read-only connection in
///   one read transaction, ordered by every column, and the schema;
/// - every file below `DATA/blobs/sha256`, by path, with the sha256 of its
///   bytes (walked here: `BlobStore::open` would empty `blobs/tmp`);
/// - what `DATA/blobs/tmp` holds (names and sizes);
/// - the signed metadata as served: `timestamp.json`, the snapshot it names
///   and its tree's nodes,
///   `root.json` and every `root/N.json`;
/// - as served, every index file and statement the snapshot lists, and the
///   index file of every package in the database (pending ones must stay
///   404).
///
/// Documents re-signed on a timer (the timestamp at half its lifetime, 12 h
/// by default) are stable within a test unless its config shortens them.
#[derive(PartialEq, Eq)]
pub struct Fingerprint {
    /// (name, version, cksum, yanked) of every stored version, any status:
    /// a summary of `tables` for messages and comparisons across registries.
    pub published: Vec<(String, String, String, bool)>,
    /// Table name → every row, one `column=value` string each (BLOBs as
    /// their length and sha256), ordered.
    pub tables: BTreeMap<String, Vec<String>>,
    /// The schema: `sqlite_master`'s rows.
    pub schema: Vec<String>,
    /// Path below `DATA/blobs/sha256` → sha256 of the file's bytes.
    pub blobs: BTreeMap<String, String>,
    /// Name and size of everything in `DATA/blobs/tmp`.
    pub blob_tmp: Vec<String>,
    /// Path below `/index/` → (HTTP status, sha256 and length of the body):
    /// the signed documents, the index files and statements.
    pub served: BTreeMap<String, (u16, String)>,
}

impl Fingerprint {
    /// The blobs that are versions' bundles (a registry also stores the
    /// zips its feeds render from approved bundles).
    pub fn bundle_blobs(&self) -> BTreeMap<String, String> {
        let bundles: std::collections::HashSet<&str> = self
            .published
            .iter()
            .map(|(_, _, c, _)| c.as_str())
            .collect();
        self.blobs
            .iter()
            .filter(|(path, _)| bundles.contains(path.rsplit('/').next().unwrap_or(path)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl Daemon {
    /// Everything stored and served: proof that a refusal changed nothing
    /// (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        // What is taken is a daemon at rest, its feeds rendered.
        self.wait_for_feeds();
        let db = database(&self.data);
        let mut served = BTreeMap::new();
        let mut fetch = |path: &str| -> Option<Vec<u8>> {
            let (status, body) = self.served(path);
            served.insert(path.to_string(), (status, digest(&body)));
            (status == 200).then_some(body)
        };
        // The signed documents, from the timestamp down.
        let timestamp = fetch(paths::TIMESTAMP).expect("the daemon serves a timestamp");
        let timestamp: sign::Timestamp = sign::parse(&payload(&timestamp)).unwrap();
        let snapshot = fetch(&paths::snapshot(timestamp.snapshot.version))
            .expect("the daemon serves the snapshot its timestamp names");
        let snapshot: sign::Snapshot = sign::parse(&payload(&snapshot)).unwrap();
        fetch(paths::ROOT).expect("the daemon serves root.json");
        let mut n = 1;
        while fetch(&paths::root(n)).is_some() {
            n += 1;
        }
        assert!(
            n > snapshot.root_version,
            "the snapshot names root v{}, which is not served",
            snapshot.root_version
        );
        let listed = super::listed_files(&snapshot, |rel| {
            fetch(rel).unwrap_or_else(|| panic!("{rel}: a node the snapshot names is served"))
        });
        for path in listed.keys() {
            fetch(path);
            fetch(&paths::statement(path));
        }
        for name in &db.packages {
            fetch(&skillreg::index::path_for(name));
        }
        let (blobs, blob_tmp) = blob_files(&self.data);
        Fingerprint {
            published: db.published,
            tables: db.tables,
            schema: db.schema,
            blobs,
            blob_tmp,
            served,
        }
    }

    /// GET `/index/{path}` with the admin token: (status, body).
    fn served(&self, path: &str) -> (u16, Vec<u8>) {
        let mut r = get_with(
            &format!("{}/index/{path}", self.url),
            &[("authorization", &self.admin)],
        );
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.body_mut().as_reader(), &mut body).unwrap();
        (r.status().as_u16(), body)
    }
}

impl Fingerprint {
    /// What is stored in the data dir `data` (the database and the blobs,
    /// as in [`Daemon::fingerprint`]), for a data dir no daemon serves:
    /// `served` is empty.
    pub fn of_data_dir(data: &Path) -> Fingerprint {
        let db = database(data);
        let (blobs, blob_tmp) = blob_files(data);
        Fingerprint {
            published: db.published,
            tables: db.tables,
            schema: db.schema,
            blobs,
            blob_tmp,
            served: BTreeMap::new(),
        }
    }

    /// What differs from `other`, one line per difference (empty when equal).
    pub fn diff(&self, other: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        diff_maps(&mut out, "blob", &self.blobs, &other.blobs);
        diff_maps(&mut out, "served", &self.served, &other.served);
        let names: std::collections::BTreeSet<&String> =
            self.tables.keys().chain(other.tables.keys()).collect();
        let none = Vec::new();
        for name in names {
            let (a, b) = (
                self.tables.get(name).unwrap_or(&none),
                other.tables.get(name).unwrap_or(&none),
            );
            for row in a.iter().filter(|r| !b.contains(r)) {
                out.push(format!("{name}: - {row}"));
            }
            for row in b.iter().filter(|r| !a.contains(r)) {
                out.push(format!("{name}: + {row}"));
            }
        }
        if self.schema != other.schema {
            out.push(format!("schema: {:?} -> {:?}", self.schema, other.schema));
        }
        if self.blob_tmp != other.blob_tmp {
            out.push(format!(
                "blobs/tmp: {:?} -> {:?}",
                self.blob_tmp, other.blob_tmp
            ));
        }
        out
    }
}

/// One line per table row, blob and served file, so that a failed
/// `assert_eq!` shows what differs.
impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Fingerprint {{")?;
        for (name, rows) in &self.tables {
            writeln!(f, "  table {name} ({} rows)", rows.len())?;
            for row in rows {
                writeln!(f, "    {row}")?;
            }
        }
        writeln!(f, "  schema: {} entries", self.schema.len())?;
        for (path, hash) in &self.blobs {
            writeln!(f, "  blob {path}: {hash}")?;
        }
        writeln!(f, "  blobs/tmp: {:?}", self.blob_tmp)?;
        for (path, (status, body)) in &self.served {
            writeln!(f, "  served {path}: {status} {body}")?;
        }
        write!(f, "}}")
    }
}

fn diff_maps<V: PartialEq + fmt::Debug>(
    out: &mut Vec<String>,
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) {
    for (k, v) in a {
        match b.get(k) {
            None => out.push(format!("{what} {k}: {v:?} -> gone")),
            Some(w) if w != v => out.push(format!("{what} {k}: {v:?} -> {w:?}")),
            _ => {}
        }
    }
    for (k, w) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
        out.push(format!("{what} {k}: new, {w:?}"));
    }
}

/// "sha256:HEX (N bytes)".
fn digest(bytes: &[u8]) -> String {
    format!(
        "sha256:{} ({} bytes)",
        hex::encode(Sha256::digest(bytes)),
        bytes.len()
    )
}

fn payload(envelope: &[u8]) -> Vec<u8> {
    Envelope::from_bytes(envelope)
        .unwrap()
        .payload_bytes()
        .unwrap()
}

struct Database {
    published: Vec<(String, String, String, bool)>,
    packages: Vec<String>,
    tables: BTreeMap<String, Vec<String>>,
    schema: Vec<String>,
}

/// Reads `DATA/skillreg.db` through a read-only connection, in one read
/// transaction (one consistent view of every table).
fn database(data: &Path) -> Database {
    let mut conn = rusqlite::Connection::open_with_flags(
        data.join(skillreg::store::DB_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let tx = conn.transaction().unwrap();
    let rows = |sql: &str| -> Vec<Vec<String>> {
        let mut stmt = tx.prepare(sql).unwrap();
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            out.push(
                (0..columns.len())
                    .map(|i| format!("{}={}", columns[i], value(row.get_ref(i).unwrap())))
                    .collect(),
            );
        }
        out
    };
    let schema: Vec<String> = rows(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name, tbl_name, sql",
    )
    .into_iter()
    .map(|r| r.join(", "))
    .collect();
    let names: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        names
    };
    let mut tables = BTreeMap::new();
    for name in names {
        if UNFINGERPRINTED_TABLES.iter().any(|(t, _)| *t == name) {
            continue;
        }
        let width = tx
            .prepare(&format!("SELECT * FROM \"{name}\""))
            .unwrap()
            .column_count();
        let order: Vec<String> = (1..=width).map(|i| i.to_string()).collect();
        let table = rows(&format!(
            "SELECT * FROM \"{name}\" ORDER BY {}",
            order.join(", ")
        ));
        tables.insert(name, table.into_iter().map(|r| r.join(", ")).collect());
    }
    let published = {
        let mut stmt = tx
            .prepare(
                "SELECT p.name, v.version, v.cksum, v.yanked FROM versions v
                 JOIN packages p ON p.id = v.package_id ORDER BY p.name, v.id",
            )
            .unwrap();
        let published = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        published
    };
    let packages = {
        let mut stmt = tx
            .prepare("SELECT name FROM packages ORDER BY name")
            .unwrap();
        let packages = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        packages
    };
    tx.commit().unwrap();
    Database {
        published,
        packages,
        tables,
        schema,
    }
}

fn value(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob {}", digest(b)),
    }
}

/// Every file below `DATA/blobs/sha256` (path → sha256 of its bytes) and
/// what `DATA/blobs/tmp` holds (name and size), read directly.
fn blob_files(data: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, digest(&std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut blobs = BTreeMap::new();
    let root = data.join("blobs/sha256");
    walk(&root, &root, &mut blobs);
    let mut tmp: Vec<String> = match std::fs::read_dir(data.join("blobs/tmp")) {
        Ok(entries) => entries
            .map(|e| {
                let e = e.unwrap();
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{} ({len} bytes)", e.file_name().to_string_lossy())
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    tmp.sort();
    (blobs, tmp)
}

/// Files a failed write could have left in `DATA/blobs`: anything in the
/// temp dir, and any blob file whose bytes do not hash to its name. Read
/// before anything opens the blob store (opening it clears the temp dir).
pub fn blob_debris(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data.join("blobs/tmp")) {
        out.extend(entries.map(|e| e.unwrap().path()));
    }
    if let Ok(shards) = std::fs::read_dir(data.join("blobs/sha256")) {
        for shard in shards {
            for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                let path = blob.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if skillreg::blobs::Sha256Digest::of(&bytes).to_hex() != name {
                    out.push(path);
                }
            }
        }
    }
    out
}
