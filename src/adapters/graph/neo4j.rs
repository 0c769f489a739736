//! Graph memory on a Bolt server (Neo4j 5, ArcadeDB's Bolt plugin) through `neo4rs`.
//!
//! An add costs one LLM call (entities and relations together), plus one more only when the
//! involved entities already have other relations (the contradiction check); Mem0 1.x makes three.
//! It makes one embedding call for all entity names, and writes in one Bolt transaction.

mod bolt;
pub mod config;
mod cypher;
pub mod prompts;
mod resolve;

pub use bolt::Deadlines;
pub use config::{from_block, Neo4jConfig};

use crate::adapters::graph::bm25;
use crate::adapters::graph::names::RelationType;
use crate::domain::graph::{GraphChanges, GraphPlan, PlannedNode, Relation, StoredRelation};
use crate::domain::scope::Scope;
use crate::ports::embedder::{EmbedPurpose, Embedder};
use crate::ports::graph_store::GraphStore;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm};
use crate::ports::store::StoreError;
use async_trait::async_trait;
use bolt::{column, fetch, fetch_in, within, within_retrying, STORE};
use cypher::{scoped, Statements, COSINE_PROBE};
use neo4rs::{query, BoltType, Graph};
use prompts::{ExtractedEntity, Extraction, Triple};
use resolve::Candidate;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Most existing relations shown to the contradiction check.
const MAX_INVOLVED_RELATIONS: i64 = 100;
/// Fewest candidate relations a search reranks.
const MIN_SEARCH_CANDIDATES: usize = 100;
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

/// Graph memory over Bolt.
pub struct Neo4jGraphStore {
    config: Neo4jConfig,
    statements: Statements,
    llm: Arc<dyn Llm>,
    embedder: Arc<dyn Embedder>,
    deadlines: Deadlines,
    connection: OnceCell<Connection>,
    llm_calls: AtomicU64,
}

impl Neo4jGraphStore {
    /// A store for a validated configuration. Nothing is contacted until the first call.
    pub fn new(config: Neo4jConfig, llm: Arc<dyn Llm>, embedder: Arc<dyn Embedder>) -> Self {
        let statements = Statements::new(&config.label).unwrap_or_else(|| {
            tracing::warn!(label = %config.label, "unsafe graph label ignored; using {}", config::DEFAULT_LABEL);
            Statements::default()
        });
        Self {
            config,
            statements,
            llm,
            embedder,
            deadlines: Deadlines::default(),
            connection: OnceCell::new(),
            llm_calls: AtomicU64::new(0),
        }
    }

    /// Replaces the default deadlines (5 s to connect, 30 s per statement or transaction).
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// LLM calls this store has made since it was built.
    pub fn llm_calls(&self) -> u64 {
        self.llm_calls.load(Ordering::Relaxed)
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

    async fn chat(&self, request: ChatRequest, purpose: &str) -> Result<ChatResponse, StoreError> {
        self.llm_calls.fetch_add(1, Ordering::Relaxed);
        self.llm.chat(request).await.map_err(|e| {
            let message = format!("the {purpose} call to the LLM failed: {e}");
            if e.is_transient() {
                StoreError::Unavailable { store: STORE, message }
            } else {
                StoreError::Rejected { store: STORE, message }
            }
        })
    }

    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, StoreError> {
        let vectors = self.embedder.embed(texts, purpose).await.map_err(|e| {
            let message = format!("embedding entity names failed: {e}");
            if e.is_transient() {
                StoreError::Unavailable { store: STORE, message }
            } else {
                StoreError::Rejected { store: STORE, message }
            }
        })?;
        let dims = self.embedder.dimensions();
        if vectors.len() != texts.len() || vectors.iter().any(|v| v.len() != dims) {
            return Err(StoreError::Rejected {
                store: STORE,
                message: format!(
                    "the embedder returned {} vectors for {} names (expected {dims} floats each)",
                    vectors.len(),
                    texts.len()
                ),
            });
        }
        Ok(vectors)
    }

    /// Existing nodes of exactly `scope` similar to each entity.
    async fn similar_nodes(
        &self,
        conn: &Connection,
        scope: &Scope,
        vectors: &[Vec<f32>],
    ) -> Result<Vec<Candidate>, StoreError> {
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
            .param("dims", count_param(self.embedder.dimensions()))
            .param("min_score", conn.scale.to_server(self.config.threshold));
        let rows = within(self.deadlines.statement, "finding similar entities", fetch(&conn.graph, statement)).await?;
        rows.iter()
            .map(|row| {
                let key: i64 = column(row, "key")?;
                Ok(Candidate {
                    key: usize::try_from(key).unwrap_or(usize::MAX),
                    name: column(row, "name")?,
                    score: conn.scale.to_cosine(column(row, "score")?),
                })
            })
            .collect()
    }

    /// Existing relations visible from `scope` that touch `names`, minus those being re-added.
    async fn involved_relations(
        &self,
        conn: &Connection,
        scope: &Scope,
        names: Vec<String>,
        adding: &[Triple],
    ) -> Result<Vec<StoredRelation>, StoreError> {
        let statement = scoped(&self.statements.involved_relations(scope), scope)
            .param("names", names)
            .param("limit", MAX_INVOLVED_RELATIONS);
        let rows =
            within(self.deadlines.statement, "reading existing relations", fetch(&conn.graph, statement)).await?;
        let key = scope.key();
        let mut stored = Vec::with_capacity(rows.len());
        for row in &rows {
            let relation = StoredRelation {
                source: column(row, "source")?,
                source_scope: column(row, "source_scope")?,
                relation_type: column(row, "type")?,
                relationship: column(row, "relationship")?,
                destination: column(row, "destination")?,
                destination_scope: column(row, "destination_scope")?,
            };
            let re_added = relation.source_scope == key
                && relation.destination_scope == key
                && adding.iter().any(|t| {
                    t.source == relation.source
                        && t.destination == relation.destination
                        && t.relation.cypher() == relation.relation_type
                });
            if !re_added {
                stored.push(relation);
            }
        }
        Ok(stored)
    }

    /// Asks the LLM which `existing` relations the new text contradicts.
    async fn contradicted(
        &self,
        text: &str,
        existing: Vec<StoredRelation>,
        adding: &[Triple],
    ) -> Result<Vec<StoredRelation>, StoreError> {
        let listed: Vec<(String, String, String)> =
            existing.iter().map(|r| (r.source.clone(), r.relationship.clone(), r.destination.clone())).collect();
        let request = prompts::deletion_request(text, &listed, adding);
        let response = self.chat(request, "graph contradiction check").await?;
        let picked = prompts::parse_deletions(&response, existing.len());
        Ok(existing.into_iter().enumerate().filter(|(i, _)| picked.contains(i)).map(|(_, r)| r).collect())
    }

    /// Deletes `doomed` and merges `adding` in one transaction (retried on a transient failure;
    /// repeating it changes nothing more).
    async fn write(
        &self,
        conn: &Connection,
        scope: &Scope,
        doomed: &[StoredRelation],
        adding: &[Triple],
        nodes: &HashMap<String, (String, Vec<f32>)>,
    ) -> Result<GraphChanges, StoreError> {
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
            for triple in adding {
                let (source_type, source_embedding) = nodes.get(&triple.source).cloned().unwrap_or_default();
                let (destination_type, destination_embedding) =
                    nodes.get(&triple.destination).cloned().unwrap_or_default();
                let statement = scoped(&self.statements.merge_relation(scope, &triple.relation), scope)
                    .param("source", triple.source.as_str())
                    .param("source_type", source_type)
                    .param("source_embedding", source_embedding)
                    .param("destination", triple.destination.as_str())
                    .param("destination_type", destination_type)
                    .param("destination_embedding", destination_embedding)
                    .param("relationship", triple.relation.display())
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

/// The type and embedding each written node gets when it is created: those of the entity
/// bearing the node's name, else of the first entity resolved to it.
fn node_properties(
    entities: &[ExtractedEntity],
    vectors: &[Vec<f32>],
    canonical: &[String],
) -> HashMap<String, (String, Vec<f32>)> {
    let mut nodes: HashMap<String, (String, Vec<f32>)> = HashMap::new();
    for ((entity, vector), name) in entities.iter().zip(vectors).zip(canonical) {
        if entity.name == *name || !nodes.contains_key(name) {
            nodes.insert(name.clone(), (entity.entity_type.clone(), vector.clone()));
        }
    }
    nodes
}

/// A count or index as a Bolt integer (saturating; counts here never come near `i64::MAX`).
fn count_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The entity the model uses for "I", "me", "my": the user id, as in Mem0 (`user` without one).
fn self_name(scope: &Scope) -> String {
    scope
        .user_id()
        .and_then(|id| crate::adapters::graph::names::entity_name(id.as_str()))
        .unwrap_or_else(|| "user".to_owned())
}

#[async_trait]
impl GraphStore for Neo4jGraphStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.connection().await.map(|_| ())
    }

    async fn plan(&self, text: &str, scope: &Scope) -> Result<GraphPlan, StoreError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(GraphPlan::default());
        }
        let conn = self.connection().await?;
        let request = prompts::extraction_request(text, &self_name(scope), self.config.custom_prompt.as_deref());
        let Extraction { entities, relations } =
            prompts::parse_extraction(&self.chat(request, "graph extraction").await?);
        let mut llm_calls = 1;
        if relations.is_empty() {
            tracing::debug!(llm_calls, "graph plan: no relations extracted");
            return Ok(GraphPlan { llm_calls, ..GraphPlan::default() });
        }
        let names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
        let vectors = self.embed(&names, EmbedPurpose::Add).await?;
        let found = self.similar_nodes(conn, scope, &vectors).await?;
        let canonical = resolve::canonical_names(&entities, &vectors, &found, self.config.threshold);
        let adding = resolve::rewrite(&relations, &entities, &canonical);
        let nodes = node_properties(&entities, &vectors, &canonical);
        let involved: BTreeSet<String> =
            adding.iter().flat_map(|t| [t.source.clone(), t.destination.clone()]).collect();
        let existing = self.involved_relations(conn, scope, involved.into_iter().collect(), &adding).await?;
        let remove = if existing.is_empty() {
            Vec::new()
        } else {
            llm_calls += 1;
            self.contradicted(text, existing, &adding).await?
        };
        let merge = adding
            .iter()
            .map(|t| Relation {
                source: t.source.clone(),
                relationship: t.relation.display().to_owned(),
                destination: t.destination.clone(),
            })
            .collect();
        let nodes = nodes
            .into_iter()
            .map(|(name, (entity_type, embedding))| PlannedNode { name, entity_type, embedding })
            .collect();
        tracing::debug!(llm_calls, merge = adding.len(), remove = remove.len(), "graph plan");
        Ok(GraphPlan { remove, merge, nodes, llm_calls })
    }

    async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, StoreError> {
        if plan.is_empty() {
            return Ok(GraphChanges::default());
        }
        let adding = plan
            .merge
            .iter()
            .map(|r| {
                let relation = RelationType::parse(&r.relationship).ok_or_else(|| StoreError::Corrupt {
                    store: STORE,
                    message: format!("the planned relationship {:?} is not a valid type", r.relationship),
                })?;
                Ok(Triple { source: r.source.clone(), relation, destination: r.destination.clone() })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let nodes: HashMap<String, (String, Vec<f32>)> =
            plan.nodes.iter().map(|n| (n.name.clone(), (n.entity_type.clone(), n.embedding.clone()))).collect();
        let conn = self.connection().await?;
        let changes = self.write(conn, scope, &plan.remove, &adding, &nodes).await?;
        tracing::debug!(
            added = changes.added_entities.len(),
            deleted = changes.deleted_entities.len(),
            "graph plan applied"
        );
        Ok(changes)
    }

    async fn search(&self, query_text: &str, scope: &Scope, limit: usize) -> Result<Vec<Relation>, StoreError> {
        let query_text = query_text.trim();
        if query_text.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let conn = self.connection().await?;
        let request = prompts::query_entities_request(query_text, &self_name(scope));
        let names = prompts::parse_query_entities(&self.chat(request, "graph query entity").await?);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let vectors = self.embed(&names, EmbedPurpose::Search).await?;
        let queries: Vec<BoltType> = vectors.into_iter().map(BoltType::from).collect();
        let statement = scoped(&self.statements.search_relations(scope), scope)
            .param("queries", queries)
            .param("dims", count_param(self.embedder.dimensions()))
            .param("min_score", conn.scale.to_server(self.config.threshold))
            .param("limit", count_param(limit.max(MIN_SEARCH_CANDIDATES)));
        let rows = within(self.deadlines.statement, "searching relations", fetch(&conn.graph, statement)).await?;
        let candidates: Vec<Relation> = rows.iter().map(relation_of).collect::<Result<_, _>>()?;
        let documents: Vec<Vec<String>> = candidates
            .iter()
            .map(|r| bm25::tokenize(&format!("{} {} {}", r.source, r.relationship, r.destination)))
            .collect();
        let scores = bm25::scores(&documents, &bm25::tokenize(query_text));
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        // Stable: equal BM25 scores keep the server's order (most similar entity first).
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        Ok(order.into_iter().take(limit).map(|i| candidates[i].clone()).collect())
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

    #[test]
    fn self_name_is_the_user() {
        assert_eq!(self_name(&Scope::parse(Some("Alice Smith"), None, None).unwrap()), "alice_smith");
        assert_eq!(self_name(&Scope::parse(None, Some("bot"), None).unwrap()), "user");
    }
}
