//! HTTP to upstreams that skillreg's keys do not sign (`sparse`,
//! `wellknown`, `clawhub` sources): every body read under a byte cap that
//! the caller derives from what it has verified or from a fixed limit
//! (`Content-Length` is never trusted), transient failures retried, and
//! documents revalidated with `If-None-Match` / `If-Modified-Since`
//! against a cache kept in the source's state directory, so a re-sync with
//! nothing new costs one conditional request per document.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::blobs::Sha256Digest;
use crate::client::http;

/// An upstream that sends nothing for this long fails the request
/// (retried like any transport error).
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The CA certificate file cannot be used.
    #[error("the source's `ca_cert`: {0}")]
    CaCert(#[from] http::CaCertError),
    /// No such document upstream.
    #[error("{url}: not found upstream (404)")]
    NotFound {
        /// The URL.
        url: String,
    },
    /// Another non-success status.
    #[error("{url}: the upstream answered {status}{}", retry_note(*.status))]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The connection failed or broke off.
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A URL on the registry's own network, which an upstream may not name.
    #[error("{url}: `{host}` is a loopback, private or link-local address and not the source's own host; refused (an upstream may not aim the registry at hosts on its network)")]
    Internal {
        /// The URL.
        url: String,
        /// Its host.
        host: String,
    },
    /// The run fetched more documents than it may.
    #[error("{url}: not fetched, the run has fetched {limit} bytes of documents, the most one run reads; the rest waits for the next run")]
    TooMuch {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// A redirect, which this source does not follow.
    #[error("{url}: the upstream redirects ({status}) to `{to}`; this source follows no redirects, so give the final URL (or the upstream's `dl`) instead")]
    Redirect {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// Where to.
        to: String,
    },
    /// The body was longer than its cap.
    #[error("{url}: the upstream sent more than {limit} bytes, the most this document may have; not stored")]
    TooLarge {
        /// The URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The local cache could not be written.
    #[error("cannot write the mirror's HTTP cache {}: {source}", .path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn retry_note(status: u16) -> &'static str {
    if status == 429 || status >= 500 {
        " (retried; try again later)"
    } else if status == 401 || status == 403 {
        " (check the source's `token`)"
    } else {
        ""
    }
}

impl FetchError {
    /// Transport errors, 5xx and 429 are worth retrying; nothing else is.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Transport { .. } => true,
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// A document fetched with revalidation.
#[derive(Debug)]
pub struct Document {
    /// Its bytes (from the cache when unchanged).
    pub body: Vec<u8>,
    /// False when the upstream answered `304 Not Modified`.
    pub changed: bool,
}

/// One source's HTTP client.
pub struct UpstreamHttp {
    agent: ureq::Agent,
    /// Sent as `Authorization` to URLs below `origin` only.
    token: Option<(String, String)>,
    cache: PathBuf,
    requests: AtomicU64,
    /// Cache files read or written by this client (see [`UpstreamHttp::prune_unused`]).
    used: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    /// The host of the source's own URL, the one internal host allowed.
    home_host: String,
    /// Document bytes fetched (at most [`MAX_DOCUMENT_BYTES`]).
    documents: AtomicU64,
}

/// The most document bytes (revalidated and cached) one client fetches:
/// what one run keeps in its cache is bounded, whatever the upstream serves.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

impl UpstreamHttp {
    /// A client keeping its cache below `state`, trusting `ca_cert` (or the
    /// system's roots), sending `token` to URLs below `origin` only. It
    /// follows no redirects (a 3xx fails the request: an upstream cannot
    /// send a request on to a host the source did not name) and refuses URLs
    /// on loopback, private or link-local addresses unless they are on the
    /// host of `home` (the source's own URL): a public upstream cannot aim
    /// the registry at its own network.
    pub fn new(
        state: &Path,
        ca_cert: Option<&Path>,
        token: Option<(String, String)>,
        home: &str,
    ) -> Result<UpstreamHttp, FetchError> {
        Ok(UpstreamHttp {
            agent: http::agent_with_redirects(ca_cert, Some(STALL_TIMEOUT), false)?,
            used: std::sync::Mutex::new(std::collections::HashSet::new()),
            token,
            cache: state.join("http-cache"),
            requests: AtomicU64::new(0),
            home_host: url_host(home),
            documents: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (each retry counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Ends a run's use of this client: names the requests it sent in the
    /// run's detail (the figure re-sync costs are read from) and prunes the
    /// cache to what the run read.
    pub fn end_run(&self, run: &mut crate::store::SyncRun) {
        run.detail
            .push(format!("{} request(s) to the upstream", self.requests()));
        self.prune_unused();
    }

    /// Removes the cache files this client did not use, so the cache holds
    /// only what the last run read (an upstream cannot grow it without end).
    pub fn prune_unused(&self) {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(entries) = std::fs::read_dir(&self.cache) else {
            return;
        };
        for entry in entries.flatten() {
            if !used.contains(&entry.path()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// GETs `url` (at most `limit` bytes), retrying transient failures.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        with_retries(|| {
            self.once(url, limit, None)
                .map(|answer| answer.body.unwrap_or_default())
        })
    }

    /// GETs `url` (at most `limit` bytes) revalidating the cached copy;
    /// a changed document replaces the cached one durably.
    pub fn get_document(&self, url: &str, limit: u64) -> Result<Document, FetchError> {
        let path = self
            .cache
            .join(&Sha256Digest::of(url.as_bytes()).to_hex()[..32]);
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.clone());
        let cached = read_cached(&path);
        let validators = cached.as_ref().map(|c| &c.validators);
        let answer = with_retries(|| self.once(url, limit, validators))?;
        let fetched = answer.body.as_ref().map_or(0, |b| b.len() as u64);
        if self.documents.fetch_add(fetched, Ordering::Relaxed) + fetched > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooMuch {
                url: url.into(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        if answer.status == 304 {
            if let Some(cached) = cached {
                return Ok(Document {
                    body: cached.body,
                    changed: false,
                });
            }
        }
        let body = answer.body.unwrap_or_default();
        match &answer.validators {
            Some(validators) => write_cached(&path, validators, &body)?,
            // Validators the upstream no longer sends must not be sent again.
            None if cached.is_some() => {
                let _ = std::fs::remove_file(&path);
            }
            None => {}
        }
        Ok(Document {
            body,
            changed: true,
        })
    }

    /// One request.
    fn once(
        &self,
        url: &str,
        limit: u64,
        validators: Option<&Validators>,
    ) -> Result<Answer, FetchError> {
        let host = url_host(url);
        if host != self.home_host && is_internal_host(&host) {
            return Err(FetchError::Internal {
                url: url.into(),
                host,
            });
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self.agent.get(url);
        if let Some((origin, token)) = &self.token {
            if url.starts_with(origin.as_str()) {
                req = req.header("Authorization", token);
            }
        }
        if let Some(v) = validators {
            if !v.etag.is_empty() {
                req = req.header("If-None-Match", &v.etag);
            }
            if !v.last_modified.is_empty() {
                req = req.header("If-Modified-Since", &v.last_modified);
            }
        }
        let mut response = req.call().map_err(|e| FetchError::Transport {
            url: url.into(),
            message: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let validators_now = Validators {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        match status {
            300..=399 if status != 304 => {
                return Err(FetchError::Redirect {
                    url: url.into(),
                    status,
                    to: header("location"),
                })
            }
            304 if validators.is_some() => {
                return Ok(Answer {
                    status,
                    body: None,
                    validators: None,
                })
            }
            404 | 410 => return Err(FetchError::NotFound { url: url.into() }),
            200..=299 => {}
            _ => {
                return Err(FetchError::Status {
                    url: url.into(),
                    status,
                })
            }
        }
        let body = read_capped(&mut response.body_mut().as_reader(), limit, url)?;
        let keep = !validators_now.etag.is_empty() || !validators_now.last_modified.is_empty();
        Ok(Answer {
            status,
            body: Some(body),
            validators: keep.then_some(validators_now),
        })
    }
}

/// One response: its status, its body (none for 304) and the validators
/// it can be revalidated with.
struct Answer {
    status: u16,
    body: Option<Vec<u8>>,
    validators: Option<Validators>,
}

/// What a response said it can be revalidated with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Validators {
    etag: String,
    last_modified: String,
}

struct Cached {
    validators: Validators,
    body: Vec<u8>,
}

/// A cache file: the ETag line, the Last-Modified line, then the body.
fn read_cached(path: &Path) -> Option<Cached> {
    let bytes = std::fs::read(path).ok()?;
    let mut parts = bytes.splitn(3, |b| *b == b'\n');
    let etag = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let last_modified = String::from_utf8(parts.next()?.to_vec()).ok()?;
    let body = parts.next()?.to_vec();
    Some(Cached {
        validators: Validators {
            etag,
            last_modified,
        },
        body,
    })
}

fn write_cached(path: &Path, validators: &Validators, body: &[u8]) -> Result<(), FetchError> {
    let clean = |s: &str| s.replace(['\n', '\r'], "");
    let mut bytes = Vec::with_capacity(body.len() + 128);
    bytes.extend_from_slice(clean(&validators.etag).as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(clean(&validators.last_modified).as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(body);
    let dir = path.parent().expect("cache files are below the cache dir");
    std::fs::create_dir_all(dir)
        .and_then(|()| crate::fsutil::write_replace(path, &bytes, 0o600))
        .map_err(|source| FetchError::Cache {
            path: path.to_path_buf(),
            source,
        })
}

/// Reads at most `limit` bytes; more is [`FetchError::TooLarge`].
fn read_capped(reader: &mut dyn Read, limit: u64, url: &str) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| FetchError::Transport {
            url: url.into(),
            message: format!("the response broke off: {e}"),
        })?;
    if out.len() as u64 > limit {
        return Err(FetchError::TooLarge {
            url: url.into(),
            limit,
        });
    }
    Ok(out)
}

/// The host of an http(s) URL (lowercase, without port, userinfo or brackets).
pub fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    host.to_ascii_lowercase()
}

/// Loopback, private, link-local, unspecified or `localhost`: hosts a
/// public upstream has no business sending the registry to.
pub fn is_internal_host(host: &str) -> bool {
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
        Err(_) => false,
    }
}

/// Retries transient failures three times with exponential backoff
/// (200, 400, 800 ms), as every source kind does (index-spec/mirror.md §3.1).
pub fn with_retries<T>(mut f: impl FnMut() -> Result<T, FetchError>) -> Result<T, FetchError> {
    let mut wait = Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if attempt < 3 && e.is_transient() => {
                std::thread::sleep(wait);
                wait *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}
