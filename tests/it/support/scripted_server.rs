//! A scripted HTTP server for provider tests: listens on `127.0.0.1:<random port>`, records every request
//! (method, raw path, query, headers, body; see `recorder.rs`) and answers with the queued replies in
//! order, then with the default handler, else with a loud 500.
//!
//! Run it on a tokio runtime.
//!
//! ```ignore
//! let server = ScriptedServer::start().await;              // listens until dropped
//! server.push(Reply::ok(json!({"message": {"content": "hi"}})));
//! server.push(Reply::json(429, json!({"error": "slow down"})).header("retry-after", "0.05"));
//! server.push_n(3, Reply::json(500, json!({"error": "boom"})));
//! server.on_request(|request| Reply::ok(json!({"path": request.path})));   // once the queue is empty
//! let requests = server.take_requests();                    // recorded so far, clearing the record
//! ```

#![allow(dead_code)]

use super::recorder;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use recorder::{Listener, Recorder};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One request as received (`path` still percent-encoded).
pub type Recorded = recorder::Request;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Body (sent as `application/json`).
    pub body: String,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: body.to_string() }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, [("content-type", "application/json")], self.body).into_response();
        for (name, value) in self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone, Default)]
struct Ctx {
    recorder: Recorder<Reply>,
    handler: Arc<Mutex<Option<Handler>>>,
}

/// The running server; stops when dropped.
pub struct ScriptedServer {
    listener: Listener,
    ctx: Ctx,
}

impl ScriptedServer {
    /// Starts a server on `127.0.0.1` with an OS-chosen port.
    pub async fn start() -> Self {
        let ctx = Ctx::default();
        let listener = Listener::serve(Router::new().fallback(handle).with_state(ctx.clone()));
        Self { listener, ctx }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Queues a reply.
    pub fn push(&self, reply: Reply) {
        self.ctx.recorder.queue(1, reply);
    }

    /// Queues the same reply `times` times.
    pub fn push_n(&self, times: usize, reply: Reply) {
        self.ctx.recorder.queue(times, reply);
    }

    /// Answers with `handler` once the queue is empty.
    pub fn on_request(&self, handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.ctx.handler.lock().expect("scripted server handler") = Some(Arc::new(handler));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.ctx.recorder.requests()
    }

    /// Every request received so far, clearing the record (and any replies still queued).
    pub fn take_requests(&self) -> Vec<Recorded> {
        self.ctx.recorder.take()
    }
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (request, queued) = ctx.recorder.record(&method, &uri, &headers, &body);
    let reply = queued.unwrap_or_else(|| match &*ctx.handler.lock().expect("scripted server handler") {
        Some(handler) => handler(&request),
        None => Reply::json(500, serde_json::json!({"error": "no scripted reply"})),
    });
    reply.response()
}
