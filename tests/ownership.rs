//! Who may do what: owners, roles, and the audit trail they leave.

mod common;

use common::*;

fn publish(d: &Daemon, token: &str, name: &str, version: &str) -> (u16, String) {
    let body = skill_publish_body(name, version, &skill_tarball(name, version));
    put(&format!("{}/api/v1/crates/new", d.url), Some(token), &body)
}

#[test]
fn only_owners_and_admins_change_a_package() {
    let d = Daemon::start();
    let alice = d.token("publisher", "alice");
    let bob = d.token("publisher", "bob");
    let reader = d.token("reader", "rita");
    assert_eq!(publish(&d, &alice, "owned", "1.0.0").0, 200);
    let before = d.fingerprint();

    // bob is not an owner: no publish, no yank, no owner changes.
    let (status, body) = publish(&d, &bob, "owned", "1.1.0");
    assert_eq!(status, 403, "{body}");
    assert!(detail(&body).contains("not an owner of `owned`"), "{body}");
    let yank = format!("{}/api/v1/crates/owned/1.0.0/yank", d.url);
    let (status, body) = delete(&yank, Some(&bob));
    assert_eq!(status, 403, "{body}");
    let owners = format!("{}/api/v1/crates/owned/owners", d.url);
    let (status, _) = put(&owners, Some(&bob), br#"{"users":["bob"]}"#);
    assert_eq!(status, 403);
    // A reader can do none of it either.
    assert_eq!(delete(&yank, Some(&reader)).0, 403);
    assert_eq!(d.fingerprint(), before, "refusals changed nothing");

    // A login that can only read would be an owner who can do nothing.
    let (status, body) = put(&owners, Some(&alice), br#"{"users":["rita"]}"#);
    assert_eq!(status, 400);
    assert!(detail(&body).contains("no live publisher token"), "{body}");
    // Unknown logins cannot become owners; the last owner cannot leave.
    let (status, body) = put(&owners, Some(&alice), br#"{"users":["nobody"]}"#);
    assert_eq!(status, 400);
    assert!(detail(&body).contains("nobody"), "{body}");
    let (status, body) = delete_with_body(&owners, &alice, br#"{"users":["alice"]}"#);
    assert_eq!(status, 400, "{body}");
    assert!(detail(&body).contains("no owner left"), "{body}");
    let (status, body) = put(&owners, Some(&alice), b"not json");
    assert_eq!(status, 400);
    assert!(detail(&body).contains("users"), "{body}");
    assert_eq!(
        d.fingerprint(),
        before,
        "refused owner changes changed nothing"
    );

    // alice adds bob; now bob may publish and yank.
    let (status, body) = put(&owners, Some(&alice), br#"{"users":["bob"]}"#);
    assert_eq!(status, 200, "{body}");
    let ok: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ok["ok"], true);
    assert!(ok["msg"].as_str().unwrap().contains("bob"));
    assert_eq!(publish(&d, &bob, "owned", "1.1.0").0, 200);
    let (status, body) = delete(&yank, Some(&bob));
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    let (_, list) = get(&owners);
    assert!(
        list.contains("\"login\":\"alice\"") && list.contains("\"login\":\"bob\""),
        "{list}"
    );

    // The admin may act on any package.
    let unyank = format!("{}/api/v1/crates/owned/1.0.0/unyank", d.url);
    assert_eq!(put(&unyank, Some(&d.admin), b"").0, 200);

    // Yanking what does not exist is a 404 that names it.
    let (status, body) = delete(
        &format!("{}/api/v1/crates/owned/9.9.9/yank", d.url),
        Some(&alice),
    );
    assert_eq!(status, 404);
    assert!(detail(&body).contains("owned@9.9.9"), "{body}");

    // Everything above is in the audit log, with who did it.
    let store = skillreg::store::Store::open(&d.data).unwrap();
    let log: Vec<String> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .map(|r| format!("{} {} {}", r.actor, r.action, r.subject))
        .collect();
    for expected in [
        "alice publish owned@1.0.0",
        "alice owner-add owned",
        "bob publish owned@1.1.0",
        "bob yank owned@1.0.0",
        "admin unyank owned@1.0.0",
    ] {
        assert!(
            log.iter().any(|l| l == expected),
            "{expected} missing from {log:#?}"
        );
    }
    assert!(
        log.iter().any(|l| l.starts_with("cli token-create")),
        "{log:#?}"
    );
    d.assert_serving();
}

fn delete_with_body(url: &str, token: &str, body: &[u8]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let mut r = agent
        .delete(url)
        .header("Authorization", token)
        .force_send_body()
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap())
}
