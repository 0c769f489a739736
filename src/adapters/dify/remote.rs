//! The `remote` transport (remote debugging): dial the daemon's debugging port, register
//! (handshake, declarations, icon asset chunks, end), then heartbeat and serve sessions on the
//! same socket. A lost connection is re-dialled with exponential backoff and a full
//! re-registration; a refused registration (bad key or declaration) stops the runtime.

use super::connection::{
    drain_sessions, plain_text_refusal, run_session_loop, spawn_async_line_reader, LoopEnd, ReadLine,
};
use super::declaration::PluginDeclarations;
use super::line_writer::{spawn_heartbeat, spawn_writer, LineSender};
use super::runtime::Dispatcher;
use super::runtime_error::RuntimeError;
use super::settings::{RemoteTarget, RuntimeSettings};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Time allowed to open the TCP connection (the daemon wants the handshake within 10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait before re-dialling.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest wait between attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A connection that lived this long resets the backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(60);

/// Exponential backoff between connection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Starts at [`BACKOFF_START`].
    pub fn new() -> Self {
        Self { next: BACKOFF_START }
    }

    /// The wait before the next attempt (doubling up to [`BACKOFF_MAX`]).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        delay
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// True for a registration refusal that a retry cannot fix (wrong key, invalid declaration).
pub fn is_fatal_rejection(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("invalid") || m.contains("not found") || m.contains("too large")
}

/// Registers with the daemon and serves it until `stop`, re-connecting when the connection drops.
pub async fn run_remote(
    dispatcher: Arc<Dispatcher>,
    settings: &RuntimeSettings,
    target: &RemoteTarget,
    declarations: &PluginDeclarations,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let mut backoff = Backoff::new();
    let mut sessions = JoinSet::new();
    let mut writers: Vec<JoinHandle<io::Result<()>>> = Vec::new();
    let outcome = loop {
        if *stop.borrow() {
            break Ok(());
        }
        let address = format!("{}:{}", target.host, target.port);
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((target.host.as_str(), target.port))).await {
            Ok(Ok(stream)) => {
                let started = Instant::now();
                tracing::info!(%address, "connected to the daemon; registering");
                let (end, writer) = serve_connection(
                    stream,
                    &dispatcher,
                    settings,
                    &target.key,
                    declarations,
                    &mut stop,
                    &mut sessions,
                )
                .await;
                writers.retain(|w| !w.is_finished());
                writers.push(writer);
                match end {
                    LoopEnd::Shutdown => break Ok(()),
                    LoopEnd::Rejected(message) if is_fatal_rejection(&message) => {
                        tracing::error!(%message, "the daemon refused the registration");
                        break Err(RuntimeError::Rejected(message));
                    }
                    LoopEnd::Rejected(message) => {
                        tracing::warn!(%message, "the daemon refused the registration; retrying")
                    }
                    LoopEnd::Eof => tracing::warn!(%address, "the daemon closed the connection"),
                    LoopEnd::ReadError(e) => {
                        tracing::warn!(%address, error = %e, "the connection to the daemon failed")
                    }
                }
                if started.elapsed() >= STABLE_CONNECTION {
                    backoff.reset();
                }
            }
            Ok(Err(e)) => tracing::warn!(%address, error = %e, "cannot connect to the daemon"),
            Err(_) => tracing::warn!(%address, "connecting to the daemon timed out"),
        }
        let delay = backoff.next_delay();
        tracing::info!(?delay, "reconnecting after a pause");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
    };
    let deadline = Instant::now() + settings.shutdown_timeout;
    drain_sessions(&mut sessions, settings.shutdown_timeout).await;
    dispatcher.api().shutdown(deadline.saturating_duration_since(Instant::now())).await;
    for writer in writers {
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), writer).await;
    }
    outcome
}

async fn serve_connection(
    stream: TcpStream,
    dispatcher: &Arc<Dispatcher>,
    settings: &RuntimeSettings,
    key: &str,
    declarations: &PluginDeclarations,
    stop: &mut watch::Receiver<bool>,
    sessions: &mut JoinSet<()>,
) -> (LoopEnd, JoinHandle<io::Result<()>>) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let (out, writer) = spawn_writer(write);
    let mut lines = spawn_async_line_reader(read);
    if let Err(end) = register(&out, key, declarations).await {
        // a daemon refusing the key closes the connection while the declarations are still being
        // sent: its reason is then already on the way in
        return (refusal_after_closed_registration(&mut lines).await.unwrap_or(end), writer);
    }
    let heartbeat = spawn_heartbeat(out.clone(), settings.heartbeat_interval);
    let end = run_session_loop(&mut lines, &out, dispatcher, stop, sessions, true).await;
    heartbeat.abort();
    (end, writer)
}

/// How long a refusal may take to arrive once the daemon closed the connection.
const REFUSAL_WAIT: Duration = Duration::from_secs(2);

/// The daemon's plain-text refusal, when its first line is one.
async fn refusal_after_closed_registration(lines: &mut mpsc::Receiver<ReadLine>) -> Option<LoopEnd> {
    let line = tokio::time::timeout(REFUSAL_WAIT, lines.recv()).await.ok()??.ok()?;
    plain_text_refusal(&String::from_utf8_lossy(&line.bytes))
}

async fn register(out: &LineSender, key: &str, declarations: &PluginDeclarations) -> Result<(), LoopEnd> {
    for line in declarations.registration_lines(key) {
        if out.send_line(line).await.is_err() {
            return Err(LoopEnd::ReadError(io::Error::new(io::ErrorKind::BrokenPipe, "closed during registration")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
        b.reset();
        assert_eq!(b.next_delay(), BACKOFF_START);
    }

    #[test]
    fn key_and_declaration_refusals_are_fatal_busy_is_not() {
        assert!(is_fatal_rejection("handshake failed, invalid key"));
        assert!(is_fatal_rejection("handshake failed, invalid plugin declaration: x"));
        assert!(!is_fatal_rejection("server is busy now, please try again later"));
    }
}
