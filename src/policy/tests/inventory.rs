//! What a plugin runs: hooks, MCP servers, `bin/`, scripts.

use super::*;

#[test]
fn plugin_inventory_lists_what_runs() {
    let manifest = br#"{"name": "kit", "license": "MIT", "hooks": "./extra/hooks.json",
        "mcpServers": {"db": {"command": "npx", "args": ["-y", "db-mcp"]}}}"#;
    let hooks = br#"{"hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/check.sh"},
        {"type": "prompt", "prompt": "Is this safe?"}]}]}}"#;
    let extra = br#"{"Stop": [{"hooks": [{"type": "command", "command": "echo bye"}]}]}"#;
    let mcp = br#"{"mcpServers": {"search": {"type": "http", "url": "https://mcp.example/s"}}}"#;
    let b = bundle(&[
        (".claude-plugin/plugin.json", manifest, false),
        ("hooks/hooks.json", hooks, false),
        ("extra/hooks.json", extra, false),
        (".mcp.json", mcp, false),
        ("bin/kit-tool", b"#!/usr/bin/env python3\nprint(1)\n", true),
        ("check.sh", b"#!/bin/sh\nexit 0\n", false),
        ("tools/run", b"echo no shebang\n", true),
        ("README.md", b"# kit\n", false),
    ]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    let hooks = of(&f, "hook");
    assert_eq!(hooks.len(), 3, "{hooks:#?}");
    assert!(hooks
        .iter()
        .any(|h| h.path.as_deref() == Some("hooks/hooks.json")
            && h.detail.contains("`PreToolUse` hook (matcher `Bash`)")
            && h.detail
                .contains("runs the command `${CLAUDE_PLUGIN_ROOT}/check.sh`")));
    assert!(hooks
        .iter()
        .any(|h| h.detail.contains("prompt \"Is this safe?\"")));
    assert!(hooks
        .iter()
        .any(|h| h.path.as_deref() == Some("extra/hooks.json")
            && h.detail.contains("`Stop`")
            && h.detail.contains("echo bye")));
    let mcps = of(&f, "mcp-server");
    assert_eq!(mcps.len(), 2, "{mcps:#?}");
    assert!(mcps.iter().any(|m| m.detail.contains("`db`")
        && m.detail.contains("runs `npx -y db-mcp`")
        && m.path.as_deref() == Some(plugin::PLUGIN_JSON)));
    assert!(mcps.iter().any(|m| m.detail.contains("`search`")
        && m.detail.contains("https://mcp.example/s")
        && m.detail.contains("(http)")));
    let bin = one(&f, "bin");
    assert_eq!(bin.path.as_deref(), Some("bin/kit-tool"));
    let scripts: Vec<_> = of(&f, "script")
        .iter()
        .map(|s| s.path.clone().unwrap())
        .collect();
    assert_eq!(scripts, ["bin/kit-tool", "check.sh", "tools/run"]);
    assert!(f
        .iter()
        .filter(|x| ["hook", "mcp-server", "bin", "script"].contains(&x.rule.as_str()))
        .all(|x| x.severity == Severity::Info));
    // a plugin with none of these has no inventory
    let b = bundle(&[(".claude-plugin/plugin.json", PLUGIN, false)]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    assert!(f.is_empty(), "{f:#?}");
    // a broken or missing hooks file is a warning
    let b = bundle(&[
        (
            ".claude-plugin/plugin.json",
            br#"{"name": "kit", "mcpServers": "./missing.json"}"#,
            false,
        ),
        ("hooks/hooks.json", b"{not json", false),
    ]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Plugin,
        "kit",
        Some("MIT"),
        &b,
        &limits(),
    )
    .unwrap();
    assert_eq!(one(&f, "hook").severity, Severity::Warning);
    assert!(one(&f, "mcp-server").detail.contains("not in the bundle"));
}

#[test]
fn skill_frontmatter_hooks_are_listed() {
    let text = b"---\nname: demo\ndescription: d\nlicense: MIT\nhooks:\n  PostToolUse:\n    - matcher: Edit\n      hooks:\n        - type: command\n          command: ./fmt.sh\n---\n";
    let b = bundle(&[("SKILL.md", text, false)]);
    let f = evaluate(
        &PolicyConfig::default(),
        Kind::Skill,
        "demo",
        None,
        &b,
        &limits(),
    )
    .unwrap();
    let h = one(&f, "hook");
    assert!(
        h.detail.contains("`PostToolUse` hook (matcher `Edit`)") && h.detail.contains("./fmt.sh"),
        "{}",
        h.detail
    );
    // `hooks` is also an unknown spec key
    assert_eq!(one(&f, "skill-md").severity, Severity::Info);
}
