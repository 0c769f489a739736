//! The Pinecone store against a local server speaking Pinecone's REST wire format (control plane and a
//! data plane per index, with state): index creation, Mem0's payload, scopes, filters, listings past
//! Pinecone's 1,000-match query limit, and errors (401, 429 retried, 500 bounded).

use crate::support::adapter_config;
use crate::support::fake_pinecone;
use crate::support::store_scenarios as scenarios;

use adapter_config::{fast_retries, no_env, with_env};
use fake_pinecone::{FakePinecone, Fault};
use mem0_dify::adapters::storage::build_storage;
use mem0_dify::adapters::vector::pinecone::{PineconeStore, ReadyPolling, API_VERSION};
use mem0_dify::domain::credentials::ProviderBlock;
use mem0_dify::domain::memory::MemoryId;
use mem0_dify::ports::store::StoreError;
use mem0_dify::ports::vector_store::VectorStore;
use scenarios::{embed_text, fresh_user, insert_all, list, memory, scope, search, DIMS};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "pk-test-0123456789abcdef";

fn block(config: Value) -> ProviderBlock {
    adapter_config::block("local_vector_db_json", "pinecone", config)
}

fn store_with(pinecone: &FakePinecone, extra: Value) -> PineconeStore {
    let mut config =
        json!({"api_key": KEY, "embedding_model_dims": DIMS, "extra_params": {"host": pinecone.control_url()}});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    PineconeStore::from_block(&block(config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
        .with_ready_polling(ReadyPolling { interval: Duration::from_millis(5), max_wait: Duration::from_secs(2) })
}

async fn ready_store(extra: Value) -> (FakePinecone, PineconeStore) {
    let pinecone = FakePinecone::start(KEY).await;
    pinecone.create_index("mem0", DIMS, "cosine").await;
    let store = store_with(&pinecone, extra);
    store.ensure_ready().await.unwrap();
    pinecone.clear_requests();
    (pinecone, store)
}

#[tokio::test]
async fn a_missing_index_is_created_serverless_and_awaited() {
    let pinecone = FakePinecone::start(KEY).await;
    pinecone.set_ready_after(2);
    let store = store_with(&pinecone, json!({"collection_name": "memories"}));

    store.ensure_ready().await.unwrap();

    let requests = pinecone.requests();
    let lines: Vec<String> = requests.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /indexes/memories",
            "POST /indexes",
            "GET /indexes/memories",
            "GET /indexes/memories",
            "GET /indexes/memories"
        ]
    );
    for request in &requests {
        assert_eq!(request.header("api-key"), Some(KEY));
        assert_eq!(request.header("x-pinecone-api-version"), Some(API_VERSION));
        assert!(request.header("user-agent").unwrap().starts_with("mem0-dify/"));
    }
    assert_eq!(
        requests[1].body,
        json!({"name": "memories", "dimension": DIMS, "metric": "cosine",
               "spec": {"serverless": {"cloud": "aws", "region": "us-west-2"}},
               "vector_type": "dense", "deletion_protection": "disabled"})
    );
    let index = pinecone.index("memories").unwrap();
    assert_eq!((index.dimension, index.metric.as_str()), (DIMS, "cosine"));

    // The data plane is the described host.
    store
        .insert(&[scenarios::with_vector(memory("Likes tea", &scope(Some("u"), None, None), json!({}), 0))])
        .await
        .unwrap();
    let upsert = pinecone.requests().into_iter().last().unwrap();
    assert_eq!(upsert.line(), "POST /vectors/upsert");
    assert_eq!(upsert.header("x-pinecone-api-version"), Some(API_VERSION));
    assert_eq!(pinecone.records("memories", "").len(), 1);
}

#[tokio::test]
async fn pod_config_creates_a_pod_index_and_failures_are_named() {
    let pinecone = FakePinecone::start(KEY).await;
    let store = store_with(
        &pinecone,
        json!({"pod_config": {"environment": "us-east-1-aws", "pod_type": "s1.x1"}, "metric": "dotproduct"}),
    );
    store.ensure_ready().await.unwrap();
    let create = pinecone.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(
        create.body["spec"],
        json!({"pod": {"environment": "us-east-1-aws", "pod_type": "s1.x1", "replicas": 1, "shards": 1, "pods": 1}})
    );
    assert_eq!(create.body["metric"], "dotproduct");

    // An index that never becomes ready: a clear, transient error.
    let pinecone = FakePinecone::start(KEY).await;
    pinecone.set_ready_after(1000);
    let store = store_with(&pinecone, json!({}))
        .with_ready_polling(ReadyPolling { interval: Duration::from_millis(5), max_wait: Duration::from_millis(50) });
    let err = store.ensure_ready().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable { .. }) && err.to_string().contains("\"mem0\" is not ready"),
        "{err}"
    );
}

#[tokio::test]
async fn an_existing_index_of_another_size_is_refused() {
    let pinecone = FakePinecone::start(KEY).await;
    pinecone.create_index("mem0", 1536, "cosine").await;
    let err = store_with(&pinecone, json!({})).ensure_ready().await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Rejected { .. })
            && err.to_string().contains("vectors of 1536 dimensions but embedding_model_dims is 16"),
        "{err}"
    );
    assert!(pinecone.requests().iter().all(|r| r.method == "GET"), "nothing is created or written");
}

#[tokio::test]
async fn the_port_behaves_in_a_namespace() {
    let (pinecone, store) = ready_store(json!({"namespace": "team-a"})).await;
    scenarios::all(&store).await;
    assert!(pinecone.records("mem0", "").is_empty(), "everything went to the namespace");
    let data_requests: Vec<_> = pinecone.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert!(data_requests.iter().all(|r| r.body["namespace"] == "team-a"), "every data request names the namespace");
    let fetch = pinecone.requests().into_iter().find(|r| r.path == "/vectors/fetch").unwrap();
    assert_eq!(fetch.query_values("namespace"), ["team-a"]);
}

#[tokio::test]
async fn records_hold_mem0s_flat_payload() {
    let (pinecone, store) = ready_store(json!({})).await;
    let alice = scope(Some("alice"), Some("bot"), None);
    let mut record =
        memory("Likes green tea", &alice, json!({"topic": "food", "n": 2, "tags": ["x"], "gone": null}), 0);
    record.role = Some("user".into());
    let vector = embed_text(record.text.as_str(), DIMS);
    store.insert(&[(record.clone(), vector.clone())]).await.unwrap();

    let upsert = &pinecone.requests()[0];
    let sent = &upsert.body["vectors"][0];
    let values: Vec<f32> = sent["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(values, vector);
    assert_eq!(upsert.body.as_object().unwrap().len(), 1, "no namespace key for the default namespace");
    assert_eq!(
        json!({"id": sent["id"], "metadata": sent["metadata"]}),
        json!({"id": record.id.to_string(), "metadata": {
            "user_id": "alice", "agent_id": "bot", "topic": "food", "n": 2, "tags": ["x"],
            "data": "Likes green tea", "hash": record.hash.as_str(),
            "created_at": "2026-03-01T12:00:00.000000+00:00", "updated_at": "2026-03-01T12:00:00.000000+00:00",
            "role": "user"}})
    );
    let stored = pinecone.records("mem0", "");
    assert_eq!(stored[&record.id.to_string()].values, vector);
    let back = store.get(record.id).await.unwrap().unwrap();
    assert_eq!(back.metadata.as_map().get("n"), Some(&json!(2)), "Pinecone's 2.0 reads back as 2");
    assert_eq!(back.metadata.as_map().get("gone"), None, "null metadata is dropped, as Pinecone requires");

    // Metadata Pinecone cannot hold is refused before anything is sent, naming the key.
    pinecone.clear_requests();
    let nested = memory("Nested", &alice, json!({"address": {"city": "Paris"}}), 1);
    let err = store.insert(&[scenarios::with_vector(nested)]).await.unwrap_err();
    assert!(matches!(&err, StoreError::Rejected { .. }) && err.to_string().contains("\"address\""), "{err}");
    assert!(pinecone.requests().is_empty());
}

#[tokio::test]
async fn data_written_by_mem0_reads_back() {
    let (pinecone, store) = ready_store(json!({})).await;
    let id = "5f1c3b0e-8a4e-4d55-9a43-0d0c0b7c2f10";
    pinecone.put_record(
        "mem0",
        "",
        id,
        embed_text("Lives in Paris", DIMS),
        json!({"user_id": "alice", "data": "Lives in Paris", "hash": "abc123",
               "created_at": "2025-11-26T03:25:56.565713-08:00", "text_lemmatized": "live paris",
               "attributed_to": "user", "category": "home"}),
    );
    pinecone.put_record(
        "mem0",
        "",
        "not-a-uuid",
        embed_text("Lives in Paris", DIMS),
        json!({"user_id": "alice", "data": "x"}),
    );

    let record = store.get(MemoryId::parse(id).unwrap()).await.unwrap().unwrap();
    assert_eq!(record.text.as_str(), "Lives in Paris");
    assert_eq!(record.hash.as_str(), "abc123");
    assert_eq!(record.created_at.to_rfc3339(), "2025-11-26T11:25:56.565713+00:00");
    assert_eq!(record.updated_at, record.created_at);
    let keys: Vec<&String> = record.metadata.as_map().keys().collect();
    assert_eq!(keys, ["attributed_to", "category"]);

    let alice = scope(Some("alice"), None, None);
    let found = search(&store, &alice, "Lives in Paris", None, 5).await;
    assert_eq!(found.len(), 1, "the foreign point is skipped: {found:?}");
    assert_eq!(list(&store, &alice, None, 5).await.len(), 1);
}

#[tokio::test]
async fn filters_are_pushed_down_and_the_rest_checked_here() {
    let (pinecone, store) = ready_store(json!({})).await;
    let alice = scope(Some("alice"), None, None);
    let mut records = Vec::new();
    for i in 0..60 {
        // The few that pass the whole filter share no word with the query, so they rank last.
        let (text, topic) =
            if i % 20 == 0 { (format!("Oysters {i}"), "Seafood") } else { (format!("Fact {i} about tea"), "sport") };
        records.push(memory(&text, &alice, json!({"topic": topic, "n": i}), i));
    }
    insert_all(&store, &records).await;
    pinecone.clear_requests();

    let found =
        search(&store, &alice, "Fact about tea", Some(json!({"topic": {"icontains": "FOOD"}, "n": {"lt": 50}})), 3)
            .await;

    let mut names: Vec<String> = found.into_iter().map(|(t, _)| t).collect();
    names.sort();
    assert_eq!(names, ["Oysters 0", "Oysters 20", "Oysters 40"]);
    let queries: Vec<_> = pinecone.requests().into_iter().filter(|r| r.path == "/query").collect();
    assert_eq!(
        queries[0].body["filter"],
        json!({"$and": [{"user_id": {"$eq": "alice"}}, {"n": {"$lt": 50.0}}]}),
        "the scope and the numeric range are pushed down; icontains is checked here"
    );
    assert_eq!(
        (queries[0].body["includeMetadata"].clone(), queries[0].body["includeValues"].clone()),
        (json!(true), json!(false))
    );
    let asked: Vec<u64> = queries.iter().map(|q| q.body["topK"].as_u64().unwrap()).collect();
    assert_eq!(asked, [23, 92], "over-fetched, then more when too few passed");
}

#[tokio::test]
async fn listings_page_past_the_query_limit() {
    let (pinecone, store) = ready_store(json!({"batch_size": 500})).await;
    let alice = scope(Some(&fresh_user("alice")), None, None);
    let records: Vec<_> = (0..1003).map(|i| memory(&format!("Fact {i}"), &alice, json!({}), i)).collect();
    insert_all(&store, &records).await;
    let upserts = pinecone.requests().into_iter().filter(|r| r.path == "/vectors/upsert").count();
    assert_eq!(upserts, 3, "batch_size vectors per upsert");
    pinecone.clear_requests();

    let newest = list(&store, &alice, None, 2).await;

    assert_eq!(newest.iter().map(|r| r.text.as_str()).collect::<Vec<_>>(), ["Fact 1002", "Fact 1001"]);
    let paths: Vec<String> = pinecone.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths[0], "/query");
    assert_eq!(
        paths[1..].iter().filter(|p| *p == "/vectors/fetch_by_metadata").count(),
        11,
        "1003 records, 100 a page"
    );
    assert_eq!(store.delete_scope(&alice).await.unwrap(), 1003);
    assert!(pinecone.records("mem0", "").is_empty());
}

#[tokio::test]
async fn rejected_credentials_are_not_retried_and_never_shown() {
    let pinecone = FakePinecone::start("pk-the-right-key-000").await;
    let store = store_with(&pinecone, json!({}));

    let err = store.ensure_ready().await.unwrap_err();

    assert!(matches!(&err, StoreError::Rejected { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("credentials were rejected (HTTP 401): Invalid API Key"), "{shown}");
    assert!(!shown.contains(KEY) && !format!("{err:?}").contains(KEY));
    assert_eq!(pinecone.requests().len(), 1);
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_asked_wait() {
    let (pinecone, store) = ready_store(json!({})).await;
    let body =
        json!({"code": 8, "message": "Request failed. You've reached the max read units per second.", "details": []});
    pinecone.fail_next(1, Fault::new(429, body).retry_after(0.2));
    let started = Instant::now();

    let found = search(&store, &scope(Some("alice"), None, None), "tea", None, 3).await;

    assert!(found.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200), "Retry-After was honoured");
    assert_eq!(pinecone.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let (pinecone, store) = ready_store(json!({})).await;
    pinecone.fail_next(10, Fault::new(500, json!({"code": 13, "message": "Internal error occurred", "details": []})));

    let err = store.get(MemoryId::parse("5f1c3b0e-8a4e-4d55-9a43-0d0c0b7c2f10").unwrap()).await.unwrap_err();

    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.to_string(), "the pinecone store is unavailable: HTTP 500: Internal error occurred");
    assert_eq!(pinecone.requests().len(), 3, "one attempt and two retries");
}

#[test]
fn config_errors_name_the_key() {
    let err = |config: Value| PineconeStore::from_block(&block(config), &no_env()).unwrap_err().to_string();
    let e = err(json!({}));
    assert!(e.starts_with("local_vector_db_json: api_key is required") && e.contains("PINECONE_API_KEY"), "{e}");
    let e = err(json!({"api_key": KEY, "embeding_model_dims": 8}));
    assert!(e.contains("unknown key \"embeding_model_dims\"") && e.contains("embedding_model_dims"), "{e}");
    let e = err(json!({"api_key": KEY, "collection_name": "Mem0_Memories"}));
    assert!(e.contains("collection_name is the Pinecone index name"), "{e}");
    let e = err(
        json!({"api_key": KEY, "serverless_config": {"cloud": "aws", "region": "us-east-1"}, "pod_config": {"environment": "x"}}),
    );
    assert!(e.contains("serverless_config or pod_config"), "{e}");
    let env = with_env(&[("PINECONE_API_KEY", "pk-from-env-123")]);
    assert!(PineconeStore::from_block(&block(json!({})), &env).is_ok());
}

#[test]
fn hosted_stores_are_dispatched_by_provider() {
    let pinecone =
        ProviderBlock::parse("local_vector_db_json", &json!({"provider": "pinecone", "config": {"api_key": KEY}}))
            .unwrap()
            .unwrap();
    assert!(build_storage(&pinecone, &no_env(), DIMS).is_ok());
    let qdrant = ProviderBlock::parse(
        "local_vector_db_json",
        &json!({"provider": "qdrant", "config": {"url": "http://q:6333"}}),
    )
    .unwrap()
    .unwrap();
    assert!(build_storage(&qdrant, &no_env(), DIMS).is_ok());
    let bad =
        ProviderBlock::parse("local_vector_db_json", &json!({"provider": "qdrant", "config": {"path": "/tmp/q"}}))
            .unwrap()
            .unwrap();
    assert!(build_storage(&bad, &no_env(), DIMS).err().unwrap().to_string().contains("path (Qdrant local mode"));
    let other =
        ProviderBlock::parse("local_vector_db_json", &json!({"provider": "milvus", "config": {}})).unwrap().unwrap();
    let err = build_storage(&other, &no_env(), DIMS).err().unwrap().to_string();
    assert!(
        err.contains("unknown provider \"milvus\"; supported providers are pgvector, embedded, pinecone, qdrant"),
        "{err}"
    );
}
