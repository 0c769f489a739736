//! The `local` transport: the daemon started this process and talks over stdin/stdout.
//!
//! Heartbeat at start and every `HEARTBEAT_INTERVAL`; on end of input (the daemon closed the pipe)
//! or a stop signal, running sessions get until the shutdown deadline, accepted writes are
//! drained through `MemoryApi::shutdown`, queued lines are written, and the function returns.

use super::connection::{drain_sessions, run_session_loop, spawn_blocking_line_reader, LoopEnd};
use super::line_writer::{spawn_heartbeat, spawn_thread_writer, LineSender, WriterEnd};
use super::runtime::Dispatcher;
use super::settings::RuntimeSettings;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Serves the daemon over stdin/stdout until end of input or `stop`.
pub async fn run_stdio(dispatcher: Arc<Dispatcher>, settings: &RuntimeSettings, mut stop: watch::Receiver<bool>) {
    let (out, writer) = match stdout_writer() {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(error = %e, "could not start the stdout writer thread; stopping");
            return;
        }
    };
    let heartbeat = spawn_heartbeat(out.clone(), settings.heartbeat_interval);
    let mut lines = spawn_blocking_line_reader(std::io::stdin());
    let mut sessions = JoinSet::new();
    tracing::info!("plugin runtime ready on stdio");
    let end = run_session_loop(&mut lines, &out, &dispatcher, &mut stop, &mut sessions, false).await;
    match &end {
        LoopEnd::Eof => tracing::info!("stdin closed; stopping"),
        LoopEnd::Shutdown => tracing::info!("stop signal; stopping"),
        LoopEnd::ReadError(e) => tracing::warn!(error = %e, "reading stdin failed; stopping"),
        LoopEnd::Rejected(_) => {}
    }
    let deadline = Instant::now() + settings.shutdown_timeout;
    drain_sessions(&mut sessions, settings.shutdown_timeout).await;
    dispatcher.api().shutdown(deadline.saturating_duration_since(Instant::now())).await;
    heartbeat.abort();
    let _ = heartbeat.await;
    drop(out);
    match tokio::time::timeout(
        deadline.saturating_duration_since(Instant::now()).max(std::time::Duration::from_secs(1)),
        writer,
    )
    .await
    {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::debug!(error = %e, "stdout closed before every line was written"),
        Ok(Err(_)) => tracing::warn!("the writer thread ended without a word"),
        Err(_) => tracing::warn!("stdout did not take the last lines before the deadline"),
    }
}

/// The connection's writer over the process's stdout, on a thread of its own.
fn stdout_writer() -> std::io::Result<(LineSender, WriterEnd)> {
    spawn_thread_writer(std::io::stdout())
}
