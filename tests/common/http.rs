//! Blocking HTTP helpers (ureq), statuses as values, never as errors.

use std::io::Read;
use std::time::Duration;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// GET → (status, body).
pub fn get(url: &str) -> (u16, String) {
    send(agent().get(url).call())
}

/// GET with headers → full response.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> ureq::http::Response<ureq::Body> {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.call().unwrap()
}

/// PUT raw bytes with an optional token → (status, body).
pub fn put(url: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut req = agent().put(url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    send(req.send(body))
}

/// DELETE with an optional token → (status, body).
pub fn delete(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = agent().delete(url);
    if let Some(t) = token {
        req = req.header("Authorization", t);
    }
    send(req.call())
}

fn send(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, String) {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    let mut body = String::new();
    r.body_mut().as_reader().read_to_string(&mut body).unwrap();
    (status, body)
}

/// The `detail` of an error body.
pub fn detail(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"))
        .to_string()
}

/// GET → (status, raw body bytes).
pub fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let mut r = agent().get(url).call().unwrap();
    let status = r.status().as_u16();
    let mut body = Vec::new();
    r.body_mut().as_reader().read_to_end(&mut body).unwrap();
    (status, body)
}
