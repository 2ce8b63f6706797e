//! The web API as plain functions, for the `skillreg` CLI (and tests).
//!
//! Errors carry the registry's own `detail`, which says what to fix.
//!
//! [`verify`] trusts the registry's signed metadata; [`install`] installs
//! skills and plugins through it and checks installations against their lock.

pub mod http;
pub mod install;
pub mod verify;

use std::path::Path;

use http::CaCertError;

use crate::api::{self, ErrorBody, OkResponse, PublishMetadata, PublishResponse, SearchResponse};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The registry answered with an error.
    #[error("the registry refused ({status}): {detail}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The registry's explanation.
        detail: String,
    },
    /// The registry could not be reached or the connection broke.
    #[error("cannot reach the registry at {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from {url}: {message}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A local file (CA certificate) could not be used.
    #[error("{0}")]
    Local(String),
}

/// A registry's web API at a base URL (e.g. `http://127.0.0.1:8970`).
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base`, optionally authenticated, optionally trusting
    /// only the PEM CA certificate at `ca_cert` for HTTPS.
    pub fn new(
        base: &str,
        token: Option<String>,
        ca_cert: Option<&Path>,
    ) -> Result<Client, ClientError> {
        // The web API waits on no stalled read of its own: a request has
        // its 300 s.
        let agent = http::agent(ca_cert, None).map_err(|e| match e {
            CaCertError::Unreadable { path, source } => ClientError::Local(format!(
                "cannot read CA certificate {}: {source}",
                path.display()
            )),
            CaCertError::NoCertificate { path } => {
                ClientError::Local(format!("{} holds no PEM certificate", path.display()))
            }
        })?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        })
    }

    /// `PUT /api/v1/crates/new` in cargo's framing.
    pub fn publish(
        &self,
        metadata: &PublishMetadata,
        tarball: &[u8],
    ) -> Result<PublishResponse, ClientError> {
        let json = serde_json::to_vec(metadata).expect("metadata serializes");
        let body = api::encode_publish(&json, tarball);
        let url = format!("{}/api/v1/crates/new", self.base);
        let response = self.with_token(self.agent.put(&url)).send(&body[..]);
        self.decode(&url, response)
    }

    /// Registers an ed25519 public key (hex) for signing publishes.
    pub fn register_publisher_key(&self, public_key_hex: &str) -> Result<String, ClientError> {
        let url = format!("{}/api/v1/me/keys", self.base);
        let body = serde_json::to_vec(&api::RegisterKey {
            public_key: public_key_hex.to_string(),
        })
        .expect("serializes");
        let response = self.with_token(self.agent.put(&url)).send(&body[..]);
        let ok: OkResponse = self.decode(&url, response)?;
        Ok(ok.msg.unwrap_or_default())
    }

    /// `GET /admin/v1/pending`.
    pub fn admin_pending(&self) -> Result<api::PendingResponse, ClientError> {
        let url = format!("{}/admin/v1/pending", self.base);
        let response = self.with_token(self.agent.get(&url)).call();
        self.decode(&url, response)
    }

    /// `POST /admin/v1/packages/{name}/{version}/approve|reject`.
    pub fn admin_decide(
        &self,
        name: &str,
        version: &str,
        approve: bool,
        note: &str,
    ) -> Result<(), ClientError> {
        let url = format!(
            "{}/admin/v1/packages/{name}/{version}/{}",
            self.base,
            if approve { "approve" } else { "reject" }
        );
        let body = if approve {
            api::DecisionRequest {
                note: Some(note.to_string()),
                reason: None,
            }
        } else {
            api::DecisionRequest {
                note: None,
                reason: Some(note.to_string()),
            }
        };
        let body = serde_json::to_vec(&body).expect("serializes");
        let response = self.with_token(self.agent.post(&url)).send(&body[..]);
        let _: OkResponse = self.decode(&url, response)?;
        Ok(())
    }

    /// `POST /admin/v1/sync` for a source or `all`.
    pub fn admin_sync(&self, source: &str) -> Result<api::SyncStarted, ClientError> {
        let url = format!("{}/admin/v1/sync", self.base);
        let body = serde_json::to_vec(&api::SyncRequest {
            source: source.to_string(),
        })
        .expect("serializes");
        let response = self.with_token(self.agent.post(&url)).send(&body[..]);
        self.decode(&url, response)
    }

    /// `POST /admin/v1/sources/{source}/lockfile`: a run of the `sparse`
    /// source `source` that mirrors what `lockfile` (read from `origin`) locks.
    pub fn admin_lockfile(
        &self,
        source: &str,
        origin: &str,
        lockfile: &str,
    ) -> Result<api::SyncStarted, ClientError> {
        let url = format!("{}/admin/v1/sources/{source}/lockfile", self.base);
        let body = serde_json::to_vec(&api::LockfileRequest {
            origin: origin.to_string(),
            lockfile: lockfile.to_string(),
        })
        .expect("serializes");
        let response = self.with_token(self.agent.post(&url)).send(&body[..]);
        self.decode(&url, response)
    }

    /// `POST /admin/v1/bulk` for every pending version run `run` of
    /// `source` resolved: approve with `note`, or reject with it as the reason.
    pub fn admin_decide_run(
        &self,
        source: &str,
        run: i64,
        approve: bool,
        note: &str,
    ) -> Result<api::BulkResponse, ClientError> {
        let url = format!("{}/admin/v1/bulk", self.base);
        let body = serde_json::to_vec(&api::BulkDecision {
            action: if approve { "approve" } else { "reject" }.into(),
            source: Some(source.to_string()),
            run: Some(run),
            note: Some(note.to_string()),
            ..Default::default()
        })
        .expect("serializes");
        let response = self.with_token(self.agent.post(&url)).send(&body[..]);
        self.decode(&url, response)
    }

    /// `GET /admin/v1/sync-runs`.
    pub fn admin_runs(&self) -> Result<api::SyncRunsResponse, ClientError> {
        let url = format!("{}/admin/v1/sync-runs", self.base);
        let response = self.with_token(self.agent.get(&url)).call();
        self.decode(&url, response)
    }

    /// `GET /admin/v1/sources`.
    pub fn admin_sources(&self) -> Result<api::SourcesResponse, ClientError> {
        let url = format!("{}/admin/v1/sources", self.base);
        let response = self.with_token(self.agent.get(&url)).call();
        self.decode(&url, response)
    }

    /// `GET /admin/v1/feeds`.
    pub fn admin_feeds(&self) -> Result<api::FeedsResponse, ClientError> {
        let url = format!("{}/admin/v1/feeds", self.base);
        let response = self.with_token(self.agent.get(&url)).call();
        self.decode(&url, response)
    }

    /// `GET /admin/v1/audit`.
    pub fn admin_audit(&self) -> Result<api::AuditResponse, ClientError> {
        let url = format!("{}/admin/v1/audit", self.base);
        let response = self.with_token(self.agent.get(&url)).call();
        self.decode(&url, response)
    }

    /// Yanks (`yanked = true`) or unyanks a version.
    pub fn set_yanked(&self, name: &str, version: &str, yanked: bool) -> Result<(), ClientError> {
        let url = format!(
            "{}/api/v1/crates/{}/{}/{}",
            self.base,
            name,
            version,
            if yanked { "yank" } else { "unyank" }
        );
        let response = if yanked {
            self.with_token(self.agent.delete(&url)).call()
        } else {
            self.with_token(self.agent.put(&url)).send_empty()
        };
        let ok: OkResponse = self.decode(&url, response)?;
        if !ok.ok {
            return Err(ClientError::Protocol {
                url,
                message: "the registry answered ok: false".into(),
            });
        }
        Ok(())
    }

    /// `GET /api/v1/crates?q=…&per_page=…`.
    pub fn search(&self, query: &str, per_page: usize) -> Result<SearchResponse, ClientError> {
        let url = format!("{}/api/v1/crates", self.base);
        let per_page = per_page.to_string();
        let response = self
            .with_token(self.agent.get(&url))
            .query("q", query)
            .query("per_page", &per_page)
            .call();
        self.decode(&url, response)
    }

    fn with_token<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", t),
            None => req,
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let mut response = response.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        if !(200..300).contains(&status) {
            let detail = serde_json::from_str::<ErrorBody>(&text)
                .ok()
                .map(|b| {
                    b.errors
                        .into_iter()
                        .map(|e| e.detail)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|| text.chars().take(500).collect());
            return Err(ClientError::Refused { status, detail });
        }
        let text = if text.trim().is_empty() { "{}" } else { &text };
        serde_json::from_str(text).map_err(|e| ClientError::Protocol {
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}
