//! Claude Code (npm `@anthropic-ai/claude-code`, the native binary) against
//! the marketplace over the daemon's own TLS: `claude plugin marketplace
//! add`, `plugin install` of a plugin and of a skill served as a plugin,
//! `plugin validate --strict`, quarantine, and marketplace `headers` on an
//! `auth_required` registry.
//!
//! Claude Code downloads archives over https only and refuses loopback
//! host names, so the daemon is reached as [`TEST_HOST`] (mapped to
//! 127.0.0.1 in /etc/hosts) with a certificate from a test CA that the
//! binary trusts through `NODE_EXTRA_CA_CERTS`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::*;
use skillreg::feeds::archive::Shape;
use skillreg::package::Kind;

/// The marketplace name users type after `@` (the default config).
const MARKETPLACE: &str = "skillreg";

/// A daemon serving TLS at `https://skillreg.test:PORT`, its public URL.
struct TlsRegistry {
    d: Daemon,
    ca: TestCa,
    url: String,
}

impl TlsRegistry {
    /// `top` holds top-level keys, `tables` whole tables (e.g. sources).
    fn start(top: &str, tables: &str) -> TlsRegistry {
        assert_test_host_resolves();
        let ca = TestCa::new(&[TEST_HOST]);
        let d = Daemon::on_free_port(
            |port| {
                format!(
                    "public_url = \"https://{TEST_HOST}:{port}\"\n{top}\n{tables}\n{}",
                    ca.tls_toml()
                )
            },
            &[("SKILLREG_LOG", "debug")],
        );
        let port = d.url.rsplit(':').next().unwrap().to_string();
        let url = format!("https://{TEST_HOST}:{port}");
        TlsRegistry { d, ca, url }
    }

    /// The same daemon stopped and started again (on its port): a start
    /// renders every document from the store.
    fn restart(self) -> TlsRegistry {
        let d = self.d.restart(&[("SKILLREG_LOG", "debug")]);
        TlsRegistry { d, ..self }
    }

    fn admin(&self) -> Admin<'_> {
        Admin {
            url: self.url.clone(),
            token: &self.d.admin,
            ca: Some(&self.ca.ca_pem),
        }
    }

    /// The stored bundle of `name@version`, read as the admin.
    fn bundle(&self, name: &str, version: &str) -> Vec<u8> {
        let url = format!("{}/api/v1/crates/{name}/{version}/download", self.url);
        let (status, body) = self.ca.get(&url, Some(&self.d.admin));
        assert_eq!(status, 200, "download {name}@{version}");
        body
    }

    /// The served marketplace, read with `auth` as the Authorization
    /// value: name → (url, sha256) of each archive source.
    fn marketplace_as(&self, auth: Option<&str>) -> BTreeMap<String, (String, String)> {
        let (status, body) = self.ca.get(&self.marketplace_url(), auth);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
        catalog["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let source = &p["source"];
                assert_eq!(source["source"], "archive", "{p}");
                let field = |k: &str| source[k].as_str().unwrap().to_string();
                (
                    p["name"].as_str().unwrap().to_string(),
                    (field("url"), field("sha256")),
                )
            })
            .collect()
    }

    /// The served marketplace, read anonymously.
    fn marketplace(&self) -> BTreeMap<String, (String, String)> {
        self.marketplace_as(None)
    }

    fn marketplace_url(&self) -> String {
        format!("{}/claude/marketplace.json", self.url)
    }
}

/// A Claude Code user: a HOME of their own and a project directory.
struct ClaudeUser {
    tools: AgentTools,
    dir: tempfile::TempDir,
    ca_pem: PathBuf,
}

impl ClaudeUser {
    fn new(registry: &TlsRegistry) -> ClaudeUser {
        let user = ClaudeUser {
            tools: AgentTools::get(),
            dir: tempfile::tempdir().unwrap(),
            ca_pem: registry.ca.ca_pem.clone(),
        };
        std::fs::create_dir_all(user.dir.path().join("project")).unwrap();
        user
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `claude ARGS`, trusting the test CA.
    fn claude(&self, args: &[&str]) -> ToolRun {
        ToolRun::of(
            self.tools
                .claude(&self.home(), &self.dir.path().join("project"))
                .env("NODE_EXTRA_CA_CERTS", &self.ca_pem)
                .args(args),
        )
    }

    /// The files Claude Code installed for `plugin@version`.
    fn cached(&self, plugin: &str, version: &str) -> BTreeMap<String, Vec<u8>> {
        let dir = self
            .home()
            .join(".claude/plugins/cache")
            .join(MARKETPLACE)
            .join(plugin)
            .join(version);
        assert!(dir.is_dir(), "{} is not installed", dir.display());
        tree(&dir)
    }
}

#[test]
fn claude_code_installs_a_plugin_and_a_skill_from_the_marketplace_over_tls() {
    let reg = TlsRegistry::start("", "");
    let admin = reg.admin();
    admin.publish(&example_dir("hello-plugin"));
    admin.publish(&example_dir("hello-skill"));
    let user = ClaudeUser::new(&reg);

    // The served file passes Claude Code's own strict check.
    let (status, served) = reg.ca.get(&reg.marketplace_url(), None);
    assert_eq!(status, 200);
    let file = user.dir.path().join("marketplace.json");
    std::fs::write(&file, &served).unwrap();
    user.claude(&["plugin", "validate", file.to_str().unwrap(), "--strict"])
        .ok();

    user.claude(&["plugin", "marketplace", "add", &reg.marketplace_url()])
        .ok();
    user.claude(&["plugin", "install", &format!("hello-plugin@{MARKETPLACE}")])
        .ok();
    assert_same_files(
        &user.cached("hello-plugin", "0.1.0"),
        &bundle_files(&reg.bundle("hello-plugin", "0.1.0")),
        "the plugin is installed as its bundle's files, byte for byte",
    );

    // A skill is a plugin of one skill: its files under skills/<name>/,
    // beside the manifest the registry writes for it.
    user.claude(&["plugin", "install", &format!("hello-skill@{MARKETPLACE}")])
        .ok();
    let mut cached = user.cached("hello-skill", "1.0.0");
    let manifest = cached.remove(".claude-plugin/plugin.json").unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        (&manifest["name"], &manifest["version"]),
        (&"hello-skill".into(), &"1.0.0".into())
    );
    let expected: BTreeMap<String, Vec<u8>> = bundle_files(&reg.bundle("hello-skill", "1.0.0"))
        .into_iter()
        .map(|(path, bytes)| (format!("skills/hello-skill/{path}"), bytes))
        .collect();
    assert_same_files(
        &cached,
        &expected,
        "the skill-as-plugin holds the bundle's files",
    );
}

#[test]
fn with_auth_required_claude_code_needs_a_token_in_the_marketplace_headers() {
    let reg = TlsRegistry::start("auth_required = true", "");
    reg.admin().publish(&example_dir("hello-plugin"));
    let reader = reg.d.token("reader", "rita");
    let user = ClaudeUser::new(&reg);

    let refused = user
        .claude(&["plugin", "marketplace", "add", &reg.marketplace_url()])
        .exited(1)
        .output();
    assert!(refused.contains("401"), "{refused}");
    // The archive too needs the token: what installs below sent it.
    let (zip_url, _) =
        reg.marketplace_as(Some(&format!("Bearer {reader}")))["hello-plugin"].clone();
    assert_eq!(reg.ca.get(&zip_url, None).0, 401);

    // The documented steps: the marketplace's entry written by hand, with
    // the token in its `headers`; then update and install as usual.
    write_known_marketplace(&user, &reg.marketplace_url(), &reader);
    user.claude(&["plugin", "marketplace", "update", MARKETPLACE])
        .ok();
    user.claude(&["plugin", "install", &format!("hello-plugin@{MARKETPLACE}")])
        .ok();
    assert_same_files(
        &user.cached("hello-plugin", "0.1.0"),
        &bundle_files(&reg.bundle("hello-plugin", "0.1.0")),
        "installed as the bundle's files",
    );
    let log = reg.d.log();
    assert!(log.contains("path=/claude/files/"), "{log}");
    assert!(
        !log.contains(reader.rsplit('_').next().unwrap()),
        "the log shows the token: {log}"
    );
}

/// `~/.claude/plugins/known_marketplaces.json` naming the marketplace at
/// `url` with an Authorization header: the one place Claude Code reads
/// request headers for a URL marketplace from (its CLI has no flag for
/// them, and `marketplace add` cannot fetch the catalog without them).
fn write_known_marketplace(user: &ClaudeUser, url: &str, token: &str) {
    let plugins = user.home().join(".claude/plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let entry = serde_json::json!({
        MARKETPLACE: {
            "source": {
                "source": "url",
                "url": url,
                "headers": {"Authorization": format!("Bearer {token}")},
            },
            // Both are required; Claude Code fills them in on update.
            "installLocation": plugins.join("marketplaces").join(MARKETPLACE),
            "lastUpdated": "2026-01-01T00:00:00.000Z",
        }
    });
    std::fs::write(
        plugins.join("known_marketplaces.json"),
        serde_json::to_vec_pretty(&entry).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_pending_plugin_is_left_out_of_the_marketplace_until_approved() {
    let upstream = Daemon::start();
    Admin::of(&upstream).publish(&example_dir("hello-plugin"));
    let keys = tempfile::tempdir().unwrap();
    let reg = TlsRegistry::start("", &mirror_source_toml(&upstream, keys.path()));
    let admin = reg.admin();
    admin.publish(&example_dir("hello-skill"));
    admin.sync_up();
    assert_eq!(admin.pending(), ["hello-plugin@0.1.0"]);
    let reg = reg.restart();
    let admin = reg.admin();

    assert!(!reg.marketplace().contains_key("hello-plugin"));
    assert!(reg.marketplace().contains_key("hello-skill"));
    let pending = reg.bundle("hello-plugin", "0.1.0");
    let sha = feed_zip_sha256(
        &pending,
        Kind::Plugin,
        "hello-plugin",
        "0.1.0",
        "A tiny Claude Code plugin with one skill",
        "mirror:up",
        Shape::Plugin,
    );
    let zip_url = format!("{}/claude/files/{sha}.zip", reg.url);
    assert_eq!(reg.ca.get(&zip_url, None).0, 404);
    assert_eq!(
        reg.ca.get(&zip_url, Some(&reg.d.admin)).0,
        404,
        "not even to an admin"
    );

    // Approval re-renders once, before it returns: no waiting.
    admin.approve("hello-plugin@0.1.0");
    assert_eq!(
        reg.marketplace()["hello-plugin"],
        (zip_url.clone(), sha.clone())
    );
    assert_eq!(reg.ca.get(&zip_url, None).0, 200);
    let user = ClaudeUser::new(&reg);
    user.claude(&["plugin", "marketplace", "add", &reg.marketplace_url()])
        .ok();
    user.claude(&["plugin", "install", &format!("hello-plugin@{MARKETPLACE}")])
        .ok();
    assert_same_files(
        &user.cached("hello-plugin", "0.1.0"),
        &bundle_files(&pending),
        "installed as the bundle's files",
    );
}

/// A copy of examples/hello-plugin at `version`, in `dir`.
fn hello_plugin_at(dir: &std::path::Path, version: &str) -> PathBuf {
    let path = dir.join(format!("hello-plugin-{version}"));
    copy_tree(&example_dir("hello-plugin"), &path);
    let manifest = path.join(".claude-plugin/plugin.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("\"0.1.0\"", &format!("\"{version}\"")),
    )
    .unwrap();
    path
}

#[test]
fn a_catalog_claude_code_cached_still_installs_after_a_newer_version_is_approved_and_update_brings_it(
) {
    let reg = TlsRegistry::start("", "");
    let admin = reg.admin();
    let src = tempfile::tempdir().unwrap();
    admin.publish(&hello_plugin_at(src.path(), "0.1.0"));
    let user = ClaudeUser::new(&reg);
    user.claude(&["plugin", "marketplace", "add", &reg.marketplace_url()])
        .ok();
    let (old_url, _) = reg.marketplace()["hello-plugin"].clone();

    // Claude Code installs from its cached catalog, which still names
    // 0.1.0's zip: that zip must stay served while 0.1.0 is approved.
    admin.publish(&hello_plugin_at(src.path(), "0.2.0"));
    assert_ne!(reg.marketplace()["hello-plugin"].0, old_url);
    user.claude(&["plugin", "install", &format!("hello-plugin@{MARKETPLACE}")])
        .ok();
    assert_same_files(
        &user.cached("hello-plugin", "0.1.0"),
        &bundle_files(&reg.bundle("hello-plugin", "0.1.0")),
        "installed as the bundle's files",
    );

    // Refreshed, the catalog brings 0.2.0 to `plugin update`.
    user.claude(&["plugin", "marketplace", "update", MARKETPLACE])
        .ok();
    user.claude(&["plugin", "update", &format!("hello-plugin@{MARKETPLACE}")])
        .ok();
    assert_same_files(
        &user.cached("hello-plugin", "0.2.0"),
        &bundle_files(&reg.bundle("hello-plugin", "0.2.0")),
        "updated to the bundle's files",
    );

    // Yanked, it is not served to anyone holding an old catalog.
    admin.run(&["yank", "hello-plugin@0.1.0"]);
    assert_eq!(reg.ca.get(&old_url, None).0, 404);
}
