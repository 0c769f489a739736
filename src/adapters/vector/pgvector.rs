//! [`VectorStore`] over PostgreSQL + pgvector, table-compatible with Mem0's pgvector store.
//!
//! Searches never lose a scope's best matches to HNSW post-filtering (Mem0's failure on large
//! multi-tenant tables): a scope of at most [`SearchTuning::exact_scan_limit`] memories is searched
//! exactly through the scope indexes, counted and searched in one prepared statement (one round
//! trip); a larger one by an HNSW iterative index scan (`hnsw.iterative_scan = strict_order`),
//! falling back to the exact scan when the index scan comes back short. Keyword search is one
//! statement too: a small scope matched row by row, a large one through the GIN index.
//!
//! A table written without the keyword index (by Mem0, or before it existed) is ready as soon as
//! its column and index exist; its rows get their terms in the background ([`lexical_fill`]), and
//! until every row has them the store reports no lexical index
//! ([`VectorStore::keeps_lexical_index`] false: keywords are scored over vector candidates).

mod config;
mod filter_sql;
mod lexical;
mod lexical_fill;
mod schema;

pub use config::{
    from_block, LexicalFillTuning, PgVectorConfig, SearchTuning, ALLOWED_KEYS, MAX_DIMS, MAX_INDEXED_DIMS,
};
pub use schema::{AnnIndex, Capabilities};

use super::payload;
use crate::adapters::postgres::errors::{from_pg, from_pool};
use crate::adapters::postgres::params::Params;
use crate::domain::filter::Filter;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{Scope, ScopeCount};
use crate::ports::store::StoreError;
use crate::ports::vector_store::{LexicalHit, LexicalQuery, ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use filter_sql::{filter_sql, scope_sql};
use lexical_fill::LexicalFill;
use pgvector::Vector;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::OnceCell;
use tokio_postgres::Row;
use uuid::Uuid;

const STORE: &str = "pgvector store";
/// Rows per INSERT statement.
const INSERT_CHUNK: usize = 500;
/// The most keyword matches of a scope ranked by BM25 (the best by `ts_rank` when more match).
const LEXICAL_MATCHES: usize = 1000;
/// The scope size BM25 counts up to (its document frequencies saturate beyond).
const SCOPE_COUNT_CAP: usize = 1_000_000;
/// Scopes of at most this many memories are matched by keywords row by row, larger ones through
/// the keyword (GIN) index.
const LEXICAL_SCOPE_SCAN_LIMIT: usize = 2_000;
/// pgvector's largest `hnsw.ef_search`.
const MAX_EF_SEARCH: usize = 1000;

/// Memories with vectors in one PostgreSQL table (`collection_name`).
pub struct PgVectorStore {
    pool: Pool,
    config: PgVectorConfig,
    table: String,
    ready: OnceCell<Capabilities>,
    /// Set when ready: whether every row has its terms, and the fill giving them to the rest.
    lexical_fill: OnceLock<Arc<LexicalFill>>,
    stats: Counters,
}

/// How the searches of a store were answered since it was created (for logs and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Scope searched exactly (small scope, no ANN index, or pgvector < 0.8).
    pub exact: u64,
    /// Answered by the ANN index (iterative scan).
    pub index: u64,
    /// The index scan came back short, so the scope was then searched exactly.
    pub index_then_exact: u64,
}

#[derive(Default)]
struct Counters {
    exact: AtomicU64,
    index: AtomicU64,
    index_then_exact: AtomicU64,
}

impl PgVectorStore {
    /// A store over a new connection pool. Nothing is contacted until the first call.
    pub fn connect(config: PgVectorConfig) -> Result<Self, StoreError> {
        let pool =
            config.connection.pool(config.maxconn).map_err(|message| StoreError::Rejected { store: STORE, message })?;
        Ok(Self::with_pool(pool, config))
    }

    /// A store over an existing pool (e.g. shared with the history store).
    pub fn with_pool(pool: Pool, config: PgVectorConfig) -> Self {
        let table = config.collection_name.quoted("");
        Self { pool, config, table, ready: OnceCell::new(), lexical_fill: OnceLock::new(), stats: Counters::default() }
    }

    /// The connection pool (to share with [`crate::adapters::history::postgres::PostgresHistoryStore`]).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The configuration.
    pub fn config(&self) -> &PgVectorConfig {
        &self.config
    }

    /// How searches were answered so far.
    pub fn search_stats(&self) -> SearchStats {
        SearchStats {
            exact: self.stats.exact.load(Ordering::Relaxed),
            index: self.stats.index.load(Ordering::Relaxed),
            index_then_exact: self.stats.index_then_exact.load(Ordering::Relaxed),
        }
    }

    /// What the server and table offer; prepares them on first use.
    pub async fn capabilities(&self) -> Result<Capabilities, StoreError> {
        self.ready
            .get_or_try_init(|| async {
                let mut client = self.pool.get().await.map_err(|e| from_pool(STORE, e))?;
                let tx = client.transaction().await.map_err(pg)?;
                let capabilities = schema::prepare(&tx, &self.config).await?;
                tx.commit().await.map_err(pg)?;
                // Outside the preparing transaction: no lock held while it looks.
                let unfilled = lexical::has_rows_without_terms(&client, &self.table).await.map_err(pg)?;
                drop(client);
                self.lexical_fill.get_or_init(|| {
                    if unfilled {
                        let target = self.config.connection.describe();
                        LexicalFill::start(&self.pool, &target, &self.table, self.config.lexical_fill)
                    } else {
                        LexicalFill::done()
                    }
                });
                // Open `minconn` connections now, as Mem0's pool does (best effort: a failure here
                // shows up on the next call anyway).
                let warm = futures::future::join_all((0..self.config.minconn).map(|_| self.pool.get())).await;
                drop(warm);
                tracing::debug!(table = %self.table, ?capabilities, "pgvector collection ready");
                Ok(capabilities)
            })
            .await
            .copied()
    }

    fn check_dims(&self, what: &str, vector: &[f32]) -> Result<(), StoreError> {
        let dims = self.config.embedding_model_dims;
        if vector.len() != dims {
            return Err(StoreError::Rejected {
                store: STORE,
                message: format!(
                    "{what} has {} dimensions but collection {} stores {dims} (embedding_model_dims)",
                    vector.len(),
                    self.config.collection_name.as_str()
                ),
            });
        }
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(StoreError::Rejected { store: STORE, message: format!("{what} holds NaN or infinite values") });
        }
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.capabilities().await?;
        crate::adapters::postgres::checkout::checkout(&self.pool, STORE).await
    }

    /// Exact search: every vector of the scope compared (the scope's index feeds a top-k sort
    /// above a subquery the HNSW index cannot serve), in one statement. With `guard`, the scope is
    /// counted first in the same statement and nothing is compared when it holds more than
    /// `guard` memories: `Ok(None)` then (left to the index).
    async fn search_exact(
        &self,
        client: &impl GenericClient,
        query: &VectorQuery,
        guard: Option<usize>,
    ) -> Result<Option<Vec<ScoredMemory>>, StoreError> {
        let mut params = Params::new();
        let vector = params.push(Vector::from(query.vector.clone()));
        let condition = self.condition(&query.scope, query.filter.as_ref(), &mut params);
        let limit = params.push(limit_param(query.limit));
        // `OFFSET 0` keeps the subquery whole, so the order is a sort, never an index scan.
        let nearest = format!(
            "SELECT id, payload, distance FROM (SELECT id, payload, vector <=> {vector} AS distance \
             FROM {table} WHERE {{guarded}}{condition} OFFSET 0) AS d ORDER BY distance, id LIMIT {limit}",
            table = self.table
        );
        let sql = match guard {
            None => nearest.replace("{guarded}", ""),
            Some(guard) => {
                let scope_only = scope_sql(&query.scope, &mut params);
                let cap = params.push(limit_param(guard.saturating_add(1)));
                let guard = params.push(limit_param(guard));
                format!(
                    "WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM {table} WHERE {scope_only} LIMIT {cap}) AS s) \
                     SELECT r.id, r.payload, r.distance, n.n FROM n LEFT JOIN LATERAL ({nearest}) AS r ON true",
                    table = self.table,
                    nearest = nearest.replace("{guarded}", &format!("n.n <= {guard} AND ")),
                )
            }
        };
        let rows = query_rows(client, &sql, &params, query.filter.is_none()).await?;
        if let Some(guard) = guard {
            let counted: Option<i64> = rows.first().map(|row| row.try_get(3)).transpose().map_err(pg)?.flatten();
            if counted.and_then(|n| usize::try_from(n).ok()).is_none_or(|n| n > guard) {
                return Ok(None);
            }
        }
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            // The scope's count alone: an empty scope.
            if row.try_get::<_, Option<Uuid>>(0).map_err(pg)?.is_none() {
                continue;
            }
            let distance: Option<f64> = row.try_get(2).map_err(pg)?;
            found.push(ScoredMemory {
                record: record(row)?,
                score: Similarity::from_cosine_distance(distance.unwrap_or(f64::NAN) as f32),
                rerank_score: None,
                parts: None,
            });
        }
        Ok(Some(found))
    }

    /// Search by the ANN index (ordered by distance, so the planner can use it).
    async fn search_ordered(
        &self,
        client: &impl GenericClient,
        query: &VectorQuery,
    ) -> Result<Vec<ScoredMemory>, StoreError> {
        let mut params = Params::new();
        let vector = params.push(Vector::from(query.vector.clone()));
        let condition = self.condition(&query.scope, query.filter.as_ref(), &mut params);
        let limit = params.push(limit_param(query.limit));
        let sql = format!(
            "SELECT id, payload, vector <=> {vector} AS distance FROM {} WHERE {condition} \
             ORDER BY vector <=> {vector}, id LIMIT {limit}",
            self.table
        );
        let rows = client.query(&sql, &params.as_refs()).await.map_err(pg)?;
        rows.iter()
            .map(|row| {
                let distance: Option<f64> = row.try_get(2).map_err(pg)?;
                Ok(ScoredMemory {
                    record: record(row)?,
                    score: Similarity::from_cosine_distance(distance.unwrap_or(f64::NAN) as f32),
                    rerank_score: None,
                    parts: None,
                })
            })
            .collect()
    }

    fn condition(&self, scope: &Scope, filter: Option<&Filter>, params: &mut Params) -> String {
        let scope = scope_sql(scope, params);
        match filter {
            Some(filter) => format!("{scope} AND {}", filter_sql(filter, params)),
            None => scope,
        }
    }

    async fn select_records(&self, sql: &str, params: &Params) -> Result<Vec<MemoryRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(sql, &params.as_refs()).await.map_err(pg)?;
        rows.iter().map(record).collect()
    }
}

#[async_trait]
impl VectorStore for PgVectorStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.capabilities().await.map(|_| ())
    }

    fn dimensions(&self) -> usize {
        self.config.embedding_model_dims
    }

    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        // The last occurrence of an id wins (one statement may not update a row twice).
        let mut position: HashMap<MemoryId, usize> = HashMap::new();
        for (i, (record, vector)) in items.iter().enumerate() {
            self.check_dims(&format!("the vector of memory {}", record.id), vector)?;
            position.insert(record.id, i);
        }
        let mut unique: Vec<usize> = position.into_values().collect();
        unique.sort_unstable();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let sql = format!(
            "INSERT INTO {} (id, vector, payload, lexical) \
             SELECT u.id, u.vector, u.payload, u.lexical::tsvector \
             FROM unnest($1::uuid[], $2::vector[], $3::jsonb[], $4::text[]) AS u(id, vector, payload, lexical) \
             ON CONFLICT (id) DO UPDATE SET vector = EXCLUDED.vector, payload = EXCLUDED.payload, \
             lexical = EXCLUDED.lexical",
            self.table
        );
        let statement = tx.prepare_cached(&sql).await.map_err(pg)?;
        for chunk in unique.chunks(INSERT_CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|&i| items[i].0.id.as_uuid()).collect();
            let vectors: Vec<Vector> = chunk.iter().map(|&i| Vector::from(items[i].1.clone())).collect();
            let payloads: Vec<serde_json::Value> = chunk.iter().map(|&i| payload::to_payload(&items[i].0)).collect();
            let terms: Vec<String> =
                chunk.iter().map(|&i| lexical::tsvector_literal(items[i].0.text.as_str())).collect();
            tx.execute(&statement, &[&ids, &vectors, &payloads, &terms]).await.map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError> {
        self.check_dims("the query vector", &query.vector)?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let capabilities = self.capabilities().await?;
        let tuning = self.config.search;
        let index_usable = match capabilities.ann {
            AnnIndex::None => false,
            AnnIndex::Hnsw => capabilities.iterative_scan,
            AnnIndex::DiskAnn => true,
        };
        let mut client = self.client().await?;
        // One statement for a scope small enough to compare every vector (or with no usable
        // index): counted and searched exactly.
        let guard = index_usable.then_some(tuning.exact_scan_limit);
        if let Some(found) = self.search_exact(&client, query, guard).await? {
            self.stats.exact.fetch_add(1, Ordering::Relaxed);
            return Ok(found);
        }
        let tx = client.transaction().await.map_err(pg)?;
        if capabilities.ann == AnnIndex::Hnsw {
            let ef_search = tuning.ef_search.max(query.limit).min(MAX_EF_SEARCH);
            tx.batch_execute(&format!(
                "SET LOCAL hnsw.iterative_scan = strict_order; SET LOCAL hnsw.ef_search = {ef_search}; \
                 SET LOCAL hnsw.max_scan_tuples = {}",
                tuning.max_scan_tuples
            ))
            .await
            .map_err(pg)?;
        }
        let found = self.search_ordered(&tx, query).await?;
        let results = if found.len() < query.limit {
            tracing::debug!(found = found.len(), "index scan came back short; searching the scope exactly");
            self.stats.index_then_exact.fetch_add(1, Ordering::Relaxed);
            self.search_exact(&tx, query, None).await?.unwrap_or_default()
        } else {
            self.stats.index.fetch_add(1, Ordering::Relaxed);
            found
        };
        tx.commit().await.map_err(pg)?;
        Ok(results)
    }

    /// False until the store is ready and every row has its terms (see [`lexical_fill`]).
    fn keeps_lexical_index(&self) -> bool {
        self.lexical_fill.get().is_some_and(|fill| fill.is_complete())
    }

    async fn lexical_search(&self, query: &LexicalQuery) -> Result<Vec<LexicalHit>, StoreError> {
        self.check_dims("the query vector", &query.vector)?;
        if query.limit == 0 || query.terms.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let mut params = Params::new();
        let vector = params.push(Vector::from(query.vector.clone()));
        let tsquery = params.push(lexical::tsquery_literal(&query.terms));
        let scope_only = scope_sql(&query.scope, &mut params);
        let condition = self.condition(&query.scope, query.filter.as_ref(), &mut params);
        let cap = params.push(limit_param(LEXICAL_MATCHES));
        let count_cap = params.push(limit_param(SCOPE_COUNT_CAP));
        let scan_limit = params.push(limit_param(LEXICAL_SCOPE_SCAN_LIMIT));
        // One round trip: the scope's size (for BM25's IDF, and to choose how to match) and its
        // matches. A small scope is matched row by row through the scope's index (`IS TRUE`
        // keeps the keyword index out: intersecting it costs more than the scope's rows); a
        // large one through the keyword index.
        let matches = |scope_is: &str, matching: &str| {
            format!(
                "SELECT id, payload, lexical, vector <=> {vector} AS distance, payload->>'data' AS text \
                 FROM {table} WHERE n.n {scope_is} {scan_limit} AND {condition} AND {matching}",
                table = self.table
            )
        };
        let sql = format!(
            "WITH n AS (SELECT count(*) AS n FROM (SELECT 1 FROM {table} WHERE {scope_only} LIMIT {count_cap}) AS s) \
             SELECT m.id, m.payload, m.distance, m.text, n.n FROM n CROSS JOIN LATERAL ({small} UNION ALL {large}) AS m \
             ORDER BY ts_rank(m.lexical, {tsquery}::text::tsquery) DESC, m.id LIMIT {cap}",
            table = self.table,
            small = matches("<=", &format!("(lexical @@ {tsquery}::text::tsquery) IS TRUE")),
            large = matches(">", &format!("lexical @@ {tsquery}::text::tsquery")),
        );
        let rows = query_rows(&client, &sql, &params, query.filter.is_none()).await?;
        let mut scope_size = 0i64;
        let mut documents = Vec::with_capacity(rows.len());
        for row in &rows {
            let text: Option<String> = row.try_get(3).map_err(pg)?;
            scope_size = row.try_get(4).map_err(pg)?;
            documents.push(crate::domain::lexical::terms(text.as_deref().unwrap_or("")));
        }
        let scores =
            crate::domain::lexical::bm25_among(&query.terms, &documents, usize::try_from(scope_size).unwrap_or(0));
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        // Only the best are decoded.
        order
            .into_iter()
            .take(query.limit)
            .map(|i| {
                let distance: Option<f64> = rows[i].try_get(2).map_err(pg)?;
                Ok(LexicalHit {
                    record: record(&rows[i])?,
                    bm25: scores[i],
                    semantic: Similarity::from_cosine_distance(distance.unwrap_or(f64::NAN) as f32),
                })
            })
            .collect()
    }

    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT id, payload FROM {} WHERE id = $1", self.table);
        let statement = client.prepare_cached(&sql).await.map_err(pg)?;
        let row = client.query_opt(&statement, &[&id.as_uuid()]).await.map_err(pg)?;
        row.as_ref().map(record).transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError> {
        let mut params = Params::new();
        let condition = self.condition(&query.scope, query.filter.as_ref(), &mut params);
        let limit = params.push(limit_param(query.limit));
        let sql = format!(
            "SELECT id, payload FROM {} WHERE {condition} ORDER BY payload->>'created_at' DESC, id LIMIT {limit}",
            self.table
        );
        self.select_records(&sql, &params).await
    }

    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let mut params = Params::new();
        let condition = scope_sql(scope, &mut params);
        let wanted = params.push(hashes.iter().map(|h| h.as_str().to_owned()).collect::<Vec<String>>());
        let sql = format!(
            "SELECT id, payload FROM {} WHERE {condition} AND (payload->>'hash') = ANY({wanted}::text[])",
            self.table
        );
        self.select_records(&sql, &params).await
    }

    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        if let Some(vector) = &vector {
            self.check_dims(&format!("the vector of memory {}", record.id), vector)?;
        }
        let client = self.client().await?;
        let sql = format!(
            "UPDATE {} SET payload = $2::jsonb, vector = COALESCE($3::vector, vector), lexical = $4::text::tsvector \
             WHERE id = $1",
            self.table
        );
        let statement = client.prepare_cached(&sql).await.map_err(pg)?;
        let vector = vector.map(Vector::from);
        let updated = client
            .execute(
                &statement,
                &[
                    &record.id.as_uuid(),
                    &payload::to_payload(record),
                    &vector,
                    &lexical::tsvector_literal(record.text.as_str()),
                ],
            )
            .await
            .map_err(pg)?;
        if updated == 0 {
            tracing::debug!(memory_id = %record.id, "update of a memory that does not exist: nothing changed");
        }
        Ok(())
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let sql = format!("DELETE FROM {} WHERE id = $1", self.table);
        let statement = client.prepare_cached(&sql).await.map_err(pg)?;
        Ok(client.execute(&statement, &[&id.as_uuid()]).await.map_err(pg)? > 0)
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError> {
        let mut params = Params::new();
        let condition = scope_sql(scope, &mut params);
        let client = self.client().await?;
        let sql = format!("DELETE FROM {} WHERE {condition}", self.table);
        client.execute(&sql, &params.as_refs()).await.map_err(pg)
    }

    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT payload->>'user_id', payload->>'agent_id', payload->>'run_id', count(*) FROM {} GROUP BY 1, 2, 3",
            self.table
        );
        let rows = client.query(&sql, &[]).await.map_err(pg)?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let ids: [Option<String>; 3] =
                [row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?, row.try_get(2).map_err(pg)?];
            let memories: i64 = row.try_get(3).map_err(pg)?;
            match Scope::parse(ids[0].as_deref(), ids[1].as_deref(), ids[2].as_deref()) {
                Ok(scope) => counts.push(ScopeCount { scope, memories: memories.unsigned_abs() }),
                Err(e) => {
                    tracing::warn!(memories, error = %e, "memories without a valid owner left out of the scope list")
                }
            }
        }
        Ok(counts)
    }
}

fn pg(error: tokio_postgres::Error) -> StoreError {
    from_pg(STORE, &error)
}

/// Runs `sql`; through a statement prepared once per connection when `cacheable` (its text is
/// one of a few shapes, not built from a filter).
async fn query_rows(
    client: &impl GenericClient,
    sql: &str,
    params: &Params,
    cacheable: bool,
) -> Result<Vec<Row>, StoreError> {
    let query = async {
        if cacheable {
            let statement = client.prepare_cached(sql).await.map_err(pg)?;
            client.query(&statement, &params.as_refs()).await.map_err(pg)
        } else {
            client.query(sql, &params.as_refs()).await.map_err(pg)
        }
    };
    tracing::Instrument::instrument(query, tracing::trace_span!("pg.query")).await
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A row `(id, payload, …)` as a record.
fn record(row: &Row) -> Result<MemoryRecord, StoreError> {
    let id: Uuid = row.try_get(0).map_err(pg)?;
    let payload: Option<serde_json::Value> = row.try_get(1).map_err(pg)?;
    payload::from_payload(MemoryId::from_uuid(id), payload.unwrap_or(serde_json::Value::Null))
        .map_err(|message| StoreError::Corrupt { store: STORE, message })
}
