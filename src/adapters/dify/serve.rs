//! Entry point of the plugin runtime (`mem0-dify serve`): picks the transport from the settings,
//! wires the dispatcher to the memory API, and stops on SIGTERM / SIGINT or when the daemon goes.

use super::declaration::{find_plugin_root, PluginDeclarations};
use super::protocol::LineLimit;
use super::remote::run_remote;
use super::runtime::Dispatcher;
use super::runtime_error::RuntimeError;
use super::settings::{RuntimeSettings, Transport};
use super::stdio::run_stdio;
use crate::adapters::console::Console;
use crate::adapters::span_timings::{TimingsFile, SPAN_TIMINGS_VARIABLE};
use crate::ports::memory_admin::MemoryAdmin;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// Runs the plugin until the daemon closes the connection (stdio) or a stop signal arrives, then
/// lets running sessions and accepted writes finish within `settings.shutdown_timeout`.
pub async fn serve(api: Arc<dyn MemoryAdmin>, settings: RuntimeSettings) -> Result<(), RuntimeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = spawn_signal_listener(stop_tx)?;
    let dispatcher = Arc::new(
        Dispatcher::new(
            api.clone(),
            LineLimit::new(settings.daemon_line_buffer),
            settings.request_timeout,
            settings.max_workers,
        )
        .with_console(Console::new(api)),
    );
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
    let stop_requested = stop_requested()?;
    Ok(tokio::spawn(async move {
        stop_requested.await;
        let _ = stop.send(true);
    }))
}

/// Resolves when the process is asked to stop (SIGTERM, as the daemon or a service manager
/// stops it, or SIGINT); the listeners are installed at once, so no signal is missed meanwhile.
pub fn stop_requested() -> Result<impl std::future::Future<Output = ()>, RuntimeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RuntimeError::Signals)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// The log filter of `serve` when none is set: warnings and errors only, since the daemon relays
/// every stderr line to Dify's logs as a warning.
pub const SERVE_DEFAULT_LOG: &str = "warn";
/// The log filter of the other commands when none is set.
pub const CLI_DEFAULT_LOG: &str = "info";
/// The variable that sets the log filter (before `RUST_LOG`).
pub const LOG_VARIABLE: &str = "MEM0_DIFY_LOG";

/// The filter directives in force: `MEM0_DIFY_LOG`, else `RUST_LOG`, else `default` (blank
/// values count as unset).
pub fn log_directives(mem0_dify_log: Option<String>, rust_log: Option<String>, default: &str) -> String {
    [mem0_dify_log, rust_log].into_iter().flatten().find(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

/// Sends `tracing` output to stderr (stdout carries only protocol lines), filtered by
/// [`log_directives`] (`default`: [`SERVE_DEFAULT_LOG`] or [`CLI_DEFAULT_LOG`]). The database
/// driver stays at `info` unless the filter names it: at `debug` it logs every statement's
/// parameters, which are the users' memories. With [`SPAN_TIMINGS_VARIABLE`] set to a file, the
/// plugin's spans are also timed for that file (whatever the log filter; see
/// [`crate::adapters::span_timings`]): the caller writes it at the end ([`TimingsFile::write_last`]).
/// Does nothing when a subscriber is already installed.
pub fn init_stderr_logging(default: &str) -> Option<TimingsFile> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let directives = log_directives(std::env::var(LOG_VARIABLE).ok(), std::env::var("RUST_LOG").ok(), default);
    let mut filter = tracing_subscriber::EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("mem0-dify: the log filter {directives:?} is invalid ({e}); using {default:?}");
        tracing_subscriber::EnvFilter::new(default)
    });
    if !directives.contains("tokio_postgres") {
        if let Ok(directive) = "tokio_postgres=info".parse() {
            filter = filter.add_directive(directive);
        }
    }
    let file = std::env::var_os(SPAN_TIMINGS_VARIABLE).filter(|v| !v.is_empty()).map(PathBuf::from);
    let Some(file) = file else {
        let _ =
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
        return None;
    };
    // the stderr filter applies to the stderr output only, so that the timings see their spans
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false).with_filter(filter);
    let (timings, layer) = TimingsFile::new(file);
    // the plugin's own spans only: never events, never the libraries'
    let own_spans =
        tracing_subscriber::filter::filter_fn(|meta| meta.is_span() && meta.target().starts_with("mem0_dify"));
    tracing_subscriber::registry().with(stderr).with(layer.with_filter(own_spans)).try_init().ok().map(|()| timings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_filter_comes_from_mem0_dify_log_then_rust_log_then_the_default() {
        let some = |v: &str| Some(v.to_owned());
        assert_eq!(log_directives(None, None, SERVE_DEFAULT_LOG), "warn");
        assert_eq!(log_directives(None, some("info"), SERVE_DEFAULT_LOG), "info");
        assert_eq!(log_directives(some("debug"), some("info"), SERVE_DEFAULT_LOG), "debug");
        assert_eq!(log_directives(some(" "), some(""), CLI_DEFAULT_LOG), "info");
    }
}
