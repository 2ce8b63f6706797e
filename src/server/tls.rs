//! HTTPS with rustls and the ring provider.

use std::sync::Arc;
use tokio_rustls::rustls;

use crate::config::Tls;

/// Builds a TLS acceptor from PEM files, offering HTTP/2 and HTTP/1.1.
pub fn acceptor(tls: &Tls) -> Result<tokio_rustls::TlsAcceptor, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read TLS file {}: {e}", path.display()))
    };
    let cert_pem = read(&tls.cert)?;
    let key_pem = read(&tls.key)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a PEM certificate chain: {e}", tls.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", tls.cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| format!("{} is not a PEM private key: {e}", tls.key.display()))?
        .ok_or_else(|| format!("{} holds no PEM private key", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
