//! Test support for the registry's own tests: a registry in a fresh data
//! directory, and a skill published to it.

use std::path::Path;

use crate::config::Config;
use crate::registry::{PublishMetadata, Registry};
use crate::token::{Identity, Role};

/// A registry in a fresh data directory (kept alive by the returned dir).
pub(super) fn open_registry() -> (tempfile::TempDir, Registry) {
    open_registry_with(|_| {})
}

/// Like [`open_registry`], with `configure` applied first to the default
/// configuration (whose `data_dir` is `data` below the returned dir).
pub(super) fn open_registry_with(
    configure: impl FnOnce(&mut Config),
) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    configure(&mut config);
    let registry = Registry::open(&config, "http://127.0.0.1:1").unwrap();
    (dir, registry)
}

/// Publishes the skill `name` 1.0.0 as the admin, packed from a folder
/// written below `dir`.
pub(super) fn publish_skill(registry: &Registry, dir: &Path, name: &str) {
    let skill = dir.join(name);
    std::fs::create_dir_all(&skill).unwrap();
    std::fs::write(
        skill.join("SKILL.md"),
        format!("---\nname: {name}\ndescription: A test skill.\nmetadata:\n  version: \"1.0.0\"\n---\n# {name}\n"),
    )
    .unwrap();
    let tarball = crate::bundle::pack::pack_dir(&skill).unwrap();
    let meta: PublishMetadata = serde_json::from_value(
        serde_json::json!({"name": name, "vers": "1.0.0", "kind": "skill", "deps": [], "features": {}}),
    )
    .unwrap();
    let admin = Identity {
        token_id: 1,
        login: "admin".into(),
        role: Role::Admin,
    };
    registry.publish(&admin, &meta, &tarball).unwrap();
}
