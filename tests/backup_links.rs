//! Backups from and into directories someone else may have touched: a
//! restore never reads through a link in the backup (a key or token file
//! pointing out of it, a `keys/` that is a link to another folder), and a
//! backup never writes through a link planted in its destination (the
//! signing keys must not land in a folder another user chose).

mod common;

use common::*;
use std::os::unix::fs::symlink;
use std::path::Path;

fn run(args: &[&str]) -> (bool, String) {
    let out = cli(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn backup(dest: &Path, data: &Path) -> (bool, String) {
    run(&[
        "backup",
        dest.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
}

fn restore(src: &Path, data: &Path) -> (bool, String) {
    run(&[
        "restore",
        src.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ])
}

/// Every file below `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn restore_refuses_a_backup_whose_token_file_is_a_link_out_of_it() {
    let d = Daemon::start();
    d.publish_skill("bl-one", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("backup");
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    let secret = work.path().join("secret");
    std::fs::write(&secret, b"SECRET-OUTSIDE-THE-BACKUP").unwrap();
    std::fs::remove_file(dest.join("admin.token")).unwrap();
    symlink(&secret, dest.join("admin.token")).unwrap();

    let target = work.path().join("restored");
    let (ok, text) = restore(&dest, &target);
    assert!(!ok, "a link in the backup was followed: {text}");
    assert!(text.contains("symbolic link"), "{text}");
    assert_eq!(
        files_containing(&target, b"SECRET-OUTSIDE"),
        Vec::<String>::new()
    );
    assert!(!target.join("skillreg.db").exists(), "no half registry");
    d.assert_serving();
}

#[test]
fn restore_refuses_a_backup_whose_keys_folder_is_a_link_out_of_it() {
    let d = Daemon::start();
    d.publish_skill("bl-two", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("backup");
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    // The backup's keys moved aside and `keys` pointing at someone's folder.
    let elsewhere = work.path().join("elsewhere");
    std::fs::rename(dest.join("keys"), &elsewhere).unwrap();
    std::fs::write(elsewhere.join("stolen"), b"SECRET-OUTSIDE-THE-BACKUP").unwrap();
    symlink(&elsewhere, dest.join("keys")).unwrap();

    let target = work.path().join("restored");
    let (ok, text) = restore(&dest, &target);
    assert!(!ok, "a linked keys folder was read: {text}");
    assert!(text.contains("symbolic link"), "{text}");
    assert_eq!(
        files_containing(&target, b"SECRET-OUTSIDE"),
        Vec::<String>::new()
    );
    assert!(!target.join("skillreg.db").exists(), "no half registry");
    d.assert_serving();
}

#[test]
fn a_backup_never_writes_the_keys_through_a_link_planted_in_its_destination() {
    let d = Daemon::start();
    d.publish_skill("bl-three", "1.0.0");
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("backup");
    let (ok, text) = backup(&dest, &d.data);
    assert!(ok, "{text}");
    let db_before = std::fs::read(dest.join("skillreg.db")).unwrap();
    // Another user swaps the backup's keys folder for a link to theirs.
    let planted = work.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::remove_dir_all(dest.join("keys")).unwrap();
    symlink(&planted, dest.join("keys")).unwrap();

    d.publish_skill("bl-four", "1.0.0");
    let (ok, text) = backup(&dest, &d.data);
    assert!(!ok, "the backup went through a planted link: {text}");
    assert!(text.contains("symbolic link"), "{text}");
    let leaked: Vec<_> = std::fs::read_dir(&planted).unwrap().flatten().collect();
    assert!(
        leaked.is_empty(),
        "keys written through the link: {leaked:?}"
    );
    assert_eq!(
        std::fs::read(dest.join("skillreg.db")).unwrap(),
        db_before,
        "the earlier backup's database stands"
    );
    d.assert_serving();
}
