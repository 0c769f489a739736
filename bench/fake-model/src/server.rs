//! The HTTP side: OpenAI-format chat completions and embeddings from the script, the admin API
//! (`GET /admin/stats`, `POST /admin/reset`, `POST /admin/config`), per-kind counters, the
//! configured delay before every model answer, and each response written in one write.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::embedding::embed;
use crate::python;
use crate::script::{conversation_text, decision_inputs, Script};

/// Per-kind counters, as `/admin/stats` reports them.
#[derive(Default, Clone)]
struct Counter {
    calls: u64,
    inputs: u64,
    prompt_chars: u64,
    prompt_tokens: u64,
    server_ms: f64,
}

/// What every request shares.
pub struct State {
    script: Script,
    /// `delay_ms` and `dims` as last configured (kept as given, as the Python server echoed them).
    config: Mutex<Map<String, Value>>,
    /// Counters in first-seen order of their kind.
    stats: Mutex<Vec<(String, Counter)>>,
    /// The file every model request is appended to (`--record`).
    record: Option<Mutex<std::fs::File>>,
}

fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl State {
    pub fn new(script: Script, dims: u64, delay_ms: f64, record: Option<std::fs::File>) -> Self {
        let mut config = Map::new();
        config.insert("delay_ms".into(), json!(delay_ms));
        config.insert("dims".into(), json!(dims));
        State { script, config: Mutex::new(config), stats: Mutex::new(Vec::new()), record: record.map(Mutex::new) }
    }

    fn config_f64(&self, key: &str) -> Option<f64> {
        self.config.lock().ok()?.get(key).and_then(Value::as_f64)
    }

    fn record(&self, kind: &str, chars: usize, inputs: usize, started: Instant) {
        let Ok(mut stats) = self.stats.lock() else { return };
        let i = match stats.iter().position(|(k, _)| k == kind) {
            Some(i) => i,
            None => {
                stats.push((kind.to_string(), Counter::default()));
                stats.len() - 1
            }
        };
        let c = &mut stats[i].1;
        c.calls += 1;
        c.inputs += inputs as u64;
        c.prompt_chars += chars as u64;
        c.prompt_tokens += estimate_tokens(chars);
        c.server_ms += started.elapsed().as_secs_f64() * 1000.0;
    }

    fn stats_json(&self) -> Value {
        let mut out = self.config.lock().map(|c| c.clone()).unwrap_or_default();
        let mut kinds = Map::new();
        if let Ok(stats) = self.stats.lock() {
            for (k, c) in stats.iter() {
                kinds.insert(
                    k.clone(),
                    json!({"calls": c.calls, "inputs": c.inputs, "prompt_chars": c.prompt_chars,
                           "prompt_tokens": c.prompt_tokens, "server_ms": c.server_ms}),
                );
            }
        }
        out.insert("stats".into(), Value::Object(kinds));
        Value::Object(out)
    }

    /// Appends one model request to the record file (a failed write is reported, never fatal).
    fn record_request(&self, path: &str, raw: &[u8]) {
        let Some(file) = &self.record else { return };
        let line = json!({"path": path, "body": String::from_utf8_lossy(raw)}).to_string() + "\n";
        if let Ok(mut f) = file.lock() {
            if let Err(e) = std::io::Write::write_all(&mut *f, line.as_bytes()) {
                eprintln!("record: {e}");
            }
        }
    }

    async fn delay(&self) {
        let ms = self.config_f64("delay_ms").unwrap_or(0.0);
        if ms > 0.0 {
            tokio::time::sleep(std::time::Duration::from_secs_f64(ms / 1000.0)).await;
        }
    }
}

/// One response: JSON body as Python's `json.dumps` writes it.
fn reply(code: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(python::dumps(body))));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    h.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("keep-alive"));
    r
}

fn error(code: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(code, &json!({"error": {"message": message}}))
}

/// Routes one request.
pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let raw = req.into_body().collect().await?.to_bytes();
    let started = Instant::now();
    if method == Method::GET {
        if path.starts_with("/admin/stats") {
            return Ok(reply(StatusCode::OK, &state.stats_json()));
        }
        return Ok(reply(StatusCode::OK, &json!({"object": "list", "data": [{"id": "fake", "object": "model"}]})));
    }
    if method != Method::POST {
        return Ok(error(StatusCode::NOT_IMPLEMENTED, &format!("unsupported method {method}")));
    }
    let raw: &[u8] = if raw.is_empty() { b"{}" } else { &raw };
    if path.starts_with("/admin/reset") {
        if let Ok(mut s) = state.stats.lock() {
            s.clear();
        }
        return Ok(reply(StatusCode::OK, &json!({"ok": true})));
    }
    let body: Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        Err(_) => return Ok(error(StatusCode::BAD_REQUEST, "body is not JSON")),
    };
    if path.starts_with("/admin/config") {
        let Some(update) = body.as_object() else {
            return Ok(error(StatusCode::BAD_REQUEST, "config: expected a JSON object"));
        };
        let mut out = Map::new();
        out.insert("ok".into(), json!(true));
        if let Ok(mut c) = state.config.lock() {
            for (k, v) in update {
                c.insert(k.clone(), v.clone());
            }
            out.extend(c.clone());
        }
        return Ok(reply(StatusCode::OK, &Value::Object(out)));
    }
    if path.ends_with("/chat/completions") {
        state.record_request(&path, raw);
        return Ok(chat(&state, &body, started).await);
    }
    if path.ends_with("/embeddings") {
        state.record_request(&path, raw);
        return Ok(embeddings(&state, &body, started).await);
    }
    Ok(error(StatusCode::NOT_FOUND, &format!("no route {path}")))
}

async fn chat(state: &State, req: &Value, started: Instant) -> Response<Full<Bytes>> {
    let messages = req.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let texts: Vec<String> = messages
        .iter()
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            other => python::dumps(other.unwrap_or(&Value::Null)),
        })
        .collect();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    let joined = texts.join("\n");
    let (kind, content) = match decision_inputs(&joined) {
        Some((old, facts)) => ("llm_update", json!({"memory": state.script.decide(&old, &facts)})),
        None => ("llm_extract", json!({"facts": state.script.extract_facts(&conversation_text(&messages))})),
    };
    let content = python::dumps(&content);
    state.delay().await;
    let (prompt, completion) = (estimate_tokens(chars), estimate_tokens(content.chars().count()));
    let answer = json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": unix_now(),
        "model": req.get("model").cloned().unwrap_or(json!("fake")),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    });
    state.record(kind, chars, 1, started);
    reply(StatusCode::OK, &answer)
}

async fn embeddings(state: &State, req: &Value, started: Instant) -> Response<Full<Bytes>> {
    let inputs: Vec<Value> = match req.get("input") {
        Some(Value::String(s)) => vec![Value::String(s.clone())],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let dims = req
        .get("dimensions")
        .and_then(Value::as_f64)
        .filter(|d| *d != 0.0)
        .or_else(|| state.config_f64("dims"))
        .unwrap_or(384.0) as usize;
    let as_b64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = embed(&python::str_of(text), dims);
            let embedding = if as_b64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let chars: usize = inputs.iter().filter_map(Value::as_str).map(|t| t.chars().count()).sum();
    state.delay().await;
    state.record("embed", chars, inputs.len(), started);
    let tokens = estimate_tokens(chars);
    reply(
        StatusCode::OK,
        &json!({"object": "list", "data": data, "model": req.get("model").cloned().unwrap_or(json!("fake")),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}
