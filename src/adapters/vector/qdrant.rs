//! [`VectorStore`] over a Qdrant server's REST API, compatible with Mem0's Qdrant store: one point per
//! memory, id = the memory's UUID, the unnamed dense vector (cosine), payload = Mem0's flat payload.
//!
//! - `ensure_ready` creates the collection when missing (as Mem0 2.x: dense cosine vector plus a `bm25`
//!   sparse slot), checks the vector size, and adds the payload indexes that are missing: keyword
//!   indexes on `user_id`, `agent_id`, `run_id`, `actor_id` (Mem0's) and `hash`, and a datetime index on
//!   `created_at` (for newest-first listings).
//! - Searches send the scope and the pushable part of the filter as a Qdrant filter, then check every
//!   point exactly ([`refine`]), asking for more points while the check drops too many.
//! - Listings scroll ordered by `created_at` (newest first); a server that cannot order (no datetime
//!   index, or older than 1.8) is scrolled page by page and the points are sorted here.
//! - Every write waits for the server to apply it (`wait=true`), so reads see it at once.

mod config;
mod wire;

pub use config::{from_block as config_from_block, QdrantConfig, ALLOWED_KEYS};

use super::payload::to_payload;
use super::pushdown::{plan, plan_hashes};
use super::refine::{self, admits, check_vector, decode_or_skip, gather, newest_first, unique_items, Batch};
use crate::adapters::config::config_error;
use crate::adapters::http::{join_url, secret_header, HttpClient, HttpError, Method, RetryPolicy};
use crate::domain::credentials::ProviderBlock;
use crate::domain::filter::Filter;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{count_by_owner, Scope, ScopeCount};
use crate::ports::backends::BuildError;
use crate::ports::store::StoreError;
use crate::ports::vector_store::{ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::OnceCell;
use wire::{CollectionInfo, CountResult, Envelope, Point, QueryResult, ScrollResult};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["qdrant"];

/// The store's name in errors and logs.
pub const STORE: &str = "qdrant store";

/// Most points one search or ordered scroll asks for.
pub const MAX_FETCH: usize = 10_000;
/// Points per upsert request.
pub const UPSERT_CHUNK: usize = 100;
/// Points per page of an unordered scroll.
pub const SCROLL_PAGE: usize = 256;
/// Keyword payload indexes created when missing (Mem0's four, plus `hash`).
pub const KEYWORD_INDEXES: &[&str] = &["user_id", "agent_id", "run_id", "actor_id", "hash"];
/// The datetime payload index that orders listings.
pub const ORDER_FIELD: &str = "created_at";

/// How the collection compares vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Cosine similarity (Mem0's).
    Cosine,
    /// Dot product.
    Dot,
    /// Euclidean distance.
    Euclid,
}

impl Distance {
    /// A point's score as a similarity in [0, 1] (Euclidean distances of unit vectors as the cosine
    /// `1 - d²/2`).
    pub fn similarity(self, score: f32) -> Similarity {
        match self {
            Distance::Cosine | Distance::Dot => Similarity::from_cosine(score),
            Distance::Euclid => Similarity::from_cosine(1.0 - score * score / 2.0),
        }
    }
}

/// Memories in a Qdrant collection.
pub struct QdrantStore {
    config: QdrantConfig,
    http: HttpClient,
    headers: HeaderMap,
    distance: OnceCell<Distance>,
    /// False once the server refused to order a scroll by `created_at`.
    can_order: AtomicBool,
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore")
            .field("collection", &self.config.collection)
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

impl QdrantStore {
    /// Builds the store from a `{"provider": "qdrant", "config": …}` block. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        let config = config::from_block(block)?;
        let mut http = HttpClient::new("qdrant", &config.http).map_err(|e| config_error(block, e.to_string()))?;
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            http = http.with_secret(key.expose_secret());
            let value =
                secret_header(key.expose_secret(), "api_key").map_err(|e| config_error(block, e.to_string()))?;
            headers.insert(HeaderName::from_static("api-key"), value);
        }
        Ok(Self { config, http, headers, distance: OnceCell::new(), can_order: AtomicBool::new(true) })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &QdrantConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        join_url(&self.config.base_url, &format!("collections/{}{path}", self.config.collection))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, HttpError> {
        let answer: Envelope<T> = self.http.request_json(method, &self.url(path), &self.headers, body).await?;
        Ok(answer.result)
    }

    /// Like [`QdrantStore::call`] after the collection is ready, with errors as store errors.
    async fn ready_call<T: DeserializeOwned>(&self, method: Method, path: &str, body: &Value) -> Result<T, StoreError> {
        self.ready().await?;
        self.call(method, path, Some(body)).await.map_err(|e| e.into_store_error(STORE))
    }

    /// The collection's distance; creates and indexes the collection on first use.
    async fn ready(&self) -> Result<Distance, StoreError> {
        self.distance.get_or_try_init(|| self.prepare()).await.copied()
    }

    async fn prepare(&self) -> Result<Distance, StoreError> {
        let name = &self.config.collection;
        let info = match self.call::<CollectionInfo>(Method::GET, "", None).await {
            Ok(info) => info,
            Err(HttpError::Status { status: 404, .. }) => {
                tracing::info!(collection = %name, "creating the Qdrant collection");
                let body = wire::create_collection(self.config.dims, self.config.on_disk);
                match self.call::<Value>(Method::PUT, "", Some(&body)).await {
                    Ok(_) | Err(HttpError::Status { status: 409, .. }) => {}
                    Err(e) => return Err(e.into_store_error(STORE)),
                }
                self.call::<CollectionInfo>(Method::GET, "", None).await.map_err(|e| e.into_store_error(STORE))?
            }
            Err(e) => return Err(e.into_store_error(STORE)),
        };
        let rejected = |message: String| StoreError::Rejected { store: STORE, message };
        let (size, distance) = info.config.params.default_vector().ok_or_else(|| {
            rejected(format!("collection {name:?} has only named vectors; Mem0 stores memories in the unnamed vector"))
        })?;
        if size != self.config.dims {
            return Err(rejected(format!(
                "collection {name:?} holds vectors of {size} dimensions but embedding_model_dims is {}",
                self.config.dims
            )));
        }
        let distance = match distance.as_str() {
            "Cosine" => Distance::Cosine,
            "Dot" => Distance::Dot,
            "Euclid" => Distance::Euclid,
            other => return Err(rejected(format!("collection {name:?} uses the unsupported distance {other:?}"))),
        };
        let wanted = KEYWORD_INDEXES.iter().map(|f| (*f, "keyword")).chain([(ORDER_FIELD, "datetime")]);
        for (field, schema) in wanted.filter(|(field, _)| !info.payload_schema.contains_key(*field)) {
            let body = json!({"field_name": field, "field_schema": schema});
            if let Err(e) = self.call::<Value>(Method::PUT, "/index?wait=true", Some(&body)).await {
                tracing::warn!(collection = %name, field, error = %e, "could not create a payload index");
            }
        }
        Ok(distance)
    }

    fn native(scope: &Scope, filter: Option<&Filter>) -> Value {
        wire::to_filter(&plan(scope, filter, &|field: &str| !field.contains('.')))
    }

    async fn upsert(&self, points: Vec<Value>) -> Result<(), StoreError> {
        for chunk in points.chunks(UPSERT_CHUNK) {
            let _: Value = self.ready_call(Method::PUT, "/points?wait=true", &json!({"points": chunk})).await?;
        }
        Ok(())
    }

    async fn retrieve(&self, id: MemoryId) -> Result<Option<Point>, StoreError> {
        self.ready().await?;
        match self.call::<Point>(Method::GET, &format!("/points/{id}"), None).await {
            Ok(point) => Ok(Some(point)),
            Err(HttpError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into_store_error(STORE)),
        }
    }

    /// Every point matching `filter`, page by page.
    async fn scroll_all(&self, filter: &Value) -> Result<Vec<Point>, StoreError> {
        let mut points = Vec::new();
        let mut offset = Value::Null;
        loop {
            let mut body = json!({"filter": filter, "limit": SCROLL_PAGE, "with_payload": true, "with_vector": false});
            if !offset.is_null() {
                body["offset"] = offset;
            }
            let page: ScrollResult = self.ready_call(Method::POST, "/points/scroll", &body).await?;
            points.extend(page.points);
            if page.next_page_offset.is_null() {
                return Ok(points);
            }
            offset = page.next_page_offset;
        }
    }

    /// Up to `limit` points matching `filter`, newest first; `None` when the server cannot order.
    async fn scroll_newest(&self, filter: &Value, limit: usize) -> Result<Option<Vec<Point>>, StoreError> {
        self.ready().await?;
        let body = json!({
            "filter": filter, "limit": limit, "with_payload": true, "with_vector": false,
            "order_by": {"key": ORDER_FIELD, "direction": "desc"},
        });
        match self.call::<ScrollResult>(Method::POST, "/points/scroll", Some(&body)).await {
            Ok(page) => Ok(Some(page.points)),
            Err(HttpError::Status { status: 400, message, .. }) => {
                tracing::debug!(collection = %self.config.collection, %message, "ordered scroll refused; sorting here");
                Ok(None)
            }
            Err(e) => Err(e.into_store_error(STORE)),
        }
    }

    fn decode_points(points: Vec<Point>) -> impl Iterator<Item = MemoryRecord> {
        points.into_iter().filter_map(|mut p| decode_or_skip(STORE, &p.id_text(), p.payload_value()))
    }
}

#[async_trait]
impl VectorStore for QdrantStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.ready().await.map(|_| ())
    }

    fn dimensions(&self) -> usize {
        self.config.dims
    }

    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError> {
        let points = unique_items(STORE, self.config.dims, items)?
            .into_iter()
            .map(|(record, vector)| point(record, vector))
            .collect();
        self.upsert(points).await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError> {
        check_vector(STORE, self.config.dims, "the query vector", &query.vector)?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let distance = self.ready().await?;
        let native = Self::native(&query.scope, query.filter.as_ref());
        let fetch = |limit: usize| {
            let body = json!({
                "query": query.vector, "filter": native, "limit": limit, "with_payload": true, "with_vector": false,
            });
            async move {
                let answer: QueryResult = self.ready_call(Method::POST, "/points/query", &body).await?;
                let returned = answer.points.len();
                let items = answer
                    .points
                    .into_iter()
                    .filter_map(|mut p| {
                        let score = distance.similarity(p.score.unwrap_or(0.0));
                        let record = decode_or_skip(STORE, &p.id_text(), p.payload_value())?;
                        Some(ScoredMemory { record, score, rerank_score: None, parts: None })
                    })
                    .collect();
                Ok(Batch { items, returned })
            }
        };
        let admit = |m: &ScoredMemory| admits(&m.record, &query.scope, query.filter.as_ref());
        let mut found = gather(query.limit, query.filter.is_some(), MAX_FETCH, fetch, admit).await?.items;
        found.truncate(query.limit);
        Ok(found)
    }

    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError> {
        let Some(mut point) = self.retrieve(id).await? else { return Ok(None) };
        refine::decode(&point.id_text(), point.payload_value())
            .map(Some)
            .map_err(|message| StoreError::Corrupt { store: STORE, message })
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let native = Self::native(&query.scope, query.filter.as_ref());
        let admit = |r: &MemoryRecord| admits(r, &query.scope, query.filter.as_ref());
        if self.can_order.load(Ordering::Relaxed) {
            let refused = AtomicBool::new(false);
            let fetch = |limit: usize| {
                let (native, refused) = (&native, &refused);
                async move {
                    let Some(points) = self.scroll_newest(native, limit).await? else {
                        refused.store(true, Ordering::Relaxed);
                        return Ok(Batch { items: Vec::new(), returned: 0 });
                    };
                    let returned = points.len();
                    Ok(Batch { items: Self::decode_points(points).collect(), returned })
                }
            };
            let mut found = gather(query.limit, query.filter.is_some(), MAX_FETCH, fetch, admit).await?.items;
            if !refused.load(Ordering::Relaxed) {
                newest_first(&mut found);
                found.truncate(query.limit);
                return Ok(found);
            }
            self.can_order.store(false, Ordering::Relaxed);
        }
        let mut found: Vec<MemoryRecord> = Self::decode_points(self.scroll_all(&native).await?).filter(admit).collect();
        newest_first(&mut found);
        found.truncate(query.limit);
        Ok(found)
    }

    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: HashSet<&str> = hashes.iter().map(ContentHash::as_str).collect();
        let native = plan_hashes(scope, wanted.iter().copied());
        Ok(Self::decode_points(self.scroll_all(&wire::to_filter(&native)).await?)
            .filter(|r| scope.contains(&r.scope) && wanted.contains(r.hash.as_str()))
            .collect())
    }

    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        match vector {
            Some(vector) => {
                check_vector(STORE, self.config.dims, &format!("the vector of memory {}", record.id), &vector)?;
                // Replacing the whole point also drops a stale Mem0 `bm25` sparse vector.
                if self.retrieve(record.id).await?.is_none() {
                    tracing::debug!(memory_id = %record.id, "update of a memory that does not exist: nothing changed");
                    return Ok(());
                }
                self.upsert(vec![point(record, &vector)]).await
            }
            None => {
                self.ready().await?;
                let body = json!({"payload": to_payload(record), "points": [record.id.to_string()]});
                match self.call::<Value>(Method::PUT, "/points/payload?wait=true", Some(&body)).await {
                    Ok(_) => Ok(()),
                    Err(HttpError::Status { status: 404, .. }) => {
                        tracing::debug!(memory_id = %record.id, "update of a memory that does not exist: nothing changed");
                        Ok(())
                    }
                    Err(e) => Err(e.into_store_error(STORE)),
                }
            }
        }
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        if self.retrieve(id).await?.is_none() {
            return Ok(false);
        }
        let _: Value =
            self.ready_call(Method::POST, "/points/delete?wait=true", &json!({"points": [id.to_string()]})).await?;
        Ok(true)
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError> {
        let native = Self::native(scope, None);
        let counted: CountResult =
            self.ready_call(Method::POST, "/points/count", &json!({"filter": native, "exact": true})).await?;
        if counted.count > 0 {
            let _: Value =
                self.ready_call(Method::POST, "/points/delete?wait=true", &json!({"filter": native})).await?;
        }
        Ok(counted.count)
    }

    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError> {
        let records: Vec<MemoryRecord> = Self::decode_points(self.scroll_all(&json!({})).await?).collect();
        Ok(count_by_owner(records.iter().map(|r| &r.scope)))
    }
}

/// A memory as a Qdrant point: the unnamed vector and Mem0's payload.
fn point(record: &MemoryRecord, vector: &[f32]) -> Value {
    json!({"id": record.id.to_string(), "vector": vector, "payload": to_payload(record)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_similarities() {
        assert_eq!(Distance::Cosine.similarity(0.9).value(), 0.9);
        assert_eq!(Distance::Dot.similarity(-0.5).value(), 0.0);
        assert!((Distance::Euclid.similarity(0.5).value() - 0.875).abs() < 1e-6);
    }

    #[test]
    fn the_api_key_is_a_sensitive_header() {
        let block = ProviderBlock::parse(
            "local_vector_db_json",
            &json!({"provider": "qdrant", "config": {"url": "http://q:1", "api_key": "qd-very-secret"}}),
        )
        .unwrap()
        .unwrap();
        let store = QdrantStore::from_block(&block).unwrap();
        assert!(store.headers["api-key"].is_sensitive());
        assert!(!format!("{store:?}").contains("qd-very-secret"));
    }
}
