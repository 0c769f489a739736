//! Outbound port: graph memory (entities and relations per scope).

use super::store::StoreError;
use crate::domain::graph::{GraphChanges, Relation};
use crate::domain::scope::Scope;
use async_trait::async_trait;

/// A graph memory.
#[async_trait]
pub trait GraphStore: Send + Sync + 'static {
    /// Checks the server is reachable and prepares indexes.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// Extracts entities and relations from `text` and merges them into the scope's graph.
    async fn add(&self, text: &str, scope: &Scope) -> Result<GraphChanges, StoreError>;

    /// The scope's relations most relevant to the query.
    async fn search(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;

    /// The scope's relations.
    async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;

    /// Removes the scope's nodes and relations, and nothing else.
    async fn delete_scope(&self, scope: &Scope) -> Result<(), StoreError>;
}
