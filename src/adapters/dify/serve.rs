//! Entry point of the plugin runtime (`mem0-dify serve`): picks the transport from the settings,
//! wires the dispatcher to the memory API, and stops on SIGTERM / SIGINT or when the daemon goes.

use super::declaration::{find_plugin_root, PluginDeclarations};
use super::protocol::LineLimit;
use super::remote::run_remote;
use super::runtime::Dispatcher;
use super::runtime_error::RuntimeError;
use super::settings::{RuntimeSettings, Transport};
use super::stdio::run_stdio;
use crate::ports::memory_api::MemoryApi;
use std::sync::Arc;
use tokio::sync::watch;

/// Runs the plugin until the daemon closes the connection (stdio) or a stop signal arrives, then
/// lets running sessions and accepted writes finish within `settings.shutdown_timeout`.
pub async fn serve(api: Arc<dyn MemoryApi>, settings: RuntimeSettings) -> Result<(), RuntimeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = spawn_signal_listener(stop_tx)?;
    let dispatcher = Arc::new(Dispatcher::new(
        api,
        LineLimit::new(settings.daemon_line_buffer),
        settings.request_timeout,
        settings.max_workers,
    ));
    let result = match &settings.transport {
        Transport::Stdio => {
            run_stdio(dispatcher, &settings, stop_rx).await;
            Ok(())
        }
        Transport::Remote(target) => {
            let root = find_plugin_root(settings.plugin_root.as_deref())?;
            let declarations = PluginDeclarations::load(&root)?;
            tracing::info!(plugin = %declarations.plugin_id, root = %root.display(), "declarations loaded");
            run_remote(dispatcher, &settings, target, &declarations, stop_rx).await
        }
    };
    signals.abort();
    result
}

fn spawn_signal_listener(stop: watch::Sender<bool>) -> Result<tokio::task::JoinHandle<()>, RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RuntimeError::Signals)?;
    Ok(tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        let _ = stop.send(true);
    }))
}

/// Sends `tracing` output to stderr (stdout carries only protocol lines), filtered by `RUST_LOG`
/// (default `info`). The database driver stays at `info` unless `RUST_LOG` names it: at `debug` it
/// logs every statement's parameters, which are the users' memories. Does nothing when a
/// subscriber is already installed.
pub fn init_stderr_logging() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let driver_named = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("tokio_postgres"));
    if !driver_named {
        if let Ok(directive) = "tokio_postgres=info".parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}
