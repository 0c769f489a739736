//! A small in-memory Qdrant for tests, speaking Qdrant's REST wire format: collections (create, info,
//! payload indexes) and points (upsert, query, retrieve, scroll with `offset` or `order_by`, overwrite
//! and set payload, delete by ids or filter, count), with Qdrant's filters (`must` / `should` /
//! `must_not`; `match` value / any / except / text, `range`; a list field matches when any element
//! does; `match.value` takes strings, integers and booleans only). Answers are wrapped as Qdrant wraps
//! them (`{"result", "status": "ok", "time"}`; errors `{"status": {"error"}, "time"}`).
//!
//! With an API key, every request must carry `api-key: <key>`; others get 401 (plain text, as Qdrant).
//!
//! ```ignore
//! let qdrant = FakeQdrant::start(Some("qd-key")).await;
//! qdrant.refuse_order_by(true);                        // behave like a server without range index support
//! qdrant.put_point("mem0", id, vector, payload);        // data written by someone else (Mem0)
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
use chrono::DateTime;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A stored point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The dense vector.
    pub vector: Vec<f32>,
    /// The payload.
    pub payload: Map<String, Value>,
}

/// A collection.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Vector size.
    pub size: usize,
    /// `Cosine`, `Dot`, `Euclid`, `Manhattan`.
    pub distance: String,
    /// The creation body's `vectors.on_disk`.
    pub on_disk: bool,
    /// The creation body's `sparse_vectors`.
    pub sparse_vectors: Value,
    /// Payload indexes: field → schema name.
    pub payload_schema: BTreeMap<String, String>,
    /// Points by id.
    pub points: BTreeMap<String, Point>,
}

struct Shared {
    api_key: Option<String>,
    refuse_order_by: bool,
    collections: BTreeMap<String, Collection>,
}

#[derive(Clone)]
struct Ctx {
    state: Arc<Mutex<Shared>>,
    recorder: Recorder,
}

/// The running fake; stops when dropped.
pub struct FakeQdrant {
    ctx: Ctx,
    listener: Listener,
}

impl FakeQdrant {
    /// Starts the server; with `api_key`, only that key is accepted.
    pub async fn start(api_key: Option<&str>) -> Self {
        let ctx = Ctx {
            state: Arc::new(Mutex::new(Shared {
                api_key: api_key.map(str::to_owned),
                refuse_order_by: false,
                collections: BTreeMap::new(),
            })),
            recorder: Recorder::default(),
        };
        let listener = Listener::serve(Router::new().fallback(handle).with_state(ctx.clone()));
        Self { ctx, listener }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.listener.url()
    }

    /// Creates a collection with the unnamed vector only (as Mem0 1.x did).
    pub fn create_collection(&self, name: &str, size: usize, distance: &str) {
        let collection = Collection {
            size,
            distance: distance.to_owned(),
            on_disk: false,
            sparse_vectors: Value::Null,
            payload_schema: BTreeMap::new(),
            points: BTreeMap::new(),
        };
        self.ctx.state.lock().unwrap().collections.insert(name.to_owned(), collection);
    }

    /// A copy of a collection.
    pub fn collection(&self, name: &str) -> Option<Collection> {
        self.ctx.state.lock().unwrap().collections.get(name).cloned()
    }

    /// Stores a point as another client would (no checks).
    pub fn put_point(&self, collection: &str, id: &str, vector: Vec<f32>, payload: Value) {
        let mut state = self.ctx.state.lock().unwrap();
        let collection = state.collections.get_mut(collection).expect("collection exists");
        collection
            .points
            .insert(id.to_owned(), Point { vector, payload: payload.as_object().cloned().unwrap_or_default() });
    }

    /// Answers ordered scrolls with 400, as a server without the range index (or before 1.8) does.
    pub fn refuse_order_by(&self, refuse: bool) {
        self.ctx.state.lock().unwrap().refuse_order_by = refuse;
    }

    /// The next `times` requests get `fault`.
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

fn ok(result: Value) -> Response {
    (StatusCode::OK, axum::Json(json!({"result": result, "status": "ok", "time": 0.000_1}))).into_response()
}

fn error(status: u16, message: &str) -> Response {
    let body = json!({"status": {"error": message}, "time": 0.0});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn completed() -> Response {
    ok(json!({"operation_id": 1, "status": "completed"}))
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (request, fault) = ctx.recorder.record(&method, &uri, &headers, &body);
    if let Some(fault) = fault {
        return fault.response();
    }
    let mut state = ctx.state.lock().unwrap();
    if let Some(key) = &state.api_key {
        match request.header("api-key") {
            None => {
                return (StatusCode::UNAUTHORIZED, "Must provide an API key or an Authorization bearer token")
                    .into_response()
            }
            Some(sent) if sent != key => return (StatusCode::UNAUTHORIZED, "Invalid API key or JWT").into_response(),
            Some(_) => {}
        }
    }
    let Some(rest) = request.path.strip_prefix("/collections/") else { return error(404, "no such route") };
    let mut parts = rest.splitn(3, '/');
    let name = parts.next().unwrap_or_default().to_owned();
    let tail: Vec<&str> = parts.collect();
    let refuse_order_by = state.refuse_order_by;
    let body = &request.body;
    match (request.method.as_str(), tail.as_slice()) {
        ("GET", []) => match state.collections.get(&name) {
            Some(c) => ok(info(c)),
            None => error(404, &format!("Not found: Collection `{name}` doesn't exist!")),
        },
        ("PUT", []) => {
            if state.collections.contains_key(&name) {
                return error(409, &format!("Wrong input: Collection `{name}` already exists!"));
            }
            let size = body["vectors"]["size"].as_u64().unwrap_or(0) as usize;
            let distance = body["vectors"]["distance"].as_str().unwrap_or_default().to_owned();
            if size == 0 || !["Cosine", "Dot", "Euclid", "Manhattan"].contains(&distance.as_str()) {
                return error(400, "Bad request: vectors must have a size and a distance");
            }
            let collection = Collection {
                size,
                distance,
                on_disk: body["vectors"]["on_disk"] == json!(true),
                sparse_vectors: body["sparse_vectors"].clone(),
                payload_schema: BTreeMap::new(),
                points: BTreeMap::new(),
            };
            state.collections.insert(name, collection);
            ok(json!(true))
        }
        (method, tail) => {
            let Some(collection) = state.collections.get_mut(&name) else {
                return error(404, &format!("Not found: Collection `{name}` doesn't exist!"));
            };
            points(collection, method, tail, body, &request.query, refuse_order_by)
        }
    }
}

fn info(c: &Collection) -> Value {
    let schema: Map<String, Value> = c
        .payload_schema
        .iter()
        .map(|(k, t)| (k.clone(), json!({"data_type": t, "params": {"type": t}, "points": c.points.len()})))
        .collect();
    let mut params = json!({"vectors": {"size": c.size, "distance": c.distance, "on_disk": c.on_disk},
                            "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1, "on_disk_payload": true});
    if !c.sparse_vectors.is_null() {
        params["sparse_vectors"] = c.sparse_vectors.clone();
    }
    json!({"status": "green", "optimizer_status": "ok", "indexed_vectors_count": 0, "points_count": c.points.len(),
           "segments_count": 1, "config": {"params": params, "hnsw_config": {"m": 16, "ef_construct": 100},
           "optimizer_config": {}, "wal_config": {}}, "payload_schema": schema})
}

fn points(
    c: &mut Collection,
    method: &str,
    tail: &[&str],
    body: &Value,
    query: &str,
    refuse_order_by: bool,
) -> Response {
    let waited = query.contains("wait=true");
    let _ = waited;
    match (method, tail) {
        ("PUT", ["index"]) => {
            let Some(field) = body["field_name"].as_str() else { return error(400, "field_name is required") };
            let schema =
                body["field_schema"].as_str().or_else(|| body["field_schema"]["type"].as_str()).unwrap_or_default();
            if !["keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid"].contains(&schema) {
                return error(400, "Bad request: unknown field_schema");
            }
            c.payload_schema.insert(field.to_owned(), schema.to_owned());
            completed()
        }
        ("PUT", ["points"]) => {
            let Some(list) = body["points"].as_array() else { return error(400, "points is required") };
            let mut checked = Vec::new();
            for p in list {
                let id = match point_id(&p["id"]) {
                    Ok(id) => id,
                    Err(m) => return error(400, &m),
                };
                let dense = if p["vector"].is_object() { &p["vector"][""] } else { &p["vector"] };
                let vector = match dense_vector(dense, c.size) {
                    Ok(vector) => vector,
                    Err(message) => return error(400, &message),
                };
                checked.push((id, Point { vector, payload: p["payload"].as_object().cloned().unwrap_or_default() }));
            }
            c.points.extend(checked);
            completed()
        }
        ("POST", ["points", "query"]) => {
            let vector = match dense_vector(&body["query"], c.size) {
                Ok(vector) => vector,
                Err(message) => return error(400, &message),
            };
            let limit = body["limit"].as_u64().unwrap_or(10) as usize;
            let mut scored = Vec::new();
            for (id, p) in &c.points {
                match filter_holds(&body["filter"], &p.payload) {
                    Ok(true) => scored.push((id.clone(), score(&c.distance, &vector, &p.vector), p)),
                    Ok(false) => {}
                    Err(m) => return error(400, &m),
                }
            }
            let ascending = matches!(c.distance.as_str(), "Euclid" | "Manhattan");
            scored
                .sort_by(|a, b| if ascending { a.1.total_cmp(&b.1) } else { b.1.total_cmp(&a.1) }.then(a.0.cmp(&b.0)));
            let with_payload = body["with_payload"] == json!(true);
            let found: Vec<Value> = scored
                .into_iter()
                .take(limit)
                .map(|(id, score, p)| {
                    json!({"id": id, "version": 1, "score": score,
                           "payload": if with_payload { Value::Object(p.payload.clone()) } else { Value::Null }})
                })
                .collect();
            ok(json!({"points": found}))
        }
        ("POST", ["points", "scroll"]) => scroll(c, body, refuse_order_by),
        ("PUT" | "POST", ["points", "payload"]) => {
            let ids: Vec<String> = body["points"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| point_id(v).ok()).collect())
                .unwrap_or_default();
            if let Some(missing) = ids.iter().find(|id| !c.points.contains_key(*id)) {
                return error(404, &format!("Not found: No point with id {missing} found"));
            }
            let payload = body["payload"].as_object().cloned().unwrap_or_default();
            for id in ids {
                let point = c.points.get_mut(&id).expect("checked above");
                if method == "PUT" {
                    point.payload = payload.clone();
                } else {
                    point.payload.extend(payload.clone());
                }
            }
            completed()
        }
        ("POST", ["points", "delete"]) => {
            if let Some(ids) = body["points"].as_array() {
                for id in ids.iter().filter_map(|v| point_id(v).ok()) {
                    c.points.remove(&id);
                }
            } else if body["filter"].is_object() {
                let mut doomed = Vec::new();
                for (id, p) in &c.points {
                    match filter_holds(&body["filter"], &p.payload) {
                        Ok(true) => doomed.push(id.clone()),
                        Ok(false) => {}
                        Err(m) => return error(400, &m),
                    }
                }
                for id in doomed {
                    c.points.remove(&id);
                }
            } else {
                return error(400, "points or filter is required");
            }
            completed()
        }
        ("POST", ["points", "count"]) => {
            let mut count = 0;
            for p in c.points.values() {
                match filter_holds(&body["filter"], &p.payload) {
                    Ok(true) => count += 1,
                    Ok(false) => {}
                    Err(m) => return error(400, &m),
                }
            }
            ok(json!({"count": count}))
        }
        ("GET", ["points", id]) => match c.points.get(*id) {
            Some(p) => ok(json!({"id": id, "payload": p.payload, "vector": null})),
            None => error(404, &format!("Not found: Point with id {id} does not exists!")),
        },
        _ => error(404, "no such route"),
    }
}

fn scroll(c: &Collection, body: &Value, refuse_order_by: bool) -> Response {
    let limit = body["limit"].as_u64().unwrap_or(10) as usize;
    let mut selected: Vec<(&String, &Point)> = Vec::new();
    for (id, p) in &c.points {
        match filter_holds(&body["filter"], &p.payload) {
            Ok(true) => selected.push((id, p)),
            Ok(false) => {}
            Err(m) => return error(400, &m),
        }
    }
    let with_payload = body["with_payload"] == json!(true);
    let render = |(id, p): &(&String, &Point)| json!({"id": id, "payload": if with_payload { Value::Object(p.payload.clone()) } else { Value::Null }});
    if let Some(order) = body["order_by"].as_object() {
        let key = order.get("key").and_then(Value::as_str).unwrap_or_default();
        let ranged = matches!(c.payload_schema.get(key).map(String::as_str), Some("datetime" | "integer" | "float"));
        if refuse_order_by || !ranged {
            return error(
                400,
                &format!(
                    "Bad request: No range index for `order_by` key: `{key}`. Please create one to use `order_by`."
                ),
            );
        }
        if !body["offset"].is_null() {
            return error(400, "Bad request: Cannot use an `offset` when using `order_by`");
        }
        let time =
            |p: &Point| p.payload.get(key).and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        selected.retain(|(_, p)| time(p).is_some());
        selected.sort_by_key(|(_, p)| time(p));
        if order.get("direction").and_then(Value::as_str) == Some("desc") {
            selected.reverse();
        }
        let page: Vec<Value> = selected.iter().take(limit).map(render).collect();
        return ok(json!({"points": page, "next_page_offset": null}));
    }
    let start = body["offset"].as_str().map(str::to_owned);
    let from = start.map_or(0, |s| selected.iter().position(|(id, _)| **id >= s).unwrap_or(selected.len()));
    let page: Vec<Value> = selected.iter().skip(from).take(limit).map(render).collect();
    let next = selected.get(from + limit).map_or(Value::Null, |(id, _)| json!(id));
    ok(json!({"points": page, "next_page_offset": next}))
}

/// A JSON list of numbers of `size` elements, or the message of Qdrant's 400.
fn dense_vector(value: &Value, size: usize) -> Result<Vec<f32>, String> {
    let vector: Vec<f32> =
        value.as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect()).unwrap_or_default();
    if vector.len() != size {
        return Err(format!("Wrong input: Vector dimension error: expected dim: {size}, got {}", vector.len()));
    }
    Ok(vector)
}

fn point_id(id: &Value) -> Result<String, String> {
    match id {
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        Value::String(s) => uuid::Uuid::parse_str(s)
            .map(|u| u.hyphenated().to_string())
            .map_err(|_| format!("Format error in JSON body: value {s} is not a valid point ID")),
        other => Err(format!("Format error in JSON body: {other} is not a valid point ID")),
    }
}

fn score(distance: &str, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match distance {
        "Dot" => dot,
        "Euclid" => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt(),
        "Manhattan" => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
        _ => {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
        }
    }
}

/// Evaluates a Qdrant filter (`null` holds for every point).
pub fn filter_holds(filter: &Value, payload: &Map<String, Value>) -> Result<bool, String> {
    if filter.is_null() {
        return Ok(true);
    }
    let Some(object) = filter.as_object() else { return Err(format!("filter must be an object, got {filter}")) };
    let list = |key: &str| -> Result<Vec<bool>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(|c| condition_holds(c, payload)).collect(),
            Some(single) => Ok(vec![condition_holds(single, payload)?]),
        }
    };
    if let Some(unknown) = object.keys().find(|k| !["must", "should", "must_not", "min_should"].contains(&k.as_str())) {
        return Err(format!("Format error in JSON body: unknown field `{unknown}` in filter"));
    }
    let should = list("should")?;
    Ok(list("must")?.iter().all(|b| *b)
        && (should.is_empty() || should.iter().any(|b| *b))
        && !list("must_not")?.iter().any(|b| *b))
}

fn condition_holds(condition: &Value, payload: &Map<String, Value>) -> Result<bool, String> {
    let Some(object) = condition.as_object() else {
        return Err(format!("condition must be an object, got {condition}"));
    };
    if object.contains_key("must") || object.contains_key("should") || object.contains_key("must_not") {
        return filter_holds(condition, payload);
    }
    let Some(key) = object.get("key").and_then(Value::as_str) else {
        return Err(format!("Format error in JSON body: unsupported condition {condition}"));
    };
    let actual = payload.get(key);
    let values: Vec<&Value> = match actual {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    if let Some(m) = object.get("match") {
        let same = |a: &Value, b: &Value| match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_i64().is_some() && x.as_i64() == y.as_i64(),
            _ => a == b,
        };
        let scalar_ok = |v: &Value| v.is_string() || v.is_boolean() || v.as_i64().is_some();
        if let Some(v) = m.get("value") {
            if !scalar_ok(v) {
                return Err(format!(
                    "Format error in JSON body: match value must be a string, integer or boolean, got {v}"
                ));
            }
            return Ok(values.iter().any(|a| same(a, v)));
        }
        if let Some(any) = m.get("any").and_then(Value::as_array) {
            return Ok(values.iter().any(|a| any.iter().any(|v| same(a, v))));
        }
        if let Some(except) = m.get("except").and_then(Value::as_array) {
            return Ok(!values.iter().any(|a| except.iter().any(|v| same(a, v))));
        }
        if let Some(text) = m.get("text").and_then(Value::as_str) {
            return Ok(values.iter().any(|a| a.as_str().is_some_and(|s| s.contains(text))));
        }
        return Err(format!("Format error in JSON body: unsupported match {m}"));
    }
    if let Some(range) = object.get("range").and_then(Value::as_object) {
        let bound = |op: &str| range.get(op).and_then(Value::as_f64);
        return Ok(values.iter().filter_map(|v| v.as_f64()).any(|x| {
            bound("gt").is_none_or(|b| x > b)
                && bound("gte").is_none_or(|b| x >= b)
                && bound("lt").is_none_or(|b| x < b)
                && bound("lte").is_none_or(|b| x <= b)
        }));
    }
    Err(format!("Format error in JSON body: unsupported condition {condition}"))
}
