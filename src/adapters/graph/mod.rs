//! Graph memory adapters: entities and relations per scope beside the vector memories.
//!
//! [`neo4j`] implements [`crate::ports::graph_store::GraphStore`] over Bolt; [`names`] makes
//! model output safe for Cypher; [`bm25`] reranks the relations a search finds.

pub mod bm25;
pub mod names;
pub mod neo4j;
