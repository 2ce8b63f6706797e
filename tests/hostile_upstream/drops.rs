//! An attacker who can write into a drop directory (a USB stick, a shared
//! folder): planting links where the daemon moves files, racing it.

use std::os::unix::fs::symlink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::common::{export_root, Daemon};
use crate::support::*;

/// Sets a file's mtime a minute back, so the drop directory takes it at once.
fn settled(path: &std::path::Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

#[test]
fn a_drop_directory_raced_with_links_never_moves_a_file_elsewhere() {
    let up = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let drop_dir = work.path().join("drop");
    std::fs::create_dir_all(drop_dir.join("rejected")).unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"usb\"\nkind = \"drop\"\npath = {drop_dir:?}\nroot_key = {root:?}\ninterval = \"0\"\n"
    ));
    let before = Untouched::of(&d);

    // Swap rejected/ for a link to `outside` and back, as fast as possible.
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (stop, drop_dir, outside) = (stop.clone(), drop_dir.clone(), outside.clone());
        std::thread::spawn(move || {
            let (real, parked) = (drop_dir.join("rejected"), drop_dir.join(".parked"));
            let mut flips = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if std::fs::rename(&real, &parked).is_ok() {
                    if symlink(&outside, &real).is_ok() {
                        std::thread::yield_now();
                        let _ = std::fs::remove_file(&real);
                    }
                    let _ = std::fs::rename(&parked, &real);
                    flips += 1;
                }
            }
            flips
        })
    };
    // Refused files, one after another, each moved to rejected/.
    let n = 40;
    for i in 0..n {
        let f = drop_dir.join(format!("junk{i}.skillreg-transfer.tar.gz"));
        std::fs::write(&f, b"not gzip").unwrap();
        settled(&f);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let left = || {
        std::fs::read_dir(&drop_dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("junk")
            })
            .count()
    };
    while left() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let flips = flipper.join().unwrap();
    assert!(flips > 0, "the race never ran");
    // Whatever the watcher could not move while raced, a run moves now.
    let _ = std::fs::remove_file(drop_dir.join("rejected"));
    let _ = std::fs::rename(drop_dir.join(".parked"), drop_dir.join("rejected"));
    let run = d.sync_source("usb");
    assert_eq!(left(), 0, "every refused file was moved: {run}");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "a file was moved through a planted link"
    );
    // Nothing is lost: each file is in rejected/, or in the directory the
    // attacker parked while the daemon made a new rejected/.
    let moved: usize = ["rejected", ".parked"]
        .iter()
        .filter_map(|d| std::fs::read_dir(drop_dir.join(d)).ok())
        .flat_map(|entries| entries.map(|e| e.unwrap().file_name()))
        .filter(|name| name.to_string_lossy().ends_with(".tar.gz"))
        .count();
    assert_eq!(moved, n, "each refused file was moved once");
    before.assert_same(&d, "raced drop directory");
}

#[test]
fn links_planted_as_imported_or_rejected_or_as_the_files_are_refused() {
    let up = Daemon::start();
    let work = tempfile::tempdir().unwrap();
    let root = export_root(&up.data, work.path(), "up-root.json");
    let drop_dir = work.path().join("drop");
    std::fs::create_dir_all(&drop_dir).unwrap();
    let outside = work.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // A secret the attacker links to as if it were an archive.
    let secret = work.path().join("secret.skillreg-transfer.tar.gz");
    std::fs::write(&secret, b"secret").unwrap();
    symlink(&secret, drop_dir.join("link.skillreg-transfer.tar.gz")).unwrap();
    symlink(&outside, drop_dir.join("rejected")).unwrap();
    let junk = drop_dir.join("junk.skillreg-transfer.tar.gz");
    std::fs::write(&junk, b"not gzip").unwrap();
    settled(&junk);
    let d = Daemon::with_config(&format!(
        "[[sources]]\nname = \"usb\"\nkind = \"drop\"\npath = {drop_dir:?}\nroot_key = {root:?}\ninterval = \"0\"\n"
    ));
    let before = Untouched::of(&d);
    let run = d.sync_source("usb");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("is not a directory (a symlink?)"),
        "{run}"
    );
    assert!(junk.exists(), "the refused file stays where it was");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // The linked "archive" is never read: it is not a regular file there.
    assert!(drop_dir.join("link.skillreg-transfer.tar.gz").is_symlink());
    assert_eq!(std::fs::read(&secret).unwrap(), b"secret");
    before.assert_same(&d, "planted links");
}
