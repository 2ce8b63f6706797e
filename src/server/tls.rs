//! HTTPS with rustls and the ring provider.

use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::rustls;

use crate::config::Tls;

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read TLS file {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file is not PEM.
    #[error("{} is not a PEM certificate chain: {source}", .path.display())]
    BadCert {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds none.
    #[error("{} holds no PEM certificate", .0.display())]
    NoCert(PathBuf),
    /// The key file is not PEM.
    #[error("{} is not a PEM private key: {source}", .path.display())]
    BadKey {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file holds none.
    #[error("{} holds no PEM private key", .0.display())]
    NoKey(PathBuf),
    /// rustls refused the protocol versions.
    #[error("TLS setup failed: {0}")]
    Setup(rustls::Error),
    /// The key is not the certificate's.
    #[error("the TLS certificate and key do not fit together: {0}")]
    Mismatch(rustls::Error),
}

/// Builds a TLS acceptor from PEM files, offering HTTP/2 and HTTP/1.1.
pub fn acceptor(tls: &Tls) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let cert_pem = read(&tls.cert)?;
    let key_pem = read(&tls.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::BadCert {
            path: tls.cert.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(tls.cert.clone()));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|source| TlsError::BadKey {
            path: tls.key.clone(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(tls.key.clone()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(TlsError::Mismatch)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
