//! Graph memory's use case over a [`GraphStore`]: what a text changes in a scope's graph (a
//! [`GraphPlan`], decided with the model and the embedder, then applied by the store), and which
//! relations answer a query.
//!
//! An add costs one model call (entities and relations together), plus one more only when the
//! involved entities already have other relations (the contradiction check); Mem0 1.x makes
//! three. It makes one embedding call for all entity names.

use crate::domain::graph::extraction::{self, ExtractedEntity, Extraction, GraphPrompt, ModelAnswer, Triple};
use crate::domain::graph::names::entity_name;
use crate::domain::graph::StoredRelation;
use crate::domain::graph::{bm25, resolve, GraphChanges, GraphPlan, GraphSettings, PlannedNode, Relation};
use crate::domain::scope::Scope;
use crate::ports::embedder::{EmbedPurpose, Embedder};
use crate::ports::graph_store::{GraphBackend, GraphError, GraphStore};
use crate::ports::llm::{ChatMessage, ChatRequest, ChatResponse, Llm};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Most existing relations shown to the contradiction check.
const MAX_INVOLVED_RELATIONS: usize = 100;
/// Fewest candidate relations a search reranks.
const MIN_SEARCH_CANDIDATES: usize = 100;

/// Graph memory: a store, the model and embedder that decide for it, and its settings.
#[derive(Clone)]
pub struct GraphMemory {
    store: Arc<dyn GraphStore>,
    settings: GraphSettings,
    llm: Arc<dyn Llm>,
    embedder: Arc<dyn Embedder>,
}

impl GraphMemory {
    /// Graph memory over `backend`, deciding with `llm` and `embedder`.
    pub fn new(backend: GraphBackend, llm: Arc<dyn Llm>, embedder: Arc<dyn Embedder>) -> Self {
        Self { store: backend.store, settings: backend.settings, llm, embedder }
    }

    /// The store.
    pub fn store(&self) -> &dyn GraphStore {
        self.store.as_ref()
    }

    /// Decides what `text` changes in the scope's graph: model calls, embeddings and reads, no
    /// write, so the decision can be journaled and applied, again if need be, without asking the
    /// model twice.
    pub async fn plan(&self, text: &str, scope: &Scope) -> Result<GraphPlan, GraphError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(GraphPlan::default());
        }
        // A store that is down costs no model call.
        self.store.ensure_ready().await?;
        let prompt = extraction::extraction_prompt(text, &self_name(scope), self.settings.custom_prompt.as_deref());
        let Extraction { entities, relations } =
            extraction::parse_extraction(&answer(&self.chat(prompt, "graph extraction").await?));
        let mut llm_calls = 1;
        if relations.is_empty() {
            tracing::debug!(llm_calls, "graph plan: no relations extracted");
            return Ok(GraphPlan { llm_calls, ..GraphPlan::default() });
        }
        let names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
        let vectors = self.embed(&names, EmbedPurpose::Add).await?;
        let threshold = self.settings.threshold;
        let found = self.store.similar_entities(scope, &vectors, threshold).await?;
        let canonical = resolve::canonical_names(&entities, &vectors, &found, threshold);
        let adding = resolve::rewrite(&relations, &entities, &canonical);
        let involved: Vec<String> = adding
            .iter()
            .flat_map(|t| [t.source.clone(), t.destination.clone()])
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let existing = self.store.relations_touching(scope, &involved, MAX_INVOLVED_RELATIONS).await?;
        let existing = not_re_added(existing, scope, &adding);
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
        let nodes = planned_nodes(&entities, &vectors, &canonical);
        tracing::debug!(llm_calls, merge = adding.len(), remove = remove.len(), "graph plan");
        Ok(GraphPlan { remove, merge, nodes, llm_calls })
    }

    /// Applies a plan (see [`GraphStore::apply`]).
    pub async fn apply(&self, plan: &GraphPlan, scope: &Scope) -> Result<GraphChanges, GraphError> {
        Ok(self.store.apply(plan, scope).await?)
    }

    /// Extracts entities and relations from `text` and merges them into the scope's graph
    /// ([`Self::plan`] then [`Self::apply`]).
    pub async fn add(&self, text: &str, scope: &Scope) -> Result<GraphChanges, GraphError> {
        let plan = self.plan(text, scope).await?;
        self.apply(&plan, scope).await
    }

    /// The scope's relations most relevant to the query: the entities the model finds in it,
    /// the relations of similar entities, reranked by BM25 against the query.
    pub async fn search(&self, query: &str, scope: &Scope, limit: usize) -> Result<Vec<Relation>, GraphError> {
        let query = query.trim();
        if query.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        self.store.ensure_ready().await?;
        let prompt = extraction::query_entities_prompt(query, &self_name(scope));
        let names = extraction::parse_query_entities(&answer(&self.chat(prompt, "graph query entity").await?));
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let vectors = self.embed(&names, EmbedPurpose::Search).await?;
        let candidates = self
            .store
            .relations_near(scope, &vectors, self.settings.threshold, limit.max(MIN_SEARCH_CANDIDATES))
            .await?;
        let documents: Vec<Vec<String>> = candidates
            .iter()
            .map(|r| bm25::tokenize(&format!("{} {} {}", r.source, r.relationship, r.destination)))
            .collect();
        let scores = bm25::scores(&documents, &bm25::tokenize(query));
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        // Stable: equal BM25 scores keep the store's order (most similar entity first).
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        Ok(order.into_iter().take(limit).map(|i| candidates[i].clone()).collect())
    }

    /// The scope's relations.
    pub async fn list(&self, scope: &Scope, limit: usize) -> Result<Vec<Relation>, GraphError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(self.store.list(scope, limit).await?)
    }

    /// Removes the scope's nodes and relations, and nothing else.
    pub async fn delete_scope(&self, scope: &Scope) -> Result<(), GraphError> {
        Ok(self.store.delete_scope(scope).await?)
    }

    /// Asks the model which `existing` relations the new text contradicts.
    async fn contradicted(
        &self,
        text: &str,
        existing: Vec<StoredRelation>,
        adding: &[Triple],
    ) -> Result<Vec<StoredRelation>, GraphError> {
        let listed: Vec<(String, String, String)> =
            existing.iter().map(|r| (r.source.clone(), r.relationship.clone(), r.destination.clone())).collect();
        let prompt = extraction::deletion_prompt(text, &listed, adding);
        let response = self.chat(prompt, "graph contradiction check").await?;
        let picked = extraction::parse_deletions(&answer(&response), existing.len());
        Ok(existing.into_iter().enumerate().filter(|(i, _)| picked.contains(i)).map(|(_, r)| r).collect())
    }

    async fn chat(&self, prompt: GraphPrompt, purpose: &'static str) -> Result<ChatResponse, GraphError> {
        let request = ChatRequest {
            messages: vec![ChatMessage::system(prompt.system), ChatMessage::user(prompt.user)],
            tools: vec![prompt.tool],
            ..ChatRequest::default()
        };
        self.llm.chat(request).await.map_err(|cause| GraphError::Model { purpose, cause })
    }

    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, GraphError> {
        let vectors = self.embedder.embed(texts, purpose).await.map_err(GraphError::Embedder)?;
        let dims = self.embedder.dimensions();
        if vectors.len() != texts.len() || vectors.iter().any(|v| v.len() != dims) {
            return Err(GraphError::EmbeddingShape { got: vectors.len(), names: texts.len(), dims });
        }
        Ok(vectors)
    }
}

fn answer(response: &ChatResponse) -> ModelAnswer<'_> {
    ModelAnswer { content: response.content.as_deref(), tool_calls: &response.tool_calls }
}

/// The existing relations minus those the add writes again (same ends in the scope, same type).
fn not_re_added(existing: Vec<StoredRelation>, scope: &Scope, adding: &[Triple]) -> Vec<StoredRelation> {
    let key = scope.key();
    existing
        .into_iter()
        .filter(|relation| {
            let re_added = relation.source_scope == key
                && relation.destination_scope == key
                && adding.iter().any(|t| {
                    t.source == relation.source
                        && t.destination == relation.destination
                        && t.relation.cypher() == relation.relation_type
                });
            !re_added
        })
        .collect()
}

/// The type and embedding each written node gets when it is created: those of the entity
/// bearing the node's name, else of the first entity resolved to it.
fn planned_nodes(entities: &[ExtractedEntity], vectors: &[Vec<f32>], canonical: &[String]) -> Vec<PlannedNode> {
    let mut nodes: Vec<PlannedNode> = Vec::new();
    for ((entity, vector), name) in entities.iter().zip(vectors).zip(canonical) {
        let node =
            PlannedNode { name: name.clone(), entity_type: entity.entity_type.clone(), embedding: vector.clone() };
        match nodes.iter().position(|n| n.name == *name) {
            Some(i) if entity.name == *name => nodes[i] = node,
            Some(_) => {}
            None => nodes.push(node),
        }
    }
    nodes
}

/// The entity the model uses for "I", "me", "my": the user id, as in Mem0 (`user` without one).
fn self_name(scope: &Scope) -> String {
    scope.user_id().and_then(|id| entity_name(id.as_str())).unwrap_or_else(|| "user".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_name_is_the_user() {
        assert_eq!(self_name(&Scope::parse(Some("Alice Smith"), None, None).unwrap()), "alice_smith");
        assert_eq!(self_name(&Scope::parse(None, Some("bot"), None).unwrap()), "user");
    }

    #[test]
    fn a_node_takes_the_type_of_the_entity_bearing_its_name() {
        let entity =
            |name: &str, entity_type: &str| ExtractedEntity { name: name.into(), entity_type: entity_type.into() };
        let entities = [entity("alicia", "nickname"), entity("alice", "person"), entity("paris", "city")];
        let vectors = [vec![1.0], vec![2.0], vec![3.0]];
        let canonical = ["alice".to_owned(), "alice".to_owned(), "paris".to_owned()];
        let nodes = planned_nodes(&entities, &vectors, &canonical);
        let got: Vec<_> = nodes.iter().map(|n| (n.name.as_str(), n.entity_type.as_str(), n.embedding[0])).collect();
        assert_eq!(got, [("alice", "person", 2.0), ("paris", "city", 3.0)]);
    }
}
