//! The packaging the README tells operators to install: the systemd unit
//! passes `systemd-analyze verify` (Debian's systemd) with its ExecStart
//! pointed at the binary this build made, and runs the daemon as a
//! dedicated user with a StateDirectory.

use std::process::Command;

const UNIT: &str = include_str!("../systemd/skillreg.service");

#[test]
fn the_systemd_unit_verifies_and_runs_as_a_dedicated_user_with_a_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("skillreg.service");
    // verify checks that ExecStart exists; point it at this build's binary.
    let text = UNIT.replace("/usr/local/bin/skillreg", env!("CARGO_BIN_EXE_skillreg"));
    std::fs::write(&unit, &text).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze is not installed: apt-get install systemd (./test.sh does)");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("skillreg.service"))
        .collect();
    assert!(ours.is_empty(), "warnings about the unit: {ours:#?}");

    let setting = |key: &str| {
        UNIT.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit sets no {key}="))
    };
    assert_eq!(setting("User"), "skillreg");
    assert_eq!(setting("StateDirectory"), "skillreg");
    assert_eq!(setting("StateDirectoryMode"), "0700");
    assert!(setting("ExecStart").contains("--data /var/lib/skillreg"));
}
