//! What every fake service in these tests shares: a listener on `127.0.0.1:<random port>`, the record of
//! every request (method, path, query, lower-cased headers, raw and JSON body), and queued replies served
//! before anything else (by default [`Fault`]s: a status with a body, optionally `Retry-After`; a fake
//! with its own reply type queues that instead).

#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Headers, names lower-cased (repeated ones joined with ", ").
    pub headers: BTreeMap<String, String>,
    /// Body bytes as sent.
    pub raw_body: Vec<u8>,
    /// Body as JSON (`Null` when empty, a JSON string when not JSON).
    pub body: Value,
}

impl Request {
    /// The request as received: headers recorded lower-cased, the body parsed as JSON when it is.
    pub fn new(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Self {
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        let mut recorded = BTreeMap::new();
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            recorded
                .entry(name.as_str().to_owned())
                .and_modify(|v: &mut String| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            headers: recorded,
            raw_body: body.to_vec(),
            body: json,
        }
    }

    /// The query string; `None` when there is none.
    pub fn query_string(&self) -> Option<&str> {
        Some(self.query.as_str()).filter(|q| !q.is_empty())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw_body).into_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The values of a query parameter, in order.
    pub fn query_values(&self, name: &str) -> Vec<String> {
        url_pairs(&self.query).into_iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect()
    }

    /// `"METHOD /path"`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Decoded `a=b&c=d` pairs.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An injected failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<f64>,
}

impl Fault {
    /// A status with this JSON body.
    pub fn new(status: u16, body: Value) -> Self {
        Self { status, body, retry_after: None }
    }

    /// The same fault with `Retry-After`.
    pub fn retry_after(mut self, secs: f64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The response.
    pub fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body.clone())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert("retry-after", secs.to_string().parse().unwrap());
        }
        response
    }
}

/// The requests received and the replies queued, shared by a fake's listeners. `R` is what a queued
/// reply is: [`Fault`] unless the fake has its own reply type.
pub struct Recorder<R = Fault> {
    inner: Arc<Mutex<Log<R>>>,
}

struct Log<R> {
    requests: Vec<Request>,
    queued: VecDeque<R>,
}

impl<R> Default for Recorder<R> {
    fn default() -> Self {
        Self { inner: Arc::new(Mutex::new(Log { requests: Vec::new(), queued: VecDeque::new() })) }
    }
}

impl<R> Clone for Recorder<R> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<R: Clone> Recorder<R> {
    /// Records a request; returns the queued reply to serve instead of the normal answer, if any.
    pub fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> (Request, Option<R>) {
        let request = Request::new(method, uri, headers, body);
        let mut log = self.inner.lock().unwrap();
        log.requests.push(request.clone());
        (request, log.queued.pop_front())
    }

    /// The next `times` requests get `reply` before anything else.
    pub fn queue(&self, times: usize, reply: R) {
        self.inner.lock().unwrap().queued.extend(std::iter::repeat_n(reply, times));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        self.inner.lock().unwrap().requests.clear();
    }

    /// Every request so far, forgetting them and any replies still queued.
    pub fn take(&self) -> Vec<Request> {
        let mut log = self.inner.lock().unwrap();
        log.queued.clear();
        std::mem::take(&mut log.requests)
    }
}

/// A listener on `127.0.0.1` with an OS-chosen port serving an app; it stops when dropped.
pub struct Listener {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Serves `app` (call on a tokio runtime; synchronous, so a handler may start another listener).
    pub fn serve(app: axum::Router) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, task }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
