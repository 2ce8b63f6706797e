//! Tokens: created, listed, revoked; the live set the daemon authenticates against.

use super::*;

/// A token as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Row id (the number inside the token).
    pub id: i64,
    /// The login it acts for.
    pub name: String,
    /// Its role.
    pub role: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// A live token's stored hash, for the daemon's authentication cache.
#[derive(Clone, Debug)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// The login.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// sha256 of the secret.
    pub hash: Vec<u8>,
}

impl Store {
    /// Creates a token and returns its full text (shown once, never stored).
    pub fn create_token(
        &mut self,
        name: &str,
        role: Role,
        actor: &str,
    ) -> Result<String, StoreError> {
        let secret = token::new_secret();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                name,
                role.as_str(),
                &token::hash_secret(&secret)[..],
                unix_now()
            ],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            actor,
            "token-create",
            &format!("token {id}"),
            &format!("name={name} role={role}"),
        )?;
        tx.commit()?;
        Ok(token::format_token(id, &secret))
    }

    /// Every token, newest last, without secrets.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.all(
            "SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY id",
            [],
            |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: r.get(2)?,
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            },
        )
    }

    /// Revokes a token by id. Revoking twice is refused, so a typo shows.
    pub fn revoke_token(&mut self, id: i64, actor: &str) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, unix_now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!(
                "live token {id} (see `skillreg token list`)"
            )));
        }
        audit(&tx, actor, "token-revoke", &format!("token {id}"), "")?;
        tx.commit()?;
        Ok(())
    }

    /// Every live token's hash, for the authentication cache.
    pub fn live_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(
            "SELECT id, name, role, hash FROM tokens WHERE revoked_at IS NULL",
            [],
            |r| {
                let role: String = r.get(2)?;
                Ok(TokenRecord {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: Role::parse(&role).unwrap_or(Role::Reader),
                    hash: r.get(3)?,
                })
            },
        )
    }
}
