//! The pgvector store against a real PostgreSQL + pgvector (`scripts/services/postgres.sh start`):
//! what is its own (Mem0's table and payload, SQL filters with hostile values, passwords and TLS,
//! index options, recall on a 200k-row table). The behaviour every store shares is the contract
//! suite (`support/store_scenarios.rs`), run here by `keeps_the_store_contract`.

use crate::support::pgstore;

use mem0_dify::adapters::vector::pgvector::{from_block, PgVectorConfig, PgVectorStore};
use mem0_dify::domain::credentials::{ProviderBlock, VECTOR_STORE};
use mem0_dify::domain::filter::Filter;
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText};
use mem0_dify::domain::scope::{EntityId, Scope};
use mem0_dify::ports::store::StoreError;
use mem0_dify::ports::vector_store::{ListQuery, VectorQuery, VectorStore};
use pgstore::tls_proxy::{TestPki, TlsProxy};
use pgstore::*;
use pgstore::{pgvector_config as config, pgvector_store as store};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use uuid::Uuid;

use crate::support::store_scenarios;

const DIMS: usize = 8;

fn ids(records: &[MemoryRecord]) -> BTreeSet<MemoryId> {
    records.iter().map(|r| r.id).collect()
}

fn list_query(scope: &Scope, filter: Option<Filter>) -> ListQuery {
    ListQuery { scope: scope.clone(), filter, limit: 1000 }
}

fn search_query(vector: &[f32], scope: &Scope, filter: Option<Filter>, limit: usize) -> VectorQuery {
    VectorQuery { vector: vector.to_vec(), scope: scope.clone(), filter, limit }
}

#[tokio::test]
async fn creates_mem0s_table_and_indexes_once() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("ddl");
    let a = store(&url, &collection, DIMS);
    let b = store(&url, &collection, DIMS);
    let (ra, rb) = tokio::join!(a.ensure_ready(), b.ensure_ready());
    ra.unwrap();
    rb.unwrap();
    a.ensure_ready().await.unwrap();
    let client = raw_client(&url).await;
    let columns: Vec<(String, String)> = client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&format!("\"{collection}\"")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [("id", "uuid"), ("vector", "vector(8)"), ("payload", "jsonb"), ("lexical", "tsvector")];
    assert_eq!(columns, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    let indexes: BTreeSet<String> = client
        .query("SELECT indexname::text FROM pg_indexes WHERE tablename = $1", &[&collection])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0).trim_start_matches(&collection).to_owned())
        .collect();
    let expected: BTreeSet<String> =
        ["_pkey", "_hnsw_idx", "_user_id_idx", "_agent_id_idx", "_run_id_idx", "_hash_idx", "_lexical_idx"]
            .map(String::from)
            .into();
    assert_eq!(indexes, expected);
    let hnsw: String = client
        .query_one("SELECT indexdef FROM pg_indexes WHERE indexname = $1", &[&format!("{collection}_hnsw_idx")])
        .await
        .unwrap()
        .get(0);
    assert!(hnsw.contains("USING hnsw (vector vector_cosine_ops)"), "{hnsw}");
    drop_table(&url, &collection).await;
}

/// A batch naming one id twice (a replayed plan) keeps its last occurrence: one SQL statement
/// cannot upsert the same row twice. (Replays across batches are in the contract suite.)
#[tokio::test]
async fn a_batch_repeating_an_id_keeps_its_last_occurrence() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("crud");
    let store = store(&url, &collection, DIMS);
    let alice = scope(Some("alice"), None, None);
    let mut vectors = Vectors::new(1);
    let first = record(&alice, "Likes tea", json!({}), 0);
    let revised = first.revised(MemoryText::parse("t", "Likes green tea").unwrap(), &Default::default(), at(5));
    let (v1, v2) = (vectors.next(DIMS), vectors.next(DIMS));
    store.insert(&[(first.clone(), v1), (revised.clone(), v2.clone())]).await.unwrap();
    assert_eq!(store.list(&list_query(&alice, None)).await.unwrap(), vec![revised]);
    let hits = store.search(&search_query(&v2, &alice, None, 1)).await.unwrap();
    assert!(hits[0].score.value() > 0.999, "the last vector was kept: {hits:?}");
    drop_table(&url, &collection).await;
}

#[tokio::test]
async fn payloads_are_mem0s_both_ways() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("mem0");
    let store = store(&url, &collection, 3);
    store.ensure_ready().await.unwrap();
    let client = raw_client(&url).await;
    // A row exactly as Mem0 2.x writes it.
    let mem0_id = Uuid::new_v4();
    let payload = json!({"user_id": "alice", "agent_id": "bot", "category": "home", "data": "Lives in Paris",
        "hash": "0123456789abcdef0123456789abcdef", "created_at": "2026-11-26T03:25:56.565713-08:00",
        "updated_at": "2026-11-26T03:25:56.565713-08:00", "text_lemmatized": "live paris"});
    client
        .execute(
            &format!("INSERT INTO \"{collection}\" (id, vector, payload) VALUES ($1, '[1,0,0]', $2)"),
            &[&mem0_id, &payload],
        )
        .await
        .unwrap();
    let read = store.get(MemoryId::from_uuid(mem0_id)).await.unwrap().unwrap();
    assert_eq!(read.text.as_str(), "Lives in Paris");
    assert_eq!(read.scope, scope(Some("alice"), Some("bot"), None));
    assert_eq!(read.metadata.as_map().get("category"), Some(&json!("home")));
    assert!(!read.metadata.as_map().contains_key("text_lemmatized"));
    assert_eq!(read.created_at, chrono::DateTime::parse_from_rfc3339("2026-11-26T11:25:56.565713Z").unwrap());
    let hits = store.search(&search_query(&[1.0, 0.1, 0.0], &scope(Some("alice"), None, None), None, 5)).await.unwrap();
    assert_eq!(hits.len(), 1);

    // What this store writes is what Mem0 reads: a flat payload with Mem0's keys.
    let mut ours = record(&scope(Some("bob"), None, Some("r1")), "Plays chess", json!({"level": 3}), 0);
    ours.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
    ours.role = Some("user".into());
    store.insert(&[(ours.clone(), vec![0.0, 1.0, 0.0])]).await.unwrap();
    let stored: Value = client
        .query_one(&format!("SELECT payload FROM \"{collection}\" WHERE id = $1"), &[&ours.id.as_uuid()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        json!({"user_id": "bob", "run_id": "r1", "level": 3, "data": "Plays chess", "hash": ours.hash.as_str(),
            "created_at": "2026-01-01T00:00:00.000000+00:00", "updated_at": "2026-01-01T00:00:00.000000+00:00",
            "actor_id": "bob", "role": "user"})
    );
    drop_table(&url, &collection).await;
}

/// Every operator against real SQL, checked against the domain's own evaluation of the filter.
#[tokio::test]
async fn filters_in_sql_agree_with_the_domain() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("filter");
    let store = store(&url, &collection, DIMS);
    let mut vectors = Vectors::new(3);
    let alice = scope(Some("alice"), None, None);
    let hostile = "x'; DROP TABLE \"".to_owned() + &collection + "\"; --";
    let mut actor = record(&alice, "r5", json!({}), 5);
    actor.actor_id = Some(EntityId::parse("actor_id", "bob").unwrap());
    actor.role = Some("assistant".into());
    let records = [
        record(
            &alice,
            "r1",
            json!({"topic": "Food", "n": 3, "tags": ["a", "b"], "note": "100% \"quoted\" \\ o'clock"}),
            1,
        ),
        record(&alice, "r2", json!({"topic": "food", "n": 3.0, "flag": true, "note": "under_score"}), 2),
        record(&alice, "r3", json!({"topic": "Travel", "n": 10, "tags": ["b"], "nothing": null}), 3),
        record(&alice, "r4", json!({"n": "3", "topic": "Äpfel"}), 4),
        actor,
        record(&alice, "r6", json!({"topic": hostile.clone(), "n": -2.5}), 6),
        record(&scope(Some("alice"), Some("bot"), None), "r7", json!({"topic": "Food", "tags": [1, 2]}), 7),
    ];
    let items: Vec<_> = records.iter().map(|r| (r.clone(), vectors.next(DIMS))).collect();
    store.insert(&items).await.unwrap();
    let filters = vec![
        json!({"topic": "Food"}),
        json!({"topic": {"eq": "food"}}),
        json!({"topic": {"ne": "Food"}}),
        json!({"missing": {"ne": "x"}}),
        json!({"missing": {"eq": "x"}}),
        json!({"n": 3}),
        json!({"n": {"eq": "3"}}),
        json!({"n": {"in": [3, 10]}}),
        json!({"n": {"nin": [3]}}),
        json!({"topic": {"in": []}}),
        json!({"topic": {"nin": ["Food", "food"]}}),
        json!({"n": {"gt": 2}}),
        json!({"n": {"gte": 3, "lt": 10}}),
        json!({"n": {"lte": 0}}),
        json!({"n": {"gt": "2"}}),
        json!({"topic": {"gt": "T"}}),
        json!({"topic": {"lt": "Z"}}),
        json!({"topic": {"contains": "oo"}}),
        json!({"tags": {"contains": "b"}}),
        json!({"tags": {"contains": 1}}),
        json!({"topic": {"icontains": "FOO"}}),
        json!({"topic": {"icontains": "äpf"}}),
        json!({"note": {"contains": "%"}}),
        json!({"note": {"contains": "_"}}),
        json!({"note": {"icontains": "\"QUOTED\" \\"}}),
        json!({"note": {"contains": "o'clock"}}),
        json!({"flag": true}),
        json!({"nothing": null}),
        json!({"topic": hostile.clone()}),
        json!({"topic": {"contains": "'; DROP"}}),
        json!({"data": "r1"}),
        json!({"hash": records[0].hash.as_str()}),
        json!({"user_id": "alice"}),
        json!({"agent_id": "bot"}),
        json!({"agent_id": {"ne": "bot"}}),
        json!({"actor_id": "bob", "role": "assistant"}),
        json!({"created_at": {"gte": "2026-01-01T00:00:04"}}),
        json!({"OR": [{"topic": "Travel"}, {"n": {"lt": 0}}]}),
        json!({"AND": [{"topic": {"icontains": "food"}}, {"n": 3}]}),
        json!({"NOT": [{"topic": "Food"}]}),
        json!({"NOT": [{"n": {"ne": 3}}]}),
        json!({"NOT": [{"OR": [{"flag": true}, {"tags": {"contains": "a"}}]}], "n": {"gte": -5}}),
        json!({"$or": [{"topic": "x"}], "n": 3}),
        json!({"OR": [{"AND": [{"n": {"gt": 1}}, {"NOT": [{"tags": {"contains": "a"}}]}]}, {"role": "assistant"}]}),
    ];
    let query = vectors.next(DIMS);
    let mut discriminating = 0;
    for raw in &filters {
        let filter = Filter::parse(raw).unwrap();
        let expected: BTreeSet<MemoryId> =
            records.iter().filter(|r| alice.contains(&r.scope) && filter.matches(r)).map(|r| r.id).collect();
        let listed = store.list(&list_query(&alice, Some(filter.clone()))).await.unwrap();
        assert_eq!(ids(&listed), expected, "list with {raw}");
        let hits = store.search(&search_query(&query, &alice, Some(filter), 50)).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.record.id).collect::<BTreeSet<_>>(), expected, "search with {raw}");
        discriminating += usize::from(!expected.is_empty() && expected.len() < records.len());
    }
    assert!(discriminating >= filters.len() - 8, "only {discriminating} filters select a proper subset");
    // Spot checks, so the comparison above is not with an oracle that could be wrong in the same way.
    let only = |raw: Value| {
        let filter = Filter::parse(&raw).unwrap();
        records.iter().filter(|r| filter.matches(r)).map(|r| r.text.as_str().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(only(json!({"topic": hostile})), vec!["r6"]);
    assert_eq!(only(json!({"note": {"contains": "%"}})), vec!["r1"]);
    assert_eq!(only(json!({"n": 3})), vec!["r1", "r2"]);
    assert_eq!(only(json!({"NOT": [{"topic": "Food"}]})).len(), 5);
    // The table survived the hostile values.
    assert_eq!(store.list(&list_query(&alice, None)).await.unwrap().len(), records.len());
    drop_table(&url, &collection).await;
}

#[tokio::test]
async fn dimension_mismatches_are_rejected_clearly() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("dims");
    store(&url, &collection, DIMS).ensure_ready().await.unwrap();
    let wrong = store(&url, &collection, 16);
    let err = wrong.ensure_ready().await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }) && !err.is_transient(), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("vector(8)") && message.contains("embedding_model_dims is 16"), "{message}");

    let right = store(&url, &collection, DIMS);
    right.ensure_ready().await.unwrap();
    let alice = scope(Some("alice"), None, None);
    let err = right.insert(&[(record(&alice, "x", json!({}), 0), vec![0.5; 3])]).await.unwrap_err();
    assert!(err.to_string().contains("has 3 dimensions but collection"), "{err}");
    let err = right.search(&search_query(&[0.5; 9], &alice, None, 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }), "{err:?}");
    let err = right.insert(&[(record(&alice, "x", json!({}), 0), vec![f32::NAN; DIMS])]).await.unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");

    // A table someone else created with another shape.
    let other = unique_collection("shape");
    raw_client(&url).await.batch_execute(&format!("CREATE TABLE \"{other}\" (id text, payload jsonb)")).await.unwrap();
    let err = store(&url, &other, DIMS).ensure_ready().await.unwrap_err();
    assert!(err.to_string().contains("column id is text instead of uuid"), "{err}");
    // SQL errors are Rejected, not transient.
    drop_table(&url, &collection).await;
    let err = right.delete(MemoryId::from_uuid(Uuid::new_v4())).await.unwrap_err();
    assert!(matches!(&err, StoreError::Rejected { message, .. } if message.contains("does not exist")), "{err:?}");
    drop_table(&url, &other).await;
}

#[test]
fn config_errors_name_the_key() {
    let block = |config: Value| {
        ProviderBlock::parse(VECTOR_STORE, &json!({"provider": "pgvector", "config": config})).unwrap().unwrap()
    };
    let err = from_block(&block(json!({"connection_string": "postgresql://u@h/d", "metric": "cosine"}))).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("unknown key \"metric\"") && message.contains("embedding_model_dims"), "{message}");
    let err = from_block(&block(json!({"user": "u", "embedding_model_dims": "many"}))).unwrap_err();
    assert!(err.to_string().contains("embedding_model_dims must be a whole number"), "{err}");
    let seed_style =
        from_block(&block(json!({"user": "postgres", "password": "p", "database": "dify", "host": "pgvector"})));
    assert_eq!(seed_style.unwrap().connection.describe(), "postgres@pgvector:5432/dify");
}

fn parts_config(password: &str, port: &str, collection: &str) -> PgVectorConfig {
    let var = |name: &str| service_var(name).unwrap_or_default();
    config(json!({"host": var("MEM0_TEST_PG_HOST"), "port": port, "user": var("MEM0_TEST_PG_USER"),
        "password": password, "dbname": var("MEM0_TEST_PG_DB"), "collection_name": collection,
        "embedding_model_dims": DIMS, "sslmode": "disable"}))
}

#[tokio::test]
async fn passwords_authenticate_and_failures_are_clear() {
    let Some(password) = service_var("MEM0_TEST_PG_PASSWORD") else { return };
    let Some(port) = service_var("MEM0_TEST_PG_PORT") else { return };
    let collection = unique_collection("auth");
    let good = PgVectorStore::connect(parts_config(&password, &port, &collection)).unwrap();
    good.ensure_ready().await.unwrap();

    let wrong_password = "Wr0ng-s3cret-pw";
    let bad = PgVectorStore::connect(parts_config(wrong_password, &port, &collection)).unwrap();
    let err = bad.ensure_ready().await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Rejected { .. }), "{err:?}");
    assert!(message.contains("password authentication failed for user"), "{message}");
    assert!(!message.contains(wrong_password) && !format!("{err:?}").contains(wrong_password), "{message}");

    // Nothing listening: transient.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = PgVectorStore::connect(parts_config(&password, &closed.to_string(), &collection)).unwrap();
    let err = down.ensure_ready().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(!err.to_string().contains(&password), "{err}");
    if let Some(url) = pg_url() {
        drop_table(&url, &collection).await;
    }
}

fn upstream() -> Option<SocketAddr> {
    let host = service_var("MEM0_TEST_PG_HOST")?;
    let port = service_var("MEM0_TEST_PG_PORT")?;
    Some(format!("{host}:{port}").parse().unwrap())
}

fn tls_url(port: u16, host: &str, query: &str) -> Option<String> {
    let user = service_var("MEM0_TEST_PG_USER")?;
    let password = service_var("MEM0_TEST_PG_PASSWORD")?;
    let db = service_var("MEM0_TEST_PG_DB")?;
    Some(format!("postgresql://{user}:{password}@{host}:{port}/{db}?{query}"))
}

async fn connects(url: &str, collection: &str, sslmode: Option<&str>) -> Result<(), StoreError> {
    let mut block = json!({"connection_string": url, "collection_name": collection, "embedding_model_dims": DIMS});
    if let Some(mode) = sslmode {
        block["sslmode"] = json!(mode);
    }
    let store = PgVectorStore::connect(config(block))?;
    store.ensure_ready().await?;
    store.list(&list_query(&scope(Some("tls"), None, None), None)).await.map(|_| ())
}

#[tokio::test]
async fn sslmodes_use_rustls_for_real() {
    let Some(upstream) = upstream() else { return };
    let collection = unique_collection("tls");
    let pki = TestPki::new(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let ca = ca.display().to_string();
    let proxy = TlsProxy::start(upstream, Some(pki.server.clone())).await;
    let port = proxy.addr.port();
    let url = |host: &str, query: &str| tls_url(port, host, query).unwrap();

    // require: encrypted, certificate not checked.
    connects(&url("127.0.0.1", "sslmode=require"), &collection, None).await.unwrap();
    assert!(proxy.handshakes.load(Ordering::SeqCst) >= 1);
    // verify-full with the CA given as sslrootcert and the certificate's host name.
    connects(&url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}")), &collection, None).await.unwrap();
    // The separate sslmode key wins over the string's.
    connects(&url("localhost", &format!("sslmode=disable&sslrootcert={ca}")), &collection, Some("verify-full"))
        .await
        .unwrap();
    // verify-ca ignores the host name, verify-full does not.
    connects(&url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")), &collection, None).await.unwrap();
    let err = connects(&url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}")), &collection, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }) && err.to_string().contains("certificate"), "{err}");
    // Without the CA, the test certificate is not trusted (Mozilla roots).
    let err = connects(&url("localhost", "sslmode=verify-full"), &collection, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }) && err.to_string().contains("UnknownIssuer"), "{err}");
    // require + sslrootcert checks the chain (as libpq does): another CA's certificate fails.
    let other = TestPki::new(&["localhost"]);
    let other_ca = dir.path().join("other.pem");
    std::fs::write(&other_ca, &other.ca_pem).unwrap();
    let err =
        connects(&url("localhost", &format!("sslmode=require&sslrootcert={}", other_ca.display())), &collection, None)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let handshakes = proxy.handshakes.load(Ordering::SeqCst);
    assert_eq!(proxy.plain.load(Ordering::SeqCst), 0, "nothing went unencrypted");

    // A server without TLS: prefer falls back to plain, require fails clearly.
    let plain = TlsProxy::start(upstream, None).await;
    let plain_url = |query: &str| tls_url(plain.addr.port(), "127.0.0.1", query).unwrap();
    connects(&plain_url("sslmode=prefer"), &collection, None).await.unwrap();
    connects(&plain_url("sslmode=disable"), &collection, None).await.unwrap();
    let err = connects(&plain_url("sslmode=require"), &collection, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }) && err.to_string().contains("TLS"), "{err}");
    let plain_count = plain.plain.load(Ordering::SeqCst);
    assert!(plain_count >= 2 && handshakes >= 4, "{plain_count} plain, {handshakes} TLS connections");
    if let Some(url) = pg_url() {
        drop_table(&url, &collection).await;
    }
}

#[tokio::test]
async fn index_options_follow_the_config() {
    use mem0_dify::adapters::vector::pgvector::AnnIndex;
    let Some(url) = pg_url() else { return };
    let client = raw_client(&url).await;
    let indexes = |collection: String| {
        let client = &client;
        async move {
            client
                .query("SELECT indexname::text FROM pg_indexes WHERE tablename = $1", &[&collection])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0).trim_start_matches(collection.as_str()).to_owned())
                .collect::<BTreeSet<String>>()
        }
    };
    let alice = scope(Some("alice"), None, None);
    // hnsw false: no ANN index, every search exact; more than 2000 dimensions: same (pgvector's limit);
    // diskann without pgvectorscale on the server: HNSW, with a warning.
    for (options, dims, ann) in [
        (json!({"hnsw": false}), DIMS, AnnIndex::None),
        (json!({}), 2001, AnnIndex::None),
        (json!({"diskann": true, "minconn": 3, "maxconn": 3}), DIMS, AnnIndex::Hnsw),
    ] {
        let collection = unique_collection("opts");
        let mut block = json!({"connection_string": url, "collection_name": collection, "embedding_model_dims": dims});
        block.as_object_mut().unwrap().extend(options.as_object().unwrap().clone());
        let store = PgVectorStore::connect(config(block)).unwrap();
        assert_eq!(store.capabilities().await.unwrap().ann, ann, "{options}");
        let names = indexes(collection.clone()).await;
        assert_eq!(names.contains("_hnsw_idx"), ann == AnnIndex::Hnsw, "{options}: {names:?}");
        assert!(names.contains("_user_id_idx") && names.contains("_hash_idx"));
        let mut vectors = Vectors::new(5);
        let memory = record(&alice, "x", json!({}), 0);
        store.insert(&[(memory.clone(), vectors.next(dims))]).await.unwrap();
        let hits = store.search(&search_query(&vectors.next(dims), &alice, None, 3)).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.record.id).collect::<Vec<_>>(), vec![memory.id]);
        assert_eq!(store.search_stats().exact, 1);
        drop_table(&url, &collection).await;
    }
}

/// The behaviour every vector store shows (`support/store_scenarios.rs`), keyword search included.
#[tokio::test]
async fn keeps_the_store_contract() {
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("contract");
    let store = store(&url, &collection, store_scenarios::DIMS);
    store_scenarios::all(&store).await;
    assert!(store.keeps_lexical_index(), "a table the store created has its lexical index at once");
    drop_table(&url, &collection).await;
}

/// Keyword search matches a small scope row by row and a large one (over 2,000 memories) through
/// the keyword index; both find the same memories, confined to the scope and the filter. A vector
/// search of an empty scope, or of a filter that keeps nothing, finds nothing (the statement that
/// counts the scope still answers).
#[tokio::test]
async fn keyword_search_of_small_and_large_scopes_and_empty_vector_searches() {
    use mem0_dify::domain::lexical::query_terms;
    use mem0_dify::ports::vector_store::LexicalQuery;
    let Some(url) = pg_url() else { return };
    let collection = unique_collection("lexical_sizes");
    let store = store(&url, &collection, DIMS);
    let mut vectors = Vectors::new(7);
    let (small, large) = (scope(Some("small"), None, None), scope(Some("large"), None, None));
    let mut expected = std::collections::HashMap::new();
    for (owner, size) in [(&small, 40usize), (&large, 2_600)] {
        let mut rows = Vec::new();
        for n in 0..size {
            let kayak = n % 100 == 7;
            let text =
                if kayak { format!("Paddles a red kayak on lake {n}") } else { format!("Reads novel number {n}") };
            let parity = if n % 2 == 0 { "even" } else { "odd" };
            let memory = record(owner, &text, json!({ "parity": parity }), n as i64);
            if kayak {
                expected
                    .entry(owner.user_id().map(|u| u.as_str().to_owned()))
                    .or_insert_with(Vec::new)
                    .push((memory.id, parity));
            }
            rows.push((memory, vectors.next(DIMS)));
        }
        for chunk in rows.chunks(500) {
            store.insert(chunk).await.unwrap();
        }
    }
    let odd = Filter::parse(&json!({"parity": "odd"})).unwrap();
    for owner in [&small, &large] {
        let wanted = &expected[&owner.user_id().map(|u| u.as_str().to_owned())];
        for filter in [None, Some(odd.clone())] {
            let query = LexicalQuery {
                terms: query_terms("who has a kayak?"),
                vector: vectors.next(DIMS),
                scope: owner.clone(),
                filter: filter.clone(),
                limit: 100,
            };
            let hits = store.lexical_search(&query).await.unwrap();
            let found: BTreeSet<MemoryId> = hits.iter().map(|h| h.record.id).collect();
            let want: BTreeSet<MemoryId> =
                wanted.iter().filter(|(_, parity)| filter.is_none() || *parity == "odd").map(|(id, _)| *id).collect();
            assert!(!want.is_empty());
            assert_eq!(found, want, "{owner:?} filter {filter:?}");
        }
    }
    let nobody = scope(Some("nobody"), None, None);
    assert!(store.search(&search_query(&vectors.next(DIMS), &nobody, None, 5)).await.unwrap().is_empty());
    let none = Filter::parse(&json!({"parity": "none"})).unwrap();
    assert!(store.search(&search_query(&vectors.next(DIMS), &small, Some(none), 5)).await.unwrap().is_empty());
    let exact_before = store.search_stats().exact;
    assert_eq!(store.search(&search_query(&vectors.next(DIMS), &small, None, 5)).await.unwrap().len(), 5);
    assert_eq!(store.search_stats().exact, exact_before + 1, "a small scope is searched exactly");
    drop_table(&url, &collection).await;
}
