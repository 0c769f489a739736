//! Outbound port: the store of graph memory (entities and relations per scope). It stores and
//! looks up; deciding what a text changes is the app ring's graph memory use case.

use super::embedder::EmbedError;
use super::llm::LlmError;
use super::store::StoreError;
use crate::domain::graph::resolve::EntityMatch;
use crate::domain::graph::{GraphChanges, GraphPlan, GraphSettings, Relation, StoredRelation};
use crate::domain::scope::Scope;
use async_trait::async_trait;
use std::sync::Arc;

/// Why graph memory failed: the step and its cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// A model call of graph memory failed.
    #[error("graph memory: the {purpose} call to the LLM failed: {cause}")]
    Model {
        /// What the call was for (`graph extraction`, `graph contradiction check`).
        purpose: &'static str,
        /// The model's failure.
        #[source]
        cause: LlmError,
    },
    /// Embedding entity names failed.
    #[error("graph memory: embedding entity names failed: {0}")]
    Embedder(#[source] EmbedError),
    /// The embedder answered with the wrong number or size of vectors.
    #[error("graph memory: the embedder returned {got} vectors for {names} names (expected {dims} floats each)")]
    EmbeddingShape {
        /// Vectors returned.
        got: usize,
        /// Names sent.
        names: usize,
        /// The embedder's size.
        dims: usize,
    },
    /// The graph store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl GraphError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            GraphError::Model { cause, .. } => cause.is_transient(),
            GraphError::Embedder(cause) => cause.is_transient(),
            GraphError::EmbeddingShape { .. } => false,
            GraphError::Store(cause) => cause.is_transient(),
        }
    }
}

/// A graph memory store.
#[async_trait]
pub trait GraphStore: Send + Sync + 'static {
    /// Checks the server is reachable and prepares indexes.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// Existing entities of exactly `scope` whose name embedding has a cosine similarity of at
    /// least `threshold` with one of `vectors`; each match names the index of its vector.
    async fn similar_entities(
        &self,
        scope: &Scope,
        vectors: &[Vec<f32>],
        threshold: f64,
    ) -> Result<Vec<EntityMatch>, StoreError>;

    /// At most `limit` relations visible from `scope` that touch one of the entities `names`.
    async fn relations_touching(
        &self,
        scope: &Scope,
        names: &[String],
        limit: usize,
    ) -> Result<Vec<StoredRelation>, StoreError>;

    /// Applies a plan to the scope's graph in one transaction; applying it again changes
    /// nothing more. Reports the plan's relations (those removed are gone afterwards, whether or
    /// not this call removed them).
    async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, StoreError>;

    /// At least `limit` relations visible from `scope` whose entities' name embeddings have a
    /// cosine similarity of at least `threshold` with one of `vectors`, most similar first.
    async fn relations_near(
        &self,
        scope: &Scope,
        vectors: &[Vec<f32>],
        threshold: f64,
        limit: usize,
    ) -> Result<Vec<Relation>, StoreError>;

    /// The scope's relations.
    async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;

    /// Removes the scope's nodes and relations, and nothing else.
    async fn delete_scope(&self, scope: &Scope) -> Result<(), StoreError>;
}

/// Graph memory as configured: its store and how it decides.
#[derive(Clone)]
pub struct GraphBackend {
    /// Where entities and relations live.
    pub store: Arc<dyn GraphStore>,
    /// Threshold and custom extraction rule.
    pub settings: GraphSettings,
}
