//! The transport-independent core of a connection to the daemon: a line reader of unbounded line
//! length, a single writer that writes whole lines atomically, the heartbeat, and the loop that
//! starts one concurrent task per session.

use super::protocol::{ErrorPayload, InboundMessage, OutboundEvent, SessionMessage};
use super::salvage::salvage_request_session;
use super::runtime::Dispatcher;
use std::io::{self, BufRead};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Lines queued for the writer before senders wait (back-pressure on a slow daemon).
const WRITE_QUEUE: usize = 1024;
/// Lines read ahead of the session loop.
const READ_QUEUE: usize = 64;

/// The writer is gone (the connection closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection to the daemon is closed")]
pub struct Closed;

/// A handle to the connection's single writer: every line sent is written whole, never interleaved.
#[derive(Debug, Clone)]
pub struct LineSender {
    tx: mpsc::Sender<Vec<u8>>,
}

impl LineSender {
    /// Queues one complete line (its terminator included).
    pub async fn send_line(&self, line: Vec<u8>) -> Result<(), Closed> {
        self.tx.send(line).await.map_err(|_| Closed)
    }

    /// Queues one event.
    pub async fn send_event(&self, event: &OutboundEvent) -> Result<(), Closed> {
        self.send_line(event.to_line()).await
    }
}

/// Starts the writer task over `sink`. It ends, after writing everything queued, when every
/// [`LineSender`] is dropped, or on the first write error.
pub fn spawn_writer<W>(mut sink: W) -> (LineSender, JoinHandle<io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let task = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            sink.write_all(&line).await?;
            // write what else is already queued before flushing once
            while let Ok(more) = rx.try_recv() {
                sink.write_all(&more).await?;
            }
            sink.flush().await?;
        }
        sink.flush().await?;
        sink.shutdown().await.or_else(|e| if e.kind() == io::ErrorKind::NotConnected { Ok(()) } else { Err(e) })
    });
    (LineSender { tx }, task)
}

/// Sends a heartbeat now and then every `interval` until aborted or the writer closes.
pub fn spawn_heartbeat(out: LineSender, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if out.send_event(&OutboundEvent::Heartbeat).await.is_err() {
                return;
            }
        }
    })
}

/// One line read from the daemon (without its `\n`), or the read error that ended the input.
pub type ReadLine = io::Result<Vec<u8>>;

/// Reads `\n`-separated lines of any length from a blocking reader on a plain thread (so a
/// pending read never holds up the async runtime when the process stops). The channel closes at
/// end of input.
pub fn spawn_blocking_line_reader<R>(reader: R) -> mpsc::Receiver<ReadLine>
where
    R: io::Read + Send + 'static,
{
    let (tx, rx) = mpsc::channel(READ_QUEUE);
    let spawned = std::thread::Builder::new().name("dify-line-reader".into()).spawn(move || {
        let mut reader = io::BufReader::with_capacity(64 * 1024, reader);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if tx.blocking_send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the input reader thread");
    }
    rx
}

/// Reads `\n`-separated lines of any length from an async reader. The channel closes at end of input.
pub fn spawn_async_line_reader<R>(reader: R) -> mpsc::Receiver<ReadLine>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(READ_QUEUE);
    tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) => return,
                Ok(_) => {
                    if tx.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    rx
}

/// Why the session loop stopped reading.
#[derive(Debug)]
pub enum LoopEnd {
    /// End of input: the daemon closed its side.
    Eof,
    /// A stop signal arrived.
    Shutdown,
    /// Reading failed.
    ReadError(io::Error),
    /// Before any request, the daemon sent a line that is not JSON: a registration error (remote only).
    Rejected(String),
}

/// Reads requests and starts one task per session until the input ends or `stop` turns true.
/// With `plain_text_rejects` (remote), a non-JSON line before the first request ends the loop
/// as [`LoopEnd::Rejected`]: that is how the daemon refuses a registration.
pub async fn run_session_loop(
    lines: &mut mpsc::Receiver<ReadLine>,
    out: &LineSender,
    dispatcher: &Arc<Dispatcher>,
    stop: &mut watch::Receiver<bool>,
    sessions: &mut JoinSet<()>,
    plain_text_rejects: bool,
) -> LoopEnd {
    let mut seen_request = false;
    loop {
        if *stop.borrow() {
            return LoopEnd::Shutdown;
        }
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return LoopEnd::Shutdown;
                }
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            line = lines.recv() => {
                let bytes = match line {
                    None => {
                        dispatcher.backwards().close_all();
                        return LoopEnd::Eof;
                    }
                    Some(Err(e)) => {
                        dispatcher.backwards().close_all();
                        return LoopEnd::ReadError(e);
                    }
                    Some(Ok(bytes)) => bytes,
                };
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                match serde_json::from_str::<InboundMessage>(text) {
                    Ok(message) if message.event == "request" => {
                        seen_request = true;
                        sessions.spawn(Arc::clone(dispatcher).run_session(message, out.clone()));
                    }
                    Ok(message) if message.event == "backwards_response" => dispatcher.backwards().deliver(message.data),
                    Ok(message) => {
                        tracing::debug!(event = %message.event, "ignoring a message that is not a request");
                    }
                    Err(e) => {
                        if let Some(session_id) = salvage_request_session(text) {
                            seen_request = true;
                            tracing::warn!(error = %e, session = %session_id, bytes = bytes.len(), "unreadable request");
                            fail_unreadable_request(out, session_id, &e).await;
                            continue;
                        }
                        if plain_text_rejects && !seen_request {
                            if let Some(refusal) = plain_text_refusal(text) {
                                return refusal;
                            }
                        }
                        tracing::warn!(error = %e, bytes = bytes.len(), "unreadable line from the daemon");
                        let _ = out.send_event(&OutboundEvent::Error { message: format!("unreadable line: {e}") }).await;
                    }
                }
            }
        }
    }
}

/// Ends the session of a request line that could not be read: `error` naming the cause, then `end`.
async fn fail_unreadable_request(out: &LineSender, session_id: String, cause: &serde_json::Error) {
    let payload = ErrorPayload::new("InvalidRequestError", format!("the request could not be read: {cause}"));
    let error = OutboundEvent::Session { session_id: session_id.clone(), message: SessionMessage::Error(payload) };
    if out.send_event(&error).await.is_ok() {
        let _ = out.send_event(&OutboundEvent::Session { session_id, message: SessionMessage::End }).await;
    }
}

/// A registration refusal: the daemon answers a refused registration with one line of plain text
/// (not JSON) before closing; `None` for anything else.
pub fn plain_text_refusal(line: &str) -> Option<LoopEnd> {
    let text = line.trim();
    let refused = !text.is_empty() && serde_json::from_str::<serde_json::Value>(text).is_err();
    refused.then(|| LoopEnd::Rejected(text.chars().take(1000).collect()))
}

/// Waits for running sessions to finish, at most `deadline`; aborts the rest.
pub async fn drain_sessions(sessions: &mut JoinSet<()>, deadline: Duration) {
    if sessions.is_empty() {
        return;
    }
    let running = sessions.len();
    tracing::info!(running, "waiting for running sessions to finish");
    let drained = tokio::time::timeout(deadline, async { while sessions.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = sessions.len(), ?deadline, "sessions still running at the deadline were aborted");
        sessions.abort_all();
        while sessions.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blocking_reader_returns_lines_of_any_length_then_closes() {
        let long = "x".repeat(9 * 1024 * 1024);
        let input = format!("a\n\n{long}\nlast-without-newline");
        let mut rx = spawn_blocking_line_reader(io::Cursor::new(input.into_bytes()));
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line.unwrap());
        }
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], b"a\n");
        assert_eq!(lines[2].len(), long.len() + 1);
        assert_eq!(lines[3], b"last-without-newline");
    }

    #[tokio::test]
    async fn writer_writes_whole_lines_and_finishes_when_senders_drop() {
        let (client, mut server) = tokio::io::duplex(64);
        let (out, task) = spawn_writer(client);
        let mut senders = Vec::new();
        for i in 0..20 {
            let out = out.clone();
            senders.push(tokio::spawn(async move {
                let line = format!("{}\n\n", i.to_string().repeat(500)).into_bytes();
                out.send_line(line).await.unwrap();
            }));
        }
        drop(out);
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut server, &mut all).await.unwrap();
            all
        });
        for s in senders {
            s.await.unwrap();
        }
        task.await.unwrap().unwrap();
        let all = String::from_utf8(reader.await.unwrap()).unwrap();
        let mut lines: Vec<String> = all.split("\n\n").filter(|l| !l.is_empty()).map(str::to_owned).collect();
        let mut expected: Vec<String> = (0..20).map(|i| i.to_string().repeat(500)).collect();
        lines.sort();
        expected.sort();
        assert_eq!(lines, expected, "every line arrives whole");
    }
}
