//! Browser sessions for the web pages (`index-spec/web-pages.md` §3): a
//! token typed into the sign-in form is traded for a random session id in
//! a cookie (`HttpOnly`, `SameSite=Strict`, `Secure` under TLS, expiring),
//! and every form carries the session's CSRF token.
//!
//! Sessions live in memory only: a restart signs everyone out. A session
//! keeps the token it was made from and checks it again on every request,
//! so revoking the token ends the session at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header;
use hyper::Request;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie's name.
pub(super) const COOKIE: &str = "skillreg_session";

/// How long a session lasts from sign-in.
pub(super) const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Most sessions at once: a sign-in beyond it drops the expired ones, else
/// the oldest, so sign-ins cannot fill the memory (nor lock anyone out).
const MAX_SESSIONS: usize = 10_000;

/// Most sessions of one token: a sign-in beyond it ends that token's
/// oldest, so one token cannot crowd out everyone else's.
const MAX_PER_TOKEN: usize = 8;

/// One signed-in browser.
#[derive(Clone)]
pub(super) struct Session {
    /// The token it was made from, checked again on every request.
    pub token: String,
    /// The value every form of this session must send back.
    pub csrf: String,
    /// When it ends.
    pub expires: Instant,
    /// What the last form did, shown once on the next page.
    pub notice: Option<String>,
}

/// The sessions, by the sha256 of their id (the id itself is kept only in
/// the browser).
#[derive(Default)]
pub(crate) struct Sessions {
    by_id_hash: Mutex<HashMap<[u8; 32], Session>>,
}

/// 32 random bytes as 64 hex digits.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    hex::encode(bytes)
}

fn id_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// Makes a session for `token`; returns its id (for the cookie).
    pub(super) fn create(&self, token: &str) -> String {
        let mut sessions = self.by_id_hash.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        let oldest = |sessions: &HashMap<[u8; 32], Session>, of_token: bool| {
            sessions
                .iter()
                .filter(|(_, s)| !of_token || s.token == token)
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| *k)
        };
        if sessions.values().filter(|s| s.token == token).count() >= MAX_PER_TOKEN {
            if let Some(key) = oldest(&sessions, true) {
                sessions.remove(&key);
            }
        }
        if sessions.len() >= MAX_SESSIONS {
            if let Some(key) = oldest(&sessions, false) {
                sessions.remove(&key);
            }
        }
        let id = random_id();
        sessions.insert(
            id_hash(&id),
            Session {
                token: token.to_string(),
                csrf: random_id(),
                expires: now + LIFETIME,
                notice: None,
            },
        );
        id
    }

    /// Keeps `notice` for the next page the session `id` sees.
    pub(super) fn set_notice(&self, id: &str, notice: String) {
        if let Some(s) = self
            .by_id_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id_hash(id))
        {
            s.notice = Some(notice);
        }
    }

    /// The notice kept for the session `id`, once.
    pub(super) fn take_notice(&self, id: &str) -> Option<String> {
        self.by_id_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&id_hash(id))
            .and_then(|s| s.notice.take())
    }

    /// The live session the request's cookie names, if any.
    pub(super) fn of(&self, req: &Request<Incoming>) -> Option<(String, Session)> {
        let id = cookie(req, COOKIE)?;
        let mut sessions = self.by_id_hash.lock().unwrap_or_else(|e| e.into_inner());
        let key = id_hash(&id);
        let session = sessions.get(&key)?.clone();
        if session.expires <= Instant::now() {
            sessions.remove(&key);
            return None;
        }
        Some((id, session))
    }

    /// Ends the session `id`.
    pub(super) fn end(&self, id: &str) {
        self.by_id_hash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id_hash(id));
    }
}

/// Whether `sent` is the session's CSRF token (constant time).
pub(super) fn csrf_matches(session: &Session, sent: &str) -> bool {
    sent.len() == session.csrf.len() && bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes()))
}

/// Whether a form post comes from the registry's own pages: its `Origin`
/// (or, without one, its `Referer`) names `base_url`'s origin. A browser
/// sends one of them with every cross-site post.
pub(super) fn same_origin(req: &Request<Incoming>, base_url: &str) -> bool {
    let own = origin_of(base_url);
    let header_origin = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(origin_of)
    };
    match header_origin(header::ORIGIN).or_else(|| header_origin(header::REFERER)) {
        Some(origin) => origin == own,
        None => false,
    }
}

/// `scheme://host[:port]` of a URL, lowercased.
fn origin_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    )
}

/// The value of the cookie `name` the request sends.
fn cookie(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value that signs a browser in with `id`.
pub(super) fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that signs a browser out.
pub(super) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://Reg.example:8443/x?y"),
            "https://reg.example:8443"
        );
        assert_eq!(origin_of("http://127.0.0.1:1/"), "http://127.0.0.1:1");
        assert_ne!(
            origin_of("http://127.0.0.1:1"),
            origin_of("http://127.0.0.1:2")
        );
    }

    #[test]
    fn one_token_cannot_crowd_out_the_others() {
        let sessions = Sessions::default();
        let first = sessions.create("reader");
        for _ in 0..(MAX_PER_TOKEN * 4) {
            sessions.create("reader");
        }
        let count = |token: &str| {
            let map = sessions.by_id_hash.lock().unwrap();
            map.values().filter(|s| s.token == token).count()
        };
        assert_eq!(count("reader"), MAX_PER_TOKEN);
        assert!(
            !sessions
                .by_id_hash
                .lock()
                .unwrap()
                .contains_key(&id_hash(&first)),
            "the oldest went"
        );
        let admin = sessions.create("admin");
        assert!(sessions
            .by_id_hash
            .lock()
            .unwrap()
            .contains_key(&id_hash(&admin)));
        assert_eq!(count("admin"), 1);
    }

    #[test]
    fn a_notice_is_shown_once() {
        let sessions = Sessions::default();
        let id = sessions.create("t");
        sessions.set_notice(&id, "Approved 1 of 1.".into());
        assert_eq!(
            sessions.take_notice(&id).as_deref(),
            Some("Approved 1 of 1.")
        );
        assert_eq!(sessions.take_notice(&id), None);
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let sessions = Sessions::default();
        sessions.create("t");
        let session = sessions
            .by_id_hash
            .lock()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .clone();
        assert!(csrf_matches(&session, &session.csrf));
        assert!(!csrf_matches(&session, ""));
        assert!(!csrf_matches(&session, &session.csrf[1..]));
        assert!(!csrf_matches(&session, &session.csrf.to_uppercase()));
    }
}
