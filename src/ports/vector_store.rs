//! Outbound port: where memories and their vectors live.

use super::store::StoreError;
use crate::domain::filter::Filter;
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::scope::{Scope, ScopeCount};
use async_trait::async_trait;

/// A similarity search.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    /// The query vector.
    pub vector: Vec<f32>,
    /// Only memories inside this scope (see [`Scope::contains`]).
    pub scope: Scope,
    /// Extra conditions, AND-ed with the scope.
    pub filter: Option<Filter>,
    /// How many results at most.
    pub limit: usize,
}

/// A keyword search (the lexical side of hybrid search).
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalQuery {
    /// The query's distinct terms ([`crate::domain::lexical::query_terms`]); never empty.
    pub terms: Vec<String>,
    /// The query vector, so each hit also carries its similarity.
    pub vector: Vec<f32>,
    /// Only memories inside this scope (see [`Scope::contains`]).
    pub scope: Scope,
    /// Extra conditions, AND-ed with the scope.
    pub filter: Option<Filter>,
    /// How many results at most.
    pub limit: usize,
}

/// A memory found by keyword search.
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalHit {
    /// The memory.
    pub record: MemoryRecord,
    /// Its BM25 for the query's terms: higher is better, 0 = no shared term.
    pub bm25: f32,
    /// Its vector similarity to the query.
    pub semantic: Similarity,
}

/// A listing of a scope's memories.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Only memories inside this scope (see [`Scope::contains`]).
    pub scope: Scope,
    /// Extra conditions, AND-ed with the scope.
    pub filter: Option<Filter>,
    /// How many results at most.
    pub limit: usize,
}

/// A store of memories with vectors.
///
/// Every read is confined to a scope; the only id-based reads are [`VectorStore::get`]
/// (the caller checks ownership) and writes by id.
#[async_trait]
pub trait VectorStore: Send + Sync + 'static {
    /// Creates the collection and its indexes if missing; checks the dimension matches.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// The size of the vectors this store holds (`embedding_model_dims`).
    fn dimensions(&self) -> usize;

    /// Inserts memories; a memory whose id exists is overwritten (so replays are harmless).
    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError>;

    /// The memories of the scope most similar to the vector, best first, with scores in [0, 1].
    /// Must return the scope's true best matches however small a part of the collection it is.
    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError>;

    /// True when the store keeps a lexical (keyword) index beside the vectors, written in the
    /// same transaction, that covers every memory (a store still indexing memories written before
    /// the index existed answers false until it is done); otherwise the caller scores keywords over
    /// an enlarged set of vector candidates and [`VectorStore::lexical_search`] is not called.
    fn keeps_lexical_index(&self) -> bool {
        false
    }

    /// The memories of the scope (and filter) sharing terms with the query, best BM25 first.
    async fn lexical_search(&self, query: &LexicalQuery) -> Result<Vec<LexicalHit>, StoreError> {
        let _ = query;
        Ok(Vec::new())
    }

    /// One memory by id, whoever owns it.
    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError>;

    /// The scope's memories matching the filter, newest first.
    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError>;

    /// The scope's memories whose text has one of these hashes.
    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError>;

    /// Replaces a memory's payload, and its vector when given; does nothing when it does not exist.
    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError>;

    /// Deletes one memory; false when it did not exist.
    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError>;

    /// Deletes every memory inside the scope and nothing else; returns how many.
    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError>;

    /// Every owner (exact user/agent/run combination) that has memories, with how many.
    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError>;
}
