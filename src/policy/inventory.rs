//! What a plugin runs on the user's machine: hooks, MCP servers, `bin/`
//! and scripts.

use super::*;

impl Eval<'_> {
    // ---- plugin inventory --------------------------------------------------

    pub(super) fn plugin_inventory(&mut self) {
        let manifest: Option<Value> = self
            .archive
            .file(plugin::PLUGIN_JSON)
            .and_then(|b| serde_json::from_slice(b).ok());
        // hooks: hooks/hooks.json, plus whatever plugin.json adds
        let mut hook_files: BTreeSet<String> = BTreeSet::new();
        if self.archive.entries.contains_key("hooks/hooks.json") {
            hook_files.insert("hooks/hooks.json".into());
        }
        let mut mcp_files: BTreeSet<String> = BTreeSet::new();
        if self.archive.entries.contains_key(".mcp.json") {
            mcp_files.insert(".mcp.json".into());
        }
        if let Some(m) = &manifest {
            match m.get("hooks") {
                Some(inline @ Value::Object(_)) => self.hooks(plugin::PLUGIN_JSON, inline),
                Some(v) => hook_files.extend(manifest_paths(v)),
                None => {}
            }
            match m.get("mcpServers") {
                Some(inline @ Value::Object(_)) => self.mcp_servers(plugin::PLUGIN_JSON, inline),
                Some(v) => mcp_files.extend(manifest_paths(v)),
                None => {}
            }
        }
        for file in hook_files {
            if let Some(json) = self.json_file("hook", &file) {
                self.hooks(&file, &json);
            }
        }
        for file in mcp_files {
            if let Some(json) = self.json_file("mcp-server", &file) {
                self.mcp_servers(&file, &json);
            }
        }
        // bin/
        let archive = self.archive;
        for entry in archive.entries.values() {
            if entry.path.starts_with("bin/") && entry.kind != EntryKind::Dir {
                let what = match &entry.kind {
                    EntryKind::Symlink(t) => format!(" (a link to `{t}`)"),
                    EntryKind::Hardlink(t) => format!(" (a hard link to `{t}`)"),
                    _ if entry.executable => " (executable)".to_string(),
                    _ => String::new(),
                };
                self.push(
                    "bin",
                    Severity::Info,
                    Some(&entry.path),
                    format!(
                        "`{}`{what} is in bin/, which Claude Code puts on PATH while the plugin is enabled",
                        entry.path
                    ),
                );
            }
        }
    }

    /// Reads a JSON component file named by the plugin, reporting what stops it.
    fn json_file(&mut self, rule: &str, file: &str) -> Option<Value> {
        let Some(bytes) = self.archive.file(file) else {
            let why = if self.archive.entries.contains_key(file) {
                "is not a regular file of at most 1 MiB, so it was not read"
            } else {
                "is named by plugin.json but is not in the bundle"
            };
            self.push(
                rule,
                Severity::Warning,
                Some(file),
                format!("`{file}` {why}"),
            );
            return None;
        };
        match serde_json::from_slice(bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(
                    rule,
                    Severity::Warning,
                    Some(file),
                    format!("`{file}` is not valid JSON ({e}), so what it configures is unknown"),
                );
                None
            }
        }
    }

    /// The table of a configuration file: the object under `key` when there
    /// is one (`{"hooks": {…}}`), else the whole object. Anything else is a
    /// `rule` warning that `source` configures `what` in an unrecognised form.
    fn table<'v>(
        &mut self,
        config: &'v Value,
        key: &str,
        rule: &str,
        source: &str,
        what: &str,
    ) -> Option<&'v serde_json::Map<String, Value>> {
        let table = match config.get(key) {
            Some(inner @ Value::Object(_)) => inner,
            _ => config,
        };
        if let Value::Object(table) = table {
            return Some(table);
        }
        self.push(
            rule,
            Severity::Warning,
            Some(source),
            format!(
                "`{source}` configures {what} in an unrecognised form: {}",
                compact(table)
            ),
        );
        None
    }

    /// One `hook` finding per handler of a hooks configuration (the object
    /// of hooks.json, plugin.json `hooks` or a skill's frontmatter `hooks`).
    pub(super) fn hooks(&mut self, source: &str, config: &Value) {
        let Some(events) = self.table(config, "hooks", "hook", source, "hooks") else {
            return;
        };
        for (event, groups) in events {
            let event = sanitize(event);
            let Value::Array(groups) = groups else {
                self.push(
                    "hook",
                    Severity::Info,
                    Some(source),
                    format!("`{event}` hook in `{source}`: {}", compact(groups)),
                );
                continue;
            };
            for group in groups {
                let matcher = match group.get("matcher").and_then(Value::as_str) {
                    Some(m) if !m.is_empty() => format!(" (matcher `{}`)", clip(&sanitize(m), 80)),
                    _ => String::new(),
                };
                let handlers = match group.get("hooks") {
                    Some(Value::Array(h)) => h.clone(),
                    // a bare handler without the matcher group
                    _ if group.get("type").is_some() => vec![group.clone()],
                    _ => Vec::new(),
                };
                if handlers.is_empty() {
                    self.push(
                        "hook",
                        Severity::Info,
                        Some(source),
                        format!("`{event}` hook{matcher} in `{source}`: {}", compact(group)),
                    );
                }
                for h in &handlers {
                    let kind = h.get("type").and_then(Value::as_str).unwrap_or("command");
                    let what = match (h.get("command"), h.get("url"), h.get("prompt")) {
                        (Some(Value::String(c)), _, _) => {
                            format!("runs the command `{}`", clip(&sanitize(c), 300))
                        }
                        (_, Some(Value::String(u)), _) => {
                            format!("calls `{}`", clip(&sanitize(u), 300))
                        }
                        (_, _, Some(Value::String(p))) => {
                            format!(
                                "{} hook with the prompt \"{}\"",
                                sanitize(kind),
                                clip(&sanitize(p), 200)
                            )
                        }
                        _ => format!("{} hook: {}", sanitize(kind), compact(h)),
                    };
                    self.push(
                        "hook",
                        Severity::Info,
                        Some(source),
                        format!("`{event}` hook{matcher} in `{source}` {what}"),
                    );
                }
            }
        }
    }

    /// One `mcp-server` finding per server of an MCP configuration.
    fn mcp_servers(&mut self, source: &str, config: &Value) {
        let Some(servers) = self.table(config, "mcpServers", "mcp-server", source, "MCP servers")
        else {
            return;
        };
        for (name, def) in servers {
            let name = sanitize(name);
            let what = match (def.get("command"), def.get("url")) {
                (Some(Value::String(cmd)), _) => {
                    let mut line = vec![cmd.clone()];
                    if let Some(Value::Array(args)) = def.get("args") {
                        line.extend(args.iter().map(|a| match a {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }));
                    }
                    format!("runs `{}`", clip(&sanitize(&line.join(" ")), 300))
                }
                (_, Some(Value::String(url))) => {
                    let kind = def.get("type").and_then(Value::as_str).unwrap_or("remote");
                    format!(
                        "connects to `{}` ({})",
                        clip(&sanitize(url), 300),
                        sanitize(kind)
                    )
                }
                _ => format!("is defined as {}", compact(def)),
            };
            self.push(
                "mcp-server",
                Severity::Info,
                Some(source),
                format!("MCP server `{name}` in `{source}` {what}"),
            );
        }
    }

    /// Files with an execute bit or a `#!` line (skills, plugins and crates).
    pub(super) fn scripts(&mut self) {
        let archive = self.archive;
        for entry in archive.entries.values() {
            if !matches!(entry.kind, EntryKind::File | EntryKind::Hardlink(_)) {
                continue;
            }
            let shebang = archive
                .file(&entry.path)
                .filter(|c| c.starts_with(b"#!"))
                .map(|c| {
                    let end = c
                        .iter()
                        .position(|b| *b == b'\n')
                        .unwrap_or(c.len())
                        .min(200);
                    sanitize(String::from_utf8_lossy(&c[..end]).trim())
                });
            let detail = match (entry.executable, shebang) {
                (false, None) => continue,
                (true, None) => format!("`{}` is executable", entry.path),
                (false, Some(s)) => format!("`{}` starts with `{s}`", entry.path),
                (true, Some(s)) => format!("`{}` is executable and starts with `{s}`", entry.path),
            };
            self.push("script", Severity::Info, Some(&entry.path), detail);
        }
    }
}

/// Archive paths from a plugin.json component value (a `./path` or a list).
pub(super) fn manifest_paths(v: &Value) -> Vec<String> {
    let items: Vec<&str> = match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|p| crate::bundle::archive::normalize_path(p).ok())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The `hooks` of a `SKILL.md` frontmatter, as JSON.
pub(super) fn frontmatter_hooks(text: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let yaml = crate::bundle::skill::frontmatter(text)?;
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).ok()?;
    let hooks = yaml.get("hooks")?;
    if hooks.is_null() {
        return None;
    }
    Some(serde_json::to_value(hooks).unwrap_or_else(|_| Value::String(format!("{hooks:?}"))))
}
