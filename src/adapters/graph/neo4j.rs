//! The graph store on a Bolt server (Neo4j 5, ArcadeDB's Bolt plugin) through `neo4rs`: entity
//! lookups by name embedding, relation reads, and a plan written in one Bolt transaction. The
//! model calls and decisions are the app's (`crate::app::graph_memory`).

mod bolt;
pub mod config;
mod cypher;

pub use bolt::Deadlines;
pub use config::{from_block, Neo4jConfig};

use crate::domain::graph::names::RelationType;
use crate::domain::graph::resolve::EntityMatch;
use crate::domain::graph::{GraphChanges, GraphPlan, Relation, StoredRelation};
use crate::domain::scope::Scope;
use crate::ports::graph_store::GraphStore;
use crate::ports::store::StoreError;
use async_trait::async_trait;
use bolt::{column, fetch, fetch_in, within, within_retrying, STORE};
use cypher::{scoped, Statements, COSINE_PROBE};
use neo4rs::{query, BoltType, Graph};
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// Nodes deleted per statement by `delete_scope`.
const DELETE_BATCH: i64 = 1000;

/// How the server reports `vector.similarity.cosine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CosineScale {
    /// Raw cosine in −1…1 (ArcadeDB).
    Raw,
    /// `(1 + cos) / 2` in 0…1 (Neo4j).
    Normalized,
}

impl CosineScale {
    fn to_server(self, cosine: f64) -> f64 {
        match self {
            CosineScale::Raw => cosine,
            CosineScale::Normalized => (1.0 + cosine) / 2.0,
        }
    }

    fn to_cosine(self, score: f64) -> f64 {
        match self {
            CosineScale::Raw => score,
            CosineScale::Normalized => 2.0 * score - 1.0,
        }
    }
}

/// A connected, probed server.
struct Connection {
    graph: Graph,
    scale: CosineScale,
}

/// The graph store over Bolt.
pub struct Neo4jGraphStore {
    config: Neo4jConfig,
    statements: Statements,
    deadlines: Deadlines,
    connection: OnceCell<Connection>,
}

impl Neo4jGraphStore {
    /// A store for a validated configuration. Nothing is contacted until the first call.
    pub fn new(config: Neo4jConfig) -> Self {
        let statements = Statements::new(&config.label).unwrap_or_else(|| {
            tracing::warn!(label = %config.label, "unsafe graph label ignored; using {}", config::DEFAULT_LABEL);
            Statements::default()
        });
        Self { config, statements, deadlines: Deadlines::default(), connection: OnceCell::new() }
    }

    /// Replaces the default deadlines (5 s to connect, 30 s per statement or transaction).
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Connects, learns the cosine scale and creates the indexes, once.
    async fn connection(&self) -> Result<&Connection, StoreError> {
        self.connection
            .get_or_try_init(|| async {
                let deadline = self.deadlines.connect;
                let graph = tokio::time::timeout(deadline, bolt::open(&self.config)).await.map_err(|_| {
                    StoreError::Unavailable { store: STORE, message: format!("connecting took over {deadline:?}") }
                })??;
                let rows = within(deadline, "connecting and probing vector.similarity.cosine", async {
                    fetch(&graph, query(COSINE_PROBE)).await
                })
                .await?;
                let opposite: f64 = match rows.first() {
                    Some(row) => column(row, "opposite")?,
                    None => {
                        return Err(StoreError::Corrupt { store: STORE, message: "the probe returned no row".into() })
                    }
                };
                let scale = if opposite < -0.5 { CosineScale::Raw } else { CosineScale::Normalized };
                for statement in self.statements.indexes() {
                    if let Err(e) =
                        within(self.deadlines.statement, "creating an index", fetch(&graph, query(&statement))).await
                    {
                        tracing::warn!(error = %e, "graph index not created; queries still work, only slower");
                    }
                }
                tracing::info!(?scale, label = %self.config.label, "graph store ready");
                Ok(Connection { graph, scale })
            })
            .await
    }

    /// Deletes the plan's removals and merges its relations in one transaction (retried on a
    /// transient failure; repeating it changes nothing more).
    async fn write(&self, conn: &Connection, scope: &Scope, plan: &GraphPlan) -> Result<GraphChanges, StoreError> {
        let adding = plan
            .merge
            .iter()
            .map(|r| {
                let relation = RelationType::parse(&r.relationship).ok_or_else(|| StoreError::Corrupt {
                    store: STORE,
                    message: format!("the planned relationship {:?} is not a valid type", r.relationship),
                })?;
                Ok((r, relation))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let nodes: HashMap<&str, (&str, &[f32])> =
            plan.nodes.iter().map(|n| (n.name.as_str(), (n.entity_type.as_str(), n.embedding.as_slice()))).collect();
        let doomed = &plan.remove;
        let now = chrono::Utc::now().timestamp_millis();
        let work = || async {
            let mut txn = conn.graph.start_txn().await?;
            for relation in doomed {
                let statement = query(&self.statements.delete_relation())
                    .param("source", relation.source.as_str())
                    .param("source_scope", relation.source_scope.as_str())
                    .param("destination", relation.destination.as_str())
                    .param("destination_scope", relation.destination_scope.as_str())
                    .param("type", relation.relation_type.as_str());
                fetch_in(&mut txn, statement).await?;
            }
            let mut added = Vec::new();
            for (triple, relation) in &adding {
                let (source_type, source_embedding) = nodes.get(triple.source.as_str()).copied().unwrap_or_default();
                let (destination_type, destination_embedding) =
                    nodes.get(triple.destination.as_str()).copied().unwrap_or_default();
                let statement = scoped(&self.statements.merge_relation(scope, relation), scope)
                    .param("source", triple.source.as_str())
                    .param("source_type", source_type)
                    .param("source_embedding", source_embedding.to_vec())
                    .param("destination", triple.destination.as_str())
                    .param("destination_type", destination_type)
                    .param("destination_embedding", destination_embedding.to_vec())
                    .param("relationship", relation.display())
                    .param("now", now);
                added.push(fetch_in(&mut txn, statement).await?);
            }
            txn.commit().await?;
            Ok(added)
        };
        let added = within_retrying(self.deadlines.statement, "writing the graph transaction", work).await?;
        // Removals are reported as planned: after the commit each is gone, also when a replay
        // of the same plan finds it already removed.
        let mut changes = GraphChanges {
            deleted_entities: doomed.iter().map(StoredRelation::relation).collect(),
            ..Default::default()
        };
        for rows in &added {
            for row in rows {
                changes.added_entities.push(relation_of(row)?);
            }
        }
        Ok(changes)
    }
}

fn relation_of(row: &neo4rs::Row) -> Result<Relation, StoreError> {
    Ok(Relation {
        source: column(row, "source")?,
        relationship: column(row, "relationship")?,
        destination: column(row, "destination")?,
    })
}

/// A count or index as a Bolt integer (saturating; counts here never come near `i64::MAX`).
fn count_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl GraphStore for Neo4jGraphStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.connection().await.map(|_| ())
    }

    async fn similar_entities(
        &self,
        scope: &Scope,
        vectors: &[Vec<f32>],
        threshold: f64,
    ) -> Result<Vec<EntityMatch>, StoreError> {
        let Some(dims) = vectors.first().map(Vec::len) else { return Ok(Vec::new()) };
        let conn = self.connection().await?;
        let entities: Vec<BoltType> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut row: HashMap<String, BoltType> = HashMap::new();
                row.insert("key".into(), BoltType::from(count_param(i)));
                row.insert("embedding".into(), BoltType::from(v.clone()));
                BoltType::from(row)
            })
            .collect();
        let statement = scoped(&self.statements.similar_nodes(), scope)
            .param("entities", entities)
            .param("dims", count_param(dims))
            .param("min_score", conn.scale.to_server(threshold));
        let rows = within(self.deadlines.statement, "finding similar entities", fetch(&conn.graph, statement)).await?;
        rows.iter()
            .map(|row| {
                let key: i64 = column(row, "key")?;
                Ok(EntityMatch {
                    key: usize::try_from(key).unwrap_or(usize::MAX),
                    name: column(row, "name")?,
                    score: conn.scale.to_cosine(column(row, "score")?),
                })
            })
            .collect()
    }

    async fn relations_touching(
        &self,
        scope: &Scope,
        names: &[String],
        limit: usize,
    ) -> Result<Vec<StoredRelation>, StoreError> {
        if names.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.connection().await?;
        let statement = scoped(&self.statements.involved_relations(scope), scope)
            .param("names", names.to_vec())
            .param("limit", count_param(limit));
        let rows =
            within(self.deadlines.statement, "reading existing relations", fetch(&conn.graph, statement)).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRelation {
                    source: column(row, "source")?,
                    source_scope: column(row, "source_scope")?,
                    relation_type: column(row, "type")?,
                    relationship: column(row, "relationship")?,
                    destination: column(row, "destination")?,
                    destination_scope: column(row, "destination_scope")?,
                })
            })
            .collect()
    }

    async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, StoreError> {
        if plan.is_empty() {
            return Ok(GraphChanges::default());
        }
        let conn = self.connection().await?;
        let changes = self.write(conn, scope, plan).await?;
        tracing::debug!(
            added = changes.added_entities.len(),
            deleted = changes.deleted_entities.len(),
            "graph plan applied"
        );
        Ok(changes)
    }

    async fn relations_near(
        &self,
        scope: &Scope,
        vectors: &[Vec<f32>],
        threshold: f64,
        limit: usize,
    ) -> Result<Vec<Relation>, StoreError> {
        let Some(dims) = vectors.first().map(Vec::len) else { return Ok(Vec::new()) };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.connection().await?;
        let queries: Vec<BoltType> = vectors.iter().cloned().map(BoltType::from).collect();
        let statement = scoped(&self.statements.search_relations(scope), scope)
            .param("queries", queries)
            .param("dims", count_param(dims))
            .param("min_score", conn.scale.to_server(threshold))
            .param("limit", count_param(limit));
        let rows = within(self.deadlines.statement, "searching relations", fetch(&conn.graph, statement)).await?;
        rows.iter().map(relation_of).collect()
    }

    async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.connection().await?;
        let statement = scoped(&self.statements.list_relations(scope), scope).param("limit", count_param(limit));
        let rows = within(self.deadlines.statement, "listing relations", fetch(&conn.graph, statement)).await?;
        rows.iter().map(relation_of).collect()
    }

    async fn delete_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        let conn = self.connection().await?;
        loop {
            let statement = scoped(&self.statements.delete_scope_batch(scope), scope).param("batch", DELETE_BATCH);
            let rows =
                within(self.deadlines.statement, "deleting the scope's graph", fetch(&conn.graph, statement)).await?;
            let deleted: i64 = match rows.first() {
                Some(row) => column(row, "deleted")?,
                None => 0,
            };
            if deleted < DELETE_BATCH {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_scales_round_trip() {
        assert_eq!(CosineScale::Normalized.to_server(0.7), 0.85);
        assert!((CosineScale::Normalized.to_cosine(0.85) - 0.7).abs() < 1e-12);
        assert_eq!(CosineScale::Raw.to_server(0.7), 0.7);
    }
}
