//! The registry the crash tests break: a static export kept in step and two
//! local marketplace sources, `team` (its versions wait for review) and
//! `auto` (auto-approved), so publishes, yanks, review decisions, mirror
//! syncs and export writes all happen on one data dir.

use std::path::PathBuf;

use super::{marketplace_source, write_marketplace};

/// The config and the directories around it.
pub struct CrashRegistry {
    /// The daemon's config.
    pub toml: String,
    /// The static export's directory (`[export] dir`).
    pub export: PathBuf,
    /// The `team` marketplace's directory.
    pub team_market: PathBuf,
    /// The `auto` marketplace's directory.
    pub auto_market: PathBuf,
    _work: tempfile::TempDir,
}

impl CrashRegistry {
    /// Writes the marketplaces with `vault@1.0.0` (team) and `gear@1.0.0`
    /// (auto), and the config naming them and the export.
    pub fn new() -> CrashRegistry {
        let work = tempfile::tempdir().unwrap();
        let export = work.path().join("export");
        let team_market = work.path().join("team");
        let auto_market = work.path().join("auto");
        write_marketplace(&team_market, &[("vault", "1.0.0")]);
        write_marketplace(&auto_market, &[("gear", "1.0.0")]);
        let toml = format!(
            "[export]\ndir = {export:?}\nbase_url = \"http://export.invalid\"\n\n{}\n{}auto_approve = true\n",
            marketplace_source("team", &team_market),
            marketplace_source("auto", &auto_market),
        );
        CrashRegistry {
            toml,
            export,
            team_market,
            auto_market,
            _work: work,
        }
    }
}
