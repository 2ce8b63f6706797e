//! `skillreg serve`: config layering, logging, signals.

use std::io::Write;

use super::ServeArgs;
use crate::config::Config;

pub(super) fn serve(args: ServeArgs) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(data) = args.data {
        config.data_dir = data;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(url) = args.public_url {
        config.public_url = url;
    }
    config.check().map_err(|e| e.to_string())?;
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let base_url = config.base_url(bound);
        let registry = super::open_registry(&config, &base_url)?;
        let server = crate::server::Server::new(registry, config.clone(), base_url.clone())
            .map_err(|e| e.to_string())?;
        let scheme = if config.tls_enabled() {
            "https"
        } else {
            "http"
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {scheme}://{bound}");
            let _ = out.flush();
        }
        tracing::info!(%bound, %base_url, data = %config.data_dir.display(), "skillreg serving");
        if config.public_url.is_empty() && bound.ip().is_unspecified() {
            tracing::warn!(
                "listening on {bound} without public_url: config.json tells clients to use {base_url}, \
                 which they cannot reach; set public_url (or --public-url / SKILLREG_PUBLIC_URL)"
            );
        }
        server
            .run(listener, shutdown_signal())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SKILLREG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
