//! See the crate doc of `hostile_upstream.rs`.
//!
//! Transfer archives (issue 8, "Bounded imports"): an archive is read with
//! memory proportional to what has been verified. The archive of zeros —
//! `manifest.json` 256 MiB, `manifest.sig` 513 MiB, 1024 × 1 MiB
//! `roots/N.json`, about 2 MB gzipped — once made the importer hold 1.8 GiB.
//! Here `skillreg import` of it and a drop of it into a running daemon are
//! refused, store nothing, leave no staging behind and stay under
//! [`MAX_RSS`] resident (measured by the kernel: `ru_maxrss` of the CLI,
//! `VmHWM` of the daemon). A large genuine archive still imports, and one
//! of format 1 is refused by name.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{self, export_root, tree, Daemon, BIN};
use skillreg::index::sign;
use skillreg::mirror::transfer::{TransferDigest, SUFFIX};

const MIB: u64 = 1024 * 1024;
/// The most resident memory an import of a hostile archive may take.
const MAX_RSS: u64 = 64 * MIB;

/// The archive of zeros, built once per test process.
fn zero_archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-upstream");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("zeros{SUFFIX}"));
        let tmp = dir.join(format!(".zeros-{}.partial", std::process::id()));
        write_zero_archive(&tmp);
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// Writes the archive of zeros to `path`: one gzip member of a tar holding
/// `manifest.json` (256 MiB), `manifest.sig` (513 MiB) and 1024 ×
/// `roots/N.json` (1 MiB), all zeros.
///
/// Deflating 1.8 GiB in an unoptimized test build takes minutes, so a unit
/// of zeros (64 KiB) is deflated once: after a sync flush the compressor is
/// byte-aligned and its window (32 KiB) holds only zeros, so the deflate
/// bytes of one more unit of zeros decode the same wherever they are put,
/// and are repeated. The gzip CRC is combined the same way.
fn write_zero_archive(path: &Path) {
    use flate2::write::DeflateEncoder;
    const UNIT: u64 = 64 * 1024;
    let zeros = vec![0u8; UNIT as usize];
    let mut crc_unit = flate2::Crc::new();
    crc_unit.update(&zeros);
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
        .unwrap();
    let mut crc = flate2::Crc::new();
    let mut z = DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    /// `bytes` through the compressor, sync-flushed: their deflate bytes.
    fn emit(z: &mut DeflateEncoder<Vec<u8>>, crc: &mut flate2::Crc, bytes: &[u8]) -> Vec<u8> {
        z.write_all(bytes).unwrap();
        z.flush().unwrap();
        crc.update(bytes);
        std::mem::take(z.get_mut())
    }
    let mut repeated: Option<Vec<u8>> = None;
    let mut entries = vec![
        ("manifest.json".to_string(), 256),
        ("manifest.sig".into(), 513),
    ];
    entries.extend((1..=1024).map(|n| (format!("roots/{n}.json"), 1)));
    for (name, mib) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_path(&name).unwrap();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(mib * MIB);
        header.set_cksum();
        // The header and the first unit through the compressor: after them
        // its window is zeros.
        let first = emit(&mut z, &mut crc, &[header.as_bytes(), &zeros[..]].concat());
        out.write_all(&first).unwrap();
        for _ in 1..mib * MIB / UNIT {
            let block = repeated.get_or_insert_with(|| {
                // Not written: only to learn the bytes of a unit of zeros,
                // which come out the same from the same state.
                let mut unused = flate2::Crc::new();
                let block = emit(&mut z, &mut unused, &zeros);
                assert_eq!(emit(&mut z, &mut unused, &zeros), block);
                block
            });
            out.write_all(block).unwrap();
            crc.combine(&crc_unit);
        }
    }
    // The end-of-archive marker, then the final deflate block.
    out.write_all(&emit(&mut z, &mut crc, &[0u8; 1024]))
        .unwrap();
    out.write_all(&z.finish().unwrap()).unwrap();
    out.write_all(&crc.sum().to_le_bytes()).unwrap();
    out.write_all(&crc.amount().to_le_bytes()).unwrap();
    out.into_inner().unwrap().sync_all().unwrap();
}

/// How a measured command ended.
struct Measured {
    success: bool,
    stdout: String,
    stderr: String,
    /// Peak resident set size in bytes, as the kernel counted it.
    max_rss: u64,
}

/// Runs `skillreg ARGS` to its end and reads its peak resident memory
/// (`ru_maxrss`) from `wait4`.
// The child is reaped by wait4 (which alone gives its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> Measured {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("SKILLREG_REGISTRY")
        .env_remove("SKILLREG_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; `pid` is our own unreaped child
    // (std's Child does not wait on drop).
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    Measured {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        // Linux counts ru_maxrss in KiB.
        max_rss: usage.ru_maxrss as u64 * 1024,
    }
}

fn import(data: &Path, file: &Path, root: &Path, extra: &[&str]) -> Measured {
    let mut args = vec![
        "import",
        file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--trust-root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_measured(&args)
}

fn export(data: &Path, out: &Path, extra: &[&str]) -> Measured {
    let mut args = vec![
        "export-transfer",
        out.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let done = run_measured(&args);
    assert!(done.success, "export: {}", done.stderr);
    done
}

/// Every stored (name, version, cksum, yanked) and every blob.
type Stored = (Vec<(String, String, String, bool)>, Vec<String>);

/// What a stopped (or running) data dir stores.
fn stored(data: &Path) -> Stored {
    let published = skillreg::store::Store::open(data)
        .unwrap()
        .published()
        .unwrap();
    let blobs = skillreg::blobs::BlobStore::attach(data)
        .unwrap()
        .list()
        .unwrap()
        .iter()
        .map(|d| d.to_hex())
        .collect();
    (published, blobs)
}

/// What is left in the data dir's transfer staging (nothing, after a run).
fn staging_left(data: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(data.join("mirror/transfer-staging")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// The data dir's keys and the daemon's config file, byte for byte.
fn keys_and_config(daemon: &Daemon) -> (BTreeMap<String, Vec<u8>>, Vec<u8>) {
    let config = daemon.data.parent().unwrap().join("skillreg.toml");
    (
        tree(&daemon.data.join("keys")),
        std::fs::read(config).unwrap(),
    )
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The reason the archive of zeros is refused: its signature's size.
const ZEROS_REFUSED: &str = "`manifest.sig` is 537919488 bytes, more than the 65536 allowed";

#[test]
fn importing_the_archive_of_zeros_is_refused_in_bounded_memory() {
    let zeros = zero_archive();
    let size = std::fs::metadata(zeros).unwrap().len();
    assert!(size < 4 * MIB, "the archive of zeros is {size} bytes");
    let up = Daemon::start();
    up.publish_skill("zero-victim", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let genuine = work.path().join(format!("genuine{SUFFIX}"));
    export(&up.data, &genuine, &[]);
    // The air-gapped side already holds one import.
    let down = work.path().join("down");
    let first = import(&down, &genuine, &root, &["--create"]);
    assert!(first.success, "{}", first.stderr);
    let before = stored(&down);
    assert_eq!(before.0.len(), 1);

    let done = import(&down, zeros, &root, &[]);
    assert!(!done.success, "imported: {}", done.stdout);
    assert!(
        done.max_rss < MAX_RSS,
        "`skillreg import` of the archive of zeros peaked at {} MiB resident",
        done.max_rss / MIB
    );
    eprintln!(
        "skillreg import of the archive of zeros ({size} bytes): peak RSS {} KiB",
        done.max_rss / 1024
    );
    assert!(done.stderr.contains("was not imported"), "{}", done.stderr);
    assert!(done.stderr.contains(ZEROS_REFUSED), "{}", done.stderr);
    assert!(done.stderr.contains("format 1"), "{}", done.stderr);
    assert_eq!(stored(&down), before, "the refusal stored something");
    assert_eq!(staging_left(&down), Vec::<PathBuf>::new());
}

#[test]
fn a_dropped_archive_of_zeros_is_rejected_in_bounded_memory() {
    let zeros = zero_archive();
    let up = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let drop_dir = work.path().join("drop");
    std::fs::create_dir_all(&drop_dir).unwrap();
    let daemon = Daemon::with_config(&format!(
        "[[sources]]\nname = \"airgap\"\nkind = \"drop\"\npath = {drop_dir:?}\nroot_key = {root:?}\n"
    ));
    wait_for("the watcher", || {
        daemon.log().contains("watching the drop directory")
    });
    daemon.publish_skill("zero-bystander", "1.0.0");
    let before = daemon.fingerprint();
    let guarded = keys_and_config(&daemon);

    // Dropped as documented: written under a hidden name, then renamed.
    let hidden = drop_dir.join(".zeros.part");
    std::fs::copy(zeros, &hidden).unwrap();
    let name = format!("zeros{SUFFIX}");
    std::fs::rename(&hidden, drop_dir.join(&name)).unwrap();
    let rejected = drop_dir.join("rejected").join(&name);
    let note = drop_dir.join("rejected").join(format!("{name}.error.txt"));
    wait_for("the refusal", || note.exists());

    let peak = crate::support::peak_rss(daemon.child.id());
    assert!(
        peak < MAX_RSS,
        "the daemon peaked at {} MiB resident importing the archive of zeros",
        peak / MIB
    );
    eprintln!(
        "daemon with a dropped archive of zeros: VmHWM {} KiB",
        peak / 1024
    );
    assert!(rejected.is_file() && !drop_dir.join(&name).exists());
    let why = std::fs::read_to_string(&note).unwrap();
    assert!(why.contains(ZEROS_REFUSED), "{why}");
    assert!(why.contains("Nothing from it was stored"), "{why}");
    assert_eq!(daemon.fingerprint(), before, "the refusal stored something");
    assert_eq!(keys_and_config(&daemon), guarded);
    assert_eq!(staging_left(&daemon.data), Vec::<PathBuf>::new());
    // The run is recorded just after the note is written.
    let mut run = serde_json::Value::Null;
    wait_for("the failed run", || {
        let (_, runs) = daemon.admin_json("GET", "/admin/v1/sync-runs", "");
        run = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source"] == "airgap" && r["failed"] == 1)
            .cloned()
            .unwrap_or_default();
        !run.is_null()
    });
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["detail"]
            .to_string()
            .contains("more than the 65536 allowed"),
        "{run}"
    );
    daemon.assert_serving();
}

/// Publishes `name@version` with a description near the limit and, when
/// `data` > 0, a text file of that many bytes.
fn publish_large(up: &Daemon, name: &str, version: &str, data: usize) {
    let dir = tempfile::tempdir().unwrap();
    let description = format!("{name} reads and writes large documents well. ")
        .repeat(40)
        .chars()
        .take(1000)
        .collect::<String>();
    let path = common::skill_dir(dir.path(), name, version, description.trim());
    if data > 0 {
        let mut text = String::with_capacity(data + 80);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while text.len() < data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push_str(&format!("{x:016x}{:016x}\n", x.rotate_left(29)));
        }
        std::fs::create_dir_all(path.join("references")).unwrap();
        std::fs::write(path.join("references/table.md"), text).unwrap();
    }
    let tarball = skillreg::bundle::pack::pack_dir(&path).unwrap();
    let (status, body) = common::put(
        &format!("{}/api/v1/crates/new", up.url),
        Some(&up.admin),
        &common::skill_publish_body(name, version, &tarball),
    );
    assert_eq!(status, 200, "publishing {name}@{version}: {body}");
}

/// `archive` remade as format 1 would have written it: the manifest says
/// format 1, and `manifest.sig` is the exporter's index key's envelope over
/// the whole manifest.
fn as_format_1(archive: &Path, index_key: &ed25519_dalek::SigningKey, out: &Path) {
    let mut e = common::tar_entries(&std::fs::read(archive).unwrap());
    let mut manifest: serde_json::Value = serde_json::from_slice(&e[0].1).unwrap();
    manifest["format"] = 1.into();
    e[0].1 = sign::canonical(&manifest);
    e[1].1 = sign::Envelope::sign(sign::types::TRANSFER, &e[0].1, &[index_key]).to_bytes();
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in &e {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, &data[..]).unwrap();
    }
    std::fs::write(out, common::gzip(&tar.into_inner().unwrap())).unwrap();
}

fn index_key(data: &Path) -> ed25519_dalek::SigningKey {
    let path = skillreg::keys::key_path(data, skillreg::keys::KeyRole::Index);
    let mut seed = [0u8; 32];
    hex::decode_to_slice(std::fs::read_to_string(path).unwrap().trim(), &mut seed).unwrap();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

#[test]
fn a_large_genuine_archive_imports_and_format_1_is_refused_by_name() {
    let up = Daemon::start();
    // A manifest larger than any signature or root may be, and a bundle of
    // several MiB: neither is held to the small caps.
    for i in 0..60 {
        publish_large(&up, &format!("large-{i:02}"), "1.0.0", 0);
    }
    publish_large(&up, "large-data", "2.0.0", 6 * MIB as usize);
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let big = work.path().join(format!("big{SUFFIX}"));
    export(&up.data, &big, &[]);
    let parts = common::tar_entries(&std::fs::read(&big).unwrap());
    assert!(
        parts[0].1.len() > 64 * 1024,
        "manifest: {} bytes",
        parts[0].1.len()
    );
    assert!(
        parts[1].1.len() < 1024,
        "manifest.sig: {} bytes",
        parts[1].1.len()
    );
    let digest: TransferDigest = serde_json::from_slice(
        &sign::Envelope::from_bytes(&parts[1].1)
            .unwrap()
            .payload_bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(digest, TransferDigest::of(&parts[0].1));
    assert!(std::fs::metadata(&big).unwrap().len() > 2 * MIB);

    let down = work.path().join("down");
    let done = import(&down, &big, &root, &["--create"]);
    assert!(done.success, "{}", done.stderr);
    assert!(
        done.stdout.contains("61 added (61 pending)"),
        "{}",
        done.stdout
    );
    eprintln!(
        "skillreg import of a genuine {}-byte archive: peak RSS {} KiB",
        std::fs::metadata(&big).unwrap().len(),
        done.max_rss / 1024
    );
    let after = stored(&down);
    assert_eq!((after.0.len(), after.1.len()), (61, 61));
    assert_eq!(staging_left(&down), Vec::<PathBuf>::new());

    // The same versions as format 1 (as the previous skillreg wrote them,
    // signed by the right key): refused by name, large and small, nothing stored.
    let key = index_key(&up.data);
    let small = work.path().join(format!("small{SUFFIX}"));
    export(&up.data, &small, &["--package", "large-07"]);
    let fresh = work.path().join("fresh");
    for (label, from) in [("large", &big), ("small", &small)] {
        let old = work.path().join(format!("{label}-format-1{SUFFIX}"));
        as_format_1(from, &key, &old);
        for data in [&down, &fresh] {
            let done = import(data, &old, &root, &["--create"]);
            assert!(!done.success, "{label}: imported: {}", done.stdout);
            assert!(
                done.stderr.contains("format 1") && done.stderr.contains("export it again"),
                "{label}: {}",
                done.stderr
            );
        }
    }
    assert_eq!(stored(&down), after);
    assert_eq!(stored(&fresh), (Vec::new(), Vec::new()));
}
