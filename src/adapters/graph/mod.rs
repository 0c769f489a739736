//! Graph stores: entities and relations per scope beside the vector memories.
//!
//! [`neo4j`] implements [`crate::ports::graph_store::GraphStore`] over Bolt; [`PROVIDERS`] is the
//! kind's registry table.

pub mod neo4j;

use crate::adapters::registry::{self, BuildContext, Provider};
use crate::domain::credentials::{self, ProviderBlock};
use crate::ports::backends::BuildError;
use crate::ports::graph_store::GraphBackend;
use crate::ports::llm::Llm;
use std::sync::Arc;

/// The graph kind's registry table. A graph store needs the configured chat model: entities and
/// relations are extracted with it.
pub const PROVIDERS: &[Provider<GraphBackend, Option<Arc<dyn Llm>>>] = &[Provider {
    names: &[neo4j::config::PROVIDER],
    keys: |_| neo4j::config::ALLOWED_KEYS.to_vec(),
    build: |b, _, llm| {
        require_llm(b, llm.as_ref())?;
        let config = neo4j::from_block(b)?;
        Ok(GraphBackend { settings: config.settings(), store: Arc::new(neo4j::Neo4jGraphStore::new(config)) })
    },
}];

/// The graph memory a `local_graph_db_json` block describes, over the configured chat model `llm`.
/// Nothing is contacted.
pub fn build_graph(
    block: &ProviderBlock,
    context: &BuildContext,
    llm: Option<Arc<dyn Llm>>,
) -> Result<GraphBackend, BuildError> {
    registry::build(PROVIDERS, block, context, llm)
}

/// Graph memory extracts entities with the LLM: without one the block is refused, naming it.
fn require_llm(block: &ProviderBlock, llm: Option<&Arc<dyn Llm>>) -> Result<(), BuildError> {
    match llm {
        Some(_) => Ok(()),
        None => Err(BuildError::Config {
            field: block.field,
            message: format!("graph memory extracts entities with the LLM: configure {} too", credentials::LLM),
        }),
    }
}
