//! `embedded`: the zero-setup vector store, in-process and persisted to one local SQLite file.
//!
//! - Exact cosine search: vectors are L2-normalised when written and searched by brute-force dot
//!   products over the memories of the caller's scope only (per-identifier sets), so a search in
//!   one user's memories costs the size of that user's memories, not of the collection.
//! - Durability: SQLite in WAL mode with `synchronous=FULL`; a call returns only after its
//!   transaction is committed and synced, so an acknowledged write survives `kill -9` and power loss.
//! - Start-up: the whole collection is loaded into memory once (about 0.4 s per 100k memories of
//!   384 dimensions); memory use is about `dims × 4` bytes plus the payload per memory.
//! - Several processes may open the same file: SQLite's locks serialise writers, and each process
//!   replays the others' writes from a change log before reading (see `collection.rs`). Handles in one
//!   process that name the same file and collection share one index.
//! - Sized for about 100k memories; beyond that, use pgvector, Qdrant or Pinecone.
//!
//! Blocking work (SQLite, scans) runs on tokio's blocking pool.

mod collection;
mod config;
mod db;
mod index;
mod lexical;
mod payload;

pub use config::{
    from_block, EmbeddedConfig, ALLOWED_KEYS, DEFAULT_COLLECTION, DEFAULT_DIMS, DEFAULT_FILE_NAME, PROVIDER,
};

use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory};
use crate::domain::scope::{Scope, ScopeCount};
use crate::ports::store::StoreError;
use crate::ports::vector_store::{LexicalHit, LexicalQuery, ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use collection::OpenCollection;
use db::STORE;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The embedded vector store. Cheap to build; the file is opened on first use.
pub struct EmbeddedVectorStore {
    config: EmbeddedConfig,
    open: OnceCell<Arc<OpenCollection>>,
}

impl EmbeddedVectorStore {
    /// A store for this configuration (nothing is opened yet).
    pub fn new(config: EmbeddedConfig) -> Self {
        Self { config, open: OnceCell::new() }
    }

    /// Its configuration.
    pub fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    /// Runs `f` on the open collection on the blocking pool, opening it first if needed.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&OpenCollection) -> Result<T, StoreError> + Send + 'static,
    {
        let collection = self
            .open
            .get_or_try_init(|| {
                let config = self.config.clone();
                blocking(move || OpenCollection::open(&config))
            })
            .await?
            .clone();
        blocking(move || f(&collection)).await
    }

    fn check_vector(&self, vector: &[f32]) -> Result<(), StoreError> {
        let dims = self.config.embedding_model_dims;
        if vector.len() != dims {
            return Err(rejected(format!(
                "a vector has {} dimensions but the collection {:?} holds {dims}-dimensional vectors \
                 (embedding_model_dims must match the embedder)",
                vector.len(),
                self.config.collection_name
            )));
        }
        if vector.iter().any(|x| !x.is_finite()) {
            return Err(rejected("a vector holds a NaN or infinite value".to_owned()));
        }
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable { store: STORE, message: format!("a storage task failed: {e}") })?
}

fn rejected(message: String) -> StoreError {
    StoreError::Rejected { store: STORE, message }
}

#[async_trait]
impl VectorStore for EmbeddedVectorStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.run(|_| Ok(())).await
    }

    fn dimensions(&self) -> usize {
        self.config.embedding_model_dims
    }

    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        items.iter().try_for_each(|(_, v)| self.check_vector(v))?;
        let items = items.to_vec();
        self.run(move |c| c.insert(items)).await
    }

    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError> {
        self.check_vector(&query.vector)?;
        let query = query.clone();
        self.run(move |c| {
            let mut unit = query.vector;
            index::normalize(&mut unit);
            c.read(|index| index.search(&unit, &query.scope, query.filter.as_ref(), query.limit))
        })
        .await
    }

    fn keeps_lexical_index(&self) -> bool {
        true
    }

    async fn lexical_search(&self, query: &LexicalQuery) -> Result<Vec<LexicalHit>, StoreError> {
        self.check_vector(&query.vector)?;
        let query = query.clone();
        self.run(move |c| {
            let mut unit = query.vector;
            index::normalize(&mut unit);
            let name = c.name().to_owned();
            // A filter is checked after the keyword match: fetch more so that enough pass.
            let fetch = if query.filter.is_some() { query.limit.saturating_mul(10) } else { query.limit };
            c.read_sql(|conn, index| {
                let found = lexical::search(conn, &name, &query.scope, &query.terms, fetch)?;
                Ok(found
                    .into_iter()
                    .filter_map(|(id, bm25)| {
                        index
                            .scored(id, &unit, &query.scope, query.filter.as_ref())
                            .map(|(record, semantic)| LexicalHit { record: record.clone(), bm25, semantic })
                    })
                    .take(query.limit)
                    .collect())
            })
        })
        .await
    }

    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError> {
        self.run(move |c| c.read(|index| index.get(id).cloned())).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError> {
        let query = query.clone();
        self.run(move |c| c.read(|index| index.list(&query.scope, query.filter.as_ref(), query.limit))).await
    }

    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError> {
        let (scope, hashes) = (scope.clone(), hashes.to_vec());
        self.run(move |c| c.read(|index| index.find_by_hash(&scope, &hashes))).await
    }

    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        if let Some(v) = &vector {
            self.check_vector(v)?;
        }
        let record = record.clone();
        let id = record.id;
        let found = self
            .run(move |c| {
                let name = c.name().to_owned();
                c.write(|tx, _| db::update(tx, &name, &record, vector.as_deref()))
            })
            .await?;
        if !found {
            // As the port says: an update of a memory deleted meanwhile does nothing (a replayed
            // plan must not fail, nor bring the memory back).
            tracing::debug!(%id, "update of a memory that no longer exists ignored");
        }
        Ok(())
    }

    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        self.run(move |c| {
            let name = c.name().to_owned();
            c.write(|tx, _| db::delete(tx, &name, &[id]).map(|n| n > 0))
        })
        .await
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError> {
        let scope = scope.clone();
        self.run(move |c| {
            let name = c.name().to_owned();
            c.write(|tx, index| db::delete(tx, &name, &index.ids_in_scope(&scope)))
        })
        .await
    }

    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError> {
        self.run(|c| c.read(|index| index.scopes())).await
    }
}
