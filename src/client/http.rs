//! The one HTTP agent builder of `client`: the web-API [`super::Client`] and
//! the verifying client ([`super::verify`]) reach registries with the same
//! timeouts and the same handling of a private CA certificate, so the two
//! cannot drift apart on how long they wait or which servers they trust.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest a whole request may take, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a CA certificate file cannot be used. Each caller words it in its
/// own error type, as its users have always seen it.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no PEM certificate.
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
}

/// A `ureq` agent for reaching a registry.
///
/// HTTP error statuses come back as responses, not errors, because callers
/// read the registry's error body for its `detail`. A request may take
/// 300 s and a connection 15 s to open; with `stall_timeout`, a request
/// also fails when the server sends nothing for that long. With `ca_cert`,
/// HTTPS trusts only the PEM certificates in that file.
pub fn agent(
    ca_cert: Option<&Path>,
    stall_timeout: Option<Duration>,
) -> Result<ureq::Agent, CaCertError> {
    agent_with_redirects(ca_cert, stall_timeout, true)
}

/// [`agent`], following redirects (up to ureq's 10) or not at all: with
/// `follow_redirects` false a 3xx comes back as the response.
pub fn agent_with_redirects(
    ca_cert: Option<&Path>,
    stall_timeout: Option<Duration>,
    follow_redirects: bool,
) -> Result<ureq::Agent, CaCertError> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(if follow_redirects { 10 } else { 0 })
        .timeout_global(Some(REQUEST_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(stall_timeout);
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|source| CaCertError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let certs = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect::<Vec<_>>();
        if certs.is_empty() {
            return Err(CaCertError::NoCertificate {
                path: path.to_path_buf(),
            });
        }
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    Ok(config.build().into())
}

#[cfg(test)]
mod tests;
