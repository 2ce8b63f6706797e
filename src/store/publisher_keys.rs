//! Publisher keys: the ed25519 keys publishers sign their packages with.

use super::*;

/// A registered publisher key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublisherKey {
    /// Hex sha256 of the public key.
    pub keyid: String,
    /// Hex public key.
    pub public_key: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl Store {
    /// Registers a publisher key for `login` (idempotent).
    pub fn add_publisher_key(
        &mut self,
        login: &str,
        keyid: &str,
        public_key: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO publisher_keys (login, keyid, public_key, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![login, keyid, public_key, unix_now()],
        )?;
        if added > 0 {
            audit(&tx, login, "publisher-key-add", login, keyid)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The keys registered by `login`.
    pub fn publisher_keys(&self, login: &str) -> Result<Vec<PublisherKey>, StoreError> {
        self.all(
            "SELECT keyid, public_key, created_at FROM publisher_keys WHERE login = ?1 ORDER BY created_at, keyid",
            [login],
            |r| {
                Ok(PublisherKey {
                    keyid: r.get(0)?,
                    public_key: r.get(1)?,
                    created_at: r.get(2)?,
                })
            },
        )
    }
}
