//! Token authentication from a cache that follows the database without
//! asking it on every request.
//!
//! Tokens are cached in memory behind a read lock. The cache asks SQLite's
//! `PRAGMA data_version` (which changes whenever another connection commits,
//! e.g. `skillreg token create` or `revoke` while the daemon runs) at most
//! every [`RECHECK`], so an index hit under `auth_required` costs a map
//! lookup and a hash, as an anonymous one costs nothing. A token the cache
//! does not know is looked for at once (a token created a moment ago works
//! on its first request); a revoked token stops working within [`RECHECK`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::store::{Store, StoreError, TokenRecord};
use crate::token::{self, Identity};

/// How stale the cache may be for a token it knows: the longest a revoked
/// token keeps working.
pub const RECHECK: Duration = Duration::from_millis(250);

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

type Tokens = Arc<HashMap<i64, TokenRecord>>;

/// The connection the cache follows the database through.
struct Follower {
    store: Store,
    data_version: i64,
    checked: Instant,
}

/// Verifies tokens.
pub struct Authenticator {
    tokens: RwLock<Tokens>,
    follower: Mutex<Follower>,
}

impl Authenticator {
    /// Builds the cache from a dedicated store connection.
    pub fn new(store: Store) -> Result<Authenticator, StoreError> {
        let follower = Follower {
            data_version: store.data_version()?,
            checked: Instant::now(),
            store,
        };
        let tokens = load(&follower.store)?;
        Ok(Authenticator {
            tokens: RwLock::new(tokens),
            follower: Mutex::new(follower),
        })
    }

    /// Checks an `Authorization` header value (raw or `Bearer`).
    pub fn authenticate(&self, header: &str) -> Result<Identity, AuthError> {
        let presented = token::parse_presented(header).ok_or(AuthError::Invalid)?;
        let mut tokens = self.follow(false)?;
        if !tokens.contains_key(&presented.id) {
            // Perhaps created since the last look: look now.
            tokens = self.follow(true)?;
        }
        let record = tokens.get(&presented.id).ok_or(AuthError::Invalid)?;
        if !token::secret_matches(presented.secret, &record.hash) {
            return Err(AuthError::Invalid);
        }
        Ok(Identity {
            token_id: record.id,
            login: record.name.clone(),
            role: record.role,
        })
    }

    /// The cached tokens, reloaded first when the database changed and a
    /// look is due (`now`, or [`RECHECK`] passed). While another request
    /// is looking, the cache as it is serves.
    fn follow(&self, now: bool) -> Result<Tokens, StoreError> {
        let current = || {
            self.tokens
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        let mut follower = if now {
            self.follower.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            match self.follower.try_lock() {
                Ok(f) if f.checked.elapsed() >= RECHECK => f,
                _ => return Ok(current()),
            }
        };
        follower.checked = Instant::now();
        let version = follower.store.data_version()?;
        if version == follower.data_version {
            return Ok(current());
        }
        let fresh = load(&follower.store)?;
        follower.data_version = version;
        *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        Ok(fresh)
    }
}

fn load(store: &Store) -> Result<Tokens, StoreError> {
    Ok(Arc::new(
        store
            .live_tokens()?
            .into_iter()
            .map(|t| (t.id, t))
            .collect(),
    ))
}
