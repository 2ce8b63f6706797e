mod common;
use common::*;

// Hostile publishes: every refusal is a 4xx with a `{"errors":[{"detail":…}]}`
// body naming the problem, and leaves the store exactly as it was.
//
// Each test starts one daemon, publishes a baseline package (so the store is
// not empty when fingerprinted), runs a table of refusals against it and
// publishes at least one valid package as a positive control, proving the
// fixtures themselves are sound.

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// One refusal to check.
struct Case {
    what: String,
    body: Vec<u8>,
    status: u16,
    needle: String,
}

fn case(what: impl Into<String>, body: Vec<u8>, status: u16, needle: impl Into<String>) -> Case {
    Case {
        what: what.into(),
        body,
        status,
        needle: needle.into(),
    }
}

/// PUT /api/v1/crates/new with the admin token.
fn publish(d: &Daemon, body: &[u8]) -> (u16, String) {
    put(
        &format!("{}/api/v1/crates/new", d.url),
        Some(&d.admin),
        body,
    )
}

/// A valid publish that must succeed and change the store.
fn accepted(d: &Daemon, what: &str, body: Vec<u8>) {
    let before = d.fingerprint();
    let (status, text) = publish(d, &body);
    assert_eq!(status, 200, "positive control `{what}` was refused: {text}");
    assert_ne!(
        d.fingerprint(),
        before,
        "positive control `{what}` did not change the store"
    );
    d.assert_serving();
}

/// The `detail` of a `{"errors":[{"detail":…}]}` body, if it has that shape.
fn error_detail(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let errors = v.get("errors")?.as_array()?;
    let detail = errors.first()?.get("detail")?.as_str()?;
    (!detail.trim().is_empty()).then(|| detail.to_string())
}

/// Publishes `body` and checks it is refused with `status`, a detail that
/// mentions `needle`, and no change to the store; the daemon must still serve.
fn refused(d: &Daemon, body: Vec<u8>, status: u16, needle: &str) -> Result<(), String> {
    let before = d.fingerprint();
    let (got, text) = publish(d, &body);
    let after = d.fingerprint();
    d.assert_serving();
    let mut problems = Vec::new();
    if got != status {
        problems.push(format!("status {got}, expected {status}"));
    }
    match error_detail(&text) {
        Some(detail) if detail.contains(needle) => {}
        Some(detail) => problems.push(format!("detail {detail:?} does not mention {needle:?}")),
        None => problems.push(format!(
            "body is not {{\"errors\":[{{\"detail\":…}}]}}: {text:?}"
        )),
    }
    if after != before {
        problems.push(format!(
            "the store changed:\n      {}",
            before.diff(&after).join("\n      ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Runs every case and reports all failures at once.
fn refuse_all(d: &Daemon, cases: Vec<Case>) {
    assert!(!cases.is_empty());
    let total = cases.len();
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|c| {
            refused(d, c.body, c.status, &c.needle)
                .err()
                .map(|e| format!("  - {}: {e}", c.what))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {total} refusals went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

type RawEntry = ([u8; 512], Vec<u8>);

/// A publish body; `kind` None leaves the field out (a crate).
fn body(kind: Option<&str>, name: &str, vers: &str, tarball: &[u8]) -> Vec<u8> {
    let mut meta = serde_json::json!({"name": name, "vers": vers, "deps": [], "features": {}});
    if let Some(kind) = kind {
        meta["kind"] = kind.into();
    }
    skillreg::api::encode_publish(&serde_json::to_vec(&meta).unwrap(), tarball)
}

fn tgz(entries: &[RawEntry]) -> Vec<u8> {
    gzip(&raw_tar(entries))
}

fn link_entry(path: &[u8], entry_type: u8, target: &[u8]) -> RawEntry {
    (raw_header(path, entry_type, 0, target), Vec::new())
}

fn symlink(path: &str, target: &str) -> RawEntry {
    link_entry(path.as_bytes(), b'2', target.as_bytes())
}

fn hardlink(path: &str, target: &str) -> RawEntry {
    link_entry(path.as_bytes(), b'1', target.as_bytes())
}

fn dir_entry(path: &str) -> RawEntry {
    link_entry(path.as_bytes(), b'5', b"")
}

/// A valid skill tarball for `name@1.0.0` with `extra` entries after SKILL.md.
fn skill_with(name: &str, extra: Vec<RawEntry>) -> Vec<u8> {
    let mut entries = vec![file_entry("SKILL.md", &skill_md(name, "1.0.0"))];
    entries.extend(extra);
    tgz(&entries)
}

/// Publish body for skill `name@1.0.0` holding SKILL.md plus `extra`.
fn skill_body_with(name: &str, extra: Vec<RawEntry>) -> Vec<u8> {
    body(Some("skill"), name, "1.0.0", &skill_with(name, extra))
}

/// A `.crate`-shaped tarball with the given Cargo.toml name and version.
fn crate_tarball(name: &str, version: &str) -> Vec<u8> {
    tgz(&crate_entries(name, version, name))
}

fn crate_entries(name: &str, version: &str, toml_name: &str) -> Vec<RawEntry> {
    let root = format!("{name}-{version}");
    vec![
        file_entry(
            &format!("{root}/Cargo.toml"),
            format!(
                "[package]\nname = \"{toml_name}\"\nversion = \"{version}\"\nedition = \"2021\"\n"
            )
            .as_bytes(),
        ),
        file_entry(&format!("{root}/src/lib.rs"), b"pub fn f() {}\n"),
    ]
}

fn crate_body(name: &str, version: &str) -> Vec<u8> {
    body(None, name, version, &crate_tarball(name, version))
}

fn plugin_json(name: &str, extra: &str) -> Vec<u8> {
    format!("{{\"name\": \"{name}\", \"version\": \"1.0.0\", \"description\": \"A test plugin.\"{extra}}}")
        .into_bytes()
}

/// A plugin tarball with the given plugin.json and a valid `skills/x/SKILL.md`.
fn plugin_tarball(json: &[u8], extra: Vec<RawEntry>) -> Vec<u8> {
    let mut entries = vec![
        file_entry(".claude-plugin/plugin.json", json),
        file_entry("commands/hello.md", b"# hello\n"),
        file_entry("skills/x/SKILL.md", &skill_md("x", "1.0.0")),
    ];
    entries.extend(extra);
    tgz(&entries)
}

/// A pax extended-header record `LEN key=value\n` (LEN counts itself).
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = 1 + key.len() + 1 + value.len() + 1; // " key=value\n"
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// Deterministic incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn skill_publish(name: &str, version: &str) -> Vec<u8> {
    skill_publish_body(name, version, &skill_tarball(name, version))
}

// ---------------------------------------------------------------------------
// Versions and names
// ---------------------------------------------------------------------------

#[test]
fn existing_versions_and_bad_names_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));

    // A skill whose SKILL.md declares no version, so 1.0.0+a and 1.0.0+b can
    // carry byte-identical bundles (only the version key can refuse them).
    let unversioned = tgz(&[file_entry(
        "SKILL.md",
        b"---\nname: meta\ndescription: No declared version.\n---\n",
    )]);
    accepted(
        &d,
        "meta@1.0.0+a",
        body(Some("skill"), "meta", "1.0.0+a", &unversioned),
    );
    // Positive controls: the longest allowed name, a crate, a prerelease of
    // an existing version (a different version key).
    let long = "a".repeat(64);
    accepted(&d, "64-char skill name", skill_publish(&long, "1.0.0"));
    accepted(&d, "crate", crate_body("Some_Crate", "0.1.0"));
    accepted(
        &d,
        "prerelease of an existing version",
        body(Some("skill"), "meta", "1.0.0-rc.1", &unversioned),
    );

    let valid = skill_tarball("ok", "1.0.0");
    let skill = |name: &str| body(Some("skill"), name, "1.0.0", &valid);
    let krate = |name: &str| body(None, name, "1.0.0", &crate_tarball("x", "1.0.0"));
    let too_long = "b".repeat(65);
    let cases = vec![
        case(
            "same version, same bytes",
            skill_publish("base", "1.0.0"),
            409,
            "base@1.0.0 already exists",
        ),
        case(
            "1.0.0+b after 1.0.0+a (identical bundle)",
            body(Some("skill"), "meta", "1.0.0+b", &unversioned),
            409,
            "meta@1.0.0+a already exists",
        ),
        case(
            "1.0.0 after 1.0.0+a (identical bundle)",
            body(Some("skill"), "meta", "1.0.0", &unversioned),
            409,
            "meta@1.0.0+a already exists",
        ),
        case(
            "same crate version again",
            crate_body("Some_Crate", "0.1.0"),
            409,
            "Some_Crate@0.1.0 already exists",
        ),
        case(
            "skill Bad_Name",
            skill("Bad_Name"),
            400,
            "the skill name `Bad_Name` contains `B`",
        ),
        case(
            "skill -x",
            skill("-x"),
            400,
            "may not start or end with `-`",
        ),
        case(
            "skill x-",
            skill("x-"),
            400,
            "may not start or end with `-`",
        ),
        case("skill a--b", skill("a--b"), 400, "may not contain `--`"),
        case("skill 65 chars", skill(&too_long), 400, "65 characters"),
        case("skill with a space", skill("a b"), 400, "contains ` `"),
        case(
            "plugin My_Plugin",
            body(Some("plugin"), "My_Plugin", "1.0.0", &valid),
            400,
            "`My_Plugin`",
        ),
        case(
            "crate 1abc",
            krate("1abc"),
            400,
            "must start with an ASCII letter",
        ),
        case("crate a/b", krate("a/b"), 400, "contains `/`"),
        case("crate empty name", krate(""), 400, "name is empty"),
        case(
            "crate 65 chars",
            krate(&too_long),
            400,
            "65 characters long; the limit is 64",
        ),
        case(
            "version 1.0",
            body(Some("skill"), "ok", "1.0", &valid),
            400,
            "`1.0` is not a semver version",
        ),
        case(
            "version v1.0.0",
            body(Some("skill"), "ok", "v1.0.0", &valid),
            400,
            "`v1.0.0` is not a semver version",
        ),
        case(
            "version latest",
            body(Some("skill"), "ok", "latest", &valid),
            400,
            "`latest` is not a semver version",
        ),
        case(
            "empty version",
            body(Some("skill"), "ok", "", &valid),
            400,
            "is not a semver version",
        ),
    ];
    refuse_all(&d, cases);
}

#[test]
fn name_collisions_across_kinds_and_spellings_are_refused() {
    let d = Daemon::start();
    accepted(&d, "skill foo-bar", skill_publish("foo-bar", "1.0.0"));
    accepted(&d, "crate baz_qux", crate_body("baz_qux", "1.0.0"));
    accepted(
        &d,
        "plugin my-plug",
        body(
            Some("plugin"),
            "my-plug",
            "1.0.0",
            &plugin_tarball(&plugin_json("my-plug", ""), vec![]),
        ),
    );
    // Positive control: a name close to, but not colliding with, the others.
    accepted(&d, "crate foo_bar_2", crate_body("foo_bar_2", "1.0.0"));

    let plugin = |name: &str| {
        body(
            Some("plugin"),
            name,
            "2.0.0",
            &plugin_tarball(
                String::from_utf8(plugin_json(name, ""))
                    .unwrap()
                    .replace("1.0.0", "2.0.0")
                    .as_bytes(),
                vec![],
            ),
        )
    };
    let taken_by = |kind: &str, name: &str| format!("is taken by the {kind} `{name}`");
    let cases = vec![
        case(
            "crate foo_bar vs skill foo-bar",
            crate_body("foo_bar", "2.0.0"),
            409,
            taken_by("skill", "foo-bar"),
        ),
        case(
            "crate Foo_Bar vs skill foo-bar",
            crate_body("Foo_Bar", "2.0.0"),
            409,
            taken_by("skill", "foo-bar"),
        ),
        case(
            "crate foo-bar (same spelling) vs skill foo-bar",
            crate_body("foo-bar", "2.0.0"),
            409,
            taken_by("skill", "foo-bar"),
        ),
        case(
            "crate FOO-BAR vs skill foo-bar",
            crate_body("FOO-BAR", "2.0.0"),
            409,
            taken_by("skill", "foo-bar"),
        ),
        case(
            "plugin foo-bar vs skill foo-bar",
            plugin("foo-bar"),
            409,
            taken_by("skill", "foo-bar"),
        ),
        case(
            "skill baz-qux vs crate baz_qux",
            skill_publish("baz-qux", "2.0.0"),
            409,
            taken_by("crate", "baz_qux"),
        ),
        case(
            "crate Baz-Qux vs crate baz_qux",
            crate_body("Baz-Qux", "2.0.0"),
            409,
            taken_by("crate", "baz_qux"),
        ),
        case(
            "plugin baz-qux vs crate baz_qux",
            plugin("baz-qux"),
            409,
            taken_by("crate", "baz_qux"),
        ),
        case(
            "skill my-plug vs plugin my-plug",
            skill_publish("my-plug", "2.0.0"),
            409,
            taken_by("plugin", "my-plug"),
        ),
        case(
            "crate My_Plug vs plugin my-plug",
            crate_body("My_Plug", "2.0.0"),
            409,
            taken_by("plugin", "my-plug"),
        ),
    ];
    refuse_all(&d, cases);
}

// ---------------------------------------------------------------------------
// Unsafe archive entries
// ---------------------------------------------------------------------------

#[test]
fn unsafe_archive_entries_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    // Positive control: the entry kinds that are allowed, used correctly.
    accepted(
        &d,
        "skill with dirs and links that stay inside",
        skill_body_with(
            "links-ok",
            vec![
                dir_entry("./"),
                dir_entry("scripts/"),
                file_entry("scripts/run.sh", b"#!/bin/sh\n"),
                symlink("scripts/link", "../SKILL.md"),
                symlink("scripts/self", "."),
                hardlink("scripts/hard", "scripts/run.sh"),
            ],
        ),
    );

    let h = |extra: Vec<RawEntry>| skill_body_with("hostile", extra);
    let file = |p: &str| file_entry(p, b"x\n");
    let special = |p: &str, t: u8| link_entry(p.as_bytes(), t, b"");
    let pax = |key: &str, value: &[u8]| {
        let rec = pax_record(key, value);
        (
            raw_header(b"PaxHeaders/0", b'x', rec.len() as u64, b""),
            rec,
        )
    };
    let gnu_long = |t: u8, name: &[u8]| {
        let mut content = name.to_vec();
        content.push(0);
        (
            raw_header(b"././@LongLink", t, content.len() as u64, b""),
            content,
        )
    };
    let cases = vec![
        case(
            "absolute path",
            h(vec![file("/etc/passwd")]),
            400,
            "`/etc/passwd`",
        ),
        case("../evil", h(vec![file("../evil")]), 400, "`../evil`"),
        case(
            "a/../../evil",
            h(vec![file("a/../../evil")]),
            400,
            "`a/../../evil`",
        ),
        case(
            "a/../b (even if inside)",
            h(vec![file("a/../b")]),
            400,
            "`a/../b`",
        ),
        case(
            "backslashes",
            h(vec![file("a\\..\\evil")]),
            400,
            "backslashes",
        ),
        case(
            "control character",
            h(vec![file("a\nb")]),
            400,
            "control characters",
        ),
        case(
            "file without a name",
            h(vec![file("./")]),
            400,
            "must have a name",
        ),
        case(
            "symlink ../../etc",
            h(vec![symlink("link", "../../etc")]),
            400,
            "points to `../../etc`",
        ),
        case(
            "symlink /etc/passwd",
            h(vec![symlink("link", "/etc/passwd")]),
            400,
            "points to `/etc/passwd`",
        ),
        case(
            "nested symlink one level too far up",
            h(vec![symlink("sub/dir/link", "../../../x")]),
            400,
            "points to `../../../x`",
        ),
        case(
            "symlink x/../..",
            h(vec![symlink("link", "x/../..")]),
            400,
            "points to `x/../..`",
        ),
        case(
            "hardlink ../outside",
            h(vec![hardlink("hl", "../outside")]),
            400,
            "`hl` points to `../outside`",
        ),
        case(
            "hardlink /etc/passwd",
            h(vec![hardlink("hl", "/etc/passwd")]),
            400,
            "`hl` points to `/etc/passwd`",
        ),
        case(
            "hardlink to a later file",
            h(vec![hardlink("hl", "later.txt"), file("later.txt")]),
            400,
            "later.txt (not a file earlier",
        ),
        case(
            "hardlink to nothing",
            h(vec![hardlink("hl", "missing.txt")]),
            400,
            "missing.txt (not a file earlier",
        ),
        case(
            "hardlink to a directory",
            h(vec![dir_entry("d/"), hardlink("hl", "d")]),
            400,
            "`d (not a file earlier",
        ),
        case(
            "hardlink to a symlink",
            h(vec![symlink("s", "SKILL.md"), hardlink("hl", "s")]),
            400,
            "`s (not a file earlier",
        ),
        case(
            "character device",
            h(vec![special("dev/null", b'3')]),
            400,
            "`dev/null` is a character device",
        ),
        case(
            "block device",
            h(vec![special("dev/sda", b'4')]),
            400,
            "`dev/sda` is a block device",
        ),
        case(
            "FIFO",
            h(vec![special("pipe", b'6')]),
            400,
            "`pipe` is a FIFO",
        ),
        case(
            "non-UTF-8 file name",
            h(vec![(
                raw_header(b"evil\xff\xfe.txt", b'0', 0, b""),
                vec![],
            )]),
            400,
            "not UTF-8 (`evil\u{fffd}\u{fffd}.txt`)",
        ),
        case(
            "non-UTF-8 symlink target",
            h(vec![link_entry(b"link", b'2', b"tar\xffget")]),
            400,
            "not UTF-8 (`tar\u{fffd}get`)",
        ),
        case(
            "SKILL.md twice",
            h(vec![file_entry("SKILL.md", &skill_md("hostile", "1.0.0"))]),
            400,
            "`SKILL.md` appears twice",
        ),
        case(
            "same path spelled ./notes.txt and notes.txt",
            h(vec![file("notes.txt"), file("./notes.txt")]),
            400,
            "`notes.txt` appears twice",
        ),
        case(
            "file and directory with one path",
            h(vec![file("scripts"), dir_entry("scripts/")]),
            400,
            "`scripts` appears twice",
        ),
        case(
            "symlink shadowing a file",
            h(vec![symlink("SKILL.md", "other.md")]),
            400,
            "`SKILL.md` appears twice",
        ),
        case(
            "pax path ../pax-evil over a harmless name",
            h(vec![pax("path", b"../pax-evil"), file("harmless.txt")]),
            400,
            "`../pax-evil`",
        ),
        case(
            "pax linkpath /etc/shadow over a harmless target",
            h(vec![pax("linkpath", b"/etc/shadow"), symlink("link", "ok")]),
            400,
            "`/etc/shadow`",
        ),
        case(
            "GNU long name ../long-evil",
            h(vec![gnu_long(b'L', b"../long-evil"), file("harmless.txt")]),
            400,
            "`../long-evil`",
        ),
        case(
            "GNU long link name ../../long-target",
            h(vec![
                gnu_long(b'K', b"../../long-target"),
                symlink("link", "ok"),
            ]),
            400,
            "`../../long-target`",
        ),
    ];
    refuse_all(&d, cases);
}

// ---------------------------------------------------------------------------
// Size limits and bombs
// ---------------------------------------------------------------------------

#[test]
fn gzip_bombs_are_refused() {
    let d = Daemon::with_config("[limits]\nmax_unpacked_bytes = 1048576\n");
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    // Positive control: just under the unpacked limit.
    accepted(
        &d,
        "skill with 1 MiB minus SKILL.md of zeros",
        skill_body_with(
            "near-limit",
            vec![file_entry("zeros.bin", &vec![0u8; 1_048_576 - 512])],
        ),
    );

    let four_mib = skill_with("bomb", vec![file_entry("zeros.bin", &vec![0u8; 4 << 20])]);
    assert!(
        four_mib.len() < 64 * 1024,
        "the bomb must be tiny compressed"
    );
    let mut after_end = raw_tar(&[file_entry("SKILL.md", &skill_md("bomb", "1.0.0"))]);
    after_end.extend(std::iter::repeat_n(0u8, 32 << 20));
    let after_end = gzip(&after_end);
    assert!(after_end.len() < 256 * 1024);
    let half = vec![0u8; 600 * 1024];
    let limit = "unpacks to more than 1048576 bytes";
    let bomb = |t: &[u8]| body(Some("skill"), "bomb", "1.0.0", t);
    // A directory header claiming 32 MiB of content: not a file, but the
    // bytes still come out of the decompressor.
    let dir_bomb = {
        let mut tar = raw_tar(&[file_entry("SKILL.md", &skill_md("bomb", "1.0.0"))]);
        tar.truncate(tar.len() - 1024);
        tar.extend_from_slice(&raw_header(b"big/", b'5', 32 << 20, b""));
        tar.extend(std::iter::repeat_n(0u8, 32 << 20));
        tar.extend([0u8; 1024]);
        gzip(&tar)
    };
    let cases = vec![
        case("one file of 4 MiB zeros", bomb(&four_mib), 400, limit),
        case(
            "two files of 600 KiB (each under, together over)",
            bomb(&skill_with(
                "bomb",
                vec![file_entry("a.bin", &half), file_entry("b.bin", &half)],
            )),
            400,
            limit,
        ),
        case(
            "32 MiB of zeros after the end-of-archive marker",
            bomb(&after_end),
            400,
            "padding follow the end of the tar archive",
        ),
        case(
            "directory entry carrying 32 MiB",
            bomb(&dir_bomb),
            400,
            limit,
        ),
    ];
    refuse_all(&d, cases);
}

#[test]
fn too_many_entries_are_refused() {
    let d = Daemon::with_config("[limits]\nmax_entries = 5\n");
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    let files = |n: usize| {
        (0..n)
            .map(|i| file_entry(&format!("f{i}.txt"), b"x"))
            .collect()
    };
    // Positive control: exactly 5 entries.
    accepted(&d, "5 entries", skill_body_with("five", files(4)));
    let cases = vec![
        case(
            "10 files",
            skill_body_with("many", files(9)),
            400,
            "more than 5 entries (limits.max_entries)",
        ),
        case(
            "6 entries",
            skill_body_with("many", files(5)),
            400,
            "more than 5 entries",
        ),
        case(
            "6 entries, mostly directories",
            skill_body_with(
                "many",
                (0..5).map(|i| dir_entry(&format!("d{i}/"))).collect(),
            ),
            400,
            "more than 5 entries",
        ),
    ];
    refuse_all(&d, cases);
}

#[test]
fn oversized_bundles_and_metadata_are_refused_with_413() {
    let d = Daemon::with_config("[limits]\nmax_bundle_bytes = 4096\nmax_metadata_bytes = 1024\n");
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    // Positive control: a bundle just under the limit.
    let near = skill_with("near", vec![file_entry("noise.bin", &noise(3000))]);
    assert!(near.len() > 3000 && near.len() <= 4096, "{}", near.len());
    accepted(
        &d,
        "bundle under 4096 bytes",
        body(Some("skill"), "near", "1.0.0", &near),
    );

    let big = skill_with("big", vec![file_entry("noise.bin", &noise(4500))]);
    assert!(big.len() > 4096 && big.len() < 5000, "{}", big.len());
    let big_meta = {
        let meta = serde_json::json!({"name": "big", "vers": "1.0.0", "kind": "skill",
            "description": "d".repeat(1100)});
        skillreg::api::encode_publish(
            &serde_json::to_vec(&meta).unwrap(),
            &skill_tarball("big", "1.0.0"),
        )
    };
    let cases = vec![
        case(
            "tarball over max_bundle_bytes",
            body(Some("skill"), "big", "1.0.0", &big),
            413,
            format!(
                "the publish tarball is {} bytes; the limit is 4096",
                big.len()
            ),
        ),
        case(
            "metadata over max_metadata_bytes",
            big_meta,
            413,
            "the publish metadata is",
        ),
        case(
            "request body over the whole limit",
            body(Some("skill"), "big", "1.0.0", &noise(6000)),
            413,
            "larger than 5128 bytes",
        ),
    ];
    refuse_all(&d, cases);
}

// ---------------------------------------------------------------------------
// Framing, metadata and stream corruption
// ---------------------------------------------------------------------------

/// Cargo framing with explicit (possibly lying) lengths.
fn framed(json_len: u32, json: &[u8], tar_len: Option<u32>, tar: &[u8]) -> Vec<u8> {
    let mut out = json_len.to_le_bytes().to_vec();
    out.extend_from_slice(json);
    if let Some(n) = tar_len {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out.extend_from_slice(tar);
    out
}

#[test]
fn lying_framing_and_corrupt_streams_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    let tarball = skill_tarball("frame", "1.0.0");
    let json =
        serde_json::to_vec(&serde_json::json!({"name": "frame", "vers": "1.0.0", "kind": "skill"}))
            .unwrap();
    let (jl, tl) = (json.len() as u32, tarball.len() as u32);
    // Positive control: the same parts, framed honestly (by hand).
    accepted(
        &d,
        "hand-framed skill",
        framed(jl, &json, Some(tl), &tarball),
    );

    let tarball = skill_tarball("frame2", "1.0.0");
    let json = serde_json::to_vec(
        &serde_json::json!({"name": "frame2", "vers": "1.0.0", "kind": "skill"}),
    )
    .unwrap();
    let (jl, tl) = (json.len() as u32, tarball.len() as u32);
    let with_tar = |t: &[u8]| body(Some("skill"), "frame2", "1.0.0", t);
    let with_json = |j: &[u8]| framed(j.len() as u32, j, Some(tl), &tarball);
    let mut trailing = framed(jl, &json, Some(tl), &tarball);
    trailing.extend_from_slice(b"extra");
    let mut real_tar = tarball.clone();
    real_tar.extend_from_slice(&[0u8; 7]);
    let mut bad_crc = tarball.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff;
    let mut bad_isize = tarball.clone();
    bad_isize[n - 1] ^= 0x01;
    let lying_size = {
        let md = skill_md("frame2", "1.0.0");
        tgz(&[(raw_header(b"SKILL.md", b'0', 100_000, b""), md)])
    };
    let bad_checksum = {
        let mut tar = raw_tar(&[file_entry("SKILL.md", &skill_md("frame2", "1.0.0"))]);
        tar[148..156].copy_from_slice(b"0000000\0");
        gzip(&tar)
    };
    let cases = vec![
        case("empty body", vec![], 400, "no metadata length"),
        case("3-byte body", vec![1, 0, 0], 400, "no metadata length"),
        case(
            "json length larger than the body",
            framed(jl + 1000, &json, Some(tl), &tarball),
            400,
            "the metadata is shorter than its length prefix",
        ),
        case(
            "json length 0xFFFFFFFF",
            framed(u32::MAX, &json, Some(tl), &tarball),
            413,
            "the publish metadata is 4294967295 bytes",
        ),
        case(
            "no tarball length",
            framed(jl, &json, None, &[]),
            400,
            "no tarball length",
        ),
        case(
            "tarball length larger than the rest",
            framed(jl, &json, Some(tl + 1), &tarball),
            400,
            "the tarball is shorter than its length prefix",
        ),
        case(
            "trailing bytes after the tarball",
            trailing,
            400,
            "5 bytes after the tarball",
        ),
        case(
            "tarball length smaller than the tarball",
            framed(jl, &json, Some(tl), &real_tar),
            400,
            "7 bytes after the tarball",
        ),
        case(
            "invalid JSON",
            with_json(b"{\"name\": \"frame2\","),
            400,
            "not valid JSON",
        ),
        case("JSON array", with_json(b"[]"), 400, "not valid JSON"),
        case(
            "JSON without vers",
            with_json(br#"{"name":"frame2","kind":"skill"}"#),
            400,
            "missing field `vers`",
        ),
        case(
            "unknown kind",
            with_json(br#"{"name":"frame2","vers":"1.0.0","kind":"widget"}"#),
            400,
            "widget",
        ),
        case(
            "name of the wrong type",
            with_json(br#"{"name":7,"vers":"1.0.0","kind":"skill"}"#),
            400,
            "not valid JSON",
        ),
        case(
            "plain tar, not gzip",
            with_tar(&raw_tar(&[file_entry(
                "SKILL.md",
                &skill_md("frame2", "1.0.0"),
            )])),
            400,
            "not a gzip-compressed tar archive",
        ),
        case("empty tarball", with_tar(&[]), 400, "not a gzip"),
        case(
            "gzip cut in half",
            with_tar(&tarball[..tarball.len() / 2]),
            400,
            "truncated or corrupt",
        ),
        case(
            "gzip without its trailer",
            with_tar(&tarball[..tarball.len() - 8]),
            400,
            "truncated or corrupt",
        ),
        case(
            "gzip with a wrong CRC",
            with_tar(&bad_crc),
            400,
            "truncated or corrupt",
        ),
        case(
            "gzip with a wrong length trailer",
            with_tar(&bad_isize),
            400,
            "truncated or corrupt",
        ),
        case(
            "entry size claims more than the archive holds",
            with_tar(&lying_size),
            400,
            "`SKILL.md` claims 100000 bytes",
        ),
        case(
            "tar header with a wrong checksum",
            with_tar(&bad_checksum),
            400,
            "truncated or corrupt",
        ),
    ];
    refuse_all(&d, cases);
}

// ---------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------

#[test]
fn manifest_problems_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    // Positive controls: one valid package of each kind, built like the cases.
    accepted(
        &d,
        "valid plugin",
        body(
            Some("plugin"),
            "good-plugin",
            "1.0.0",
            &plugin_tarball(
                &plugin_json("good-plugin", ", \"commands\": \"./commands\""),
                vec![],
            ),
        ),
    );
    accepted(&d, "valid crate", crate_body("good_crate", "1.0.0"));
    accepted(
        &d,
        "valid skill with a 1024-char description",
        body(
            Some("skill"),
            "long-desc",
            "1.0.0",
            &tgz(&[file_entry(
                "SKILL.md",
                format!(
                    "---\nname: long-desc\ndescription: {}\n---\n",
                    "d".repeat(1024)
                )
                .as_bytes(),
            )]),
        ),
    );

    let skill =
        |name: &str, entries: Vec<RawEntry>| body(Some("skill"), name, "1.0.0", &tgz(&entries));
    let plugin = |name: &str, t: Vec<u8>| body(Some("plugin"), name, "1.0.0", &t);
    let cases = vec![
        case(
            "skill without SKILL.md",
            skill("no-manifest", vec![file_entry("README.md", b"# hi\n")]),
            400,
            "no `SKILL.md at the archive root`",
        ),
        case(
            "skill with SKILL.md only in a subfolder",
            skill(
                "nested",
                vec![file_entry("nested/SKILL.md", &skill_md("nested", "1.0.0"))],
            ),
            400,
            "no `SKILL.md",
        ),
        case(
            "SKILL.md name differs",
            skill(
                "alpha",
                vec![file_entry("SKILL.md", &skill_md("beta", "1.0.0"))],
            ),
            400,
            "names the skill `beta` but it is published as `alpha`",
        ),
        case(
            "SKILL.md metadata.version differs",
            skill(
                "alpha",
                vec![file_entry("SKILL.md", &skill_md("alpha", "2.0.0"))],
            ),
            400,
            "declares metadata.version 2.0.0 but version 1.0.0",
        ),
        case(
            "SKILL.md metadata.version not semver",
            skill(
                "alpha",
                vec![file_entry("SKILL.md", &skill_md("alpha", "one"))],
            ),
            400,
            "invalid `metadata.version`",
        ),
        case(
            "description of 1025 chars",
            skill(
                "alpha",
                vec![file_entry(
                    "SKILL.md",
                    format!("---\nname: alpha\ndescription: {}\n---\n", "d".repeat(1025))
                        .as_bytes(),
                )],
            ),
            400,
            "`description` of 1025 characters; the limit is 1024",
        ),
        case(
            "SKILL.md without frontmatter",
            skill("alpha", vec![file_entry("SKILL.md", b"# alpha\n")]),
            400,
            "YAML frontmatter",
        ),
        case(
            "SKILL.md with an invalid name",
            skill(
                "alpha",
                vec![file_entry(
                    "SKILL.md",
                    b"---\nname: Alpha_X\ndescription: d\n---\n",
                )],
            ),
            400,
            "invalid `name`",
        ),
        case(
            "plugin without plugin.json",
            plugin(
                "plug",
                tgz(&[file_entry("skills/x/SKILL.md", &skill_md("x", "1.0.0"))]),
            ),
            400,
            "no `.claude-plugin/plugin.json`",
        ),
        case(
            "plugin.json with a non-kebab name",
            plugin("plug", plugin_tarball(&plugin_json("My_Plug", ""), vec![])),
            400,
            "invalid `name` (plugins use kebab-case)",
        ),
        case(
            "plugin.json name differs",
            plugin(
                "plug",
                plugin_tarball(&plugin_json("other-plug", ""), vec![]),
            ),
            400,
            "names the plugin `other-plug` but it is published as `plug`",
        ),
        case(
            "plugin.json version differs",
            body(
                Some("plugin"),
                "plug",
                "1.0.1",
                &plugin_tarball(&plugin_json("plug", ""), vec![]),
            ),
            400,
            "declares version 1.0.0 but version 1.0.1",
        ),
        case(
            "plugin.json is not JSON",
            plugin("plug", plugin_tarball(b"{name: plug", vec![])),
            400,
            "`.claude-plugin/plugin.json` is not valid JSON",
        ),
        case(
            "plugin skill whose name is not its folder",
            plugin(
                "plug",
                plugin_tarball(
                    &plugin_json("plug", ""),
                    vec![file_entry("skills/y/SKILL.md", &skill_md("z", "1.0.0"))],
                ),
            ),
            400,
            "names the skill `z` but its folder is `y`",
        ),
        case(
            "plugin skill with a broken SKILL.md",
            plugin(
                "plug",
                plugin_tarball(
                    &plugin_json("plug", ""),
                    vec![file_entry("skills/w/SKILL.md", b"no frontmatter")],
                ),
            ),
            400,
            "`skills/w/SKILL.md` must start with YAML frontmatter",
        ),
        case(
            "plugin.json commands path with ..",
            plugin(
                "plug",
                plugin_tarball(
                    &plugin_json("plug", ", \"commands\": \"./../evil\""),
                    vec![],
                ),
            ),
            400,
            "`commands` path `./../evil`",
        ),
        case(
            "plugin.json skills list with ..",
            plugin(
                "plug",
                plugin_tarball(
                    &plugin_json("plug", ", \"skills\": [\"./skills\", \"./a/../../b\"]"),
                    vec![],
                ),
            ),
            400,
            "`skills` path `./a/../../b`",
        ),
        case(
            "plugin.json absolute hooks path",
            plugin(
                "plug",
                plugin_tarball(
                    &plugin_json("plug", ", \"hooks\": \"/etc/hooks.json\""),
                    vec![],
                ),
            ),
            400,
            "`hooks` path `/etc/hooks.json`",
        ),
        case(
            "crate with a file outside name-version/",
            body(None, "krate", "1.0.0", &{
                let mut e = crate_entries("krate", "1.0.0", "krate");
                e.push(file_entry("evil.rs", b"fn main() {}\n"));
                tgz(&e)
            }),
            400,
            "`evil.rs` is outside `krate-1.0.0/`",
        ),
        case(
            "crate under the wrong version folder",
            body(None, "krate", "1.0.0", &crate_tarball("krate", "1.0.1")),
            400,
            "krate-1.0.1/Cargo.toml` is outside `krate-1.0.0/`",
        ),
        case(
            "crate Cargo.toml names another crate",
            body(
                None,
                "krate",
                "1.0.0",
                &tgz(&crate_entries("krate", "1.0.0", "other")),
            ),
            400,
            "names the crate `other` but it is published as `krate`",
        ),
        case(
            "crate Cargo.toml with another version",
            body(None, "krate", "1.0.0", &{
                tgz(&[file_entry(
                    "krate-1.0.0/Cargo.toml",
                    b"[package]\nname = \"krate\"\nversion = \"9.9.9\"\n",
                )])
            }),
            400,
            "declares package.version 9.9.9 but version 1.0.0",
        ),
        case(
            "crate without Cargo.toml",
            body(
                None,
                "krate",
                "1.0.0",
                &tgz(&[file_entry("krate-1.0.0/src/lib.rs", b"")]),
            ),
            400,
            "no `krate-1.0.0/Cargo.toml`",
        ),
        case(
            "crate with invalid Cargo.toml",
            body(None, "krate", "1.0.0", &{
                tgz(&[file_entry("krate-1.0.0/Cargo.toml", b"[package\nname = ")])
            }),
            400,
            "`krate-1.0.0/Cargo.toml` is not valid TOML",
        ),
    ];
    refuse_all(&d, cases);
}

// ---------------------------------------------------------------------------
// Holes found while writing this suite, each fixed in src/ and kept here.
// ---------------------------------------------------------------------------

#[test]
fn existing_version_with_new_bytes_leaves_no_blob() {
    let d = Daemon::start();
    accepted(&d, "dup@1.0.0+a", skill_publish("dup", "1.0.0+a"));
    accepted(&d, "plain@1.0.0", skill_publish("plain", "1.0.0"));
    let changed = skill_publish_body(
        "plain",
        "1.0.0",
        &skill_with("plain", vec![file_entry("new.txt", b"changed\n")]),
    );
    refuse_all(
        &d,
        vec![
            case(
                "1.0.0+b after 1.0.0+a (SKILL.md declares +b)",
                skill_publish("dup", "1.0.0+b"),
                409,
                "dup@1.0.0+a already exists",
            ),
            case(
                "same version, new content",
                changed,
                409,
                "plain@1.0.0 already exists",
            ),
        ],
    );
}

#[test]
fn links_through_earlier_symlinks_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    refuse_all(
        &d,
        vec![
            // a/b is the root, so a/b/c -> ../x points above it.
            case(
                "a/b -> .. then a/b/c -> ../x",
                skill_body_with(
                    "chain-one",
                    vec![
                        dir_entry("a/"),
                        symlink("a/b", ".."),
                        symlink("a/b/c", "../x"),
                    ],
                ),
                400,
                "a/b/c",
            ),
            // A naive extractor writes a/b/c/evil one level above the root.
            case(
                "a/b -> .., a/b/c -> .., file a/b/c/evil",
                skill_body_with(
                    "chain-two",
                    vec![
                        dir_entry("a/"),
                        symlink("a/b", ".."),
                        symlink("a/b/c", ".."),
                        file_entry("a/b/c/evil", b"escaped\n"),
                    ],
                ),
                400,
                "a/b/c",
            ),
            // A link whose target runs through another link: lexically
            // inside, really above the root.
            case(
                "a/b -> .., c -> a/b/../x",
                skill_body_with(
                    "chain-three",
                    vec![
                        dir_entry("a/"),
                        symlink("a/b", ".."),
                        symlink("c", "a/b/../x"),
                    ],
                ),
                400,
                "lies under `a/b`",
            ),
        ],
    );
}

/// A file entry with the given mode bits.
fn file_with_mode(path: &str, mode: &str) -> RawEntry {
    let (mut h, content) = file_entry(path, b"#!/bin/sh\n");
    h[100..107].copy_from_slice(mode.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    (h, content)
}

#[test]
fn setuid_setgid_and_sticky_bits_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    accepted(
        &d,
        "an executable without special bits",
        skill_body_with("modes-ok", vec![file_with_mode("run.sh", "0000755")]),
    );
    refuse_all(
        &d,
        ["0004755", "0002755", "0001755"]
            .iter()
            .map(|mode| {
                case(
                    format!("mode {mode}"),
                    skill_body_with("modes", vec![file_with_mode("run.sh", mode)]),
                    400,
                    "setuid, setgid or sticky",
                )
            })
            .collect(),
    );
}

#[test]
fn data_after_the_first_gzip_member_is_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    // Member 1: a valid skill tar without its end marker. Member 2: entries
    // that `tar xzf` (and Python's tarfile) extract after it: a SKILL.md that
    // replaces the validated one, and a symlink to /etc/passwd.
    let mut first = raw_tar(&[file_entry("SKILL.md", &skill_md("multi-a", "1.0.0"))]);
    first.truncate(first.len() - 1024);
    let mut hidden = gzip(&first);
    hidden.extend(tgz(&[
        file_entry("SKILL.md", &skill_md("other", "9.0.0")),
        symlink("link", "/etc/passwd"),
    ]));
    let mut garbage = skill_tarball("multi-b", "1.0.0");
    garbage.extend_from_slice(b"garbage after the gzip member");
    let mut bomb = skill_tarball("multi-c", "1.0.0");
    bomb.extend(gzip(&vec![0u8; 64 << 20]));
    refuse_all(
        &d,
        vec![
            case(
                "second gzip member with other entries",
                body(Some("skill"), "multi-a", "1.0.0", &hidden),
                400,
                "gzip",
            ),
            case(
                "garbage after the gzip member",
                body(Some("skill"), "multi-b", "1.0.0", &garbage),
                400,
                "gzip",
            ),
            case(
                "64 MiB of zeros in a second gzip member",
                body(Some("skill"), "multi-c", "1.0.0", &bomb),
                400,
                "gzip",
            ),
        ],
    );
}

#[test]
fn paths_equal_ignoring_case_are_refused() {
    let d = Daemon::start();
    accepted(&d, "baseline skill", skill_publish("base", "1.0.0"));
    refuse_all(
        &d,
        vec![case(
            "SKILL.md and skill.md",
            skill_body_with(
                "cases",
                vec![file_entry("skill.md", b"---\nname: other\n---\n")],
            ),
            400,
            "skill.md",
        )],
    );
}
