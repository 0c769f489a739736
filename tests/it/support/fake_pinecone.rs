//! A small in-memory Pinecone for tests, speaking Pinecone's REST wire format (API 2025-10): the control
//! plane (`GET/POST /indexes`, `GET/DELETE /indexes/{name}`) on one port and, per index, a data plane on
//! its own port (its `host`): `POST /vectors/upsert`, `POST /query`, `GET /vectors/fetch`,
//! `POST /vectors/fetch_by_metadata`, `POST /vectors/delete`, `POST /describe_index_stats`, with
//! namespaces and Pinecone's metadata filter language (`$eq $ne $gt $gte $lt $lte $in $nin $exists
//! $and $or`; a list field matches `$eq`/`$in` when any element does). Scores are cosine similarity,
//! dot product, or squared Euclidean distance, as the index's metric says. Metadata is checked like
//! Pinecone does (strings, numbers, booleans, lists of strings; numbers come back as floats).
//!
//! Every request must carry `Api-Key: <key>`; others get 401. Faults can be queued for any request.
//!
//! ```ignore
//! let pinecone = FakePinecone::start("pk-test").await;
//! pinecone.set_ready_after(2);                         // new indexes answer "Initializing" twice
//! pinecone.create_index("mem0", 8, "cosine").await;    // or let the store create it
//! pinecone.put_record("mem0", "", id, vec, metadata);  // data written by someone else (Mem0)
//! pinecone.fail_next(1, Fault::new(500, json!({"code": 13, "message": "boom"})));
//! let requests = pinecone.requests();                  // control and data plane, in order
//! ```

#![allow(dead_code)]

use super::recorder;

pub use recorder::{Fault, Recorder, Request};

use recorder::Listener;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A stored record.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Dense values.
    pub values: Vec<f32>,
    /// Metadata.
    pub metadata: Map<String, Value>,
}

/// An index.
#[derive(Debug, Clone)]
pub struct Index {
    /// Vector size.
    pub dimension: usize,
    /// `cosine`, `dotproduct` or `euclidean`.
    pub metric: String,
    /// `{"serverless": …}` or `{"pod": …}` as created.
    pub spec: Value,
    /// Describes left before it is ready.
    pub describes_until_ready: usize,
    /// `127.0.0.1:PORT` of its data plane.
    pub host: String,
    /// Records by namespace ("" = default) and id.
    pub namespaces: BTreeMap<String, BTreeMap<String, Stored>>,
}

struct Shared {
    api_key: String,
    ready_after: usize,
    indexes: BTreeMap<String, Index>,
}

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<Shared>>,
    recorder: Recorder,
    listeners: Arc<Mutex<Vec<Listener>>>,
    /// `None` on the control plane; the index name on a data plane.
    index: Option<String>,
}

/// The running fake; every listener stops when it is dropped.
pub struct FakePinecone {
    ctx: Ctx,
    control: String,
}

impl Drop for FakePinecone {
    fn drop(&mut self) {
        // The handlers hold the context too, so the listeners are stopped here rather than when it goes.
        self.ctx.listeners.lock().unwrap().clear();
    }
}

impl FakePinecone {
    /// Starts the control plane; only `api_key` is accepted.
    pub async fn start(api_key: &str) -> Self {
        let ctx = Ctx {
            state: Arc::new(Mutex::new(Shared {
                api_key: api_key.to_owned(),
                ready_after: 0,
                indexes: BTreeMap::new(),
            })),
            recorder: Recorder::default(),
            listeners: Arc::new(Mutex::new(Vec::new())),
            index: None,
        };
        let listener = Listener::serve(Router::new().fallback(handle).with_state(ctx.clone()));
        let control = listener.url();
        ctx.listeners.lock().unwrap().push(listener);
        Self { ctx, control }
    }

    /// The control plane's URL (use as `extra_params.host`).
    pub fn control_url(&self) -> String {
        self.control.clone()
    }

    /// Indexes created from now on answer "Initializing" to this many describes.
    pub fn set_ready_after(&self, describes: usize) {
        self.ctx.state.lock().unwrap().ready_after = describes;
    }

    /// Creates a ready serverless index.
    pub async fn create_index(&self, name: &str, dimension: usize, metric: &str) {
        let spec = json!({"serverless": {"cloud": "aws", "region": "us-east-1"}});
        add_index(&self.ctx, name, dimension, metric, spec, 0);
    }

    /// A copy of an index.
    pub fn index(&self, name: &str) -> Option<Index> {
        self.ctx.state.lock().unwrap().indexes.get(name).cloned()
    }

    /// The records of a namespace ("" = default), by id.
    pub fn records(&self, index: &str, namespace: &str) -> BTreeMap<String, Stored> {
        self.index(index).and_then(|i| i.namespaces.get(namespace).cloned()).unwrap_or_default()
    }

    /// Stores a record as another client would (no checks).
    pub fn put_record(&self, index: &str, namespace: &str, id: &str, values: Vec<f32>, metadata: Value) {
        let mut state = self.ctx.state.lock().unwrap();
        let index = state.indexes.get_mut(index).expect("index exists");
        let metadata = metadata.as_object().cloned().unwrap_or_default();
        index.namespaces.entry(namespace.to_owned()).or_default().insert(id.to_owned(), Stored { values, metadata });
    }

    /// The next `times` requests (either plane) get `fault`.
    pub fn fail_next(&self, times: usize, fault: Fault) {
        self.ctx.recorder.queue(times, fault);
    }

    /// Every request, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.ctx.recorder.requests()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.ctx.recorder.clear();
    }
}

/// Adds an index with its own data-plane listener (synchronous, so the handler's future does not
/// contain itself).
fn add_index(ctx: &Ctx, name: &str, dimension: usize, metric: &str, spec: Value, until_ready: usize) -> Value {
    let data_ctx = Ctx { index: Some(name.to_owned()), ..ctx.clone() };
    let listener = Listener::serve(Router::new().fallback(handle).with_state(data_ctx));
    let addr = listener.addr();
    ctx.listeners.lock().unwrap().push(listener);
    let index = Index {
        dimension,
        metric: metric.to_owned(),
        spec,
        describes_until_ready: until_ready,
        host: addr.to_string(),
        namespaces: BTreeMap::new(),
    };
    let model = model(name, &index);
    ctx.state.lock().unwrap().indexes.insert(name.to_owned(), index);
    model
}

fn model(name: &str, index: &Index) -> Value {
    let ready = index.describes_until_ready == 0;
    json!({
        "name": name, "dimension": index.dimension, "metric": index.metric, "host": index.host,
        "spec": index.spec, "status": {"ready": ready, "state": if ready { "Ready" } else { "Initializing" }},
        "vector_type": "dense", "deletion_protection": "disabled", "tags": null,
    })
}

fn control_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}, "status": status});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn data_error(status: u16, message: &str) -> Response {
    let code = match status {
        400 => 3,
        404 => 5,
        _ => 13,
    };
    let body = json!({"code": code, "message": message, "details": []});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (request, fault) = ctx.recorder.record(&method, &uri, &headers, &body);
    if let Some(fault) = fault {
        return fault.response();
    }
    let api_key = ctx.state.lock().unwrap().api_key.clone();
    if request.header("api-key") != Some(api_key.as_str()) {
        return control_error(401, "UNAUTHENTICATED", "Invalid API Key");
    }
    match &ctx.index {
        None => control(&ctx, &request).await,
        Some(index) => data(&ctx, index, &request),
    }
}

async fn control(ctx: &Ctx, request: &Request) -> Response {
    let name = request.path.strip_prefix("/indexes/").map(str::to_owned);
    match (request.method.as_str(), request.path.as_str(), name) {
        ("GET", "/indexes", _) => {
            let state = ctx.state.lock().unwrap();
            let indexes: Vec<Value> = state.indexes.iter().map(|(n, i)| model(n, i)).collect();
            ok(json!({"indexes": indexes}))
        }
        ("POST", "/indexes", _) => create(ctx, &request.body).await,
        ("GET", _, Some(name)) => {
            let mut state = ctx.state.lock().unwrap();
            match state.indexes.get_mut(&name) {
                Some(index) => {
                    let answer = model(&name, index);
                    index.describes_until_ready = index.describes_until_ready.saturating_sub(1);
                    ok(answer)
                }
                None => control_error(404, "NOT_FOUND", &format!("Resource {name} not found")),
            }
        }
        ("DELETE", _, Some(name)) => match ctx.state.lock().unwrap().indexes.remove(&name) {
            Some(_) => StatusCode::ACCEPTED.into_response(),
            None => control_error(404, "NOT_FOUND", &format!("Resource {name} not found")),
        },
        _ => control_error(404, "NOT_FOUND", &format!("no route for {}", request.line())),
    }
}

async fn create(ctx: &Ctx, body: &Value) -> Response {
    let bad = |m: &str| control_error(400, "INVALID_ARGUMENT", m);
    let Some(name) = body["name"].as_str() else { return bad("name is required") };
    if name.is_empty()
        || name.len() > 45
        || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("Name must consist of lower case alphanumeric characters or '-'");
    }
    let Some(dimension) = body["dimension"].as_u64() else { return bad("dimension is required for dense indexes") };
    let metric = body["metric"].as_str().unwrap_or("cosine");
    if !["cosine", "dotproduct", "euclidean"].contains(&metric) {
        return bad("metric must be cosine, dotproduct or euclidean");
    }
    let spec = &body["spec"];
    let valid_spec = match spec.as_object().map(|s| s.keys().map(String::as_str).collect::<Vec<_>>()) {
        Some(keys) if keys == ["serverless"] => {
            spec["serverless"]["cloud"].is_string() && spec["serverless"]["region"].is_string()
        }
        Some(keys) if keys == ["pod"] => spec["pod"]["environment"].is_string() && spec["pod"]["pod_type"].is_string(),
        _ => false,
    };
    if !valid_spec {
        return bad("spec must hold exactly one of serverless {cloud, region} or pod {environment, pod_type}");
    }
    if ctx.state.lock().unwrap().indexes.contains_key(name) {
        return control_error(409, "ALREADY_EXISTS", "Resource already exists");
    }
    let until_ready = ctx.state.lock().unwrap().ready_after;
    let model = add_index(ctx, name, dimension as usize, metric, spec.clone(), until_ready);
    (StatusCode::CREATED, axum::Json(model)).into_response()
}

fn data(ctx: &Ctx, index_name: &str, request: &Request) -> Response {
    let mut state = ctx.state.lock().unwrap();
    let Some(index) = state.indexes.get_mut(index_name) else { return data_error(404, "index deleted") };
    let body = &request.body;
    let namespace = |ns: Option<&str>| match ns.unwrap_or("") {
        "__default__" => String::new(),
        other => other.to_owned(),
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/vectors/upsert") => {
            let ns = namespace(body["namespace"].as_str());
            let Some(vectors) = body["vectors"].as_array() else { return data_error(400, "vectors is required") };
            let mut checked = Vec::new();
            for v in vectors {
                let Some(id) = v["id"].as_str() else { return data_error(400, "id is required") };
                let values = match dense_vector(&v["values"], index.dimension, "Vector") {
                    Ok(values) => values,
                    Err(message) => return data_error(400, &message),
                };
                let metadata = match check_metadata(&v["metadata"]) {
                    Ok(m) => m,
                    Err(message) => return data_error(400, &message),
                };
                checked.push((id.to_owned(), Stored { values, metadata }));
            }
            let count = checked.len();
            index.namespaces.entry(ns).or_default().extend(checked);
            ok(json!({"upsertedCount": count}))
        }
        ("POST", "/query") => query(index, body, namespace(body["namespace"].as_str())),
        ("GET", "/vectors/fetch") => {
            let ns = namespace(request.query_values("namespace").first().map(String::as_str));
            let ids = request.query_values("ids");
            if ids.is_empty() {
                return data_error(400, "ids is required");
            }
            let records = index.namespaces.get(&ns).cloned().unwrap_or_default();
            let vectors: Map<String, Value> =
                ids.iter().filter_map(|id| records.get(id).map(|r| (id.clone(), record_json(id, r)))).collect();
            ok(json!({"vectors": vectors, "namespace": ns, "usage": {"readUnits": 1}}))
        }
        ("POST", "/vectors/fetch_by_metadata") => {
            let ns = namespace(body["namespace"].as_str());
            let limit = body["limit"].as_u64().unwrap_or(100) as usize;
            let start: usize = body["paginationToken"].as_str().map_or(0, |t| t.parse().unwrap_or(0));
            let records = index.namespaces.get(&ns).cloned().unwrap_or_default();
            let mut matching = Vec::new();
            for (id, record) in &records {
                match matches(&body["filter"], &record.metadata) {
                    Ok(true) => matching.push((id.clone(), record.clone())),
                    Ok(false) => {}
                    Err(message) => return data_error(400, &message),
                }
            }
            let page: Map<String, Value> =
                matching.iter().skip(start).take(limit).map(|(id, r)| (id.clone(), record_json(id, r))).collect();
            let mut answer = json!({"vectors": page, "namespace": ns, "usage": {"readUnits": 1}});
            if start + limit < matching.len() {
                answer["pagination"] = json!({"next": (start + limit).to_string()});
            }
            ok(answer)
        }
        ("POST", "/vectors/delete") => {
            let ns = namespace(body["namespace"].as_str());
            let records = index.namespaces.entry(ns).or_default();
            if let Some(ids) = body["ids"].as_array() {
                for id in ids.iter().filter_map(Value::as_str) {
                    records.remove(id);
                }
            } else if body["deleteAll"] == json!(true) {
                records.clear();
            } else if body["filter"].is_object() {
                let mut doomed = Vec::new();
                for (id, r) in records.iter() {
                    match matches(&body["filter"], &r.metadata) {
                        Ok(true) => doomed.push(id.clone()),
                        Ok(false) => {}
                        Err(message) => return data_error(400, &message),
                    }
                }
                for id in doomed {
                    records.remove(&id);
                }
            } else {
                return data_error(400, "one of ids, deleteAll or filter is required");
            }
            ok(json!({}))
        }
        ("POST", "/describe_index_stats") => {
            let namespaces: Map<String, Value> =
                index.namespaces.iter().map(|(ns, r)| (ns.clone(), json!({"vectorCount": r.len()}))).collect();
            let total: usize = index.namespaces.values().map(BTreeMap::len).sum();
            ok(json!({"namespaces": namespaces, "dimension": index.dimension, "indexFullness": 0.0,
                      "totalVectorCount": total, "metric": index.metric, "vectorType": "dense"}))
        }
        _ => data_error(404, &format!("no route for {}", request.line())),
    }
}

fn query(index: &Index, body: &Value, ns: String) -> Response {
    let vector = match dense_vector(&body["vector"], index.dimension, "Query vector") {
        Ok(vector) => vector,
        Err(message) => return data_error(400, &message),
    };
    let top_k = body["topK"].as_u64().unwrap_or(0) as usize;
    let with_metadata = body["includeMetadata"] == json!(true);
    let with_values = body["includeValues"] == json!(true);
    if top_k == 0 || top_k > 10_000 || ((with_metadata || with_values) && top_k > 1000) {
        return data_error(
            400,
            "topK must be between 1 and 10000, and at most 1000 with includeMetadata or includeValues",
        );
    }
    let records = index.namespaces.get(&ns).cloned().unwrap_or_default();
    let mut scored = Vec::new();
    for (id, record) in &records {
        if !body["filter"].is_null() {
            match matches(&body["filter"], &record.metadata) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(message) => return data_error(400, &message),
            }
        }
        scored.push((id.clone(), score(&index.metric, &vector, &record.values), record));
    }
    let ascending = index.metric == "euclidean";
    scored.sort_by(|a, b| if ascending { a.1.total_cmp(&b.1) } else { b.1.total_cmp(&a.1) }.then(a.0.cmp(&b.0)));
    let matches: Vec<Value> = scored
        .into_iter()
        .take(top_k)
        .map(|(id, score, record)| {
            let mut m =
                json!({"id": id, "score": score, "values": if with_values { json!(record.values) } else { json!([]) }});
            if with_metadata {
                m["metadata"] = Value::Object(record.metadata.clone());
            }
            m
        })
        .collect();
    ok(json!({"results": [], "matches": matches, "namespace": ns, "usage": {"readUnits": 5}}))
}

/// A JSON list of numbers of `dimension` elements, or the message of Pinecone's 400 naming `what` it is.
fn dense_vector(value: &Value, dimension: usize, what: &str) -> Result<Vec<f32>, String> {
    let vector: Vec<f32> =
        value.as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect()).unwrap_or_default();
    if vector.len() != dimension {
        return Err(format!("{what} dimension {} does not match the dimension of the index {dimension}", vector.len()));
    }
    Ok(vector)
}

fn record_json(id: &str, record: &Stored) -> Value {
    json!({"id": id, "values": record.values, "metadata": record.metadata})
}

fn score(metric: &str, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match metric {
        "dotproduct" => dot,
        "euclidean" => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        _ => {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
        }
    }
}

/// Pinecone's metadata rules; numbers are stored as floats.
fn check_metadata(metadata: &Value) -> Result<Map<String, Value>, String> {
    let Some(map) = metadata.as_object() else {
        return if metadata.is_null() { Ok(Map::new()) } else { Err("metadata must be an object".into()) };
    };
    let mut out = Map::new();
    for (key, value) in map {
        let stored = match value {
            Value::String(_) | Value::Bool(_) => value.clone(),
            Value::Number(n) => json!(n.as_f64().unwrap_or_default()),
            Value::Array(items) if items.iter().all(Value::is_string) => value.clone(),
            _ => {
                return Err(format!(
                "Metadata value must be a string, number, boolean or list of strings, got '{value}' for field '{key}'"
            ))
            }
        };
        out.insert(key.clone(), stored);
    }
    Ok(out)
}

/// Evaluates Pinecone's filter language over a record's metadata.
pub fn matches(filter: &Value, metadata: &Map<String, Value>) -> Result<bool, String> {
    let Some(object) = filter.as_object() else { return Err(format!("filter must be an object, got {filter}")) };
    for (key, value) in object {
        let holds = match key.as_str() {
            "$and" | "$or" => {
                let parts = value.as_array().ok_or_else(|| format!("{key} must be a list"))?;
                let results = parts.iter().map(|p| matches(p, metadata)).collect::<Result<Vec<bool>, String>>()?;
                if key == "$and" {
                    results.iter().all(|r| *r)
                } else {
                    results.iter().any(|r| *r)
                }
            }
            op if op.starts_with('$') => return Err(format!("unsupported top-level operator {op}")),
            field => field_matches(metadata.get(field), value)?,
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn field_matches(actual: Option<&Value>, condition: &Value) -> Result<bool, String> {
    let Some(ops) = condition.as_object() else { return Ok(equals(actual, condition)) };
    for (op, operand) in ops {
        let number = || operand.as_f64().ok_or_else(|| format!("{op} needs a number, got {operand}"));
        let actual_number = actual.and_then(Value::as_f64);
        let list = || operand.as_array().ok_or_else(|| format!("{op} needs a list, got {operand}"));
        let holds = match op.as_str() {
            "$eq" => equals(actual, operand),
            "$ne" => !equals(actual, operand),
            "$gt" => actual_number.is_some_and(|a| a > number().unwrap_or(f64::NAN)),
            "$gte" => actual_number.is_some_and(|a| a >= number().unwrap_or(f64::NAN)),
            "$lt" => actual_number.is_some_and(|a| a < number().unwrap_or(f64::NAN)),
            "$lte" => actual_number.is_some_and(|a| a <= number().unwrap_or(f64::NAN)),
            "$in" => list()?.iter().any(|v| equals(actual, v)),
            "$nin" => !list()?.iter().any(|v| equals(actual, v)),
            "$exists" => actual.is_some() == operand.as_bool().ok_or("$exists needs a boolean")?,
            other => return Err(format!("unsupported operator {other}")),
        };
        if matches!(op.as_str(), "$gt" | "$gte" | "$lt" | "$lte") {
            number()?;
        }
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn equals(actual: Option<&Value>, wanted: &Value) -> bool {
    let same = |a: &Value| match (a, wanted) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == wanted,
    };
    match actual {
        None => false,
        Some(Value::Array(items)) => items.iter().any(same),
        Some(value) => same(value),
    }
}
