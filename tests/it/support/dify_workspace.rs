//! Stand-ins for the models of a Dify workspace, as the `dify` model provider meets them:
//! - the payloads the daemon relays to the plugin (`LLMResultChunk`, `TextEmbeddingResult`);
//! - a fake of Dify's inner API (`POST /inner/api/invoke/llm` answered with the length-prefixed
//!   frames Dify streams, `POST /inner/api/invoke/text-embedding` with one JSON body), which the
//!   real daemon calls for backwards invocations; it checks `X-Inner-Api-Key` and records bodies.
//!
//! The LLM always extracts the fact "Likes green tea"; embeddings point one way for texts about
//! tea and another way for the rest.

#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The size of the stand-in embeddings.
pub const DIMS: usize = 4;
/// What the stand-in LLM answers, in two pieces (as a streaming model sends it).
pub const ANSWER: [&str; 2] = ["{\"facts\": [\"Likes green", " tea\"]}"];
/// The fact in [`ANSWER`].
pub const FACT: &str = "Likes green tea";

/// A deterministic stand-in for an embedding model.
pub fn vector(text: &str) -> Vec<f32> {
    let tea = text.to_lowercase().contains("tea") as u8 as f32;
    vec![tea, 1.0 - tea, 0.1, (text.len() % 5) as f32 / 50.0]
}

/// Credentials as Dify sends them: the workspace's models through the `dify` provider, the
/// embedded store (in the plugin's data directory).
pub fn credentials(async_mode: bool) -> Value {
    let model = |config: Value| json!({"provider": "dify", "config": config}).to_string();
    json!({
        "local_llm_json": model(json!({"provider": "langgenius/openai/openai", "model": "gpt-4o-mini"})),
        "local_embedder_json": model(json!({"provider": "langgenius/openai/openai", "model": "text-embedding-3-small",
            "embedding_dims": DIMS})),
        "local_vector_db_json": json!({"provider": "embedded", "config": {}}).to_string(),
        "async_mode": async_mode.to_string(),
    })
}

/// One `LLMResultChunk` carrying `content`, as the Go daemon forwards it: absent lists are `null`.
pub fn llm_chunk(model: &Value, content: &str) -> Value {
    json!({"model": model, "prompt_messages": [], "system_fingerprint": null,
        "delta": {"index": 0, "message": {"role": "assistant", "content": content, "name": null, "tool_calls": null},
            "usage": null, "finish_reason": null}})
}

/// The `TextEmbeddingResult` for a `text_embedding` request.
pub fn embedding_result(request: &Value) -> Value {
    let texts = request["texts"].as_array().expect("texts");
    let embeddings: Vec<Vec<f32>> = texts.iter().map(|t| vector(t.as_str().expect("a text"))).collect();
    json!({"model": request["model"], "embeddings": embeddings,
        "usage": {"tokens": 3, "total_tokens": 3, "unit_price": "0.0001", "price_unit": "0.001",
            "total_price": "0.0000003", "currency": "USD", "latency": 0.01}})
}

/// One request the fake inner API received.
#[derive(Debug, Clone)]
pub struct InnerCall {
    /// `llm` or `text-embedding`.
    pub route: &'static str,
    /// The request body.
    pub body: Value,
}

#[derive(Clone)]
struct Ctx {
    key: String,
    calls: Arc<Mutex<Vec<InnerCall>>>,
}

/// The running fake inner API; stops when dropped.
pub struct FakeInnerApi {
    calls: Arc<Mutex<Vec<InnerCall>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeInnerApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeInnerApi {
    /// Serves on `addr`, accepting only `X-Inner-Api-Key: key`.
    pub async fn start(addr: &str, key: &str) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let ctx = Ctx { key: key.to_owned(), calls: calls.clone() };
        let app = Router::new()
            .route("/inner/api/invoke/llm", post(llm))
            .route("/inner/api/invoke/text-embedding", post(text_embedding))
            .route("/inner/api/invoke/encrypt", post(encrypt))
            .with_state(ctx);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("cannot serve the fake Dify inner API on {addr}: {e}"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake inner API");
        });
        Self { calls, task }
    }

    /// The requests received so far.
    pub fn calls(&self) -> Vec<InnerCall> {
        self.calls.lock().unwrap().clone()
    }
}

/// Checks the key and records the body; a refusal is the status and text to answer.
fn accept(ctx: &Ctx, headers: &HeaderMap, route: &'static str, body: &Bytes) -> Result<Value, (StatusCode, String)> {
    if headers.get("x-inner-api-key").and_then(|v| v.to_str().ok()) != Some(ctx.key.as_str()) {
        return Err((StatusCode::UNAUTHORIZED, "bad inner api key".into()));
    }
    let body: Value = serde_json::from_slice(body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    ctx.calls.lock().unwrap().push(InnerCall { route, body: body.clone() });
    Ok(body)
}

/// Dify streams `{"data": chunk, "error": ""}` objects, each behind a 14-byte header: magic 0x0f,
/// a reserved byte, the header length 0x000a, then the data length (u32) and six reserved bytes,
/// all little endian.
fn length_prefixed(frames: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        let data = serde_json::to_vec(frame).expect("json");
        out.extend_from_slice(&[0x0f, 0x00, 0x0a, 0x00]);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0u8; 6]);
        out.extend_from_slice(&data);
    }
    out
}

async fn llm(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match accept(&ctx, &headers, "llm", &body) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    let frames: Vec<Value> =
        ANSWER.iter().map(|piece| json!({"data": llm_chunk(&request["model"], piece), "error": ""})).collect();
    Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::from(length_prefixed(&frames)))
        .expect("response")
}

async fn text_embedding(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    match accept(&ctx, &headers, "text-embedding", &body) {
        Ok(request) => axum::Json(json!({"data": embedding_result(&request), "error": ""})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Dify's encryption of endpoint settings, stood in for: the data back as given (encrypt and
/// decrypt alike), as `{"data": {"data": …}}`.
async fn encrypt(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    match accept(&ctx, &headers, "encrypt", &body) {
        Ok(request) => axum::Json(json!({"data": {"data": request["data"]}, "error": ""})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
