//! A throwaway certificate authority, and the test host name that maps to
//! 127.0.0.1: what HTTPS clients that refuse loopback names (Claude Code's
//! archive downloads) need to reach a daemon on loopback.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// The name the tests reach a TLS daemon at. `.ci/run` maps it to
/// 127.0.0.1 in `/etc/hosts` (and restores the file afterwards).
pub const TEST_HOST: &str = "skillreg.test";

/// A CA (its PEM at `ca_pem`) and one leaf certificate it signed (`cert`,
/// `key`), all in one directory that lives as long as this value.
pub struct TestCa {
    pub ca_pem: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// A new CA and a leaf certificate for `names` (DNS names or IPs).
    pub fn new(names: &[&str]) -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "skillreg test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let leaf = rcgen::CertificateParams::new(names)
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        let ca_pem = dir.path().join("ca.pem");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        std::fs::write(&cert, leaf.pem()).unwrap();
        std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
        TestCa {
            ca_pem,
            cert,
            key,
            _dir: dir,
        }
    }

    /// The daemon's `[tls]` section serving the leaf certificate.
    pub fn tls_toml(&self) -> String {
        format!("[tls]\ncert = {:?}\nkey = {:?}\n", self.cert, self.key)
    }

    /// GET `url` trusting only this CA, with an optional Authorization
    /// value: (status, body bytes).
    pub fn get(&self, url: &str, auth: Option<&str>) -> (u16, Vec<u8>) {
        let pem = std::fs::read(&self.ca_pem).unwrap();
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            )
            .build()
            .into();
        let mut req = agent.get(url);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let mut r = req.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let mut body = Vec::new();
        r.body_mut().as_reader().read_to_end(&mut body).unwrap();
        (r.status().as_u16(), body)
    }
}

/// Fails the test (never skips it) unless [`TEST_HOST`] resolves to
/// 127.0.0.1, saying how to fix that.
pub fn assert_test_host_resolves() {
    use std::net::ToSocketAddrs;
    let loopback = (TEST_HOST, 443)
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.any(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST));
    assert!(
        loopback,
        "{TEST_HOST} does not resolve to 127.0.0.1: add the line `127.0.0.1 {TEST_HOST}` to /etc/hosts \
         (.ci/run does so, and restores the file). Claude Code refuses archive URLs on loopback names, \
         so these tests reach the daemon by that name"
    );
}
