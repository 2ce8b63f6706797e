//! The verifying client's HTTP side: every response read under a hard byte
//! limit (`Content-Length` is never trusted), the token sent only to the
//! registry's own URLs, and error bodies read for the registry's `detail`
//! (through [`crate::api::ErrorBody`], the one thing this client takes from
//! `api`).

use std::io::Read;
use std::time::Duration;

use super::{RegistryOptions, TrustError};
use crate::client::http::{self, CaCertError};

/// Reads at most `limit` bytes; more is [`TrustError::EndlessData`].
pub fn read_limited(reader: &mut dyn Read, limit: u64, url: &str) -> Result<Vec<u8>, TrustError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| TrustError::Transport {
            url: url.into(),
            message: format!("the response broke off: {e}"),
        })?;
    if out.len() as u64 > limit {
        return Err(TrustError::EndlessData {
            url: url.into(),
            limit,
        });
    }
    Ok(out)
}

/// The HTTP side: one agent, the token for the registry's own URLs.
pub(super) struct Http {
    agent: ureq::Agent,
    token: Option<String>,
    /// The registry's base URL (normalized): the token goes only below it.
    base: String,
}

impl Http {
    /// An agent for the registry at `base` (normalized), with `opts`'
    /// token and CA certificate; see [`crate::client::http::agent`] for
    /// `stall_timeout`.
    pub(super) fn new(
        opts: &RegistryOptions,
        base: &str,
        stall_timeout: Option<Duration>,
    ) -> Result<Http, TrustError> {
        let agent = http::agent(opts.ca_cert.as_deref(), stall_timeout).map_err(|e| {
            let (path, message) = match e {
                CaCertError::Unreadable { path, source } => (path, source.to_string()),
                CaCertError::NoCertificate { path } => (path, "it holds no PEM certificate".into()),
            };
            TrustError::Local {
                action: "use the CA certificate",
                path: path.display().to_string(),
                source: std::io::Error::other(message),
            }
        })?;
        Ok(Http {
            agent,
            token: opts.token.clone(),
            base: base.to_string(),
        })
    }

    /// The registry's base URL (normalized).
    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `rel` below the registry's `/index/`.
    pub(super) fn index_url(&self, rel: &str) -> String {
        format!("{}/index/{rel}", self.base)
    }

    /// GETs `url`, reading at most `limit` bytes; `None` on 404.
    pub(super) fn get(&self, url: &str, limit: u64) -> Result<Option<Vec<u8>>, TrustError> {
        let mut req = self.agent.get(url);
        if let Some(token) = &self.token {
            if url.starts_with(&format!("{}/", self.base)) {
                req = req.header("Authorization", token);
            }
        }
        let mut response = req.call().map_err(|e| TrustError::Transport {
            url: url.into(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let mut reader = response.body_mut().as_reader();
        if !(200..300).contains(&status) {
            let text = read_limited(&mut reader, 4096, url).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let detail = serde_json::from_str::<crate::api::ErrorBody>(&text)
                .ok()
                .and_then(|b| b.errors.into_iter().next().map(|e| e.detail))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(TrustError::Status {
                url: url.into(),
                status,
                detail: format!(": {}", detail.trim()),
            });
        }
        read_limited(&mut reader, limit, url).map(Some)
    }

    /// Like [`Http::get`], with a 404 as an error saying what was missing.
    pub(super) fn need(&self, url: &str, limit: u64, what: &str) -> Result<Vec<u8>, TrustError> {
        self.get(url, limit)?.ok_or_else(|| TrustError::Status {
            url: url.into(),
            status: 404,
            detail: format!(": {what}"),
        })
    }
}
