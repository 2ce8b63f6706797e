//! Seeds an upstream data directory for `bench/mirror-bench.sh`:
//!
//! ```text
//! cargo run --release --example mirror_bench_seed -- DATA_DIR PACKAGES VERSIONS
//! ```
//!
//! creates the skills `bench-00000` … with the versions `1.0.0` … each, written
//! straight through the library (store + blob store), not over HTTP: a publish
//! re-renders and re-signs the snapshot, so 30,000 publishes would sign it
//! 30,000 times. Nothing is rendered or signed here; the daemon started on
//! `DATA_DIR` afterwards renders and signs every index file at start
//! (`Registry::open`), and creates its signing key and admin token.
//!
//! Each bundle is a tar.gz holding one `SKILL.md` (name, description,
//! licence, `metadata.version`), built in memory exactly as
//! `skillreg::bundle::pack::pack_dir` would pack a directory holding that file
//! (checked byte for byte on the first bundle), and validated with
//! `skillreg::bundle::validate` (every bundle, it is cheap). Every bundle is
//! unique because name and version are in its `SKILL.md`.
//!
//! By default `Store::insert_version` commits (and fsyncs) one transaction
//! per version and `BlobStore::put` fsyncs each blob: about two fsync'ed
//! writes per version, as a publish does. `--batch N` instead writes N
//! versions at a time: their blobs with `BlobStore::put_many` (two file-system
//! syncs per batch) and their rows with `Store::insert_versions` (one
//! transaction per batch), which `bench/scale-bench.sh` uses to seed 300,000
//! versions in minutes:
//!
//! ```text
//! mirror_bench_seed DATA_DIR 100000 3 --batch 1000
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use skillreg::blobs::{BlobStore, Sha256Digest};
use skillreg::bundle::{self, ArchiveLimits};
use skillreg::config::Limits;
use skillreg::fsutil;
use skillreg::index::{self, IndexEntry};
use skillreg::package::{self, Kind, PackageName};
use skillreg::store::{NewVersion, Store};
use skillreg::token::{Identity, Role};

const USAGE: &str = "usage: mirror_bench_seed DATA_DIR PACKAGES VERSIONS [--batch N]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn skill_md(name: &str, version: &str) -> String {
    format!(
        "---\nname: {name}\ndescription: Benchmark skill {name} at {version}, mirrored by bench/mirror-bench.sh.\nlicense: MIT\nmetadata:\n  version: \"{version}\"\n---\n# {name} {version}\n\nA tiny skill for the mirror benchmark.\n"
    )
}

/// A tar.gz with one regular file `SKILL.md`, with the headers `pack_dir` writes.
fn pack_skill(text: &str) -> std::io::Result<Vec<u8>> {
    let encoder = GzEncoder::new(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(text.len() as u64);
    builder.append_data(&mut header, "SKILL.md", text.as_bytes())?;
    builder.into_inner()?.finish()
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (data, packages, versions, batch) = match args.as_slice() {
        [d, p, v] => (d, p, v, 1usize),
        [d, p, v, flag, n] if flag == "--batch" => (
            d,
            p,
            v,
            n.parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or(format!("--batch must be a positive number; {USAGE}"))?,
        ),
        _ => return Err(USAGE.into()),
    };
    let data = PathBuf::from(data);
    let packages: usize = packages
        .parse()
        .map_err(|_| format!("PACKAGES must be a number; {USAGE}"))?;
    let versions: usize = versions
        .parse()
        .map_err(|_| format!("VERSIONS must be a number; {USAGE}"))?;
    if packages == 0 || packages > 100_000 || versions == 0 {
        return Err("PACKAGES must be 1..=100000 and VERSIONS at least 1".into());
    }

    let started = Instant::now();
    fsutil::create_private_dir(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let mut store = Store::open(&data).map_err(|e| format!("opening the store: {e}"))?;
    if store.package_count().map_err(|e| e.to_string())? != 0 {
        return Err(format!(
            "{} already holds packages; seed an empty directory",
            data.display()
        ));
    }
    let blobs = BlobStore::open(&data).map_err(|e| format!("opening the blob store: {e}"))?;
    let defaults = Limits::default();
    let limits = ArchiveLimits {
        max_compressed: defaults.max_bundle_bytes,
        max_unpacked: defaults.max_unpacked_bytes,
        max_entries: defaults.max_entries,
    };
    let publisher = Identity {
        token_id: 0,
        login: "admin".into(),
        role: Role::Admin,
    };

    // The in-memory bundle must be what pack_dir makes of the same directory.
    {
        let text = skill_md("bench-00000", "1.0.0");
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("SKILL.md"), &text).map_err(|e| e.to_string())?;
        let packed = bundle::pack::pack_dir(dir.path()).map_err(|e| e.to_string())?;
        let ours = pack_skill(&text).map_err(|e| e.to_string())?;
        if packed != ours {
            return Err("the in-memory bundle differs from pack_dir's; fix pack_skill".into());
        }
    }

    let mut timing = Timing::default();
    let mut pending: Vec<Seeded> = Vec::with_capacity(batch);
    let mut last_report = Instant::now();
    for p in 0..packages {
        let name_text = format!("bench-{p:05}");
        let name = PackageName::parse(Kind::Skill, &name_text).map_err(|e| e.to_string())?;
        for v in 0..versions {
            let t = Instant::now();
            pending.push(seeded(&name, &format!("1.0.{v}"), &limits)?);
            timing.pack_secs += t.elapsed().as_secs_f64();
            if pending.len() >= batch {
                write_batch(&mut store, &blobs, &publisher, &mut pending, &mut timing)?;
            }
        }
        if last_report.elapsed().as_secs() >= 10 {
            eprintln!(
                "  seeded {} of {packages} packages ({:.0} s)",
                p + 1,
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    write_batch(&mut store, &blobs, &publisher, &mut pending, &mut timing)?;
    let Timing {
        bytes_total,
        pack_secs,
        blob_secs,
        insert_secs,
    } = timing;
    let total = started.elapsed().as_secs_f64();
    let count = packages * versions;
    // One machine-readable line for the bench script, then a readable one.
    println!(
        "seeded packages={packages} versions={count} bundle_bytes={bytes_total} seconds={total:.2} pack_validate_s={pack_secs:.2} blob_put_s={blob_secs:.2} insert_version_s={insert_secs:.2} batch={batch}"
    );
    let commits = if batch == 1 {
        "one commit each".to_string()
    } else {
        format!("one commit per {batch}")
    };
    eprintln!(
        "seeded {packages} packages x {versions} versions ({count} versions, {bytes_total} bundle bytes) in {total:.1} s: \
         pack+validate {pack_secs:.1} s, blob put {blob_secs:.1} s, insert_version {insert_secs:.1} s ({commits})"
    );
    Ok(())
}

/// Seconds spent in each step, and the bundle bytes written.
#[derive(Default)]
struct Timing {
    bytes_total: u64,
    pack_secs: f64,
    blob_secs: f64,
    insert_secs: f64,
}

/// One version, packed and validated, waiting to be written.
struct Seeded {
    name: PackageName,
    version: semver::Version,
    tarball: Vec<u8>,
    cksum: String,
    entry_json: String,
    description: String,
    keywords: Vec<String>,
    files_json: String,
}

/// Packs and validates `name@version_text` and renders its index line.
fn seeded(
    name: &PackageName,
    version_text: &str,
    limits: &ArchiveLimits,
) -> Result<Seeded, String> {
    let name_text = name.as_str();
    let version = package::parse_version(version_text).map_err(|e| e.to_string())?;
    let tarball = pack_skill(&skill_md(name_text, version_text))
        .map_err(|e| format!("packing {name_text}@{version_text}: {e}"))?;
    let validated = bundle::validate(Kind::Skill, name, &version, &tarball, limits)
        .map_err(|e| format!("{name_text}@{version_text} does not validate: {e}"))?;
    let files_json = serde_json::to_string(&validated.archive.entries.values().collect::<Vec<_>>())
        .map_err(|e| e.to_string())?;
    let cksum = Sha256Digest::of(&tarball).to_hex();
    let entry = IndexEntry {
        name: name_text.to_string(),
        vers: version_text.to_string(),
        deps: Vec::new(),
        cksum: cksum.clone(),
        features: Default::default(),
        features2: None,
        yanked: false,
        links: None,
        v: 1,
        rust_version: None,
        pubtime: fsutil::rfc3339(fsutil::unix_now()),
        kind: Kind::Skill,
        description: validated.description.clone(),
        license: validated.license.clone(),
        size: Some(tarball.len() as u64),
        provenance: None,
    };
    Ok(Seeded {
        name: name.clone(),
        version,
        entry_json: index::line(&entry),
        description: entry.description.unwrap_or_default(),
        keywords: validated.keywords,
        files_json,
        cksum,
        tarball,
    })
}

/// Writes the pending versions and empties `pending`: one at a time as a
/// publish would (blob, then its own transaction) when there is one, else
/// all blobs with one sync and all rows in one transaction.
fn write_batch(
    store: &mut Store,
    blobs: &BlobStore,
    publisher: &Identity,
    pending: &mut Vec<Seeded>,
    timing: &mut Timing,
) -> Result<(), String> {
    let what = |s: &Seeded| format!("{}@{}", s.name, s.version);
    let t = Instant::now();
    match pending.as_slice() {
        [] => return Ok(()),
        [one] => {
            blobs
                .put(&one.tarball)
                .map_err(|e| format!("storing the blob of {}: {e}", what(one)))?;
        }
        many => {
            let tarballs: Vec<&[u8]> = many.iter().map(|s| s.tarball.as_slice()).collect();
            blobs.put_many(&tarballs).map_err(|e| {
                format!(
                    "storing the blobs of {} and the next {}: {e}",
                    what(&many[0]),
                    many.len() - 1
                )
            })?;
        }
    }
    timing.blob_secs += t.elapsed().as_secs_f64();
    let t = Instant::now();
    let news: Vec<NewVersion<'_>> = pending
        .iter()
        .map(|s| NewVersion {
            name: &s.name,
            kind: Kind::Skill,
            version: &s.version,
            cksum: &s.cksum,
            size: s.tarball.len() as u64,
            entry_json: &s.entry_json,
            description: &s.description,
            keywords: &s.keywords,
            publisher,
            files_json: &s.files_json,
            mirror: None,
        })
        .collect();
    if let [one] = news.as_slice() {
        store
            .insert_version(one)
            .map_err(|e| format!("inserting {}: {e}", what(&pending[0])))?;
    } else {
        store.insert_versions(&news).map_err(|e| {
            format!(
                "inserting {} and the next {}: {e}",
                what(&pending[0]),
                news.len() - 1
            )
        })?;
    }
    timing.insert_secs += t.elapsed().as_secs_f64();
    timing.bytes_total += pending.iter().map(|s| s.tarball.len() as u64).sum::<u64>();
    pending.clear();
    Ok(())
}
