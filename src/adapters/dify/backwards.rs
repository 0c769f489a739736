//! Backwards invocation (contract §6): within a running session the plugin asks Dify, through the
//! daemon, to run one of the workspace's models. Each invocation gets an id; the daemon's replies
//! (`backwards_response` lines) are routed back to it by that id.
//!
//! An invocation travels in the session whose request is being handled: the dispatcher runs each
//! request inside [`with_caller`], and the `dify` model adapters find that session with
//! [`current_caller`]. Outside a request (the command line, background writers) there is none.

use super::line_writer::LineSender;
use super::protocol::{BackwardsResponse, OutboundEvent, SessionMessage};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Why a backwards invocation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackwardsError {
    /// No Dify request is being handled in this task.
    #[error(
        "the `dify` provider reaches the models of your Dify workspace only while Dify is calling this plugin \
         (not from the command line or a background task)"
    )]
    NoCaller,
    /// The connection to the daemon closed before the reply was complete.
    #[error("the connection to the Dify plugin daemon closed before Dify answered")]
    Closed,
    /// Nothing arrived for too long.
    #[error("Dify did not answer within {0:?}")]
    Silent(Duration),
    /// The daemon or Dify answered with an error (e.g. a missing permission or a model failure).
    #[error("Dify answered with an error: {0}")]
    Refused(String),
}

type ReplySender = mpsc::UnboundedSender<BackwardsResponse>;

/// Routes `backwards_response` lines to the invocations waiting for them.
#[derive(Debug, Default)]
pub struct BackwardsRouter {
    pending: Mutex<HashMap<String, ReplySender>>,
}

impl BackwardsRouter {
    /// A router with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands the `data` of one `backwards_response` line to the invocation waiting for it; a reply
    /// nobody waits for (its invocation gave up) is dropped.
    pub fn deliver(&self, data: Value) {
        let reply: BackwardsResponse = match serde_json::from_value(data) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable backwards_response ignored");
                return;
            }
        };
        let sender = self.lock().get(&reply.backwards_request_id).cloned();
        match sender {
            Some(sender) => {
                let _ = sender.send(reply);
            }
            None => tracing::debug!(id = %reply.backwards_request_id, "a backwards reply nobody waits for was dropped"),
        }
    }

    /// Fails every pending invocation with [`BackwardsError::Closed`] (the connection ended).
    pub fn close_all(&self) {
        self.lock().clear();
    }

    fn register(self: &Arc<Self>, id: &str) -> (Registration, mpsc::UnboundedReceiver<BackwardsResponse>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().insert(id.to_owned(), tx);
        (Registration { router: Arc::clone(self), id: id.to_owned() }, rx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ReplySender>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Removes its invocation from the router when dropped (finished, failed or cancelled).
struct Registration {
    router: Arc<BackwardsRouter>,
    id: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.router.lock().remove(&self.id);
    }
}

/// The session of the request being handled, through which backwards invocations travel.
#[derive(Debug, Clone)]
pub struct CallerSession {
    session_id: String,
    out: LineSender,
    router: Arc<BackwardsRouter>,
}

impl CallerSession {
    /// The session `session_id`, writing to `out`, its replies routed by `router`.
    pub fn new(session_id: impl Into<String>, out: LineSender, router: Arc<BackwardsRouter>) -> Self {
        Self { session_id: session_id.into(), out, router }
    }

    /// Sends one invocation of `kind` and returns the payloads of its responses, in order, once
    /// the daemon ends it. `silence` bounds the wait for each reply.
    pub async fn invoke(&self, kind: &str, request: Value, silence: Duration) -> Result<Vec<Value>, BackwardsError> {
        let request_id = Uuid::new_v4().simple().to_string();
        let (_registration, mut replies) = self.router.register(&request_id);
        let message = SessionMessage::Invoke { kind: kind.to_owned(), request_id: request_id.clone(), request };
        let event = OutboundEvent::Session { session_id: self.session_id.clone(), message };
        self.out.send_event(&event).await.map_err(|_| BackwardsError::Closed)?;
        tracing::debug!(session = %self.session_id, kind, id = %request_id, "backwards invocation sent");
        let mut payloads = Vec::new();
        loop {
            let reply = match tokio::time::timeout(silence, replies.recv()).await {
                Err(_) => return Err(BackwardsError::Silent(silence)),
                Ok(None) => return Err(BackwardsError::Closed),
                Ok(Some(reply)) => reply,
            };
            match reply.event.as_str() {
                "response" => payloads.push(reply.data),
                "end" => return Ok(payloads),
                "error" => return Err(BackwardsError::Refused(reply.message)),
                other => {
                    return Err(BackwardsError::Refused(format!("unexpected backwards_response event {other:?}")));
                }
            }
        }
    }
}

tokio::task_local! {
    static CALLER: CallerSession;
}

/// Runs `work` with `caller` as the session backwards invocations travel in.
pub async fn with_caller<F: Future>(caller: CallerSession, work: F) -> F::Output {
    CALLER.scope(caller, work).await
}

/// The session of the request this task is handling.
pub fn current_caller() -> Result<CallerSession, BackwardsError> {
    CALLER.try_with(CallerSession::clone).map_err(|_| BackwardsError::NoCaller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::dify::line_writer::spawn_writer;
    use serde_json::json;
    use tokio::io::AsyncBufReadExt;

    /// A caller whose lines can be read back, and its router.
    fn caller() -> (CallerSession, Arc<BackwardsRouter>, tokio::io::Lines<tokio::io::BufReader<tokio::io::DuplexStream>>)
    {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (out, _writer) = spawn_writer(ours);
        let router = Arc::new(BackwardsRouter::new());
        (CallerSession::new("S", out, router.clone()), router, tokio::io::BufReader::new(theirs).lines())
    }

    async fn sent_invocation(
        lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::io::DuplexStream>>,
    ) -> (String, Value) {
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            if !line.is_empty() {
                let value: Value = serde_json::from_str(&line).unwrap();
                let id = value["data"]["data"]["backwards_request_id"].as_str().unwrap().to_owned();
                return (id, value);
            }
        }
    }

    fn reply(id: &str, event: &str, message: &str, data: Value) -> Value {
        json!({"backwards_request_id": id, "event": event, "message": message, "data": data})
    }

    #[tokio::test]
    async fn responses_are_collected_until_end_and_routed_by_id() {
        let (caller, router, mut lines) = caller();
        let call =
            tokio::spawn(async move { caller.invoke("llm", json!({"model": "m"}), Duration::from_secs(5)).await });
        let (id, sent) = sent_invocation(&mut lines).await;
        assert_eq!(sent["session_id"], "S");
        assert_eq!(sent["data"]["type"], "invoke");
        assert_eq!(sent["data"]["data"]["type"], "llm");
        assert_eq!(sent["data"]["data"]["request"], json!({"model": "m"}));
        router.deliver(reply("someone-else", "response", "stream", json!("stray")));
        router.deliver(reply(&id, "response", "stream", json!({"n": 1})));
        router.deliver(reply(&id, "response", "stream", json!({"n": 2})));
        router.deliver(reply(&id, "end", "", Value::Null));
        assert_eq!(call.await.unwrap().unwrap(), vec![json!({"n": 1}), json!({"n": 2})]);
        assert!(router.lock().is_empty(), "the finished invocation is no longer pending");
    }

    #[tokio::test]
    async fn an_error_reply_a_silence_and_a_closed_connection_fail_the_invocation() {
        let (caller, router, mut lines) = caller();
        let failing = caller.clone();
        let call = tokio::spawn(async move { failing.invoke("llm", json!({}), Duration::from_secs(5)).await });
        let (id, _) = sent_invocation(&mut lines).await;
        router.deliver(reply(&id, "error", "permission denied, you need to enable llm access", Value::Null));
        assert_eq!(
            call.await.unwrap(),
            Err(BackwardsError::Refused("permission denied, you need to enable llm access".into()))
        );

        let silent = caller.invoke("text_embedding", json!({}), Duration::from_millis(50)).await;
        assert_eq!(silent, Err(BackwardsError::Silent(Duration::from_millis(50))));

        let closing = caller.clone();
        let call = tokio::spawn(async move { closing.invoke("llm", json!({}), Duration::from_secs(5)).await });
        let _ = sent_invocation(&mut lines).await;
        let _ = sent_invocation(&mut lines).await;
        router.close_all();
        assert_eq!(call.await.unwrap(), Err(BackwardsError::Closed));
    }

    #[tokio::test]
    async fn the_caller_is_known_only_inside_with_caller() {
        let (caller, _router, _lines) = caller();
        assert_eq!(current_caller().err(), Some(BackwardsError::NoCaller));
        let inside = with_caller(caller, async { current_caller().map(|c| c.session_id) }).await;
        assert_eq!(inside.unwrap(), "S");
    }
}
