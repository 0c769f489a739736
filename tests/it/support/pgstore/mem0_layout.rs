//! Tables as Mem0 writes them (no `lexical` column), for the tests of the pgvector store's
//! background lexical fill (`tests/it/pgvector_lexical_fill.rs`, `tests/serial/`).

use super::pgvector_config;
use mem0_dify::adapters::vector::pgvector::{LexicalFillTuning, PgVectorStore};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const DIMS: usize = 8;
/// Rows of the Mem0-written tables.
pub const ROWS: usize = 3000;

/// The vector of row `n`: its similarity to [`query_vector`] falls as `n` grows, so row `n` is the
/// `n + 1`-th nearest.
pub fn row_vector(n: usize) -> pgvector::Vector {
    let mut v = vec![0.0f32; DIMS];
    v[0] = 1.0;
    v[1] = n as f32 * 0.01;
    pgvector::Vector::from(v)
}

pub fn query_vector() -> Vec<f32> {
    let mut v = vec![0.0f32; DIMS];
    v[0] = 1.0;
    v
}

/// Creates `collection` as Mem0 does (no `lexical` column) holding `rows` (id, text, vector rank)
/// of `user`, in the given order (the fill takes rows in about the order they were written).
pub async fn mem0_table(client: &tokio_postgres::Client, collection: &str, user: &str, rows: &[(Uuid, String, usize)]) {
    client
        .batch_execute(&format!(
            "CREATE EXTENSION IF NOT EXISTS vector; \
             CREATE TABLE \"{collection}\" (id uuid PRIMARY KEY, vector vector({DIMS}), payload jsonb)"
        ))
        .await
        .unwrap();
    let insert = format!(
        "INSERT INTO \"{collection}\" (id, vector, payload) \
         SELECT * FROM unnest($1::uuid[], $2::vector[], $3::jsonb[])"
    );
    for chunk in rows.chunks(500) {
        let ids: Vec<Uuid> = chunk.iter().map(|r| r.0).collect();
        let vectors: Vec<pgvector::Vector> = chunk.iter().map(|r| row_vector(r.2)).collect();
        let payloads: Vec<serde_json::Value> = chunk
            .iter()
            .map(|r| {
                json!({"data": r.1, "hash": format!("h{}", r.2), "user_id": user,
                       "created_at": "2025-01-01T00:00:00+00:00"})
            })
            .collect();
        client.execute(&insert, &[&ids, &vectors, &payloads]).await.unwrap();
    }
}

/// A store on `collection` filling `chunk_rows` rows at a time, `pause_ms` apart.
pub fn filling_store(url: &str, collection: &str, chunk_rows: usize, pause_ms: u64) -> PgVectorStore {
    let mut config =
        pgvector_config(json!({"connection_string": url, "collection_name": collection, "embedding_model_dims": DIMS}));
    config.lexical_fill = LexicalFillTuning { chunk_rows, pause: Duration::from_millis(pause_ms) };
    PgVectorStore::connect(config).unwrap()
}

/// How many rows of the table have no terms.
pub async fn unfilled(client: &tokio_postgres::Client, collection: &str) -> i64 {
    client.query_one(&format!("SELECT count(*) FROM \"{collection}\" WHERE lexical IS NULL"), &[]).await.unwrap().get(0)
}

/// Polls `done` every 10 ms until it holds; panics naming `what` after `limit`.
pub async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `count` rows (fresh id, "Memory {n} mentions word{n}", rank n): each findable by its own word.
pub fn worded_rows(count: usize) -> Vec<(Uuid, String, usize)> {
    (0..count).map(|n| (Uuid::new_v4(), format!("Memory {n} mentions word{n}"), n)).collect()
}
