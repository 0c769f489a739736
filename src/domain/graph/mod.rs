//! Graph memory: entities and the relations between them, and the pure logic of its use case —
//! the model calls and their readers ([`extraction`]), entity resolution ([`resolve`]), name and
//! relation rules ([`names`]) and the BM25 rerank of found relations ([`bm25`]). The app plans
//! with them (the graph memory use case of the app ring); a `GraphStore` only stores and looks up.

pub mod bm25;
pub mod extraction;
pub mod names;
pub mod resolve;

use serde::{Deserialize, Serialize};

/// Similarity at or above which an extracted entity is the same as an existing one (Mem0's default).
pub const DEFAULT_THRESHOLD: f64 = 0.7;

/// How graph memory decides, from its configuration block.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSettings {
    /// Cosine similarity at or above which two entity names are the same entity.
    pub threshold: f64,
    /// An extra rule appended to the extraction instructions.
    pub custom_prompt: Option<String>,
}

impl Default for GraphSettings {
    fn default() -> Self {
        Self { threshold: DEFAULT_THRESHOLD, custom_prompt: None }
    }
}

/// A relation between two entities, as search results show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Relation {
    /// The source entity's name.
    pub source: String,
    /// The relationship type (normalized, e.g. `works_at`).
    pub relationship: String,
    /// The destination entity's name.
    pub destination: String,
}

/// What a graph add changed, as Mem0 reports it in `relations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphChanges {
    /// Relations written.
    pub added_entities: Vec<Relation>,
    /// Relations removed because new facts contradict them.
    pub deleted_entities: Vec<Relation>,
}

/// A stored relation a new text contradicts, named as the store keeps it (each end with the key
/// of the scope that owns it), so removing it later needs no model call and no lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRelation {
    /// The source entity's name.
    pub source: String,
    /// The key of the scope owning the source node.
    pub source_scope: String,
    /// The relationship type as the store writes it (its safe identifier).
    pub relation_type: String,
    /// The relationship as read (e.g. `works_at`).
    pub relationship: String,
    /// The destination entity's name.
    pub destination: String,
    /// The key of the scope owning the destination node.
    pub destination_scope: String,
}

impl StoredRelation {
    /// The relation as search results show it.
    pub fn relation(&self) -> Relation {
        Relation {
            source: self.source.clone(),
            relationship: self.relationship.clone(),
            destination: self.destination.clone(),
        }
    }
}

/// An entity node a merge may create: its type and the embedding of its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedNode {
    /// The entity's (canonical) name.
    pub name: String,
    /// Its type (e.g. `person`).
    pub entity_type: String,
    /// The embedding of its name.
    pub embedding: Vec<f32>,
}

/// A graph write decided and ready to apply: every model call and lookup is done, so the journal
/// can keep it and applying it again changes nothing more (merges by name, removals of what is
/// already gone do nothing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphPlan {
    /// Relations to remove because the new text contradicts them.
    pub remove: Vec<StoredRelation>,
    /// Relations to merge into the scope's graph.
    pub merge: Vec<Relation>,
    /// The nodes the merges may create.
    pub nodes: Vec<PlannedNode>,
    /// Model calls spent deciding it.
    pub llm_calls: u32,
}

impl GraphPlan {
    /// True when applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.merge.is_empty()
    }
}
