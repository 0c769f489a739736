//! A scripted HTTP server for provider tests: listens on `127.0.0.1:<random port>`, records every request
//! (method, raw path, query, headers, body) and answers with the queued replies in order, then with the
//! default handler, else with a loud 500.
//!
//! Include it from a test file with `#[path = "support/scripted_server.rs"] mod scripted_server;` and
//! run on a tokio runtime.
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

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
}

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path exactly as sent (still percent-encoded).
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Headers, names lower-cased (repeated headers joined with ", ").
    pub headers: BTreeMap<String, String>,
    /// Body bytes.
    pub raw_body: Vec<u8>,
    /// Body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw_body).into_owned()
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    queue: VecDeque<Reply>,
    handler: Option<Handler>,
}

/// The running server; stops when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    state: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    /// Starts a server on `127.0.0.1` with an OS-chosen port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.state.lock().expect("scripted server state"))
    }

    /// Queues a reply.
    pub fn push(&self, reply: Reply) {
        self.with(|s| s.queue.push_back(reply));
    }

    /// Queues the same reply `times` times.
    pub fn push_n(&self, times: usize, reply: Reply) {
        self.with(|s| s.queue.extend(std::iter::repeat_n(reply, times)));
    }

    /// Answers with `handler` once the queue is empty.
    pub fn on_request(&self, handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        self.with(|s| s.handler = Some(Arc::new(handler)));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// Every request received so far, clearing the record (and any replies still queued).
    pub fn take_requests(&self) -> Vec<Recorded> {
        self.with(|s| {
            s.queue.clear();
            std::mem::take(&mut s.requests)
        })
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut recorded_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        recorded_headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let request = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: recorded_headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw_body: body.to_vec(),
    };
    let reply = {
        let mut s = state.lock().expect("scripted server state");
        s.requests.push(request.clone());
        match s.queue.pop_front() {
            Some(reply) => reply,
            None => match &s.handler {
                Some(handler) => handler(&request),
                None => Reply::json(500, serde_json::json!({"error": "no scripted reply"})),
            },
        }
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [("content-type", "application/json")], reply.body).into_response();
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
