//! [`VectorStore`] over a Pinecone index, compatible with Mem0's Pinecone store: one record per memory,
//! id = the memory's UUID, metadata = Mem0's flat payload, in the configured `namespace`.
//!
//! - `ensure_ready` describes the index, creates it when missing (`serverless_config`, `pod_config`,
//!   else Mem0's default serverless aws / us-west-2) and waits until it is ready.
//! - Searches send the scope and the pushable part of the filter as a metadata filter, then check every
//!   match exactly ([`refine`]); when the check drops matches, the query is repeated with a larger
//!   `topK`, up to Pinecone's 1,000 (with metadata). Results can be incomplete only when more than 1,000
//!   of the scope's memories pass the pushed-down part and fewer than `limit` of those pass the rest;
//!   that case is logged.
//! - Listings (`list`, `find_by_hash`, `delete_scope`) need every match: a filtered query returns them
//!   when there are fewer than 1,000; otherwise `fetch_by_metadata` pages through all of them.
//! - `update` replaces the payload wholesale (like Mem0): it fetches the record (for its vector when none
//!   is given, and so that an update never resurrects a deleted memory) and upserts it.
//! - Pinecone is eventually consistent: a write may take a moment to show in queries.

mod config;
mod control;
mod filter;
mod wire;

pub use config::{from_block as config_from_block, IndexSpec, Metric, PineconeConfig, ALLOWED_KEYS, EXTRA_PARAMS_KEYS};
pub use control::{IndexInfo, ReadyPolling};
pub use wire::API_VERSION;

use super::payload::to_payload;
use super::pushdown::{plan, plan_hashes};
use super::refine::{self, admits, check_vector, decode_or_skip, gather, newest_first, unique_items, Batch};
use crate::adapters::config::config_error;
use crate::adapters::http::{join_url, secret_header, HttpClient, Method, RetryPolicy, USER_AGENT};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{count_by_owner, Scope, ScopeCount};
use crate::ports::backends::BuildError;
use crate::ports::store::StoreError;
use crate::ports::vector_store::{ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use control::ControlPlane;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use tokio::sync::OnceCell;
use wire::{DeleteIds, FetchAnswer, FetchByMetadata, Query, QueryAnswer, Upsert, UpsertVector};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["pinecone"];

/// The store's name in errors and logs.
pub const STORE: &str = "pinecone store";

/// Pinecone's largest `topK` when metadata is returned.
pub const MAX_TOP_K: usize = 1000;
/// Records per `fetch_by_metadata` page.
pub const FETCH_PAGE: usize = 100;
/// Ids per delete request (Pinecone's limit).
pub const DELETE_CHUNK: usize = 1000;

/// Memories in a Pinecone index.
pub struct PineconeStore {
    config: PineconeConfig,
    http: HttpClient,
    headers: HeaderMap,
    polling: ReadyPolling,
    index: OnceCell<IndexInfo>,
}

impl std::fmt::Debug for PineconeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PineconeStore")
            .field("index", &self.config.index_name)
            .field("namespace", &self.config.namespace)
            .field("controller_url", &self.config.controller_url)
            .finish_non_exhaustive()
    }
}

impl PineconeStore {
    /// Builds the store from a `{"provider": "pinecone", "config": …}` block, with `PINECONE_API_KEY`
    /// and `PINECONE_CONTROLLER_HOST` from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        let config = config::from_block(block, env)?;
        let mut http = HttpClient::new("pinecone", &config.http).map_err(|e| config_error(block, e.to_string()))?;
        http = http.with_secret(config.api_key.expose_secret());
        let headers = headers(&config).map_err(|message| config_error(block, message))?;
        Ok(Self { config, http, headers, polling: ReadyPolling::default(), index: OnceCell::new() })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Replaces how long to wait for the index to become ready.
    pub fn with_ready_polling(mut self, polling: ReadyPolling) -> Self {
        self.polling = polling;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &PineconeConfig {
        &self.config
    }

    /// The ready index (prepared on first use).
    pub async fn index(&self) -> Result<&IndexInfo, StoreError> {
        self.index
            .get_or_try_init(|| async {
                let control = ControlPlane { config: &self.config, http: &self.http, headers: &self.headers };
                let info = control.prepare(self.polling).await?;
                tracing::debug!(index = %self.config.index_name, data_url = %info.data_url, "pinecone index ready");
                Ok(info)
            })
            .await
    }

    fn namespace(&self) -> Option<&str> {
        self.config.namespace.as_deref()
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, StoreError> {
        let url = join_url(&self.index().await?.data_url, path);
        self.http
            .request_json(Method::POST, &url, &self.headers, Some(body))
            .await
            .map_err(|e| e.into_store_error(STORE))
    }

    async fn upsert(&self, vectors: Vec<UpsertVector<'_>>) -> Result<(), StoreError> {
        for chunk in chunked(vectors, self.config.batch_size) {
            let _: Value = self.post("vectors/upsert", &Upsert { vectors: chunk, namespace: self.namespace() }).await?;
        }
        Ok(())
    }

    async fn query(
        &self,
        vector: &[f32],
        top_k: usize,
        filter: &Value,
        metadata: bool,
    ) -> Result<QueryAnswer, StoreError> {
        let body = Query {
            vector,
            top_k,
            include_values: false,
            include_metadata: metadata,
            filter: Some(filter),
            namespace: self.namespace(),
        };
        self.post("query", &body).await
    }

    async fn fetch(&self, ids: &[String]) -> Result<FetchAnswer, StoreError> {
        let base = join_url(&self.index().await?.data_url, "vectors/fetch");
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| StoreError::Rejected { store: STORE, message: format!("bad index host {base:?}: {e}") })?;
        {
            let mut query = url.query_pairs_mut();
            for id in ids {
                query.append_pair("ids", id);
            }
            if let Some(namespace) = self.namespace() {
                query.append_pair("namespace", namespace);
            }
        }
        self.http
            .request_json::<(), FetchAnswer>(Method::GET, url.as_str(), &self.headers, None)
            .await
            .map_err(|e| e.into_store_error(STORE))
    }

    /// Every record matching `filter`: one query when there are fewer than [`MAX_TOP_K`], else all pages
    /// of `fetch_by_metadata`. Returns `(id, metadata)` pairs.
    async fn all_matching(&self, filter: &Value) -> Result<Vec<(String, Map<String, Value>)>, StoreError> {
        let probe = self.probe_vector();
        let answer = self.query(&probe, MAX_TOP_K, filter, true).await?;
        if answer.matches.len() < MAX_TOP_K {
            return Ok(answer.matches.into_iter().map(|m| (m.id, m.metadata.unwrap_or_default())).collect());
        }
        tracing::debug!(index = %self.config.index_name, "more than {MAX_TOP_K} matches; paging with fetch_by_metadata");
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let body = FetchByMetadata {
                filter,
                namespace: self.namespace(),
                limit: FETCH_PAGE,
                pagination_token: token.as_deref(),
            };
            let page: FetchAnswer = self.post("vectors/fetch_by_metadata", &body).await?;
            found.extend(page.vectors.into_iter().map(|(id, record)| (id, record.metadata.unwrap_or_default())));
            token = page.pagination.and_then(|p| p.next).filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(found);
            }
        }
    }

    /// A query vector for listings (any non-zero vector: the order does not matter there).
    fn probe_vector(&self) -> Vec<f32> {
        let mut probe = vec![0.0; self.config.dims];
        probe[0] = 1.0;
        probe
    }

    fn filter_for(&self, scope: &Scope, filter: Option<&crate::domain::filter::Filter>) -> Value {
        filter::to_filter(&plan(scope, filter, &|_: &str| true))
    }

    async fn delete_ids(&self, ids: &[String]) -> Result<(), StoreError> {
        for chunk in ids.chunks(DELETE_CHUNK) {
            let _: Value = self.post("vectors/delete", &DeleteIds { ids: chunk, namespace: self.namespace() }).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl VectorStore for PineconeStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.index().await.map(|_| ())
    }

    fn dimensions(&self) -> usize {
        self.config.dims
    }

    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError> {
        let vectors = unique_items(STORE, self.config.dims, items)?
            .into_iter()
            .map(|(record, vector)| upsert_vector(record, vector))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.upsert(vectors).await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError> {
        check_vector(STORE, self.config.dims, "the query vector", &query.vector)?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let metric = self.index().await?.metric;
        let native = self.filter_for(&query.scope, query.filter.as_ref());
        let fetch = |top_k: usize| {
            let native = &native;
            async move {
                let answer = self.query(&query.vector, top_k, native, true).await?;
                let returned = answer.matches.len();
                let items = answer
                    .matches
                    .into_iter()
                    .filter_map(|m| {
                        let record = decode_or_skip(STORE, &m.id, wire::from_metadata(m.metadata))?;
                        Some(ScoredMemory {
                            record,
                            score: similarity(metric, m.score),
                            rerank_score: None,
                            parts: None,
                        })
                    })
                    .collect();
                Ok(Batch { items, returned })
            }
        };
        let admit = |m: &ScoredMemory| admits(&m.record, &query.scope, query.filter.as_ref());
        let gathered = gather(query.limit, query.filter.is_some(), MAX_TOP_K, fetch, admit).await?;
        let mut found = gathered.items;
        if found.len() < query.limit && !gathered.exhausted {
            tracing::warn!(index = %self.config.index_name, found = found.len(), limit = query.limit,
                "pinecone search may be incomplete: over {MAX_TOP_K} matches of the pushed-down filter, too few pass the rest");
        }
        found.truncate(query.limit);
        Ok(found)
    }

    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError> {
        let key = id.to_string();
        let mut answer = self.fetch(std::slice::from_ref(&key)).await?;
        let Some(record) = answer.vectors.remove(&key) else { return Ok(None) };
        refine::decode(&key, wire::from_metadata(record.metadata))
            .map(Some)
            .map_err(|message| StoreError::Corrupt { store: STORE, message })
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let native = self.filter_for(&query.scope, query.filter.as_ref());
        let mut records: Vec<MemoryRecord> = self
            .all_matching(&native)
            .await?
            .into_iter()
            .filter_map(|(id, metadata)| decode_or_skip(STORE, &id, wire::from_metadata(Some(metadata))))
            .filter(|r| admits(r, &query.scope, query.filter.as_ref()))
            .collect();
        newest_first(&mut records);
        records.truncate(query.limit);
        Ok(records)
    }

    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: HashSet<&str> = hashes.iter().map(ContentHash::as_str).collect();
        let native = plan_hashes(scope, wanted.iter().copied());
        Ok(self
            .all_matching(&filter::to_filter(&native))
            .await?
            .into_iter()
            .filter_map(|(id, metadata)| decode_or_skip(STORE, &id, wire::from_metadata(Some(metadata))))
            .filter(|r| scope.contains(&r.scope) && wanted.contains(r.hash.as_str()))
            .collect())
    }

    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        if let Some(vector) = &vector {
            check_vector(STORE, self.config.dims, &format!("the vector of memory {}", record.id), vector)?;
        }
        let key = record.id.to_string();
        let mut answer = self.fetch(std::slice::from_ref(&key)).await?;
        let Some(stored) = answer.vectors.remove(&key) else {
            tracing::debug!(memory_id = %record.id, "update of a memory that does not exist: nothing changed");
            return Ok(());
        };
        let values = match vector {
            Some(vector) => vector,
            None if stored.values.len() == self.config.dims => stored.values,
            None => {
                return Err(StoreError::Corrupt {
                    store: STORE,
                    message: format!("memory {}: the stored vector has {} values", record.id, stored.values.len()),
                })
            }
        };
        self.upsert(vec![upsert_vector(record, &values)?]).await
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let key = id.to_string();
        let ids = std::slice::from_ref(&key);
        if !self.fetch(ids).await?.vectors.contains_key(&key) {
            return Ok(false);
        }
        self.delete_ids(ids).await?;
        Ok(true)
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError> {
        let native = self.filter_for(scope, None);
        let ids: Vec<String> = self.all_matching(&native).await?.into_iter().map(|(id, _)| id).collect();
        self.delete_ids(&ids).await?;
        Ok(ids.len() as u64)
    }

    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError> {
        // every memory has a content hash: the filter that matches them all
        let every = json!({"hash": {"$exists": true}});
        let records: Vec<MemoryRecord> = self
            .all_matching(&every)
            .await?
            .into_iter()
            .filter_map(|(id, metadata)| decode_or_skip(STORE, &id, wire::from_metadata(Some(metadata))))
            .collect();
        Ok(count_by_owner(records.iter().map(|r| &r.scope)))
    }
}

/// A record ready to upsert: its payload as Pinecone metadata.
fn upsert_vector<'a>(record: &MemoryRecord, vector: &'a [f32]) -> Result<UpsertVector<'a>, StoreError> {
    let metadata = wire::to_metadata(to_payload(record)).map_err(|message| StoreError::Rejected {
        store: STORE,
        message: format!("memory {}: {message}", record.id),
    })?;
    Ok(UpsertVector { id: record.id.to_string(), values: vector, metadata })
}

/// A match's score as a similarity: cosine and dot product as they are (clamped to [0, 1]); the squared
/// Euclidean distance `d` of unit vectors as the cosine `1 - d/2`.
pub fn similarity(metric: Metric, score: f32) -> Similarity {
    match metric {
        Metric::Cosine | Metric::DotProduct => Similarity::from_cosine(score),
        Metric::Euclidean => Similarity::from_cosine(1.0 - score / 2.0),
    }
}

fn headers(config: &PineconeConfig) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &config.additional_headers {
        headers.insert(name.clone(), value.clone());
    }
    let key = secret_header(config.api_key.expose_secret().trim(), "api_key").map_err(|e| e.to_string())?;
    headers.insert(HeaderName::from_static("api-key"), key);
    headers.insert(HeaderName::from_static("x-pinecone-api-version"), HeaderValue::from_static(API_VERSION));
    if let Some(tag) = &config.source_tag {
        let agent = HeaderValue::from_str(&format!("{USER_AGENT}; source_tag={tag}"))
            .map_err(|_| "extra_params.source_tag cannot be sent in an HTTP header".to_owned())?;
        headers.insert(reqwest::header::USER_AGENT, agent);
    }
    Ok(headers)
}

fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::with_capacity(size.min(items.len()));
    for item in items {
        current.push(item);
        if current.len() == size {
            chunks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_similarities() {
        assert_eq!(similarity(Metric::Cosine, 0.8).value(), 0.8);
        assert_eq!(similarity(Metric::DotProduct, 1.3).value(), 1.0);
        assert!((similarity(Metric::Euclidean, 0.4).value() - 0.8).abs() < 1e-6);
        assert_eq!(similarity(Metric::Euclidean, 3.0).value(), 0.0);
    }

    #[test]
    fn chunks_keep_order() {
        assert_eq!(chunked(vec![1, 2, 3, 4, 5], 2), vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert!(chunked(Vec::<u8>::new(), 3).is_empty());
    }

    #[test]
    fn the_api_key_is_a_sensitive_header() {
        let block = ProviderBlock::parse(
            "local_vector_db_json",
            &serde_json::json!({"provider": "pinecone", "config": {"api_key": "pk-very-secret", "extra_params": {"source_tag": "dify"}}}),
        )
        .unwrap()
        .unwrap();
        let store = PineconeStore::from_block(&block, &crate::adapters::config::test_context(&[])).unwrap();
        assert!(store.headers["api-key"].is_sensitive());
        assert_eq!(store.headers["x-pinecone-api-version"], API_VERSION);
        assert!(store.headers["user-agent"].to_str().unwrap().ends_with("; source_tag=dify"));
        assert!(!format!("{store:?}").contains("pk-very-secret"));
    }
}
