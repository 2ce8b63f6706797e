//! The marketplace reader against the real superpowers checkout and against
//! synthetic catalogs in temp dirs.

mod common;

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};
use skillreg::bundle::{inspect, Archive, ArchiveLimits, EntryKind};
use skillreg::mirror::marketplace::{
    read_catalog, Catalog, CatalogItem, MarketplaceError, NoHistory, VersionHistory,
};
use skillreg::package::Kind;

use common::{copy_tree, fixtures_dir};

const SUPERPOWERS_COMMIT: &str = "44c9b2d6e889982ac18c27d05a19fefe335194e1";

/// The read-only superpowers checkout, below [`fixtures_dir`].
fn superpowers() -> PathBuf {
    fixtures_dir().join("marketplaces/superpowers")
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn marketplace(dir: &Path, value: serde_json::Value) {
    write(
        &dir.join(".claude-plugin/marketplace.json"),
        serde_json::to_vec_pretty(&value).unwrap(),
    );
}

fn skill_md(name: &str, extra: &str) -> String {
    format!("---\nname: {name}\ndescription: Does {name} things.\n{extra}---\n# {name}\n")
}

fn limits() -> ArchiveLimits {
    ArchiveLimits {
        max_compressed: 1 << 30,
        max_unpacked: 1 << 30,
        max_entries: 1 << 20,
    }
}

fn open(item: &CatalogItem) -> Archive {
    inspect(&item.bundle, &limits(), |p| {
        p.ends_with(".json") || p.ends_with("SKILL.md")
    })
    .unwrap()
}

fn item<'a>(cat: &'a Catalog, kind: Kind, name: &str) -> &'a CatalogItem {
    cat.items
        .iter()
        .find(|i| i.kind == kind && i.name == name)
        .unwrap_or_else(|| panic!("no {kind} `{name}` in {:#?}", cat))
}

fn skip_reason<'a>(cat: &'a Catalog, name: &str) -> &'a str {
    &cat.skipped
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("`{name}` not skipped: {:#?}", cat))
        .reason
}

fn names(cat: &Catalog, kind: Kind) -> Vec<&str> {
    cat.items
        .iter()
        .filter(|i| i.kind == kind)
        .map(|i| i.name.as_str())
        .collect()
}

fn has_note(item: &CatalogItem, needle: &str) -> bool {
    item.notes.iter().any(|n| n.contains(needle))
}

fn strict_notes(item: &CatalogItem) -> Vec<&str> {
    item.notes
        .iter()
        .filter(|n| n.starts_with("strict validation: "))
        .map(String::as_str)
        .collect()
}

fn read(dir: &Path) -> Catalog {
    read_catalog(dir, None, &NoHistory).unwrap()
}

// ---------------------------------------------------------------- superpowers

#[test]
fn superpowers_mirrors_completely() {
    let root = superpowers();
    let cat = read_catalog(&root, Some(SUPERPOWERS_COMMIT), &NoHistory).unwrap();
    for i in &cat.items {
        for n in &i.notes {
            eprintln!("NOTE {} {}: {n}", i.kind, i.name);
        }
    }
    assert_eq!(cat.marketplace, "superpowers-dev");
    assert!(cat.notes.is_empty(), "{:?}", cat.notes);
    assert!(cat.skipped.is_empty(), "{:#?}", cat.skipped);

    let mut folders: Vec<String> = fs::read_dir(root.join("skills"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("SKILL.md").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 14, "the fixture has 14 skills/*/SKILL.md");

    assert_eq!(names(&cat, Kind::Plugin), ["superpowers"]);
    assert_eq!(names(&cat, Kind::Skill), folders);
    assert_eq!(cat.items.len(), 15);
    // sorted by (kind, name): the plugin first, then skills by name
    assert_eq!(cat.items[0].kind, Kind::Plugin);

    let plugin = item(&cat, Kind::Plugin, "superpowers");
    assert_eq!(plugin.version, "6.2.0");
    assert_eq!(plugin.source_path, ".");
    assert_eq!(plugin.plugin, None);
    assert!(plugin.notes.is_empty(), "{:?}", plugin.notes);

    for skill in cat.items.iter().filter(|i| i.kind == Kind::Skill) {
        assert_eq!(skill.version, "6.2.0", "{}", skill.name);
        assert_eq!(skill.plugin.as_deref(), Some("superpowers"));
        assert_eq!(skill.source_path, format!("skills/{}", skill.name));
        assert!(skill.notes.is_empty(), "{}: {:?}", skill.name, skill.notes);
    }
    for i in &cat.items {
        assert_eq!(i.content_sha256, hex::encode(Sha256::digest(&i.bundle)));
    }

    // the plugin bundle is the repository root, .git aside
    let archive = open(plugin);
    for path in [
        ".claude-plugin/plugin.json",
        ".claude-plugin/marketplace.json",
        "skills/brainstorming/SKILL.md",
        "AGENTS.md",
        "CLAUDE.md",
    ] {
        assert!(archive.entries.contains_key(path), "{path}");
    }
    assert!(archive.entries["hooks/session-start"].executable);
    assert!(!archive.entries["README.md"].executable);
    assert!(!archive
        .entries
        .keys()
        .any(|p| p == ".git" || p.starts_with(".git/")));

    // a skill bundle has SKILL.md at its root and keeps exec bits
    let skill = open(item(&cat, Kind::Skill, "brainstorming"));
    assert!(skill.file("SKILL.md").is_some());
    assert!(skill.entries["scripts/start-server.sh"].executable);
    assert!(!skill.entries.keys().any(|p| p.starts_with("skills/")));
}

#[test]
fn superpowers_is_byte_identical_across_reads_and_copies() {
    let first = read(&superpowers());
    let second = read(&superpowers());
    assert_eq!(first, second);
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("elsewhere");
    copy_tree(&superpowers(), &copy);
    let third = read(&copy);
    assert_eq!(
        first, third,
        "the checkout's location does not change a byte"
    );
}

#[test]
fn superpowers_symlinks_inside_are_kept_and_links_out_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("superpowers");
    copy_tree(&superpowers(), &root);
    // upstream AGENTS.md is a link to CLAUDE.md (the fixture stores it flattened)
    fs::remove_file(root.join("AGENTS.md")).unwrap();
    std::os::unix::fs::symlink("CLAUDE.md", root.join("AGENTS.md")).unwrap();
    let cat = read(&root);
    assert!(cat.skipped.is_empty(), "{:#?}", cat.skipped);
    let archive = open(item(&cat, Kind::Plugin, "superpowers"));
    assert_eq!(
        archive.entries["AGENTS.md"].kind,
        EntryKind::Symlink("CLAUDE.md".into())
    );

    // a link that stays in the plugin but leaves its skill: only that skill goes
    std::os::unix::fs::symlink(
        "../../CLAUDE.md",
        root.join("skills/brainstorming/claude.md"),
    )
    .unwrap();
    let cat = read(&root);
    assert_eq!(names(&cat, Kind::Plugin), ["superpowers"]);
    assert_eq!(names(&cat, Kind::Skill).len(), 13);
    assert_eq!(cat.skipped.len(), 1, "{:#?}", cat.skipped);
    assert_eq!(cat.skipped[0].kind, Kind::Skill);
    assert_eq!(
        skip_reason(&cat, "brainstorming"),
        "the skill at `skills/brainstorming` cannot be mirrored: the link `claude.md` points to `../../CLAUDE.md`, outside the bundle; links must stay inside it"
    );

    // a link out of the plugin: the plugin goes, its other skills stay
    fs::remove_file(root.join("skills/brainstorming/claude.md")).unwrap();
    std::os::unix::fs::symlink("../../outside", root.join("docs/out")).unwrap();
    let cat = read(&root);
    assert!(names(&cat, Kind::Plugin).is_empty());
    assert_eq!(names(&cat, Kind::Skill).len(), 14);
    assert_eq!(
        skip_reason(&cat, "superpowers"),
        "the plugin at `.` cannot be mirrored: the link `docs/out` points to `../../outside`, outside the bundle; links must stay inside it"
    );
}

// ---------------------------------------------------------- synthetic catalogs

/// A local plugin with a plugin.json and the given skills.
fn local_plugin(root: &Path, dir: &str, manifest: serde_json::Value, skills: &[(&str, String)]) {
    let dir = root.join(dir);
    write(
        &dir.join(".claude-plugin/plugin.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    for (folder, text) in skills {
        write(&dir.join("skills").join(folder).join("SKILL.md"), text);
    }
}

#[test]
fn remote_sources_are_skipped_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        "plugins/here",
        json!({"name": "here", "version": "1.0.0"}),
        &[],
    );
    marketplace(
        root,
        json!({"name": "mixed", "owner": {"name": "o"}, "plugins": [
            {"name": "gh", "source": {"source": "github", "repo": "owner/repo", "ref": "v2", "sha": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"}},
            {"name": "gh-unpinned", "source": {"source": "github", "repo": "owner/other"}},
            {"name": "git", "source": {"source": "url", "url": "https://gitlab.com/team/plugin.git", "ref": "main"}},
            {"name": "sub", "source": {"source": "git-subdir", "url": "https://github.com/o/mono.git", "path": "plugins/sub", "sha": "0123456789012345678901234567890123456789"}},
            {"name": "from-npm", "source": {"source": "npm", "package": "@acme/plugin", "version": "2.1.0"}},
            {"name": "zip", "source": {"source": "archive", "url": "https://example.com/p.zip", "sha256": "ab12"}},
            {"name": "odd", "source": {"source": "ftp", "url": "ftp://x"}},
            {"name": "here", "source": "./plugins/here"},
        ]}),
    );
    let cat = read(root);
    assert_eq!(names(&cat, Kind::Plugin), ["here"]);
    let tail = "is not fetched: a marketplace source fetches git sources only from hosts listed in its `remote_hosts`, and npm and archive sources not at all";
    let cases = [
        ("gh", "remote source github (owner/repo@a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0)"),
        ("gh-unpinned", "remote source github (owner/other@default branch, unpinned)"),
        ("git", "remote source url (https://gitlab.com/team/plugin.git@main)"),
        ("sub", "remote source git-subdir (https://github.com/o/mono.git path plugins/sub@0123456789012345678901234567890123456789)"),
        ("from-npm", "remote source npm (@acme/plugin@2.1.0)"),
        ("zip", "remote source archive (https://example.com/p.zip, sha256 ab12@default branch, unpinned)"),
    ];
    for (name, head) in cases {
        assert_eq!(skip_reason(&cat, name), format!("{head} {tail}"), "{name}");
    }
    assert!(skip_reason(&cat, "odd").contains("source kind `ftp` is unknown"));
    assert_eq!(cat.skipped.len(), 7);
    assert!(cat.skipped.iter().all(|s| s.kind == Kind::Plugin));
}

#[test]
fn sources_that_leave_the_checkout_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("checkout");
    let outside = tmp.path().join("escape");
    local_plugin(&outside, ".", json!({"name": "escape"}), &[]);
    local_plugin(
        &root,
        "plugins/ok",
        json!({"name": "ok", "version": "1.0.0"}),
        &[],
    );
    std::os::unix::fs::symlink(&outside, root.join("plugins/link-out")).unwrap();
    // Links that stay inside are not followed either: neither as the source
    // nor as a directory on its way.
    std::os::unix::fs::symlink("ok", root.join("plugins/alias")).unwrap();
    std::os::unix::fs::symlink("plugins", root.join("linked")).unwrap();
    marketplace(
        &root,
        json!({"name": "m", "plugins": [
            {"name": "alias", "source": "./plugins/alias"},
            {"name": "through", "source": "./linked/ok"},
            {"name": "up", "source": "../escape"},
            {"name": "sneaky", "source": "./plugins/../../escape"},
            {"name": "absolute", "source": outside.to_str().unwrap()},
            {"name": "link-out", "source": "./plugins/link-out"},
            {"name": "missing", "source": "./plugins/none"},
            {"name": "ok", "source": "./plugins/ok"},
        ]}),
    );
    let cat = read(&root);
    assert_eq!(names(&cat, Kind::Plugin), ["ok"]);
    assert_eq!(
        skip_reason(&cat, "up"),
        "the relative source `../escape` uses `..` and could leave its directory"
    );
    assert!(skip_reason(&cat, "sneaky").contains("uses `..`"));
    assert!(skip_reason(&cat, "absolute").ends_with("is absolute"));
    assert_eq!(
        skip_reason(&cat, "link-out"),
        "the relative source `./plugins/link-out` is (or runs through) a symbolic link; skillreg never follows links in content from outside"
    );
    for name in ["alias", "through"] {
        assert!(
            skip_reason(&cat, name)
                .ends_with("skillreg never follows links in content from outside"),
            "{name}"
        );
    }
    assert!(skip_reason(&cat, "missing").contains("does not resolve in the checkout"));
}

#[test]
fn missing_plugin_json_is_synthesized_from_the_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("plugins/kit/skills/hello/SKILL.md"),
        skill_md("hello", ""),
    );
    write(&root.join("plugins/kit/commands/hi.md"), "# hi\n");
    marketplace(
        root,
        json!({"name": "m", "plugins": [{
            "name": "kit", "source": "./plugins/kit", "version": "1.2.0",
            "description": "A kit.", "license": "MIT", "keywords": ["a"],
            "category": "tools", "tags": ["t"], "strict": false,
        }]}),
    );
    let cat = read(root);
    assert!(cat.skipped.is_empty(), "{:#?}", cat.skipped);
    let kit = item(&cat, Kind::Plugin, "kit");
    assert_eq!(kit.version, "1.2.0");
    assert_eq!(kit.source_path, "plugins/kit");
    assert_eq!(
        kit.notes,
        ["no .claude-plugin/plugin.json: synthesized one from the marketplace entry"]
    );
    let archive = open(kit);
    let manifest: serde_json::Value =
        serde_json::from_slice(archive.file(".claude-plugin/plugin.json").unwrap()).unwrap();
    assert_eq!(
        manifest,
        json!({"name": "kit", "version": "1.2.0", "description": "A kit.", "license": "MIT", "keywords": ["a"]})
    );
    assert!(archive.entries.contains_key("commands/hi.md"));
    assert!(
        !root.join("plugins/kit/.claude-plugin").exists(),
        "the checkout is untouched"
    );
    let hello = item(&cat, Kind::Skill, "hello");
    assert_eq!(hello.version, "1.2.0");
    assert_eq!(hello.plugin.as_deref(), Some("kit"));
    // the temp copy does not leak into the bytes
    assert_eq!(cat, read(root));
}

#[test]
fn name_mismatches_are_noted_or_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        "plugins/kit",
        json!({"name": "kit-upstream", "version": "1.0.0"}),
        &[
            ("folder-a", skill_md("real-name", "")),
            ("good-folder", skill_md("Bad_Name", "")),
            ("Bad_Folder", skill_md("Also_Bad", "")),
        ],
    );
    local_plugin(
        root,
        "plugins/bad",
        json!({"name": "bad", "version": "1.0.0"}),
        &[("inner", skill_md("inner", ""))],
    );
    marketplace(
        root,
        json!({"name": "m", "plugins": [
            {"name": "kit", "source": "./plugins/kit"},
            {"name": "Bad_Name", "source": "./plugins/bad"},
        ]}),
    );
    let cat = read(root);

    let kit = item(&cat, Kind::Plugin, "kit");
    assert!(has_note(kit, "names the plugin `kit-upstream` but the marketplace lists it as `kit`; mirrored as `kit`"), "{:?}", kit.notes);
    assert_eq!(
        strict_notes(kit),
        ["strict validation: `.claude-plugin/plugin.json` names the plugin `kit-upstream` but it is published as `kit`; the names must be equal"]
    );

    let real = item(&cat, Kind::Skill, "real-name");
    assert_eq!(real.source_path, "plugins/kit/skills/folder-a");
    assert_eq!(
        real.notes,
        ["`plugins/kit/skills/folder-a/SKILL.md` names the skill `real-name` but its folder is `folder-a`; mirrored as `real-name`"]
    );
    let good = item(&cat, Kind::Skill, "good-folder");
    assert!(has_note(good, "the name `Bad_Name` in `plugins/kit/skills/good-folder/SKILL.md` is not a valid skill name; mirrored under its folder name `good-folder`"), "{:?}", good.notes);
    assert!(
        strict_notes(good)[0].contains("invalid `name`"),
        "{:?}",
        good.notes
    );
    assert!(skip_reason(&cat, "Bad_Folder").starts_with(
        "the name `Also_Bad` in `plugins/kit/skills/Bad_Folder/SKILL.md` is not a valid skill name, and neither is its folder name: "
    ));

    // an entry name that is not kebab-case: the plugin is skipped, its skills are not
    assert!(skip_reason(&cat, "Bad_Name").starts_with(
        "the marketplace entry name `Bad_Name` (from `plugins/bad`) is not a valid plugin name: "
    ));
    assert_eq!(
        item(&cat, Kind::Skill, "inner").plugin.as_deref(),
        Some("Bad_Name")
    );
    assert_eq!(names(&cat, Kind::Plugin), ["kit"]);
}

#[test]
fn a_skill_with_broken_frontmatter_is_skipped_and_its_siblings_mirrored() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        ".",
        json!({"name": "kit", "version": "0.3.0"}),
        &[
            ("alpha", skill_md("alpha", "")),
            (
                "broken",
                "---\nname: broken\ndescription: [unclosed\n---\n".to_string(),
            ),
            ("bare", "# no frontmatter\n".to_string()),
            ("omega", skill_md("omega", "")),
        ],
    );
    marketplace(
        root,
        json!({"name": "m", "plugins": [{"name": "kit", "source": "./"}]}),
    );
    let cat = read(root);
    assert_eq!(names(&cat, Kind::Skill), ["alpha", "omega"]);
    assert!(skip_reason(&cat, "broken")
        .starts_with("`skills/broken/SKILL.md` has invalid YAML frontmatter: "));
    assert_eq!(
        skip_reason(&cat, "bare"),
        "`skills/bare/SKILL.md` must start with YAML frontmatter between `---` lines (name and description are required)"
    );
    // the plugin is mirrored as upstream; the strict validator refuses it
    let kit = item(&cat, Kind::Plugin, "kit");
    assert_eq!(strict_notes(kit).len(), 1, "{:?}", kit.notes);
}

#[test]
fn versions_follow_claude_codes_order() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let with_meta = |n: &str, v: &str| skill_md(n, &format!("metadata:\n  version: \"{v}\"\n"));
    // plugin.json > entry > metadata.version
    local_plugin(
        root,
        "p1",
        json!({"name": "p1", "version": "1.0.0"}),
        &[("s1", with_meta("s1", "3.0.0"))],
    );
    // entry > metadata.version
    local_plugin(
        root,
        "p2",
        json!({"name": "p2"}),
        &[("s2", with_meta("s2", "3.0.0"))],
    );
    // metadata.version > fallback; the plugin itself falls back
    local_plugin(
        root,
        "p3",
        json!({"name": "p3"}),
        &[
            ("s3", with_meta("s3", "3.0.0")),
            ("s3b", skill_md("s3b", "")),
        ],
    );
    // an unusable plugin.json version is passed over
    local_plugin(root, "p4", json!({"name": "p4", "version": "v1"}), &[]);
    marketplace(
        root,
        json!({"name": "m", "plugins": [
            {"name": "p1", "source": "./p1", "version": "2.0.0"},
            {"name": "p2", "source": "./p2", "version": "2.0.0"},
            {"name": "p3", "source": "./p3"},
            {"name": "p4", "source": "./p4", "version": "4.0.0"},
        ]}),
    );
    let cat = read(root);
    let v = |kind, name| item(&cat, kind, name).version.clone();
    assert_eq!(v(Kind::Plugin, "p1"), "1.0.0");
    assert_eq!(v(Kind::Skill, "s1"), "1.0.0");
    assert_eq!(v(Kind::Plugin, "p2"), "2.0.0");
    assert_eq!(v(Kind::Skill, "s2"), "2.0.0");
    assert_eq!(v(Kind::Skill, "s3"), "3.0.0");
    let p3 = item(&cat, Kind::Plugin, "p3");
    assert_eq!(p3.version, format!("0.0.0-{}", &p3.content_sha256[..12]));
    let s3b = item(&cat, Kind::Skill, "s3b");
    assert_eq!(s3b.version, format!("0.0.0-{}", &s3b.content_sha256[..12]));
    assert_eq!(v(Kind::Plugin, "p4"), "4.0.0");

    let p1 = item(&cat, Kind::Plugin, "p1");
    assert!(has_note(
        p1,
        "says version 1.0.0 and the marketplace entry 2.0.0; 1.0.0 is used"
    ));
    let s1 = item(&cat, Kind::Skill, "s1");
    assert!(has_note(
        s1,
        "says metadata.version 3.0.0, but the plugin's version 1.0.0 comes first"
    ));
    assert!(strict_notes(s1)[0].contains("declares metadata.version 3.0.0 but version 1.0.0"));
    assert!(has_note(
        item(&cat, Kind::Plugin, "p4"),
        "unusable `version`"
    ));
    assert!(has_note(
        p3,
        "no version in plugin.json or the marketplace entry; fallback version 0.0.0-"
    ));
}

/// A history that counts calls and answers a fixed version.
struct Recorder(RefCell<Vec<(Kind, String, String)>>);

impl VersionHistory for Recorder {
    fn fallback(&self, kind: Kind, name: &str, content_sha256: &str) -> String {
        self.0
            .borrow_mut()
            .push((kind, name.to_string(), content_sha256.to_string()));
        "0.0.7".into()
    }
}

#[test]
fn fallbacks_come_from_the_callers_history() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        ".",
        json!({"name": "kit"}),
        &[("s", skill_md("s", ""))],
    );
    marketplace(
        root,
        json!({"name": "m", "plugins": [{"name": "kit", "source": "."}]}),
    );
    let history = Recorder(RefCell::new(Vec::new()));
    let cat = read_catalog(root, Some("abc123"), &history).unwrap();
    let kit = item(&cat, Kind::Plugin, "kit");
    let s = item(&cat, Kind::Skill, "s");
    assert_eq!(
        (kit.version.as_str(), s.version.as_str()),
        ("0.0.7", "0.0.7")
    );
    assert_eq!(
        *history.0.borrow(),
        [
            (Kind::Plugin, "kit".to_string(), kit.content_sha256.clone()),
            (Kind::Skill, "s".to_string(), s.content_sha256.clone()),
        ]
    );
    assert!(has_note(kit, "(upstream commit abc123)"));
    assert!(strict_notes(kit).is_empty() && strict_notes(s).is_empty());
}

#[test]
fn reserved_marketplace_names_are_renamed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    marketplace(root, json!({"name": "agent-skills", "plugins": []}));
    let cat = read(root);
    assert_eq!(cat.marketplace, "agent-skills-mirror");
    assert_eq!(cat.notes.len(), 1);
    assert!(cat.notes[0]
        .starts_with("renamed: `agent-skills` is a marketplace name Claude Code reserves"));
    marketplace(
        root,
        json!({"name": "claude-plugins-official", "plugins": []}),
    );
    assert_eq!(read(root).marketplace, "claude-plugins-official-mirror");
    marketplace(root, json!({"name": "my-tools", "plugins": []}));
    let cat = read(root);
    assert_eq!(cat.marketplace, "my-tools");
    assert!(cat.notes.is_empty());
}

#[test]
fn over_long_descriptions_are_noted_and_mirrored_as_upstream() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let long = format!(
        "---\nname: wordy\ndescription: {}\nwhen_to_use: often\n---\n",
        "x".repeat(1500)
    );
    local_plugin(
        root,
        ".",
        json!({"name": "kit", "version": "1.0.0"}),
        &[("wordy", long.clone())],
    );
    marketplace(
        root,
        json!({"name": "m", "plugins": [{"name": "kit", "source": "./"}]}),
    );
    let cat = read(root);
    let wordy = item(&cat, Kind::Skill, "wordy");
    assert_eq!(
        wordy.notes,
        [
            "skills/wordy/SKILL.md: frontmatter key `when_to_use` is not in the Agent Skills spec; kept as is",
            "skills/wordy/SKILL.md: the description is 1500 characters, over the spec's 1024; mirrored as upstream, not truncated",
            "strict validation: `SKILL.md` has a `description` of 1500 characters; the limit is 1024",
        ]
    );
    assert_eq!(open(wordy).file("SKILL.md").unwrap(), long.as_bytes());
}

#[test]
fn custom_skill_paths_and_unknown_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        "kit",
        json!({"name": "kit", "version": "1.0.0", "skills": ["./extra", "./single", "../out"], "flavour": "x"}),
        &[("base", skill_md("base", ""))],
    );
    write(&root.join("kit/extra/one/SKILL.md"), skill_md("one", ""));
    write(&root.join("kit/single/SKILL.md"), skill_md("single", ""));
    write(&root.join("out/SKILL.md"), skill_md("out", ""));
    marketplace(
        root,
        json!({"name": "m", "plugins": [{"name": "kit", "source": "./kit", "colour": "red"}]}),
    );
    let cat = read(root);
    assert_eq!(names(&cat, Kind::Skill), ["base", "one", "single"]);
    assert_eq!(item(&cat, Kind::Skill, "one").source_path, "kit/extra/one");
    let kit = item(&cat, Kind::Plugin, "kit");
    for note in [
        "the marketplace entry has the key `colour`, which Claude Code does not know; ignored",
        ".claude-plugin/plugin.json has the key `flavour`, which Claude Code does not know; kept as is",
        "the `skills` path `../out` uses `..` and could leave its directory; ignored",
    ] {
        assert!(kit.notes.iter().any(|n| n == note), "{note} not in {:?}", kit.notes);
    }
    // plugin.json's own rule: component paths may not use `..`
    assert!(
        strict_notes(kit)[0].contains("`skills` path `../out`"),
        "{:?}",
        kit.notes
    );
}

#[test]
fn names_are_unique_across_kinds_within_a_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        "pdf",
        json!({"name": "pdf", "version": "1.0.0"}),
        &[
            ("pdf", skill_md("pdf", "")),
            ("shared", skill_md("shared", "")),
        ],
    );
    local_plugin(
        root,
        "other",
        json!({"name": "other", "version": "1.0.0"}),
        &[("shared", skill_md("shared", ""))],
    );
    marketplace(
        root,
        json!({"name": "m", "plugins": [
            {"name": "pdf", "source": "./pdf"},
            {"name": "other", "source": "./other"},
            {"name": "pdf", "source": "./other"},
        ]}),
    );
    let cat = read(root);
    assert_eq!(names(&cat, Kind::Plugin), ["other", "pdf"]);
    assert_eq!(names(&cat, Kind::Skill), ["shared"]);
    assert_eq!(
        item(&cat, Kind::Skill, "shared").plugin.as_deref(),
        Some("pdf")
    );
    assert_eq!(item(&cat, Kind::Plugin, "pdf").source_path, "pdf");
    let reasons: Vec<&str> = cat.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "plugin `pdf` from `other`: the name is already taken in this catalog by the plugin `pdf` (pdf); registry names are unique across kinds",
            "skill `pdf` from `pdf/skills/pdf`: the name is already taken in this catalog by the plugin `pdf` (pdf); registry names are unique across kinds",
            "skill `shared` from `other/skills/shared`: the name is already taken in this catalog by the skill `shared` of plugin `pdf`; registry names are unique across kinds",
            "skill `shared` from `other/skills/shared`: the name is already taken in this catalog by the skill `shared` of plugin `pdf`; registry names are unique across kinds",
        ]
    );
}

#[test]
fn unreadable_catalogs_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    assert!(matches!(
        read_catalog(root, None, &NoHistory),
        Err(MarketplaceError::Missing { .. })
    ));
    write(&root.join(".claude-plugin/marketplace.json"), "{ not json");
    let err = read_catalog(root, None, &NoHistory).unwrap_err();
    assert!(matches!(err, MarketplaceError::Invalid { .. }));
    assert!(err.to_string().contains("is not valid JSON"), "{err}");
    marketplace(root, json!({"name": "m"}));
    assert!(read_catalog(root, None, &NoHistory)
        .unwrap_err()
        .to_string()
        .contains("has no `plugins` list"));
    marketplace(root, json!({"plugins": []}));
    assert!(read_catalog(root, None, &NoHistory)
        .unwrap_err()
        .to_string()
        .contains("has no `name`"));
    assert!(matches!(
        read_catalog(&root.join("nope"), None, &NoHistory),
        Err(MarketplaceError::Io { .. })
    ));
}

#[test]
fn plugin_root_linked_skills_and_broken_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    local_plugin(
        root,
        "plugins/kit",
        json!({"name": "kit", "version": "1.0.0"}),
        &[],
    );
    local_plugin(
        root,
        "plugins/spelled",
        json!({"name": "spelled", "version": "1.0.0"}),
        &[],
    );
    write(
        &root.join("plugins/broken/.claude-plugin/plugin.json"),
        "{ nope",
    );
    write(
        &root.join("plugins/broken/skills/fine/SKILL.md"),
        skill_md("fine", ""),
    );
    // a skill folder linked from elsewhere in the checkout leaves its plugin
    write(&root.join("shared/linked/SKILL.md"), skill_md("linked", ""));
    local_plugin(
        root,
        "plugins/links",
        json!({"name": "links", "version": "1.0.0"}),
        &[],
    );
    fs::create_dir_all(root.join("plugins/links/skills")).unwrap();
    std::os::unix::fs::symlink(
        "../../../shared/linked",
        root.join("plugins/links/skills/linked"),
    )
    .unwrap();
    marketplace(
        root,
        json!({"name": "m", "metadata": {"pluginRoot": "./plugins"}, "plugins": [
            {"name": "kit", "source": "kit"},
            {"name": "spelled", "source": "./plugins/spelled"},
            {"name": "broken", "source": "broken"},
            {"name": "links", "source": "links"},
        ]}),
    );
    let cat = read(root);
    assert_eq!(names(&cat, Kind::Plugin), ["kit", "spelled"]);
    assert_eq!(item(&cat, Kind::Plugin, "kit").source_path, "plugins/kit");
    assert_eq!(
        item(&cat, Kind::Plugin, "spelled").source_path,
        "plugins/spelled"
    );
    assert!(skip_reason(&cat, "broken")
        .starts_with(".claude-plugin/plugin.json in `plugins/broken` is not valid JSON: "));
    // Claude Code cannot load the plugin, so its skills are not mirrored either
    assert_eq!(names(&cat, Kind::Skill), Vec::<&str>::new());
    assert_eq!(
        skip_reason(&cat, "linked"),
        "the skill folder `plugins/links/skills/linked` of plugin `links` is a symbolic link (to `../../../shared/linked`); skillreg never follows links in content from outside"
    );
    assert!(skip_reason(&cat, "links").contains("outside the bundle"));
}
