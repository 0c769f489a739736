//! Shared helpers of the storage adapter tests: the PostgreSQL address from the service script (or a
//! private cluster for tests that stop the server), unique collection names, records and vectors.
#![allow(dead_code)]

pub mod mem0_layout;
pub mod private_cluster;
pub mod tls_proxy;

use chrono::{DateTime, TimeZone, Utc};
use mem0_dify::adapters::vector::pgvector::{from_block, PgVectorConfig, PgVectorStore};
use mem0_dify::domain::credentials::{ProviderBlock, VECTOR_STORE};
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata};
use mem0_dify::domain::scope::Scope;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

/// The test database URL (`MEM0_TEST_PG_URL` from `scripts/services/postgres.sh start`).
/// `None` only when `MEM0_SKIP_SERVICE_TESTS=1`; otherwise a missing variable fails the test.
pub fn pg_url() -> Option<String> {
    service_var("MEM0_TEST_PG_URL")
}

/// Another variable of the service's env file (host, port, user, password, db), same rules.
pub fn service_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("MEM0_SKIP_SERVICE_TESTS").as_deref() == Ok("1") => {
            eprintln!("skipping: {name} is not set and MEM0_SKIP_SERVICE_TESTS=1");
            None
        }
        _ => panic!(
            "{name} is not set: start PostgreSQL with `eval \"$(scripts/services/postgres.sh start)\"` \
             (or set MEM0_SKIP_SERVICE_TESTS=1 to skip service tests explicitly)"
        ),
    }
}

/// A collection name no other test uses.
pub fn unique_collection(prefix: &str) -> String {
    format!("{prefix}_{}", &Uuid::new_v4().simple().to_string()[..10])
}

/// The pgvector store's config read from the `config` object of a provider block.
pub fn pgvector_config(config: Value) -> PgVectorConfig {
    let block = ProviderBlock::parse(VECTOR_STORE, &serde_json::json!({"provider": "pgvector", "config": config}));
    from_block(&block.unwrap().unwrap()).unwrap()
}

/// A pgvector store on `collection` of the database at `url`, with vectors of `dims` values.
pub fn pgvector_store(url: &str, collection: &str, dims: usize) -> PgVectorStore {
    PgVectorStore::connect(pgvector_config(
        serde_json::json!({"connection_string": url, "collection_name": collection, "embedding_model_dims": dims}),
    ))
    .unwrap()
}

/// Drops a collection's table (the test's own, at its end).
pub async fn drop_table(url: &str, collection: &str) {
    raw_client(url).await.batch_execute(&format!("DROP TABLE IF EXISTS \"{collection}\"")).await.unwrap();
}

/// A plain connection for checks behind the adapter's back.
pub async fn raw_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A scope from optional ids.
pub fn scope(user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> Scope {
    Scope::parse(user, agent, run).unwrap()
}

/// A fixed instant plus `seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

/// A record with a fresh id.
pub fn record(scope: &Scope, text: &str, metadata: Value, created: i64) -> MemoryRecord {
    MemoryRecord::new(
        MemoryId::from_uuid(Uuid::new_v4()),
        MemoryText::parse("text", text).unwrap(),
        Metadata::parse(metadata).unwrap(),
        scope.clone(),
        at(created),
    )
}

/// Deterministic random vectors with components in [-0.5, 0.5).
pub struct Vectors(StdRng);

impl Vectors {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }

    /// The next vector of `dims` components.
    pub fn next(&mut self, dims: usize) -> Vec<f32> {
        (0..dims).map(|_| self.0.gen::<f32>() - 0.5).collect()
    }
}

/// Cosine distance as pgvector's `<=>` defines it, in f64.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    1.0 - dot / (na.sqrt() * nb.sqrt())
}

/// A small fast generator (SplitMix64): test data generation stays quick in debug builds.
pub struct FastRng(u64);

impl FastRng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Vectors shaped like text embeddings: a few latent factors spread over all dimensions, plus a
/// little noise (low intrinsic dimension), deterministic for a seed.
pub struct Embeddings {
    basis: Vec<Vec<f32>>,
    rng: FastRng,
}

impl Embeddings {
    /// `factors` latent factors in `dims` dimensions.
    pub fn new(seed: u64, factors: usize, dims: usize) -> Self {
        let mut rng = FastRng::new(seed);
        let basis = (0..factors).map(|_| (0..dims).map(|_| rng.unit() - 0.5).collect()).collect();
        Self { basis, rng }
    }

    /// Another stream of vectors from the same distribution (same factors), seeded with `seed`.
    pub fn stream(&self, seed: u64) -> Self {
        Self { basis: self.basis.clone(), rng: FastRng::new(seed) }
    }

    /// The next vector.
    pub fn next(&mut self) -> Vec<f32> {
        let dims = self.basis[0].len();
        let mut v = vec![0.0f32; dims];
        for x in v.iter_mut() {
            *x = (self.rng.unit() - 0.5) * 0.1;
        }
        for b in &self.basis {
            let z = self.rng.unit() * 2.0 - 1.0;
            for i in 0..dims {
                v[i] += z * b[i];
            }
        }
        v
    }
}
