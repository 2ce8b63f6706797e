//! Signed roots and the counters signed documents are versioned by.

use super::*;

impl Store {
    /// Every root document, oldest first: (version, envelope bytes).
    pub fn roots(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.all(
            "SELECT version, envelope FROM signed_roots ORDER BY version",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )
    }

    /// Records root document `version`; versions must follow each other.
    pub fn insert_root(
        &mut self,
        version: u64,
        envelope: &[u8],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let latest: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM signed_roots",
            [],
            |r| r.get(0),
        )?;
        if version as i64 != latest + 1 {
            return Err(StoreError::Conflict(format!(
                "root version {version} does not follow the newest root {latest}; another rotation ran at the same time, retry"
            )));
        }
        tx.execute(
            "INSERT INTO signed_roots (version, envelope, created_at) VALUES (?1, ?2, ?3)",
            params![version as i64, envelope, unix_now()],
        )?;
        audit(&tx, actor, "root-sign", &format!("root v{version}"), "")?;
        tx.commit()?;
        Ok(())
    }

    /// Adds one to a named counter and returns the new value (starting at 1).
    pub fn next_counter(&mut self, name: &str) -> Result<u64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1",
            [name],
        )?;
        let value: i64 =
            tx.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        Ok(value as u64)
    }
}
