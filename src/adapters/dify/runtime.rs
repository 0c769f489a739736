//! Session dispatch: one request in, stream chunks and exactly one terminator out.
//!
//! Implemented actions (type `tool`): `validate_tool_credentials`, `invoke_tool`,
//! `get_tool_runtime_parameters` (none); type `endpoint`: `invoke_endpoint` (the memory console,
//! `super::endpoint`). Anything else gets an `error` naming what is supported,
//! then `end`. Failures never escape a session: errors, timeouts and panics all become `error` + `end`.

use super::backwards::{with_caller, BackwardsRouter, CallerSession};
use super::endpoint::{chunks, invoke_endpoint};
use super::line_writer::{Closed, LineSender};
use super::protocol::{
    json_chunk, split_text_for_lines, text_chunk, variable_chunk, ErrorPayload, InboundMessage, LineLimit,
    OutboundEvent, RequestData, SessionMessage,
};
use super::tools::{invoke_tool, TOOL_NAMES};
use crate::adapters::console::http::HttpResponse;
use crate::adapters::console::Console;
use crate::domain::credentials::CredentialSet;
use crate::ports::memory_api::{InvokeContext, MemoryApi};
use futures::FutureExt;
use serde_json::{json, Value};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::Instrument;

/// The `(type, action)` pairs this runtime answers.
pub const SUPPORTED_ACTIONS: &[&str] = &[
    "tool/validate_tool_credentials",
    "tool/invoke_tool",
    "tool/get_tool_runtime_parameters",
    "endpoint/invoke_endpoint",
];

/// Error type Dify shows for bad provider credentials (the SDK's name).
pub const CREDENTIAL_ERROR: &str = "ToolProviderCredentialValidationError";

/// Turns requests into session replies using the memory API.
pub struct Dispatcher {
    api: Arc<dyn MemoryApi>,
    limit: LineLimit,
    request_timeout: Duration,
    workers: Semaphore,
    backwards: Arc<BackwardsRouter>,
    console: Option<Console>,
}

impl Dispatcher {
    /// A dispatcher over `api`, keeping lines under `limit`, each session within `request_timeout`,
    /// at most `max_workers` sessions at once.
    pub fn new(api: Arc<dyn MemoryApi>, limit: LineLimit, request_timeout: Duration, max_workers: usize) -> Self {
        Self {
            api: api.clone(),
            limit,
            request_timeout,
            workers: Semaphore::new(max_workers.max(1)),
            backwards: Arc::new(BackwardsRouter::new()),
            console: None,
        }
    }

    /// This dispatcher answering endpoint calls with `console` (without one, they get a 503).
    pub fn with_console(mut self, console: Console) -> Self {
        self.console = Some(console);
        self
    }

    /// Where replies to backwards invocations (`backwards_response` lines) go.
    pub fn backwards(&self) -> &BackwardsRouter {
        &self.backwards
    }

    /// The memory API (for shutdown).
    pub fn api(&self) -> &Arc<dyn MemoryApi> {
        &self.api
    }

    /// Answers one request completely: stream chunks, then `end` (or `error` then `end`).
    pub async fn run_session(self: Arc<Self>, message: InboundMessage, out: LineSender) {
        self.session(message, out).instrument(tracing::debug_span!("dify.session")).await;
    }

    async fn session(self: Arc<Self>, message: InboundMessage, out: LineSender) {
        let Some(session_id) = message.session_id.clone().filter(|s| !s.is_empty()) else {
            tracing::warn!("request without session_id ignored");
            let _ = out.send_event(&OutboundEvent::Error { message: "request without session_id".into() }).await;
            return;
        };
        let caller = CallerSession::new(session_id.clone(), out.clone(), self.backwards.clone());
        let session = SessionOutput { session_id, out, limit: self.limit };
        let Ok(_permit) = self.workers.acquire().await else { return };
        // the request runs as the caller of backwards invocations (the `dify` model provider)
        let dispatch = with_caller(caller, self.dispatch(&message, &session));
        let work = AssertUnwindSafe(tokio::time::timeout(self.request_timeout, dispatch));
        let result = match work.catch_unwind().await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(ErrorPayload::new(
                "TimeoutError",
                format!("the request did not finish within {:?} (MAX_REQUEST_TIMEOUT)", self.request_timeout),
            )),
            Err(_panic) => {
                tracing::error!(session = %session.session_id, "a session task panicked");
                Err(ErrorPayload::new("InternalError", "the plugin failed unexpectedly while handling this request"))
            }
        };
        let finished = match result {
            Ok(()) => session.end().await,
            Err(payload) => {
                tracing::info!(session = %session.session_id, error_type = %payload.error_type, message = %payload.message, "request failed");
                session.fail(payload).await
            }
        };
        if finished.is_err() {
            tracing::debug!(session = %session.session_id, "connection closed before the session ended");
        }
    }

    async fn dispatch(&self, message: &InboundMessage, session: &SessionOutput) -> Result<(), ErrorPayload> {
        let data: RequestData = tracing::trace_span!("dify.parse_data")
            .in_scope(|| serde_json::from_value(message.data.clone()))
            .map_err(|e| ErrorPayload::new("InvalidRequestError", format!("request data is malformed: {e}")))?;
        tracing::info!(session = %session.session_id, kind = %data.kind, action = %data.action, tool = %data.tool, "request");
        match (data.kind.as_str(), data.action.as_str()) {
            ("tool", "validate_tool_credentials") => self.validate(&data, session).await,
            ("tool", "invoke_tool") => self.invoke(&data, session).await,
            ("tool", "get_tool_runtime_parameters") => session.stream(json!({"parameters": []})).await,
            ("endpoint", "invoke_endpoint") => {
                let Some(console) = &self.console else {
                    let response = HttpResponse::error(503, "not_configured", "this runtime serves no console");
                    for chunk in chunks(&response) {
                        session.stream(chunk).await?;
                    }
                    return Ok(());
                };
                for chunk in invoke_endpoint(console, &data.raw_http_request, &data.settings).await? {
                    session.stream(chunk).await?;
                }
                Ok(())
            }
            (kind, action) => Err(ErrorPayload::new(
                "NotImplementedError",
                format!(
                    "action {action:?} of type {kind:?} is not supported by this plugin; supported: {}",
                    SUPPORTED_ACTIONS.join(", ")
                ),
            )),
        }
    }

    async fn validate(&self, data: &RequestData, session: &SessionOutput) -> Result<(), ErrorPayload> {
        let credentials = parse_credentials(data)?;
        // Dify marks these blocks required; the command line's zero-setup defaults do not apply here
        credentials.require_dify_blocks().map_err(|e| ErrorPayload::new(CREDENTIAL_ERROR, e.to_string()))?;
        let checks =
            self.api.validate(&credentials).await.map_err(|e| ErrorPayload::new(CREDENTIAL_ERROR, e.to_string()))?;
        let failures: Vec<String> = checks
            .iter()
            .filter_map(|c| c.error.as_ref().map(|error| format!("{}: {}", c.credential, error)))
            .collect();
        if !failures.is_empty() {
            return Err(ErrorPayload::new(CREDENTIAL_ERROR, failures.join("; ")));
        }
        session.stream(json!({"result": true})).await
    }

    async fn invoke(&self, data: &RequestData, session: &SessionOutput) -> Result<(), ErrorPayload> {
        if !TOOL_NAMES.contains(&data.tool.as_str()) {
            return Err(ErrorPayload::new(
                "ToolNotFoundError",
                format!("unknown tool {:?}; this plugin provides {}", data.tool, TOOL_NAMES.join(", ")),
            ));
        }
        let credentials = parse_credentials(data)?;
        let ctx = InvokeContext { end_user: Some(data.user_id.trim()).filter(|u| !u.is_empty()).map(str::to_owned) };
        let reply = invoke_tool(self.api.as_ref(), &credentials, &data.tool, &data.tool_parameters, &ctx).await;
        session.stream(json_chunk(&reply.json)).await?;
        session.stream_text(&reply.text).await?;
        for variable in reply.outputs.variables() {
            session.stream(variable_chunk(&variable.name, &variable.value)).await?;
        }
        Ok(())
    }
}

fn parse_credentials(data: &RequestData) -> Result<CredentialSet, ErrorPayload> {
    let _checking = tracing::trace_span!("dify.credentials").entered();
    CredentialSet::from_map(&data.credentials).map_err(|e| ErrorPayload::new(CREDENTIAL_ERROR, e.to_string()))
}

/// Writes the messages of one session.
struct SessionOutput {
    session_id: String,
    out: LineSender,
    limit: LineLimit,
}

impl SessionOutput {
    fn event(&self, message: SessionMessage) -> OutboundEvent {
        OutboundEvent::Session { session_id: self.session_id.clone(), message }
    }

    /// Sends one chunk; a chunk too large for one line is refused (nothing is sent).
    async fn stream(&self, chunk: Value) -> Result<(), ErrorPayload> {
        self.stream_line(chunk).instrument(tracing::trace_span!("dify.encode")).await
    }

    async fn stream_line(&self, chunk: Value) -> Result<(), ErrorPayload> {
        let line = self.event(SessionMessage::Stream(chunk)).to_line();
        if !self.limit.admits(&line) {
            return Err(ErrorPayload::new(
                "ResponseTooLargeError",
                format!(
                    "the result is {} bytes, more than the {} bytes one message may carry; ask for fewer memories (limit/top_k)",
                    line.len(),
                    self.limit.max_bytes()
                ),
            ));
        }
        self.out.send_line(line).await.map_err(closed)
    }

    /// Sends text as one or more `text` chunks, each within the line limit.
    async fn stream_text(&self, text: &str) -> Result<(), ErrorPayload> {
        for piece in split_text_for_lines(text, &self.session_id, self.limit) {
            self.stream(text_chunk(&piece)).await?;
        }
        Ok(())
    }

    async fn end(&self) -> Result<(), Closed> {
        let end = self.event(SessionMessage::End);
        self.out.send_event(&end).instrument(tracing::trace_span!("dify.encode")).await
    }

    async fn fail(&self, payload: ErrorPayload) -> Result<(), Closed> {
        self.out.send_event(&self.event(SessionMessage::Error(payload))).await?;
        self.end().await
    }
}

fn closed(_: Closed) -> ErrorPayload {
    ErrorPayload::new("ConnectionClosedError", "the connection to the daemon closed")
}
