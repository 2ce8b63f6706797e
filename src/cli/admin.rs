//! `skillreg admin …`: the admin endpoint from the command line, readable
//! for people by default, JSON with `--json`.

use clap::Subcommand;

use super::Remote;
use crate::fsutil::rfc3339;

/// Admin commands.
#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// List mirrored versions waiting for a decision; with `--source` and
    /// `--run`, approve (or reject) every pending version that run resolved,
    /// such as a lockfile's whole closure, in one call.
    Pending {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
        /// With `--run`: the source whose run it is.
        #[arg(long, requires = "run")]
        source: Option<String>,
        /// With `--source`: the sync run whose pending versions to decide.
        #[arg(long, requires = "source")]
        run: Option<i64>,
        /// Approve the run's pending versions.
        #[arg(long, requires = "run", conflicts_with = "reject")]
        approve: bool,
        /// Reject the run's pending versions, with this reason.
        #[arg(long, requires = "run")]
        reject: Option<String>,
        /// The approval's note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Mirror what a Cargo.lock locks (exactly those versions) through the
    /// `sparse` source `--source`, in a run of its own; print the run.
    MirrorLockfile {
        /// The Cargo.lock.
        lockfile: std::path::PathBuf,
        /// The `sparse` source to fetch through.
        #[arg(long)]
        source: String,
        /// Wait for the run to finish and print its result.
        #[arg(long)]
        wait: bool,
        /// Wait, then approve every pending version the run resolved.
        #[arg(long)]
        approve: bool,
        /// The approval's note.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Approve NAME@VERSION: it becomes visible to clients.
    Approve {
        /// NAME@VERSION.
        spec: String,
        /// Why (kept in the audit log and the signed decision).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Reject NAME@VERSION: it stays out, also across re-syncs.
    Reject {
        /// NAME@VERSION.
        spec: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Start a sync of one source (or `all`) and print the run id.
    Sync {
        /// Source name, or `all`.
        #[arg(default_value = "all")]
        source: String,
        /// Wait for the runs to finish and print their results.
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show sync runs, newest first.
    Runs {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the configured sources, their status and schedule.
    Sources {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the skills and plugins the agent-tool feeds leave out, and why.
    Feeds {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the audit log, newest first.
    Audit {
        #[command(flatten)]
        remote: Remote,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_run(r: &crate::api::SyncRunInfo) {
    println!(
        "run {} {} {}: discovered {}, added {}, updated {}, unchanged {}, pending {}, rejected {}, skipped {}, failed {}",
        r.id, r.source, r.run.status, r.run.discovered, r.run.added, r.run.updated, r.run.unchanged, r.run.pending, r.run.rejected, r.run.skipped, r.run.failed
    );
    if let Some(e) = &r.run.error {
        println!("  error: {e}");
    }
    for d in &r.run.detail {
        println!("  {d}");
    }
}

fn split_spec(spec: &str) -> Result<(&str, &str), String> {
    spec.rsplit_once('@')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| format!("`{spec}` is not NAME@VERSION"))
}

/// Runs an admin command.
pub(crate) fn run(cmd: AdminCommand) -> Result<(), String> {
    match cmd {
        AdminCommand::Pending {
            remote,
            json,
            source: Some(source),
            run: Some(run),
            approve,
            reject,
            note,
        } => {
            let (approve, note) = match (approve, reject) {
                (true, None) => (true, note),
                (false, Some(reason)) => (false, reason),
                _ => return Err("with --source and --run, say --approve or --reject REASON".into()),
            };
            decide_run(&remote, &source, run, approve, &note, json)
        }
        AdminCommand::Pending { remote, json, .. } => {
            let pending = remote
                .client()?
                .admin_pending()
                .map_err(|e| e.to_string())?;
            print_or_json(&pending, json, print_pending)
        }
        AdminCommand::MirrorLockfile {
            lockfile,
            source,
            wait,
            approve,
            note,
            remote,
        } => mirror_lockfile(&remote, &lockfile, &source, wait || approve, approve, &note),
        AdminCommand::Approve { spec, note, remote } => decide(&remote, &spec, true, &note),
        AdminCommand::Reject {
            spec,
            reason,
            remote,
        } => decide(&remote, &spec, false, &reason),
        AdminCommand::Sync {
            source,
            wait,
            remote,
        } => sync(&remote, &source, wait),
        AdminCommand::Runs { remote, json } => {
            let runs = remote.client()?.admin_runs().map_err(|e| e.to_string())?;
            print_or_json(&runs, json, |runs| runs.runs.iter().for_each(print_run))
        }
        AdminCommand::Sources { remote, json } => {
            let sources = remote
                .client()?
                .admin_sources()
                .map_err(|e| e.to_string())?;
            print_or_json(&sources, json, print_sources)
        }
        AdminCommand::Feeds { remote, json } => {
            let feeds = remote.client()?.admin_feeds().map_err(|e| e.to_string())?;
            print_or_json(&feeds, json, print_feeds)
        }
        AdminCommand::Audit { remote, json } => {
            let audit = remote.client()?.admin_audit().map_err(|e| e.to_string())?;
            print_or_json(&audit, json, print_audit)
        }
    }
}

/// Prints `value` as pretty JSON with `--json`, else for people.
fn print_or_json<T: serde::Serialize>(
    value: &T,
    json: bool,
    human: impl FnOnce(&T),
) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serializes")
        );
    } else {
        human(value);
    }
    Ok(())
}

fn print_pending(pending: &crate::api::PendingResponse) {
    if pending.pending.is_empty() {
        println!("nothing is waiting for review");
    }
    for p in &pending.pending {
        let source = p.source.as_deref().unwrap_or("local");
        let findings = p.findings.as_array().map_or(0, Vec::len);
        println!(
            "{}@{} ({}) from {source}, sha256:{}",
            p.name, p.version, p.kind, p.cksum
        );
        match &p.diff.against {
            Some(v) => println!(
                "  changes since {v}: {} added, {} removed, {} changed",
                p.diff.added.len(),
                p.diff.removed.len(),
                p.diff.changed.len()
            ),
            None => println!(
                "  first version: {} files",
                p.files.as_array().map_or(0, Vec::len)
            ),
        }
        println!("  {findings} finding(s)");
        for f in p.findings.as_array().into_iter().flatten() {
            println!(
                "    [{}] {}: {}",
                f["severity"].as_str().unwrap_or("?"),
                f["rule"].as_str().unwrap_or("?"),
                f["detail"].as_str().unwrap_or("")
            );
        }
    }
}

fn print_feeds(feeds: &crate::api::FeedsResponse) {
    if feeds.left_out.is_empty() {
        println!("every approved skill and plugin is in the feeds");
    }
    for l in &feeds.left_out {
        let feed = match l.feed.as_str() {
            "skills" => "the skills index and ClawHub",
            _ => "the Claude Code marketplace",
        };
        println!("{}@{} is not in {feed}: {}", l.name, l.version, l.reason);
    }
}

fn print_sources(sources: &crate::api::SourcesResponse) {
    if sources.sources.is_empty() {
        println!("no sources are configured (see [[sources]] in config/skillreg.toml)");
    }
    for s in &sources.sources {
        let next = s.next_run.map_or("manual only".to_string(), rfc3339);
        let last = s
            .last_run
            .map_or("never".to_string(), |id| format!("run {id}"));
        println!(
            "{}  ({:?}, {})  last: {last}  next: {next}",
            s.name, s.kind, s.status
        );
    }
}

fn print_audit(audit: &crate::api::AuditResponse) {
    for r in &audit.audit {
        println!(
            "{}  {:<12} {:<16} {}  {}",
            rfc3339(r.at),
            r.actor,
            r.action,
            r.subject,
            r.detail
        );
    }
}

/// `approve` or `reject` one version.
fn decide(remote: &Remote, spec: &str, approve: bool, note: &str) -> Result<(), String> {
    let (name, version) = split_spec(spec)?;
    remote
        .client()?
        .admin_decide(name, version, approve, note)
        .map_err(|e| e.to_string())?;
    println!(
        "{} {name}@{version}",
        if approve { "approved" } else { "rejected" }
    );
    Ok(())
}

/// Decides every pending version run `run` of `source` resolved.
fn decide_run(
    remote: &Remote,
    source: &str,
    run: i64,
    approve: bool,
    note: &str,
    json: bool,
) -> Result<(), String> {
    let results = remote
        .client()?
        .admin_decide_run(source, run, approve, note)
        .map_err(|e| e.to_string())?;
    let failed = results.results.iter().filter(|r| !r.ok).count();
    print_or_json(&results, json, |results| {
        for r in &results.results {
            match &r.error {
                None => println!(
                    "{} {}@{}",
                    if approve { "approved" } else { "rejected" },
                    r.name,
                    r.version
                ),
                Some(e) => println!("not decided {}@{}: {e}", r.name, r.version),
            }
        }
        if results.results.is_empty() {
            println!("run {run} of `{source}` left nothing pending");
        }
    })?;
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} version(s) could not be decided; see above")),
    }
}

/// Sends a lockfile to a `sparse` source; with `wait`, waits for the run
/// and with `approve` approves what it resolved.
fn mirror_lockfile(
    remote: &Remote,
    lockfile: &std::path::Path,
    source: &str,
    wait: bool,
    approve: bool,
    note: &str,
) -> Result<(), String> {
    let text = std::fs::read_to_string(lockfile)
        .map_err(|e| format!("cannot read {}: {e}", lockfile.display()))?;
    let client = remote.client()?;
    let origin = std::path::absolute(lockfile).unwrap_or_else(|_| lockfile.to_path_buf());
    let started = client
        .admin_lockfile(source, &origin.display().to_string(), &text)
        .map_err(|e| e.to_string())?;
    println!(
        "mirroring {} through `{source}` as run {}",
        lockfile.display(),
        started.run
    );
    if wait {
        wait_for_runs(&client, &[started.run]).map_err(|e| {
            format!("{e}; what did arrive can still be approved with `skillreg admin pending --source {source} --run {} --approve`", started.run)
        })?;
    }
    if approve {
        decide_run(remote, source, started.run, true, note, false)?;
    }
    Ok(())
}

/// Starts runs; with `wait`, waits for them and prints how they ended.
fn sync(remote: &Remote, source: &str, wait: bool) -> Result<(), String> {
    let client = remote.client()?;
    let started = client.admin_sync(source).map_err(|e| e.to_string())?;
    for r in &started.runs {
        println!("sync of `{}` started as run {}", r.source, r.id);
    }
    if !wait {
        return Ok(());
    }
    let ids: Vec<i64> = started.runs.iter().map(|r| r.id).collect();
    wait_for_runs(&client, &ids)
}

/// Waits for runs `ids` to end and prints them; an error if one failed.
fn wait_for_runs(client: &crate::client::Client, ids: &[i64]) -> Result<(), String> {
    let mut failed = false;
    loop {
        let runs = client.admin_runs().map_err(|e| e.to_string())?;
        let mine: Vec<_> = runs.runs.iter().filter(|r| ids.contains(&r.id)).collect();
        if mine.iter().all(|r| r.run.status != "running") {
            for r in mine {
                print_run(r);
                failed |= r.run.status == "failed";
            }
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    if failed {
        return Err("a sync run failed".into());
    }
    Ok(())
}
