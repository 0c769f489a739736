//! Graph stores: entities and relations per scope beside the vector memories.
//!
//! [`neo4j`] implements [`crate::ports::graph_store::GraphStore`] over Bolt.

pub mod neo4j;
