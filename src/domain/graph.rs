//! Graph memory values: entities and the relations between them.

use serde::{Deserialize, Serialize};

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
