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
}

impl UpstreamHttp {
    /// A client keeping its cache below `state`, trusting `ca_cert` (or the
    /// system's roots), sending `token` to URLs below `origin` only.
    pub fn new(
        state: &Path,
        ca_cert: Option<&Path>,
        token: Option<(String, String)>,
    ) -> Result<UpstreamHttp, FetchError> {
        Ok(UpstreamHttp {
            agent: http::agent(ca_cert, Some(STALL_TIMEOUT))?,
            token,
            cache: state.join("http-cache"),
            requests: AtomicU64::new(0),
        })
    }

    /// Requests sent so far (each retry counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// GETs `url` (at most `limit` bytes), retrying transient failures.
    pub fn get(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        with_retries(|| {
            self.once(url, limit, None)
                .map(|(_, body, _)| body.unwrap_or_default())
        })
    }

    /// GETs `url` (at most `limit` bytes) revalidating the cached copy;
    /// a changed document replaces the cached one durably.
    pub fn get_document(&self, url: &str, limit: u64) -> Result<Document, FetchError> {
        let path = self
            .cache
            .join(&Sha256Digest::of(url.as_bytes()).to_hex()[..32]);
        let cached = read_cached(&path);
        let validators = cached.as_ref().map(|c| &c.validators);
        let (status, body, validators_now) = with_retries(|| self.once(url, limit, validators))?;
        if status == 304 {
            if let Some(cached) = cached {
                return Ok(Document {
                    body: cached.body,
                    changed: false,
                });
            }
        }
        let body = body.unwrap_or_default();
        if let Some(validators) = &validators_now {
            write_cached(&path, validators, &body)?;
        }
        Ok(Document {
            body,
            changed: true,
        })
    }

    /// One request: the status, the body (not for 304) and the response's
    /// validators.
    fn once(
        &self,
        url: &str,
        limit: u64,
        validators: Option<&Validators>,
    ) -> Result<Answer, FetchError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut req = self.agent.get(url).header("Accept-Encoding", "identity");
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
            304 if validators.is_some() => return Ok((304, None, None)),
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
        Ok((status, Some(body), keep.then_some(validators_now)))
    }
}

/// One answer: the status, the body (not for 304) and the response's
/// validators.
type Answer = (u16, Option<Vec<u8>>, Option<Validators>);

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
