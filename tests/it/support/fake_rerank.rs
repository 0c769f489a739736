//! A fake rerank server for tests, speaking four real wire formats on one port, chosen by path:
//! Cohere v2 (`POST …/v2/rerank`), Jina (`POST …/v1/rerank`), ZeroEntropy (`POST …/models/rerank`)
//! — all `{"results": [{"index", "relevance_score"}]}` best first, cut to `top_n` — and
//! text-embeddings-inference (`POST …/rerank` with `texts`: `[{"index", "score"}]`, every text, best
//! first; more than `max_batch` texts get TEI's 422).
//!
//! A document's relevance is the share of the query's words it contains (so it is in [0, 1]); TEI with
//! `raw_scores: true` returns the logit `10 * share - 5` instead.
//!
//! With an API key set, `Authorization: Bearer <key>` is required (401 otherwise).

#![allow(dead_code)]

use super::recorder;

pub use recorder::{Fault, Recorder, Request};

use recorder::Listener;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Ctx {
    recorder: Recorder,
    settings: Arc<Mutex<(Option<String>, usize)>>,
}

/// The running fake; stops when dropped.
pub struct FakeRerank {
    ctx: Ctx,
    listener: Listener,
}

impl FakeRerank {
    /// Starts the server; with `api_key`, only that bearer token is accepted. TEI's batch limit is 32.
    pub async fn start(api_key: Option<&str>) -> Self {
        let ctx =
            Ctx { recorder: Recorder::default(), settings: Arc::new(Mutex::new((api_key.map(str::to_owned), 32))) };
        let listener = Listener::serve(Router::new().fallback(handle).with_state(ctx.clone()));
        Self { ctx, listener }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// TEI's `--max-client-batch-size`.
    pub fn set_max_batch(&self, max: usize) {
        self.ctx.settings.lock().unwrap().1 = max;
    }

    /// The next `times` requests get `fault`.
    pub fn fail_next(&self, times: usize, fault: Fault) {
        self.ctx.recorder.queue(times, fault);
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.ctx.recorder.requests()
    }
}

/// The share of the query's words a document contains.
pub fn relevance(query: &str, document: &str) -> f32 {
    let words = |t: &str| -> HashSet<String> {
        t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
    };
    let (q, d) = (words(query), words(document));
    if q.is_empty() {
        return 0.0;
    }
    q.intersection(&d).count() as f32 / q.len() as f32
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (request, fault) = ctx.recorder.record(&method, &uri, &headers, &body);
    if let Some(fault) = fault {
        return fault.response();
    }
    let (api_key, max_batch) = ctx.settings.lock().unwrap().clone();
    if let Some(key) = api_key {
        let sent = request.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or_default();
        if sent != key {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "invalid api token"}))).into_response();
        }
    }
    let body = &request.body;
    let query = body["query"].as_str().unwrap_or_default();
    if request.path.ends_with("/v2/rerank")
        || request.path.ends_with("/v1/rerank")
        || request.path.ends_with("/models/rerank")
    {
        let Some(documents) = body["documents"].as_array() else {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"message": "documents is required"}))).into_response();
        };
        let mut scored: Vec<(usize, f32)> =
            documents.iter().enumerate().map(|(i, d)| (i, relevance(query, d.as_str().unwrap_or_default()))).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top_n = body["top_n"].as_u64().map_or(scored.len(), |n| n as usize);
        let results: Vec<Value> = scored
            .into_iter()
            .take(top_n)
            .map(|(index, score)| json!({"index": index, "relevance_score": score}))
            .collect();
        let answer = if request.path.ends_with("/v2/rerank") {
            json!({"id": "rr-1", "results": results, "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}})
        } else if request.path.ends_with("/v1/rerank") {
            json!({"model": body["model"], "usage": {"total_tokens": 42}, "results": results})
        } else {
            json!({"results": results})
        };
        return (StatusCode::OK, axum::Json(answer)).into_response();
    }
    if request.path.ends_with("/rerank") {
        let Some(texts) = body["texts"].as_array() else {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"error": "missing field `texts`", "error_type": "Validation"})),
            )
                .into_response();
        };
        if texts.len() > max_batch {
            let message = format!("batch size {} > maximum allowed batch size {max_batch}", texts.len());
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"error": message, "error_type": "Validation"})),
            )
                .into_response();
        }
        let raw = body["raw_scores"] == json!(true);
        let mut scored: Vec<(usize, f32)> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let share = relevance(query, t.as_str().unwrap_or_default());
                (i, if raw { 10.0 * share - 5.0 } else { share })
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let answer: Vec<Value> =
            scored.into_iter().map(|(index, score)| json!({"index": index, "score": score})).collect();
        return (StatusCode::OK, axum::Json(answer)).into_response();
    }
    (StatusCode::NOT_FOUND, axum::Json(json!({"message": format!("no route for {}", request.line())}))).into_response()
}
