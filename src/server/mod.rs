//! The HTTP server: accept loop, connection limits, graceful shutdown.
//!
//! [`run`] takes a bound listener (so tests can bind `127.0.0.1:0`) and a
//! shutdown future. Each connection gets a header-read timeout, a body-read
//! timeout (in the routes), and an idle watchdog; on shutdown the listener
//! closes, in-flight requests finish, and `run` returns.

mod admin;
mod admin_pages;
mod auth;
mod body;
mod clawhub;
mod error;
mod feeds;
mod limits;
mod metrics;
mod page_cache;
mod page_request;
mod pages;
mod request;
mod response;
mod routes;
mod session;
mod tls;

pub use auth::{AuthError, Authenticator};
pub use error::ApiError;
pub use limits::RateLimits;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::registry::Registry;

/// How often signed metadata is checked for expiry and key rotations.
const RESIGN_CHECK: Duration = Duration::from_secs(1);

/// How often counted downloads are written to the store.
const DOWNLOADS_FLUSH: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// TLS files are unusable.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    /// The token cache could not open the store.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The registry could not give the server its store.
    #[error("{0}")]
    Registry(#[from] crate::registry::RegistryError),
    /// The mirror could not be set up.
    #[error("{0}")]
    Mirror(#[from] crate::mirror::sync::MirrorError),
    /// Socket trouble.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub registry: Arc<Registry>,
    pub config: Config,
    pub base_url: String,
    pub auth: Authenticator,
    pub limits: RateLimits,
    pub uploads: limits::UploadSlots,
    pub mirror: Arc<crate::mirror::sync::Mirror>,
    /// Reads of one file out of a stored bundle (ClawHub's `inspect
    /// --file`) unpack that bundle: this many at once, the rest are told to
    /// retry, so they cannot take every blocking thread and gigabytes.
    pub file_reads: tokio::sync::Semaphore,
    /// The web pages' signed-in browsers.
    pub sessions: session::Sessions,
    /// Rendered page content, for a few seconds.
    pub page_cache: page_cache::PageCache,
    /// What `/metrics` reports: the live counters, the database's counts
    /// and the background fsck.
    pub metrics: crate::metrics::Metrics,
    /// The database counts a scrape reports, on a connection of their own.
    pub store_facts: crate::metrics::StoreFacts,
    /// The background fsck's results.
    pub fsck: crate::metrics::FsckStatus,
}

/// Bundle file reads at once (see [`Shared::file_reads`]).
const FILE_READS_AT_ONCE: usize = 2;

/// A server ready to accept: TLS loaded, token cache warm.
pub struct Server {
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    metrics_listener: Option<TcpListener>,
}

impl Server {
    /// Prepares to serve `registry`; fails early on unusable TLS files, so
    /// nothing claims to be listening when it cannot serve.
    pub fn new(
        registry: Arc<Registry>,
        config: Config,
        base_url: String,
    ) -> Result<Server, ServerError> {
        let tls = if config.tls_enabled() {
            Some(tls::acceptor(&config.tls)?)
        } else {
            None
        };
        let store = registry.open_store()?;
        let facts_store = registry.open_store()?;
        let mirror = crate::mirror::sync::Mirror::new(registry.clone(), &config)?;
        let shared = Arc::new(Shared {
            mirror,
            auth: Authenticator::new(store)?,
            limits: RateLimits::new(&config.rate_limit),
            uploads: limits::UploadSlots::new(&config.limits),
            file_reads: tokio::sync::Semaphore::new(FILE_READS_AT_ONCE),
            sessions: session::Sessions::default(),
            page_cache: page_cache::PageCache::default(),
            metrics: crate::metrics::Metrics::new(),
            store_facts: crate::metrics::StoreFacts::new(facts_store),
            fsck: crate::metrics::FsckStatus::default(),
            registry,
            base_url,
            config,
        });
        Ok(Server {
            shared,
            tls,
            metrics_listener: None,
        })
    }

    /// Serves `/metrics` on `listener` (`metrics_listen`), and no longer on
    /// the public one.
    pub fn with_metrics_listener(mut self, listener: TcpListener) -> Server {
        self.metrics_listener = Some(listener);
        self
    }

    /// Serves on `listener` until `shutdown` completes, then lets in-flight
    /// requests finish (up to `limits.shutdown_grace_secs`).
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let metrics = self
            .metrics_listener
            .map(|l| tokio::spawn(metrics::serve_listener(self.shared.clone(), l)));
        let result = serve(self.shared, self.tls, listener, shutdown).await;
        if let Some(task) = metrics {
            task.abort();
        }
        result
    }
}

/// Serves `registry` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    registry: Arc<Registry>,
    config: Config,
    base_url: String,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    Server::new(registry, config, base_url)?
        .run(listener, shutdown)
        .await
}

async fn serve(
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(
            shared.config.limits.header_read_timeout_secs,
        ))
        .max_buf_size(shared.config.limits.max_header_bytes.max(8192))
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(shared.config.limits.max_header_bytes as u32)
        .max_concurrent_streams(64);
    let builder = Arc::new(builder);

    // Connection tasks hold a sender; when all are dropped, all are done.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let sweeper = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                shared.limits.forget_idle();
            }
        })
    };

    // Signed metadata: follow key rotations and re-sign before expiry.
    let resigner = {
        let registry = shared.registry.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RESIGN_CHECK);
            loop {
                tick.tick().await;
                let registry = registry.clone();
                upkeep("re-signing the index", move || {
                    registry.refresh_signatures()
                })
                .await;
            }
        })
    };

    let flusher = {
        let registry = shared.registry.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(DOWNLOADS_FLUSH);
            loop {
                tick.tick().await;
                flush_downloads(&registry).await;
            }
        })
    };

    // Feed documents: rendered after changes, off the publish path.
    let feed_renderer = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                shared.registry.feeds_changed().await;
                feeds::settle(&shared).await;
            }
        })
    };

    // The static tree (`[export]`): written after changes, off the publish
    // path; a failed write is retried, and expiries re-signed, every tick.
    let export_writer = shared.registry.export_behind().is_some().then(|| {
        let registry = shared.registry.clone();
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(RESIGN_CHECK, registry.export_changed()).await;
                flush_export(&registry).await;
            }
        })
    });

    let scheduler = shared.mirror.spawn_scheduler();
    let fsck = metrics::spawn_background_fsck(shared.clone());

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            shared: shared.clone(),
            builder: builder.clone(),
            tls: tls.clone(),
            stop: stop_rx.clone(),
            _done: done_tx.clone(),
        };
        tokio::spawn(conn.serve(stream, peer));
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop_tx.send(true);
    drop(done_tx);
    let grace = Duration::from_secs(shared.config.limits.shutdown_grace_secs);
    if tokio::time::timeout(grace, done_rx.recv()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
    sweeper.abort();
    resigner.abort();
    scheduler.abort();
    flusher.abort();
    feed_renderer.abort();
    if let Some(fsck) = fsck {
        fsck.abort();
    }
    flush_downloads(&shared.registry).await;
    if let Some(export_writer) = export_writer {
        // What was acknowledged reaches the tree before the daemon exits
        // (a start would write it too, but a stopped daemon's tree is what
        // readers of the bucket or directory see meanwhile).
        // Bounded by the grace period: a bucket that never answers would
        // otherwise keep the daemon from exiting for as long as its client
        // retries; what is left is written by the next start.
        export_writer.abort();
        if tokio::time::timeout(grace, flush_export(&shared.registry))
            .await
            .is_err()
        {
            tracing::warn!(
                behind = shared.registry.export_behind().unwrap_or(0),
                "the static export could not be brought up to date within the shutdown grace period; the next start writes the whole tree"
            );
        }
    }
    Ok(())
}

/// Writes the static tree's pending changes; a failure is retried at the
/// next tick.
async fn flush_export(registry: &Arc<Registry>) {
    let registry = registry.clone();
    upkeep("updating the static export", move || {
        registry.flush_export()
    })
    .await;
}

/// Runs one piece of background upkeep on the blocking pool and logs what
/// went wrong; every caller tries again at its next tick.
async fn upkeep<T, E>(what: &'static str, job: impl FnOnce() -> Result<T, E> + Send + 'static)
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    match tokio::task::spawn_blocking(job).await {
        Ok(Err(e)) => tracing::error!(error = %e, "{what} failed; retrying"),
        Err(e) => tracing::error!(error = %e, "{what}: the task failed"),
        Ok(Ok(_)) => {}
    }
}

/// Writes counted downloads; a failure keeps them for the next try.
async fn flush_downloads(registry: &Arc<Registry>) {
    let registry = registry.clone();
    upkeep("writing download counts", move || {
        registry.flush_downloads()
    })
    .await;
}

struct Connection {
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
}

impl Connection {
    async fn serve(self, stream: TcpStream, peer: SocketAddr) {
        let activity = limits::Activity::new();
        let stream = limits::Tracked::new(stream, activity.clone());
        match self.tls.clone() {
            None => self.serve_io(stream, peer, activity).await,
            Some(acceptor) => {
                let handshake =
                    Duration::from_secs(self.shared.config.limits.header_read_timeout_secs);
                match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => self.serve_io(tls, peer, activity).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        }
    }

    async fn serve_io<S>(mut self, io: S, peer: SocketAddr, activity: limits::Activity)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let shared = self.shared.clone();
        let service = service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(req, shared, peer).await) }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let idle_limit = Duration::from_secs(self.shared.config.limits.idle_timeout_secs.max(1));
        let mut tick =
            tokio::time::interval(idle_limit.div_f32(4.0).max(Duration::from_millis(100)));
        let mut closing = *self.stop.borrow();
        if closing {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.changed(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = tick.tick() => {
                    let idle = activity.idle_for();
                    if idle >= idle_limit * 2 {
                        tracing::debug!(%peer, "closing a connection idle past its limit");
                        return;
                    }
                    if idle >= idle_limit && !closing {
                        // Let a request in flight finish; close when idle.
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}
