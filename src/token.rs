//! API tokens: roles, the token format, and hashing.
//!
//! A token reads `skr_<id>_<secret>`. Only `sha256(secret)` is stored; the id
//! finds the row and the hashes are compared in constant time, so neither the
//! database nor response timing gives a token away.

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What a token may do. Each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read the index, download and search (needed only when `auth_required`).
    Reader,
    /// Publish, yank and manage owners of packages it owns.
    Publisher,
    /// Everything, on every package.
    Admin,
}

impl Role {
    /// The word stored and shown: `reader`, `publisher`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Publisher => "publisher",
            Role::Admin => "admin",
        }
    }

    /// Parses a role word.
    pub fn parse(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "reader" => Ok(Role::Reader),
            "publisher" => Ok(Role::Publisher),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// A word that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: use reader, publisher or admin")]
pub struct UnknownRole(pub String);

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a request acts as, once its token is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's row id.
    pub token_id: i64,
    /// The login the token acts for (its name); owners are logins.
    pub login: String,
    /// What it may do.
    pub role: Role,
}

impl Identity {
    /// True when the identity has at least `role`.
    pub fn has(&self, role: Role) -> bool {
        self.role >= role
    }
}

/// The prefix every token starts with, so they are easy to find in leaked text.
pub const TOKEN_PREFIX: &str = "skr_";

/// A token split into its id and secret; nothing is verified yet.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedToken<'a> {
    /// The row id the token claims.
    pub id: i64,
    /// The secret part.
    pub secret: &'a str,
}

/// Splits an `Authorization` value (raw, as cargo sends it, or `Bearer …`).
/// Returns `None` when it is not shaped like a skillreg token.
pub fn parse_presented(header: &str) -> Option<PresentedToken<'_>> {
    let raw = header.trim();
    let raw = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw)
        .trim();
    let rest = raw.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id = id.parse().ok()?;
    if secret.is_empty() {
        return None;
    }
    Some(PresentedToken { id, secret })
}

/// A fresh random secret: 32 bytes, hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}

/// The full token text for an id and secret.
pub fn format_token(id: i64, secret: &str) -> String {
    format!("{TOKEN_PREFIX}{id}_{secret}")
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &[u8]) -> bool {
    let hash = hash_secret(secret);
    stored_hash.len() == 32 && bool::from(hash.ct_eq(stored_hash))
}

#[cfg(test)]
mod tests;
