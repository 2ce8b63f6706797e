//! What the agent-client tests do to a registry, through the skillreg CLI
//! as an admin would (so an HTTPS daemon is driven the same way, with its
//! CA): publish a directory, approve a pending version, mirror an upstream
//! so versions arrive pending; and what they compare against: a bundle's
//! files, and the zip a feed serves for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{cli, export_root, Daemon};

/// Where and as whom the skillreg CLI reaches a daemon.
pub struct Admin<'a> {
    /// The registry URL (for TLS, the name its certificate is for).
    pub url: String,
    /// The admin token.
    pub token: &'a str,
    /// The CA to trust for HTTPS.
    pub ca: Option<&'a Path>,
}

impl<'a> Admin<'a> {
    /// The admin of `d` at its own URL (plain HTTP).
    pub fn of(d: &'a Daemon) -> Admin<'a> {
        Admin {
            url: d.url.clone(),
            token: &d.admin,
            ca: None,
        }
    }

    /// Runs `skillreg ARGS --registry URL --token T [--ca-cert CA]`;
    /// panics unless it succeeds, returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--registry", &self.url, "--token", self.token]);
        if let Some(ca) = self.ca {
            all.extend(["--ca-cert", ca.to_str().unwrap()]);
        }
        let out = cli(&all);
        assert!(
            out.status.success(),
            "skillreg {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `skillreg publish DIR`.
    pub fn publish(&self, dir: &Path) {
        self.run(&["publish", dir.to_str().unwrap()]);
    }

    /// `skillreg admin approve NAME@VERSION`: visible once this returns.
    pub fn approve(&self, spec: &str) {
        self.run(&["admin", "approve", spec, "--note", "reviewed"]);
    }

    /// `skillreg admin sync up --wait`: the source `up` of
    /// [`mirror_source_toml`] synced (it fails unless the run completes).
    pub fn sync_up(&self) {
        self.run(&["admin", "sync", "up", "--wait"]);
    }

    /// `skillreg admin pending`: every `name@version` waiting for review.
    pub fn pending(&self) -> Vec<String> {
        let out = self.run(&["admin", "pending", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["pending"]
            .as_array()
            .unwrap_or_else(|| panic!("{out}"))
            .iter()
            .map(|p| {
                format!(
                    "{}@{}",
                    p["name"].as_str().unwrap(),
                    p["version"].as_str().unwrap()
                )
            })
            .collect()
    }
}

/// `[[sources]]` mirroring `upstream` as the source `up`, synced only on
/// demand and never auto-approved: what it publishes arrives pending. Its
/// root key is written into `dir`.
pub fn mirror_source_toml(upstream: &Daemon, dir: &Path) -> String {
    let root = export_root(&upstream.data, dir, "up-root.json");
    format!(
        "[[sources]]\nname = \"up\"\nkind = \"registry\"\nurl = {:?}\nroot_key = {:?}\ninterval = \"0\"\n",
        upstream.url, root
    )
}

/// An example from `examples/`.
pub fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// A skill of several files in `dir/name`: SKILL.md (its body says
/// `body`), an executable script and a nested reference file.
pub fn rich_skill(dir: &Path, name: &str, version: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::create_dir_all(path.join("scripts")).unwrap();
    std::fs::create_dir_all(path.join("reference/deep")).unwrap();
    std::fs::write(
        path.join("SKILL.md"),
        format!(
            "---\nname: {name}\ndescription: The {name} skill, for tests.\nmetadata:\n  version: \"{version}\"\n---\n# {name}\n\n{body}\n"
        ),
    )
    .unwrap();
    let script = path.join("scripts/check.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho {name} {version}\n")).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        path.join("reference/deep/notes.md"),
        format!("Notes of {name} {version}.\n"),
    )
    .unwrap();
    path
}

/// The regular files of a bundle (tar.gz): path → bytes.
pub fn bundle_files(bundle: &[u8]) -> BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bundle));
    let mut out = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.insert(path, data);
    }
    out
}

/// The hex sha256 of the zip a feed serves for a bundle, rendered the way
/// the registry renders it: so a test knows a pending version's zip URL
/// before the registry would ever name it. `publisher` is the login that
/// published it (`admin`, or `mirror:SOURCE` when mirrored).
pub fn feed_zip_sha256(
    bundle: &[u8],
    kind: skillreg::package::Kind,
    name: &str,
    version: &str,
    description: &str,
    publisher: &str,
    shape: skillreg::feeds::archive::Shape,
) -> String {
    let source = skillreg::feeds::archive::Source {
        bundle,
        kind,
        name,
        version,
        description,
        publisher,
    };
    let zip = skillreg::feeds::archive::render(
        &source,
        shape,
        &skillreg::bundle::ArchiveLimits::default(),
    )
    .unwrap();
    skillreg::blobs::Sha256Digest::of(&zip).to_hex()
}

/// Asserts two file trees (path → bytes) are equal, naming the paths that
/// differ rather than printing bytes.
pub fn assert_same_files(
    actual: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let differ: Vec<&String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|path| actual.get(*path) != expected.get(*path))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        differ.is_empty(),
        "{what}: these files differ or exist on one side only: {differ:?}"
    );
}
