//! The Qdrant store against a local server speaking Qdrant's REST wire format (with state): collection
//! and payload-index creation, Mem0's payload, scopes, filters, ordered and unordered listings, and
//! errors (401, 429 retried, 500 bounded).
//!
//! No registry ships a Qdrant server binary (PyPI, npm, crates.io — whose `qdrant` is an empty
//! placeholder — and Debian were checked), so the real server cannot be run here; the same
//! port-level scenarios (`support/store_scenarios.rs`) run against this emulation.

use crate::support::adapter_config;
use crate::support::fake_qdrant;
use crate::support::store_scenarios as scenarios;

use adapter_config::fast_retries;
use fake_qdrant::{FakeQdrant, Fault};
use mem0_dify::adapters::vector::qdrant::QdrantStore;
use mem0_dify::domain::credentials::ProviderBlock;
use mem0_dify::domain::memory::MemoryId;
use mem0_dify::ports::store::StoreError;
use mem0_dify::ports::vector_store::VectorStore;
use scenarios::{embed_text, fresh_user, insert_all, list, memory, scope, search, DIMS};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "qd-test-0123456789abcdef";

fn block(config: Value) -> ProviderBlock {
    adapter_config::block("local_vector_db_json", "qdrant", config)
}

fn store_with(qdrant: &FakeQdrant, extra: Value) -> QdrantStore {
    let mut config = json!({"url": qdrant.url(), "api_key": KEY, "embedding_model_dims": DIMS});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    QdrantStore::from_block(&block(config)).unwrap().with_retry_policy(fast_retries())
}

async fn ready_store() -> (FakeQdrant, QdrantStore) {
    let qdrant = FakeQdrant::start(Some(KEY)).await;
    let store = store_with(&qdrant, json!({}));
    store.ensure_ready().await.unwrap();
    qdrant.clear_requests();
    (qdrant, store)
}

#[tokio::test]
async fn a_missing_collection_is_created_with_mem0s_layout_and_indexes() {
    let qdrant = FakeQdrant::start(Some(KEY)).await;
    let store = store_with(&qdrant, json!({"collection_name": "memories", "on_disk": true}));

    store.ensure_ready().await.unwrap();
    store.ensure_ready().await.unwrap();

    let requests = qdrant.requests();
    let lines: Vec<String> = requests.iter().map(|r| r.line()).collect();
    assert_eq!(&lines[..3], ["GET /collections/memories", "PUT /collections/memories", "GET /collections/memories"]);
    assert_eq!(lines.len(), 3 + 6, "six payload indexes, and nothing more on the second call");
    assert!(requests.iter().all(|r| r.header("api-key") == Some(KEY)));
    assert_eq!(
        requests[1].body,
        json!({"vectors": {"size": DIMS, "distance": "Cosine", "on_disk": true}, "sparse_vectors": {"bm25": {"modifier": "idf"}}})
    );
    let indexes: Vec<(String, Value)> = requests[3..].iter().map(|r| (r.line(), r.body.clone())).collect();
    for (line, _) in &indexes {
        assert_eq!(line, "PUT /collections/memories/index");
    }
    assert!(requests[3..].iter().all(|r| r.query == "wait=true"));
    let bodies: Vec<Value> = indexes.into_iter().map(|(_, b)| b).collect();
    assert_eq!(
        bodies,
        ["user_id", "agent_id", "run_id", "actor_id", "hash"]
            .iter()
            .map(|f| json!({"field_name": f, "field_schema": "keyword"}))
            .chain([json!({"field_name": "created_at", "field_schema": "datetime"})])
            .collect::<Vec<_>>()
    );
    let collection = qdrant.collection("memories").unwrap();
    assert_eq!((collection.size, collection.distance.as_str(), collection.on_disk), (DIMS, "Cosine", true));
}

#[tokio::test]
async fn an_existing_collection_is_checked_and_completed() {
    let qdrant = FakeQdrant::start(Some(KEY)).await;
    qdrant.create_collection("mem0", 1536, "Cosine");
    let err = store_with(&qdrant, json!({})).ensure_ready().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Rejected { .. })
            && err.to_string().contains("vectors of 1536 dimensions but embedding_model_dims is 16"),
        "{err}"
    );

    // A Mem0 1.x collection (no bm25 slot, no indexes) of the right size is used as it is, indexes added.
    let qdrant = FakeQdrant::start(Some(KEY)).await;
    qdrant.create_collection("mem0", DIMS, "Cosine");
    store_with(&qdrant, json!({})).ensure_ready().await.unwrap();
    assert!(qdrant.requests().iter().all(|r| r.method != "PUT" || r.path == "/collections/mem0/index"));
    assert_eq!(qdrant.collection("mem0").unwrap().payload_schema.len(), 6);
}

#[tokio::test]
async fn the_port_behaves() {
    let (_qdrant, store) = ready_store().await;
    scenarios::all(&store).await;
}

#[tokio::test]
async fn the_port_behaves_without_ordered_scrolls() {
    let (qdrant, store) = ready_store().await;
    qdrant.refuse_order_by(true);
    scenarios::all(&store).await;
}

#[tokio::test]
async fn points_hold_mem0s_flat_payload() {
    let (qdrant, store) = ready_store().await;
    let alice = scope(Some("alice"), None, Some("r1"));
    let record = memory("Likes green tea", &alice, json!({"topic": "food", "address": {"city": "Paris"}}), 0);
    store.insert(&[scenarios::with_vector(record.clone())]).await.unwrap();

    let upsert = &qdrant.requests()[0];
    assert_eq!((upsert.line(), upsert.query.as_str()), ("PUT /collections/mem0/points".to_owned(), "wait=true"));
    let point = &upsert.body["points"][0];
    assert_eq!(point["id"], record.id.to_string());
    assert_eq!(point["vector"].as_array().unwrap().len(), DIMS);
    assert_eq!(
        point["payload"],
        json!({"user_id": "alice", "run_id": "r1", "topic": "food", "address": {"city": "Paris"},
               "data": "Likes green tea", "hash": record.hash.as_str(),
               "created_at": "2026-03-01T12:00:00.000000+00:00", "updated_at": "2026-03-01T12:00:00.000000+00:00"})
    );
    assert_eq!(store.get(record.id).await.unwrap(), Some(record.clone()));

    // A payload-only update overwrites the payload and keeps the vector.
    qdrant.clear_requests();
    let mut revised = record.clone();
    revised.role = Some("assistant".into());
    store.update(&revised, None).await.unwrap();
    let update = &qdrant.requests()[0];
    assert_eq!(update.line(), "PUT /collections/mem0/points/payload");
    assert_eq!(update.body["points"], json!([record.id.to_string()]));
    let stored = qdrant.collection("mem0").unwrap().points[&record.id.to_string()].clone();
    assert_eq!(stored.vector, embed_text("Likes green tea", DIMS));
    assert_eq!(stored.payload["role"], "assistant");
}

#[tokio::test]
async fn data_written_by_mem0_reads_back() {
    let (qdrant, store) = ready_store().await;
    let id = "5f1c3b0e-8a4e-4d55-9a43-0d0c0b7c2f10";
    qdrant.put_point(
        "mem0",
        id,
        embed_text("Lives in Paris", DIMS),
        json!({"user_id": "alice", "agent_id": "travel", "data": "Lives in Paris", "hash": "abc123",
               "created_at": "2025-11-26T03:25:56.565713-08:00", "updated_at": "2025-11-27T03:25:56-08:00",
               "text_lemmatized": "live paris", "memory_type": "procedural_memory"}),
    );
    qdrant.put_point("mem0", "42", embed_text("Lives in Paris", DIMS), json!({"user_id": "alice", "data": "x"}));

    let record = store.get(MemoryId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!((record.text.as_str(), record.hash.as_str()), ("Lives in Paris", "abc123"));
    assert_eq!(record.updated_at.to_rfc3339(), "2025-11-27T11:25:56+00:00");
    assert_eq!(record.metadata.as_map().keys().collect::<Vec<_>>(), ["memory_type"]);
    let alice = scope(Some("alice"), None, None);
    assert_eq!(search(&store, &alice, "Lives in Paris", None, 5).await.len(), 1, "the integer-id point is skipped");
    assert_eq!(list(&store, &alice, None, 5).await.len(), 1);
}

#[tokio::test]
async fn filters_are_pushed_down_and_the_rest_checked_here() {
    let (qdrant, store) = ready_store().await;
    let alice = scope(Some(&fresh_user("alice")), None, None);
    insert_all(
        &store,
        &[
            memory("Likes tea", &alice, json!({"topic": "food", "a.b": 1, "n": 2}), 0),
            memory("Likes coffee", &alice, json!({"topic": "food", "a.b": 2, "n": 2.5}), 1),
        ],
    )
    .await;
    qdrant.clear_requests();

    let found = search(&store, &alice, "Likes tea", Some(json!({"topic": "food", "a.b": 2, "n": {"gt": 2}})), 5).await;

    assert_eq!(found.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["Likes coffee"]);
    let query = &qdrant.requests()[0];
    assert_eq!(query.line(), "POST /collections/mem0/points/query");
    assert_eq!(
        query.body["filter"],
        json!({"must": [
            {"key": "user_id", "match": {"value": alice.user_id().unwrap().as_str()}},
            {"key": "topic", "match": {"value": "food"}},
            {"key": "n", "range": {"gt": 2.0}},
        ]}),
        "a dotted key would be a nested path in Qdrant, so it is checked here"
    );
    assert_eq!(query.body["limit"], 25);
    assert_eq!((query.body["with_payload"].clone(), query.body["with_vector"].clone()), (json!(true), json!(false)));
}

#[tokio::test]
async fn listings_are_ordered_by_the_server_or_sorted_here() {
    let (qdrant, store) = ready_store().await;
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let records: Vec<_> = (0..300).map(|i| memory(&format!("Fact {i}"), &alice, json!({}), i)).collect();
    insert_all(&store, &records).await;
    qdrant.clear_requests();

    let newest = list(&store, &alice, None, 2).await;
    assert_eq!(newest.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(), ["Fact 299", "Fact 298"]);
    let scroll = &qdrant.requests()[0];
    assert_eq!(scroll.body["order_by"], json!({"key": "created_at", "direction": "desc"}));
    assert_eq!(scroll.body["limit"], 2);

    qdrant.refuse_order_by(true);
    qdrant.clear_requests();
    let newest = list(&store, &alice, None, 2).await;
    assert_eq!(newest.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(), ["Fact 299", "Fact 298"]);
    let scrolls: Vec<Value> = qdrant.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(scrolls.len(), 3, "one refused ordered scroll, then two pages of 256");
    assert!(scrolls[1].get("order_by").is_none() && scrolls[2]["offset"].is_string());

    qdrant.clear_requests();
    list(&store, &alice, None, 2).await;
    assert!(qdrant.requests().iter().all(|r| r.body.get("order_by").is_none()), "the refusal is remembered");
    assert_eq!(store.delete_scope(&alice).await.unwrap(), 300);
}

#[tokio::test]
async fn rejected_credentials_are_not_retried_and_never_shown() {
    let qdrant = FakeQdrant::start(Some("qd-the-right-key-000")).await;
    let store = store_with(&qdrant, json!({}));

    let err = store.ensure_ready().await.unwrap_err();

    assert!(matches!(&err, StoreError::Rejected { .. }), "{err:?}");
    assert!(err.to_string().contains("credentials were rejected (HTTP 401): Invalid API key or JWT"), "{err}");
    assert!(!format!("{err:?}").contains(KEY));
    assert_eq!(qdrant.requests().len(), 1);
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_asked_wait() {
    let (qdrant, store) = ready_store().await;
    qdrant
        .fail_next(1, Fault::new(429, json!({"status": {"error": "Too many requests"}, "time": 0.0})).retry_after(0.2));
    let started = Instant::now();

    assert!(search(&store, &scope(Some("alice"), None, None), "tea", None, 3).await.is_empty());

    assert!(started.elapsed() >= Duration::from_millis(200), "Retry-After was honoured");
    assert_eq!(qdrant.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let (qdrant, store) = ready_store().await;
    qdrant
        .fail_next(10, Fault::new(500, json!({"status": {"error": "Service internal error: disk full"}, "time": 0.0})));

    let err = store.delete_scope(&scope(Some("alice"), None, None)).await.unwrap_err();

    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.to_string(), "the qdrant store is unavailable: HTTP 500: Service internal error: disk full");
    assert_eq!(qdrant.requests().len(), 3, "one attempt and two retries");
}

#[test]
fn config_errors_name_the_key() {
    let err = |config: Value| QdrantStore::from_block(&block(config)).unwrap_err().to_string();
    let e = err(json!({"path": "/tmp/qdrant", "collection_name": "mem0"}));
    assert!(e.starts_with("local_vector_db_json: path (Qdrant local mode") && e.contains("set url"), "{e}");
    let e = err(json!({"url": "http://q:6333", "on_disk": "yes"}));
    assert!(e.contains("on_disk: invalid type"), "{e}");
    let e = err(json!({"url": "http://q:6333", "grpc_port": 6334}));
    assert!(e.contains("unknown key \"grpc_port\"") && e.contains("collection_name"), "{e}");
    let e = err(json!({"url": "http://q:6333", "api_key": 12345678}));
    assert!(e.contains("api_key has the wrong type") && !e.contains("12345678"), "{e}");
}
