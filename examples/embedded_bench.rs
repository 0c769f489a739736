//! A quick measurement (not a test) of the embedded vector store at 384 dimensions:
//! bulk insert, cold open (loading the index), and search latency for one user holding N
//! memories and for one user of many in a collection of N.
//!
//! `cargo run --release --example embedded_bench [N ...]` (default: 10000 100000)

use chrono::{Duration, TimeZone, Utc};
use mem0_dify::adapters::vector::embedded::{EmbeddedConfig, EmbeddedVectorStore};
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::vector_store::{VectorQuery, VectorStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;
use uuid::Uuid;

const DIMS: usize = 384;
const BATCH: usize = 1000;
const QUERIES: usize = 50;
const TOPICS: [&str; 3] = ["food", "work", "travel"];

fn vector(rng: &mut StdRng) -> Vec<f32> {
    (0..DIMS).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn scope(user: &str) -> Scope {
    Scope::parse(Some(user), None, None).expect("valid scope")
}

async fn fill(store: &EmbeddedVectorStore, n: usize, users: usize, rng: &mut StdRng) -> f64 {
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..n {
        let record = MemoryRecord::new(
            MemoryId::from_uuid(Uuid::new_v4()),
            MemoryText::parse("text", &format!("The user mentioned fact number {i} about their life")).unwrap(),
            Metadata::parse(serde_json::json!({"topic": TOPICS[i % 3]})).unwrap(),
            scope(&format!("user{}", i % users)),
            start + Duration::seconds(i as i64),
        );
        batch.push((record, vector(rng)));
        if batch.len() == BATCH {
            store.insert(&batch).await.unwrap();
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.insert(&batch).await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

async fn latency(store: &EmbeddedVectorStore, user: &str, rng: &mut StdRng) -> (f64, f64) {
    let mut times = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let query = VectorQuery { vector: vector(rng), scope: scope(user), filter: None, limit: 10 };
        let started = Instant::now();
        let hits = store.search(&query).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(hits.len(), 10);
    }
    times.sort_by(f64::total_cmp);
    (times[QUERIES / 2], times[QUERIES * 95 / 100])
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![10_000, 100_000] } else { sizes };
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    println!("dims {DIMS}, insert batches of {BATCH}, top-10, {QUERIES} queries per figure");
    for n in sizes {
        for (label, users) in [("one user holds all", 1usize), ("1000 memories per user", (n / 1000).max(1))] {
            let config = EmbeddedConfig {
                path: dir.path().join(format!("bench-{n}-{users}.db")),
                collection_name: "bench".into(),
                embedding_model_dims: DIMS,
            };
            let store = EmbeddedVectorStore::new(config.clone());
            let insert_s = fill(&store, n, users, &mut rng).await;
            drop(store);
            let file_mb = std::fs::metadata(&config.path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
            // The best of three cold opens (the file is in the page cache either way).
            let mut open_s = f64::MAX;
            for _ in 0..3 {
                let store = EmbeddedVectorStore::new(config.clone());
                let started = Instant::now();
                store.ensure_ready().await.unwrap();
                open_s = open_s.min(started.elapsed().as_secs_f64());
            }
            let store = EmbeddedVectorStore::new(config);
            let (p50, p95) = latency(&store, "user0", &mut rng).await;
            println!(
                "N={n:>7} ({label:<22}): insert {insert_s:>6.2} s ({:>6.0}/s), file {file_mb:>6.1} MB, \
                 cold open {open_s:>5.3} s, search p50 {p50:>6.2} ms p95 {p95:>6.2} ms",
                n as f64 / insert_s
            );
        }
    }
}
