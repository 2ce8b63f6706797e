use super::*;

#[test]
fn ca_certificates_must_be_readable_pem() {
    let dir = tempfile::tempdir().unwrap();
    assert!(agent(None, None).is_ok());
    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        agent(Some(&missing), None),
        Err(CaCertError::Unreadable { .. })
    ));
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, b"not a certificate").unwrap();
    assert!(matches!(
        agent(Some(&empty), Some(Duration::from_secs(1))),
        Err(CaCertError::NoCertificate { .. })
    ));
}
