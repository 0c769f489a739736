//! Outbound port: graph memory (entities and relations per scope).

use super::store::StoreError;
use crate::domain::graph::{GraphChanges, GraphPlan, Relation};
use crate::domain::scope::Scope;
use async_trait::async_trait;

/// A graph memory.
#[async_trait]
pub trait GraphStore: Send + Sync + 'static {
    /// Checks the server is reachable and prepares indexes.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// Decides what `text` changes in the scope's graph (model calls, embeddings and reads; no
    /// write), so the decision can be journaled and applied, again if need be, without asking
    /// the model twice.
    async fn plan(&self, text: &str, scope: &Scope) -> Result<GraphPlan, StoreError>;

    /// Applies a plan to the scope's graph; applying it again changes nothing more. Reports the
    /// plan's relations (those removed are gone afterwards, whether or not this call removed them).
    async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, StoreError>;

    /// Extracts entities and relations from `text` and merges them into the scope's graph
    /// ([`Self::plan`] then [`Self::apply`]).
    async fn add(&self, text: &str, scope: &Scope) -> Result<GraphChanges, StoreError> {
        let plan = self.plan(text, scope).await?;
        self.apply(&plan, scope).await
    }

    /// The scope's relations most relevant to the query.
    async fn search(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;

    /// The scope's relations.
    async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError>;

    /// Removes the scope's nodes and relations, and nothing else.
    async fn delete_scope(&self, scope: &Scope) -> Result<(), StoreError>;
}
