//! The transport-independent core of a connection to the daemon: a line reader of unbounded line
//! length and the loop that starts one concurrent task per session (the writer side is
//! [`super::line_writer`]).

use super::line_writer::LineSender;
use super::protocol::{ErrorPayload, InboundMessage, OutboundEvent, SessionMessage};
use super::runtime::Dispatcher;
use super::salvage::salvage_request_session;
use std::io::{self, BufRead};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// Lines read ahead of the session loop.
const READ_QUEUE: usize = 64;

/// One line read from the daemon, or the read error that ended the input.
pub type ReadLine = io::Result<Line>;

/// One line read from the daemon (with its `\n` when it had one).
#[derive(Debug)]
pub struct Line {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `dify.read`: open from the moment the reader has the whole line until the session loop
    /// takes it (the hand-over between the reader and the loop).
    pub read: tracing::Span,
}

impl Line {
    fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, read: tracing::trace_span!("dify.read") }
    }
}

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
                    if tx.blocking_send(Ok(Line::new(line))).is_err() {
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
                    if tx.send(Ok(Line::new(line))).await.is_err() {
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
                    Some(Ok(Line { bytes, read })) => {
                        drop(read);
                        bytes
                    }
                };
                let parse = tracing::trace_span!("dify.parse_line").entered();
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let parsed = serde_json::from_str::<InboundMessage>(text);
                drop(parse);
                match parsed {
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
            lines.push(line.unwrap().bytes);
        }
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], b"a\n");
        assert_eq!(lines[2].len(), long.len() + 1);
        assert_eq!(lines[3], b"last-without-newline");
    }
}
