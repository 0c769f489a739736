//! A fake OpenAI API server for tests: speaks the real wire format of `/chat/completions` and
//! `/embeddings` on `127.0.0.1:<random port>`, answers from a script, and records every request.
//!
//! Use it from a test module with `use crate::support::fake_openai;` and run the test on a tokio
//! runtime.
//!
//! ```ignore
//! let server = FakeOpenAi::start().await;            // listens until dropped
//! let base_url = server.base_url();                  // "http://127.0.0.1:PORT/v1" (use as openai_base_url)
//!
//! // Chat: scripted answers are served in order; when none is queued the handler (if any) answers,
//! // otherwise the server replies 500 "no scripted chat answer" so a missing script is loud.
//! server.push_chat(Reply::json(&json!({"facts": ["Likes tea"]})));   // content = that JSON text
//! server.push_chat(Reply::text("plain answer"));
//! server.push_chat(Reply::tool_call("add_entities", json!({"entities": []})));
//! server.push_chat(Reply::tool_call_raw("f", "{not json"));          // arguments sent verbatim
//! server.on_chat(|body| Reply::text(body["model"].as_str().unwrap_or("")));  // closure: request body → reply
//!
//! // Faults, for any endpoint, served before anything else: status + OpenAI error body.
//! server.fail_next(2, Reply::error(500, "boom"));
//! server.fail_next(1, Reply::rate_limited(Some(0.05)));   // 429 with `Retry-After: 0.05`
//! server.set_outage("/embeddings", Some(Reply::error(503, "down")));  // until set_outage(.., None)
//! server.require_api_key("sk-test");  // other keys get 401 (whose message echoes the key sent, unmasked)
//! server.set_latency(Duration::from_millis(300));         // before every answer
//!
//! // Embeddings: deterministic hashed bag-of-words vectors (sentences sharing words are close),
//! // `dims` per vector (default 1536; a request's `dimensions` wins), in `index` order unless reversed.
//! server.set_embedding_dims(8);
//! server.set_embedding_order_reversed(true);
//! let v = embed_text("I like tea", 8);                    // what the server returns for that text
//!
//! // Inspection.
//! let all: Vec<RecordedRequest> = server.requests();      // method, path, headers (lower-case), body
//! let chats = server.chat_requests();                     // only /chat/completions
//! let embeds = server.embedding_requests();               // only /embeddings
//! ```
//!
//! Paths are matched by suffix (`…/chat/completions`, `…/embeddings`), so any base path works
//! (`/v1`, `/openai/v1`, none). The server also answers proxy-style absolute-form requests, so it can
//! stand in as an HTTP proxy (the recorded `host` header then names the upstream).

#![allow(dead_code)]

use super::recorder;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use recorder::{Listener, Recorder};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A chat completion.
    Chat(ChatReply),
    /// A status with OpenAI's error body `{"error": {"message", "type", "code"}}`.
    Error {
        /// HTTP status.
        status: u16,
        /// The error message.
        message: String,
        /// `Retry-After` header value, if any.
        retry_after: Option<String>,
    },
    /// Any status with a raw body.
    Raw {
        /// HTTP status.
        status: u16,
        /// Body, sent as is.
        body: String,
    },
}

/// A scripted chat answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatReply {
    /// `message.content` (`null` when `None`).
    pub content: Option<String>,
    /// Tool calls: function name and raw `arguments` string.
    pub tool_calls: Vec<(String, String)>,
    /// `usage` prompt / completion tokens; computed from lengths when `None`.
    pub usage: Option<(u64, u64)>,
}

impl Reply {
    /// A text answer.
    pub fn text(content: &str) -> Self {
        Reply::Chat(ChatReply { content: Some(content.to_owned()), ..ChatReply::default() })
    }

    /// An answer whose content is this JSON, serialized (what JSON mode returns).
    pub fn json(value: &Value) -> Self {
        Self::text(&value.to_string())
    }

    /// One tool call with these arguments (serialized to the JSON string the API sends).
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self::tool_call_raw(name, &arguments.to_string())
    }

    /// One tool call with `arguments` sent verbatim (to test malformed JSON).
    pub fn tool_call_raw(name: &str, arguments: &str) -> Self {
        Reply::Chat(ChatReply {
            content: None,
            tool_calls: vec![(name.to_owned(), arguments.to_owned())],
            ..ChatReply::default()
        })
    }

    /// An error status with OpenAI's error body.
    pub fn error(status: u16, message: &str) -> Self {
        Reply::Error { status, message: message.to_owned(), retry_after: None }
    }

    /// HTTP 429, with `Retry-After: <secs>` when given.
    pub fn rate_limited(retry_after_secs: Option<f64>) -> Self {
        Reply::Error {
            status: 429,
            message: "Rate limit reached for requests".to_owned(),
            retry_after: retry_after_secs.map(|s| s.to_string()),
        }
    }
}

/// One request as received (see `recorder.rs`).
pub type RecordedRequest = recorder::Request;

impl RecordedRequest {
    /// True for `/chat/completions` requests.
    pub fn is_chat(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }

    /// True for `/embeddings` requests.
    pub fn is_embeddings(&self) -> bool {
        self.path.ends_with("/embeddings")
    }
}

type ChatHandler = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

struct Inner {
    chat_queue: VecDeque<Reply>,
    chat_handler: Option<ChatHandler>,
    outages: Vec<(String, Reply)>,
    api_key: Option<String>,
    latency: Duration,
    dims: usize,
    reversed: bool,
    served: u64,
}

/// What the request handler shares with the server: faults are the recorder's queued replies.
#[derive(Clone)]
struct Ctx {
    recorder: Recorder<Reply>,
    state: Arc<Mutex<Inner>>,
}

/// The running fake server; stops when dropped.
pub struct FakeOpenAi {
    listener: Listener,
    ctx: Ctx,
}

impl FakeOpenAi {
    /// Starts a server on `127.0.0.1` with an OS-chosen port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Inner {
            chat_queue: VecDeque::new(),
            chat_handler: None,
            outages: Vec::new(),
            api_key: None,
            latency: Duration::ZERO,
            dims: 1536,
            reversed: false,
            served: 0,
        }));
        let ctx = Ctx { recorder: Recorder::default(), state };
        let listener = Listener::serve(Router::new().fallback(handle).with_state(ctx.clone()));
        Self { listener, ctx }
    }

    /// `http://127.0.0.1:PORT` (root; use as a proxy URL).
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// `http://127.0.0.1:PORT/v1` (use as `openai_base_url`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.ctx.state.lock().expect("fake server state"))
    }

    /// Queues a chat answer (served in order, before the handler).
    pub fn push_chat(&self, reply: Reply) {
        self.with(|s| s.chat_queue.push_back(reply));
    }

    /// Answers chat requests with a closure of the request body once the queue is empty.
    pub fn on_chat(&self, handler: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.with(|s| s.chat_handler = Some(Arc::new(handler)));
    }

    /// The next `times` requests (any endpoint) get `reply` instead of their normal answer.
    pub fn fail_next(&self, times: usize, reply: Reply) {
        self.ctx.recorder.queue(times, reply);
    }

    /// While `reply` is `Some`, every request whose path ends with `suffix` gets it (an outage of
    /// one endpoint, after the one-shot faults); `None` ends the outage.
    pub fn set_outage(&self, suffix: &str, reply: Option<Reply>) {
        self.with(|s| {
            s.outages.retain(|(path, _)| path != suffix);
            if let Some(reply) = reply {
                s.outages.push((suffix.to_owned(), reply));
            }
        });
    }

    /// Only `Authorization: Bearer <key>` is accepted; anything else gets 401.
    pub fn require_api_key(&self, key: &str) {
        self.with(|s| s.api_key = Some(key.to_owned()));
    }

    /// Waits this long before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.latency = latency);
    }

    /// Size of the embeddings returned when a request does not ask for `dimensions`.
    pub fn set_embedding_dims(&self, dims: usize) {
        self.with(|s| s.dims = dims);
    }

    /// Returns embedding items in reverse `index` order (clients must sort by `index`).
    pub fn set_embedding_order_reversed(&self, reversed: bool) {
        self.with(|s| s.reversed = reversed);
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.ctx.recorder.requests()
    }

    /// The `/chat/completions` requests.
    pub fn chat_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(RecordedRequest::is_chat).collect()
    }

    /// The `/embeddings` requests.
    pub fn embedding_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(RecordedRequest::is_embeddings).collect()
    }

    /// Scripted chat answers not yet served.
    pub fn pending_chat_replies(&self) -> usize {
        self.with(|s| s.chat_queue.len())
    }
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (request, fault) = ctx.recorder.record(&method, &uri, &headers, &body);
    let (reply, latency) = {
        let mut s = ctx.state.lock().expect("fake server state");
        let reply = match fault {
            Some(fault) => render(fault, &request.body),
            None => decide(&mut s, &request),
        };
        (reply, s.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    reply
}

/// The answer to one request without a queued fault, consuming scripted replies.
fn decide(s: &mut Inner, request: &RecordedRequest) -> Response {
    if let Some((_, outage)) = s.outages.iter().find(|(suffix, _)| request.path.ends_with(suffix.as_str())) {
        return render(outage.clone(), &request.body);
    }
    if let Some(expected) = &s.api_key {
        let sent = request.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
        if sent != expected {
            let message = format!("Incorrect API key provided: {sent}. You can find your API key at the dashboard.");
            return render(Reply::error(401, &message), &request.body);
        }
    }
    if request.method != "POST" {
        return render(Reply::error(405, "only POST is served"), &request.body);
    }
    if request.is_chat() {
        s.served += 1;
        let reply = match s.chat_queue.pop_front() {
            Some(reply) => reply,
            None => match &s.chat_handler {
                Some(handler) => handler(&request.body),
                None => Reply::error(500, "fake OpenAI server: no scripted chat answer"),
            },
        };
        return render_numbered(reply, &request.body, s.served);
    }
    if request.is_embeddings() {
        return embeddings(s, &request.body);
    }
    render(Reply::error(404, &format!("no route for {}", request.path)), &request.body)
}

fn render(reply: Reply, body: &Value) -> Response {
    render_numbered(reply, body, 0)
}

fn render_numbered(reply: Reply, request: &Value, n: u64) -> Response {
    match reply {
        Reply::Chat(chat) => {
            let prompt_chars: usize = request["messages"]
                .as_array()
                .map(|ms| ms.iter().filter_map(|m| m["content"].as_str()).map(str::len).sum())
                .unwrap_or(0);
            let (prompt_tokens, completion_tokens) = chat
                .usage
                .unwrap_or(((prompt_chars / 4) as u64, (chat.content.as_deref().map_or(0, str::len) / 4) as u64));
            let tool_calls: Vec<Value> = chat
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": format!("call_{n}_{i}"), "type": "function",
                           "function": {"name": name, "arguments": args}})
                })
                .collect();
            let mut message = json!({"role": "assistant", "content": chat.content, "refusal": null});
            if !tool_calls.is_empty() {
                message["tool_calls"] = Value::Array(tool_calls);
            }
            let finish = if chat.tool_calls.is_empty() { "stop" } else { "tool_calls" };
            let body = json!({
                "id": format!("chatcmpl-fake-{n}"),
                "object": "chat.completion",
                "created": 1_700_000_000u64,
                "model": request["model"].as_str().unwrap_or("fake-model"),
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens},
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Reply::Error { status, message, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let kind = match status.as_u16() {
                401 => "invalid_request_error",
                429 => "rate_limit_exceeded",
                s if s >= 500 => "server_error",
                _ => "invalid_request_error",
            };
            let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
            let mut response = (status, axum::Json(body)).into_response();
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        Reply::Raw { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [("content-type", "application/json")], body).into_response()
        }
    }
}

fn embeddings(s: &Inner, body: &Value) -> Response {
    let inputs: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap_or_default().to_owned()).collect(),
        _ => return render(Reply::error(400, "'input' must be a string or an array of strings"), body),
    };
    let dims = body["dimensions"].as_u64().map_or(s.dims, |d| d as usize);
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": embed_text(text, dims)}))
        .collect();
    if s.reversed {
        data.reverse();
    }
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    let answer = json!({
        "object": "list",
        "data": data,
        "model": body["model"].as_str().unwrap_or("fake-embedding"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    (StatusCode::OK, axum::Json(answer)).into_response()
}

/// The server's embedding of a text: lower-cased words hashed (FNV-1a) into `dims` signed buckets,
/// L2-normalised. Texts sharing words have a high cosine; the empty text maps to a fixed unit vector.
pub fn embed_text(text: &str, dims: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dims.max(1)];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let hash = fnv1a(word.to_lowercase().as_bytes());
        let bucket = (hash % vector.len() as u64) as usize;
        vector[bucket] += if hash >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        vector[0] = 1.0;
        return vector;
    }
    vector.iter_mut().for_each(|x| *x /= norm);
    vector
}

/// Cosine similarity of two vectors of the same length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}
