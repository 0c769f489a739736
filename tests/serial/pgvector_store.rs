//! The 200k-row pgvector case: a user's best matches survive a table of 200 000 memories (HNSW
//! with iterative scans, exact search for small scopes), with recall and plan checks. It loads the
//! shared PostgreSQL for a minute, so it runs alone (`tests/serial/`); the rest of the pgvector
//! store's tests are `tests/it/pgvector_store.rs`.

use crate::support::pgstore;

use mem0_dify::adapters::vector::pgvector::{PgVectorStore, SearchStats};
use mem0_dify::domain::filter::Filter;
use mem0_dify::domain::memory::MemoryText;
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::vector_store::{VectorQuery, VectorStore};
use pgstore::*;
use pgstore::{pgvector_config as config, pgvector_store as store};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use uuid::Uuid;

fn search_query(vector: &[f32], scope: &Scope, filter: Option<Filter>, limit: usize) -> VectorQuery {
    VectorQuery { vector: vector.to_vec(), scope: scope.clone(), filter, limit }
}

/// One row of the 200k-row table kept for brute force: id, vector, in the agent scope, category.
struct Kept {
    id: Uuid,
    vector: Vec<f32>,
    with_agent: bool,
    even: bool,
}

fn exact_top(kept: &[&Kept], query: &[f32], k: usize) -> Vec<Uuid> {
    let mut scored: Vec<(f64, Uuid)> = kept.iter().map(|m| (cosine_distance(&m.vector, query), m.id)).collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

fn recall(found: &[mem0_dify::domain::memory::ScoredMemory], expected: &[Uuid]) -> f64 {
    let found: BTreeSet<Uuid> = found.iter().map(|h| h.record.id.as_uuid()).collect();
    expected.iter().filter(|id| found.contains(id)).count() as f64 / expected.len() as f64
}

/// The plan PostgreSQL picks for a scope's index-path query (with the store's iterative-scan settings).
async fn explain(client: &tokio_postgres::Client, collection: &str, scope: &Scope, probe: &[f32]) -> String {
    let user = scope.user_id().map(|u| u.as_str().to_owned()).unwrap_or_default();
    let sql = format!(
        "BEGIN; SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = 200; \
         EXPLAIN (COSTS OFF) SELECT id FROM \"{collection}\" WHERE (payload->>'user_id') = '{user}' \
         ORDER BY vector <=> '{}' LIMIT 10; ROLLBACK",
        pgvector::Vector::from(probe.to_vec()).as_slice().iter().map(f32::to_string).collect::<Vec<_>>().join(",")
    );
    let sql = sql.replace("<=> '", "<=> '[").replace("' LIMIT", "]' LIMIT");
    let mut lines = Vec::new();
    for message in client.simple_query(&sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            let line = row.get(0).unwrap_or_default().trim().to_owned();
            if !line.starts_with("Order By") && !line.starts_with("Sort Key") {
                lines.push(line);
            }
        }
    }
    lines.join(" | ")
}

fn percentile(times: &mut [std::time::Duration], p: f64) -> f64 {
    times.sort();
    let index = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[index].as_secs_f64() * 1000.0
}

/// Mem0 returns 0 of a user's 100 memories from a 200k-row table (HNSW ef_search=40, then the
/// filter). Here a user's search must return exactly that user's top 10, whatever the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_best_matches_survive_a_200k_row_table() {
    let _alone = crate::alone().await;
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    const ROWS: usize = 200_000;
    const D: usize = 64;
    const NEEDLE: usize = 100;
    const WHALE: usize = 40_000;
    const FACTORS: usize = 8;
    let Some(url) = pg_url() else { return };
    let started = std::time::Instant::now();
    let collection = unique_collection("recall");
    let store = store(&url, &collection, D);
    store.ensure_ready().await.unwrap();
    let client = raw_client(&url).await;
    // Bulk load without secondary indexes, then build them (as a restore would).
    let secondary = ["_hnsw_idx", "_user_id_idx", "_agent_id_idx", "_run_id_idx", "_hash_idx"];
    for suffix in secondary {
        client.batch_execute(&format!("DROP INDEX \"{collection}{suffix}\"")).await.unwrap();
    }

    // Owners: 0 = the needle user (100 rows), 1 = a whale (40k rows), then 1,599 users of 100 rows.
    let mut owners: Vec<usize> = Vec::with_capacity(ROWS);
    owners.extend(std::iter::repeat_n(0, NEEDLE));
    owners.extend(std::iter::repeat_n(1, WHALE));
    owners.extend((0..ROWS - NEEDLE - WHALE).map(|i| 2 + i / 100));
    {
        use rand::seq::SliceRandom;
        owners.shuffle(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7));
    }
    let vector_type = client.prepare("SELECT $1::vector").await.unwrap().params()[0].clone();
    let sink = client.copy_in(&format!("COPY \"{collection}\" (id, vector, payload) FROM STDIN BINARY")).await.unwrap();
    let writer = BinaryCopyInWriter::new(sink, &[Type::UUID, vector_type, Type::JSONB]);
    let mut writer = std::pin::pin!(writer);
    // Rows are generated on a blocking thread while COPY streams them to the server.
    let vectors = Embeddings::new(42, FACTORS, D);
    let (tx_rows, mut rx_rows) = tokio::sync::mpsc::channel::<Vec<(Uuid, pgvector::Vector, Value)>>(8);
    let mut generator = vectors.stream(42);
    let generating = tokio::task::spawn_blocking(move || {
        let (mut needle, mut whale) = (Vec::new(), Vec::new());
        for (chunk_index, chunk) in owners.chunks(2_000).enumerate() {
            let mut rows = Vec::with_capacity(chunk.len());
            for (j, owner) in chunk.iter().enumerate() {
                let i = chunk_index * 2_000 + j;
                let id = Uuid::new_v4();
                let vector = generator.next();
                let text = format!("memory {i}");
                let user = match owner {
                    0 => "needle".to_owned(),
                    1 => "whale".to_owned(),
                    n => format!("user{n}"),
                };
                let mut payload = json!({"user_id": user, "data": text,
                    "hash": MemoryText::parse("t", &text).unwrap().hash().as_str(),
                    "created_at": "2026-11-26T11:25:56.565713+00:00", "updated_at": "2026-11-26T11:25:56.565713+00:00"});
                if *owner == 0 {
                    let kept = Kept {
                        id,
                        vector: vector.clone(),
                        with_agent: needle.len() % 2 == 0,
                        even: needle.len() % 4 < 2,
                    };
                    if kept.with_agent {
                        payload["agent_id"] = json!("bot");
                    }
                    payload["category"] = json!(if kept.even { "even" } else { "odd" });
                    needle.push(kept);
                } else if *owner == 1 {
                    whale.push(Kept { id, vector: vector.clone(), with_agent: false, even: false });
                }
                rows.push((id, pgvector::Vector::from(vector), payload));
            }
            tx_rows.blocking_send(rows).unwrap();
        }
        (needle, whale)
    });
    while let Some(rows) = rx_rows.recv().await {
        for (id, vector, payload) in &rows {
            writer.as_mut().write(&[id, vector, payload]).await.unwrap();
        }
    }
    writer.finish().await.unwrap();
    let (needle, whale) = generating.await.unwrap();
    let loaded = started.elapsed();
    // The store's HNSW index (same name, operator class and access method), built with lighter
    // parameters (m 8, ef_construction 32 instead of 16 and 64) to keep the test near a minute on 2 cores.
    client
        .batch_execute(&format!(
            "SET maintenance_work_mem = '512MB'; \
             CREATE INDEX IF NOT EXISTS \"{collection}_hnsw_idx\" ON \"{collection}\" USING hnsw (vector vector_cosine_ops) \
             WITH (m = 8, ef_construction = 32)"
        ))
        .await
        .unwrap();
    let indexed = started.elapsed();
    let store = self::store(&url, &collection, D);
    store.ensure_ready().await.unwrap();
    client.batch_execute(&format!("ANALYZE \"{collection}\"")).await.unwrap();
    eprintln!(
        "200k rows: generated and loaded in {loaded:.1?}, HNSW built at {indexed:.1?}, scope indexes at {:.1?}",
        started.elapsed()
    );

    // The trap is real on this table: Mem0's query shape, planned through the HNSW index.
    let probe = vectors.stream(99).next();
    let mut tx_client = raw_client(&url).await;
    let tx = tx_client.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL enable_seqscan = off").await.unwrap();
    let mem0_rows = tx
        .query(
            &format!(
                "SELECT id FROM \"{collection}\" WHERE (payload->>'user_id') || '' = 'needle' \
                 ORDER BY vector <=> $1 LIMIT 10"
            ),
            &[&pgvector::Vector::from(probe.clone())],
        )
        .await
        .unwrap()
        .len();
    tx.rollback().await.unwrap();
    assert!(mem0_rows < 10, "Mem0's filtered HNSW query found {mem0_rows} of 10");
    eprintln!("Mem0's query shape through HNSW (ef_search 40, then filter): {mem0_rows} of the needle user's 10");

    let needle_all: Vec<&Kept> = needle.iter().collect();
    let needle_agent: Vec<&Kept> = needle.iter().filter(|m| m.with_agent).collect();
    let needle_even: Vec<&Kept> = needle.iter().filter(|m| m.even).collect();
    let whale_all: Vec<&Kept> = whale.iter().collect();
    let needle_scope = scope(Some("needle"), None, None);
    let agent_scope = scope(Some("needle"), Some("bot"), None);
    let whale_scope = scope(Some("whale"), None, None);
    let even = Filter::parse(&json!({"category": "even"})).unwrap();
    let forced = {
        let mut config =
            config(json!({"connection_string": url, "collection_name": collection, "embedding_model_dims": D}));
        config.search.exact_scan_limit = 0;
        PgVectorStore::connect(config).unwrap()
    };
    type Case<'a> = (&'a str, &'a PgVectorStore, &'a Scope, Option<&'a Filter>, &'a [&'a Kept], bool);
    let cases: [Case; 5] = [
        ("needle user (100 rows)", &store, &needle_scope, None, &needle_all, false),
        ("needle user + agent (50 rows)", &store, &agent_scope, None, &needle_agent, false),
        ("needle user + filter (50 rows)", &store, &needle_scope, Some(&even), &needle_even, false),
        ("whale user (40k rows)", &store, &whale_scope, None, &whale_all, true),
        // Last: drops the user_id index first, so the planner must take the HNSW index.
        ("needle user through HNSW (iterative scan)", &forced, &needle_scope, None, &needle_all, true),
    ];
    let mut queries = vectors.stream(1234);
    for (name, store, scope, filter, kept, index_path) in cases {
        if index_path && std::ptr::eq(store, &forced) {
            client.batch_execute(&format!("DROP INDEX \"{collection}_user_id_idx\"")).await.unwrap();
        }
        let plan = explain(&client, &collection, scope, &probe).await;
        let before = store.search_stats();
        let runs = 20;
        let (mut total, mut worst, mut times) = (0.0, 1.0f64, Vec::new());
        store.search(&search_query(&queries.next(), scope, filter.cloned(), 10)).await.unwrap();
        for _ in 0..runs {
            let query = queries.next();
            let expected = exact_top(kept, &query, 10);
            let t = std::time::Instant::now();
            let found = store.search(&search_query(&query, scope, filter.cloned(), 10)).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(found.len(), 10, "{name}");
            assert!(found.windows(2).all(|w| w[0].score.value() >= w[1].score.value()), "{name}: best first");
            let r = recall(&found, &expected);
            total += r;
            worst = worst.min(r);
        }
        let after = store.search_stats();
        let mean = total / runs as f64;
        eprintln!(
            "{name}: recall@10 mean {mean:.3} worst {worst:.2}; latency p50 {:.1} ms p95 {:.1} ms; {:?}; plan: {plan}",
            percentile(&mut times, 0.5),
            percentile(&mut times, 0.95),
            SearchStats {
                exact: after.exact - before.exact,
                index: after.index - before.index,
                index_then_exact: after.index_then_exact - before.index_then_exact
            },
        );
        let searches = runs as u64 + 1;
        if index_path {
            assert_eq!((after.index - before.index, after.exact - before.exact), (searches, 0), "{name}");
            assert_eq!(after.index_then_exact, before.index_then_exact, "{name}: the index scan sufficed");
            assert!(mean >= 0.9, "{name}: recall {mean}");
        } else {
            assert_eq!((after.exact - before.exact, after.index - before.index), (searches, 0), "{name}");
            assert!(mean >= 0.99 && worst >= 0.9, "{name}: recall mean {mean} worst {worst}");
        }
    }
    eprintln!("200k case done in {:.1?}", started.elapsed());
    drop_table(&url, &collection).await;
}
