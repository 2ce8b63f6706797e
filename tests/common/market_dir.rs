//! A local Claude Code marketplace directory (what a `marketplace` source
//! with a `path` reads), written from a list of plugins.

use std::path::Path;

/// Writes `dir/.claude-plugin/marketplace.json` listing `plugins`
/// (`(name, version)`), each a plugin folder with a manifest and a README.
/// Writing it again with other versions is what an upstream release looks
/// like to the next sync.
pub fn write_marketplace(dir: &Path, plugins: &[(&str, &str)]) {
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let listed: Vec<serde_json::Value> = plugins
        .iter()
        .map(|(name, _)| {
            serde_json::json!({"name": name, "source": format!("./{name}"), "description": "A plugin."})
        })
        .collect();
    write(
        ".claude-plugin/marketplace.json",
        &serde_json::json!({"name": "team", "owner": {"name": "team"}, "plugins": listed})
            .to_string(),
    );
    for (name, version) in plugins {
        write(
            &format!("{name}/.claude-plugin/plugin.json"),
            &serde_json::json!({"name": name, "version": version, "description": "A plugin."})
                .to_string(),
        );
        write(
            &format!("{name}/README.md"),
            &format!("# {name}\n\nRelease {version}.\n"),
        );
    }
}
