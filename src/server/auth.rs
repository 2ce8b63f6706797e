//! Token authentication with a cache that follows the database.
//!
//! Tokens are cached in memory; before each check the cache asks SQLite's
//! `PRAGMA data_version`, which changes whenever another connection commits
//! (e.g. `skillreg token create` while the daemon runs). So a new or revoked
//! token takes effect on the very next request.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::{Store, StoreError, TokenRecord};
use crate::token::{self, Identity};

/// Why a presented token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Malformed, unknown, wrong or revoked.
    #[error(
        "the token is invalid or revoked; ask an admin for a new one (`skillreg token create`)"
    )]
    Invalid,
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Cache {
    store: Store,
    data_version: i64,
    tokens: HashMap<i64, TokenRecord>,
}

/// Verifies tokens.
pub struct Authenticator {
    cache: Mutex<Cache>,
}

impl Authenticator {
    /// Builds the cache from a dedicated store connection.
    pub fn new(store: Store) -> Result<Authenticator, StoreError> {
        let mut cache = Cache {
            data_version: store.data_version()?,
            tokens: HashMap::new(),
            store,
        };
        cache.reload()?;
        Ok(Authenticator {
            cache: Mutex::new(cache),
        })
    }

    /// Checks an `Authorization` header value (raw or `Bearer`).
    pub fn authenticate(&self, header: &str) -> Result<Identity, AuthError> {
        let presented = token::parse_presented(header).ok_or(AuthError::Invalid)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let version = cache.store.data_version()?;
        if version != cache.data_version {
            cache.reload()?;
            cache.data_version = version;
        }
        let record = cache.tokens.get(&presented.id).ok_or(AuthError::Invalid)?;
        if !token::secret_matches(presented.secret, &record.hash) {
            return Err(AuthError::Invalid);
        }
        Ok(Identity {
            token_id: record.id,
            login: record.name.clone(),
            role: record.role,
        })
    }
}

impl Cache {
    fn reload(&mut self) -> Result<(), StoreError> {
        self.tokens = self
            .store
            .live_tokens()?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        Ok(())
    }
}
