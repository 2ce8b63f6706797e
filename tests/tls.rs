//! HTTPS with rustls: the daemon serves TLS from PEM files; the CLI client
//! trusts a given CA; plain HTTP to a TLS port gets nothing.

mod common;

use common::*;
use std::io::{Read, Write};

fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "skillreg test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let (ca_pem, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (ca_pem, cert, key)
}

#[test]
fn serves_https_with_the_ring_provider() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let d = Daemon::with_config(&format!("[tls]\ncert = {:?}\nkey = {:?}\n", cert, key));
    assert!(d.url.starts_with("https://127.0.0.1:"), "{}", d.url);

    let dir = tempfile::tempdir().unwrap();
    let skill = skill_dir(dir.path(), "secure", "1.0.0", "Served over TLS.");
    let out = cli(&[
        "publish",
        skill.to_str().unwrap(),
        "--registry",
        &d.url,
        "--token",
        &d.admin,
        "--ca-cert",
        ca.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&[
        "search",
        "secure",
        "--registry",
        &d.url,
        "--ca-cert",
        ca.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("secure = \"1.0.0\""));

    // Without the CA the client refuses the certificate: for that reason,
    // not another (the daemon answered the same search a moment ago).
    let out = cli(&["search", "secure", "--registry", &d.url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach"), "{err}");
    assert!(
        err.contains("invalid peer certificate: UnknownIssuer"),
        "refused for the certificate's issuer only: {err}"
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut s = std::net::TcpStream::connect(d.url.trim_start_matches("https://")).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    write!(s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));
}

#[test]
fn unusable_tls_files_stop_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let out = cli(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.path().join("d").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cert.pem"));
    assert!(
        out.stdout.is_empty(),
        "nothing claims to listen: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
