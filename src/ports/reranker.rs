//! Outbound port: a reranker that reorders search results by relevance to the query.

use async_trait::async_trait;

/// One reranked document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RerankHit {
    /// Index into the documents given.
    pub index: usize,
    /// Relevance, higher is better.
    pub score: f32,
}

/// Why a rerank failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reranking failed: {0}")]
pub struct RerankError(pub String);

/// A reranker.
#[async_trait]
pub trait Reranker: Send + Sync + 'static {
    /// Scores the documents against the query; returns at most `top_n` hits, best first.
    async fn rerank(&self, query: &str, documents: &[String], top_n: usize) -> Result<Vec<RerankHit>, RerankError>;
}
