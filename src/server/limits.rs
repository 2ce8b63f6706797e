//! Per-IP and per-token rate limits (governor's GCRA), caps on uploads in
//! progress at once, and the idle-connection watchdog's activity tracking.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::{Limits, RateLimit};

/// What a refused upload is told to wait before retrying: uploads in
/// progress have no known end, and most finish within seconds.
pub const UPLOAD_RETRY_AFTER: Duration = Duration::from_secs(5);

/// An upload refused because a cap on uploads in progress is reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadCapError {
    /// The token already has `limit` uploads in progress.
    #[error("this token already has {limit} upload(s) in progress, the most limits.max_concurrent_uploads_per_token allows; retry in {} s, when one has finished, or ask the operator to raise limits.max_concurrent_uploads_per_token", UPLOAD_RETRY_AFTER.as_secs())]
    Token {
        /// The configured cap.
        limit: usize,
    },
    /// The client address already has `limit` uploads in progress.
    #[error("this address already has {limit} upload(s) in progress, the most limits.max_concurrent_uploads_per_ip allows; retry in {} s, when one has finished, or ask the operator to raise limits.max_concurrent_uploads_per_ip", UPLOAD_RETRY_AFTER.as_secs())]
    Ip {
        /// The configured cap.
        limit: usize,
    },
}

/// Caps on publishes in progress at once, per token and per client IP
/// (`limits.max_concurrent_uploads_per_*`; 0 is no cap). A slow upload
/// holds a slot for as long as its body trickles in, so without a cap one
/// client could keep every worker busy reading bodies.
pub struct UploadSlots {
    per_token: usize,
    per_ip: usize,
    held: Arc<Mutex<Held>>,
    /// Uploads refused by either cap, for `/metrics`.
    refused: AtomicU64,
}

/// Slots in use, by key; a key with none left is removed, so memory follows
/// the uploads in progress, not every client ever seen.
#[derive(Default)]
struct Held {
    tokens: HashMap<i64, usize>,
    ips: HashMap<IpAddr, usize>,
}

/// One upload's place under both caps, freed when dropped: when the request
/// finishes, fails, times out, or its client goes away.
pub struct UploadSlot {
    held: Arc<Mutex<Held>>,
    token: i64,
    ip: IpAddr,
}

impl UploadSlots {
    /// Builds the caps from config.
    pub fn new(limits: &Limits) -> UploadSlots {
        UploadSlots {
            per_token: limits.max_concurrent_uploads_per_token,
            per_ip: limits.max_concurrent_uploads_per_ip,
            held: Arc::default(),
            refused: AtomicU64::new(0),
        }
    }

    /// Uploads refused so far by either cap.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Takes a slot for an upload by `token` from `ip`, or says which cap
    /// is reached (the token's is checked first). Both counts change
    /// together under one lock, so a refusal takes nothing.
    pub fn acquire(&self, token: i64, ip: IpAddr) -> Result<UploadSlot, UploadCapError> {
        let mut held = lock(&self.held);
        let over = |cap: usize, used: Option<&usize>| cap > 0 && used.copied().unwrap_or(0) >= cap;
        if over(self.per_token, held.tokens.get(&token)) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(UploadCapError::Token {
                limit: self.per_token,
            });
        }
        if over(self.per_ip, held.ips.get(&ip)) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(UploadCapError::Ip { limit: self.per_ip });
        }
        *held.tokens.entry(token).or_default() += 1;
        *held.ips.entry(ip).or_default() += 1;
        Ok(UploadSlot {
            held: self.held.clone(),
            token,
            ip,
        })
    }

    /// Slots in use now: (tokens holding any, addresses holding any).
    #[cfg(test)]
    pub fn in_use(&self) -> (usize, usize) {
        let held = lock(&self.held);
        (held.tokens.len(), held.ips.len())
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        release(&mut held.tokens, &self.token);
        release(&mut held.ips, &self.ip);
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    // The counts stay consistent across a panic: each change is one step.
    held.lock().unwrap_or_else(|e| e.into_inner())
}

fn release<K: Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// The daemon's rate limiters; a limit of 0 is off.
pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_token: Option<DefaultKeyedRateLimiter<i64>>,
    /// Requests refused by the address limit, then the token limit.
    refused: [AtomicU64; 2],
}

fn limiter<K: std::hash::Hash + Eq + Clone>(
    rate: u32,
    burst: u32,
) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(rate)?;
    let burst = NonZeroU32::new(burst.max(rate.get())).unwrap_or(rate);
    Some(RateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl RateLimits {
    /// Builds limiters from config.
    pub fn new(config: &RateLimit) -> RateLimits {
        RateLimits {
            per_ip: limiter(config.per_ip_per_second, config.per_ip_burst),
            per_token: limiter(config.per_token_per_second, config.per_token_burst),
            refused: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// Ok, or how long this IP must wait.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        check(self.per_ip.as_ref(), &ip).inspect_err(|_| self.count_refusal(0))
    }

    /// Ok, or how long this token must wait.
    pub fn check_token(&self, token_id: i64) -> Result<(), Duration> {
        check(self.per_token.as_ref(), &token_id).inspect_err(|_| self.count_refusal(1))
    }

    fn count_refusal(&self, which: usize) {
        self.refused[which].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests refused so far: `(by the address limit, by the token limit)`.
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused[0].load(Ordering::Relaxed),
            self.refused[1].load(Ordering::Relaxed),
        )
    }

    /// Forgets keys that have been quiet long enough to be full again, so
    /// memory does not grow with every address ever seen.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_token {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: Option<&DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), Duration> {
    match limiter {
        None => Ok(()),
        Some(l) => l
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
    }
}

/// When a connection last moved a byte, in milliseconds since `epoch`.
#[derive(Clone)]
pub struct Activity {
    epoch: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    /// Starts tracking now.
    pub fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        self.last_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long since the last byte moved.
    pub fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

/// An I/O stream that records activity on every read and write.
pub struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S> Tracked<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, activity: Activity) -> Tracked<S> {
        Tracked { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
