//! The append-only audit log.

use super::*;

/// One audit-log entry: who did what, when, to what.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// The login (or `cli`, `bootstrap`) that acted.
    pub actor: String,
    /// `publish`, `yank`, `unyank`, `owner-add`, `token-create`, …
    pub action: String,
    /// What it acted on (`name@version`, `token 3`, …).
    pub subject: String,
    /// Extra facts (kind and checksum, role, …).
    pub detail: String,
}

impl Store {
    /// The audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.all(
            "SELECT at, actor, action, subject, detail FROM audit ORDER BY id",
            [],
            |r| {
                Ok(AuditRecord {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    subject: r.get(3)?,
                    detail: r.get(4)?,
                })
            },
        )
    }
}

pub(super) fn audit(
    tx: &rusqlite::Transaction<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![unix_now(), actor, action, subject, detail],
    )?;
    Ok(())
}
