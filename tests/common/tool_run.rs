//! Running an outside tool (the agents' CLIs) with a deadline, and what it
//! printed, without terminal colours.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest any one run of an agent tool may take: the `skills` CLI gives
/// all its requests 10 s, and Claude Code starts in about a second.
const DEADLINE: Duration = Duration::from_secs(120);

/// How a tool run ended and what it printed (ANSI escapes removed).
pub struct ToolRun {
    /// What ran, for messages.
    pub what: String,
    /// Its exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ToolRun {
    /// Runs `cmd` to its end; kills it and fails the test after
    /// [`DEADLINE`]. Output goes to files, so a chatty tool never blocks on
    /// a full pipe.
    pub fn of(cmd: &mut Command) -> ToolRun {
        let what = format!("{cmd:?}");
        let dir = tempfile::tempdir().unwrap();
        let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} ran longer than {DEADLINE:?}; it printed: {}{}",
                    plain(&std::fs::read(&out_path).unwrap_or_default()),
                    plain(&std::fs::read(&err_path).unwrap_or_default())
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        ToolRun {
            what,
            code: status.code(),
            stdout: plain(&std::fs::read(&out_path).unwrap()),
            stderr: plain(&std::fs::read(&err_path).unwrap()),
        }
    }

    /// Both outputs, for assertions on what it said.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Asserts the run exited 0.
    pub fn ok(self) -> ToolRun {
        assert_eq!(
            self.code,
            Some(0),
            "{} failed:\n{}",
            self.what,
            self.output()
        );
        self
    }

    /// Asserts the run exited with `code`.
    pub fn exited(self, code: i32) -> ToolRun {
        assert_eq!(
            self.code,
            Some(code),
            "{} should have exited {code}:\n{}",
            self.what,
            self.output()
        );
        self
    }
}

/// Text without terminal escapes (colours, cursor moves).
fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let escapes = regex::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").unwrap();
    escapes.replace_all(&text, "").into_owned()
}
