//! The composition of backends from credentials: the one place that knows every adapter.
//!
//! - `local_llm_json` → a chat model, or none (adds then store text as given);
//! - `local_embedder_json` → an embedding model (required);
//! - `local_vector_db_json` → the vector store and, beside it, the history and the journal of
//!   accepted writes: in the same PostgreSQL database for `pgvector`, in SQLite files next to the
//!   store (or in the data directory) otherwise; no block = the embedded store in the data directory;
//! - `local_graph_db_json` → graph memory (needs an LLM);
//! - `local_reranker_json` → a reranker.

use crate::adapters::data_dir;
use crate::adapters::embedder::openai::{self as openai_embedder, OpenAiEmbedder};
use crate::adapters::graph::neo4j::{self, Neo4jGraphStore};
use crate::adapters::history::postgres::PostgresHistoryStore;
use crate::adapters::history::sqlite::SqliteHistoryStore;
use crate::adapters::journal::postgres::PostgresJournal;
use crate::adapters::journal::sqlite::SqliteJournal;
use crate::adapters::llm::openai::{self as openai_llm, OpenAiChat};
use crate::adapters::vector::embedded::{self, EmbeddedConfig, EmbeddedVectorStore};
use crate::adapters::vector::pgvector::{self, PgVectorStore};
use crate::domain::credentials::{self, CredentialSet, ProviderBlock};
use crate::ports::backends::{BackendFactory, Backends, BuildError};
use crate::ports::embedder::Embedder;
use crate::ports::graph_store::GraphStore;
use crate::ports::history_store::HistoryStore;
use crate::ports::journal::WriteJournal;
use crate::ports::llm::Llm;
use crate::ports::vector_store::VectorStore;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Vector store providers built here.
pub const VECTOR_PROVIDERS: &[&str] = &["pgvector", "embedded"];

/// Builds every backend the plugin supports.
#[derive(Debug, Clone)]
pub struct DefaultBackendFactory {
    data_dir: PathBuf,
}

impl DefaultBackendFactory {
    /// A factory keeping local files (embedded store, SQLite history and journals) under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into() }
    }

    /// A factory using `$MEM0_DIFY_DATA_DIR`, else `~/.mem0-dify`, else `./.mem0-dify`.
    pub fn from_env() -> Self {
        Self::new(data_dir::data_dir().unwrap_or_else(|| PathBuf::from(data_dir::DEFAULT_DIR_NAME)))
    }
}

/// The vector store with the history and journal kept beside it.
struct Storage {
    vector_store: Arc<dyn VectorStore>,
    history: Arc<dyn HistoryStore>,
    journal: Arc<dyn WriteJournal>,
}

#[async_trait]
impl BackendFactory for DefaultBackendFactory {
    async fn build(&self, credentials: &CredentialSet) -> Result<Backends, BuildError> {
        let llm = credentials.llm.as_ref().map(build_llm).transpose()?;
        let embedder = match &credentials.embedder {
            Some(block) => build_embedder(block)?,
            None => return Err(BuildError::Missing { field: credentials::EMBEDDER }),
        };
        let storage = self.storage(credentials.vector_store.as_ref())?;
        let graph = match &credentials.graph_store {
            Some(block) => Some(build_graph(block, llm.clone(), embedder.clone())?),
            None => None,
        };
        if let Some(block) = &credentials.reranker {
            return Err(unknown(block, &[]));
        }
        Ok(Backends {
            llm,
            embedder,
            vector_store: storage.vector_store,
            history: storage.history,
            journal: storage.journal,
            graph,
            reranker: None,
        })
    }
}

impl DefaultBackendFactory {
    fn storage(&self, block: Option<&ProviderBlock>) -> Result<Storage, BuildError> {
        let Some(block) = block else {
            return Ok(self.embedded(EmbeddedConfig::in_data_dir(&self.data_dir)));
        };
        match block.provider.as_str() {
            "pgvector" => {
                let config = pgvector::from_block(block)?;
                let store = PgVectorStore::connect(config)
                    .map_err(|e| BuildError::Config { field: block.field, message: e.to_string() })?;
                Ok(Storage {
                    history: Arc::new(PostgresHistoryStore::beside(&store)),
                    journal: Arc::new(PostgresJournal::beside(&store)),
                    vector_store: Arc::new(store),
                })
            }
            "embedded" => Ok(self.embedded(embedded::from_block_in(block, &self.data_dir)?)),
            _ => Err(unknown(block, VECTOR_PROVIDERS)),
        }
    }

    /// The embedded store; history and journal in SQLite files beside its file.
    fn embedded(&self, config: EmbeddedConfig) -> Storage {
        let dir = config.path.parent().map_or_else(|| self.data_dir.clone(), Path::to_path_buf);
        let journal = dir.join(format!("journal-embedded-{}.db", config.collection_name));
        Storage {
            history: Arc::new(SqliteHistoryStore::new(dir.join("history.db"))),
            journal: Arc::new(SqliteJournal::new(journal)),
            vector_store: Arc::new(EmbeddedVectorStore::new(config)),
        }
    }
}

/// The chat model of a `local_llm_json` block.
pub fn build_llm(block: &ProviderBlock) -> Result<Arc<dyn Llm>, BuildError> {
    if openai_llm::PROVIDERS.contains(&block.provider.as_str()) {
        return Ok(Arc::new(OpenAiChat::from_block(block)?));
    }
    Err(unknown(block, openai_llm::PROVIDERS))
}

/// The embedding model of a `local_embedder_json` block.
pub fn build_embedder(block: &ProviderBlock) -> Result<Arc<dyn Embedder>, BuildError> {
    if openai_embedder::PROVIDERS.contains(&block.provider.as_str()) {
        return Ok(Arc::new(OpenAiEmbedder::from_block(block)?));
    }
    Err(unknown(block, openai_embedder::PROVIDERS))
}

fn build_graph(
    block: &ProviderBlock,
    llm: Option<Arc<dyn Llm>>,
    embedder: Arc<dyn Embedder>,
) -> Result<Arc<dyn GraphStore>, BuildError> {
    if block.provider != "neo4j" {
        return Err(unknown(block, &["neo4j"]));
    }
    let llm = llm.ok_or_else(|| BuildError::Config {
        field: block.field,
        message: format!("graph memory extracts entities with the LLM: configure {} too", credentials::LLM),
    })?;
    Ok(Arc::new(Neo4jGraphStore::new(neo4j::from_block(block)?, llm, embedder)))
}

fn unknown(block: &ProviderBlock, supported: &[&str]) -> BuildError {
    BuildError::UnknownProvider {
        field: block.field,
        provider: block.provider.clone(),
        supported: if supported.is_empty() { "(none yet)".to_owned() } else { supported.join(", ") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn credentials(value: Value) -> CredentialSet {
        CredentialSet::from_map(value.as_object().unwrap()).unwrap()
    }

    async fn build_error(value: Value) -> String {
        let factory = DefaultBackendFactory::new(tempfile::tempdir().unwrap().path());
        match factory.build(&credentials(value)).await {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn unknown_providers_and_missing_blocks_are_named() {
        let embedder = json!({"provider": "openai", "config": {"api_key": "k"}});
        let err =
            build_error(json!({"local_embedder_json": embedder, "local_vector_db_json": {"provider": "milvus"}})).await;
        assert!(err.starts_with("local_vector_db_json: unknown provider \"milvus\""), "{err}");
        assert!(err.contains("pgvector"), "{err}");
        let err = build_error(json!({"local_llm_json": {"provider": "nope"}, "local_embedder_json": embedder})).await;
        assert!(err.starts_with("local_llm_json: unknown provider \"nope\""), "{err}");
        let err = build_error(json!({})).await;
        assert_eq!(err, "local_embedder_json is required");
        let graph =
            json!({"provider": "neo4j", "config": {"url": "bolt://127.0.0.1:1", "username": "u", "password": "p"}});
        let err = build_error(json!({"local_embedder_json": embedder, "local_graph_db_json": graph})).await;
        assert!(err.contains("configure local_llm_json"), "{err}");
    }

    #[tokio::test]
    async fn pgvector_gets_its_history_and_journal_in_the_same_database() {
        let factory = DefaultBackendFactory::new(tempfile::tempdir().unwrap().path());
        let set = credentials(json!({
            "local_llm_json": {"provider": "openai", "config": {"api_key": "k"}},
            "local_embedder_json": {"provider": "openai", "config": {"api_key": "k"}},
            "local_vector_db_json": {"provider": "pgvector", "config": {"dbname": "d", "user": "u", "password": "p"}}
        }));
        let backends = factory.build(&set).await.unwrap();
        assert!(backends.llm.is_some());
        assert_eq!(backends.vector_store.dimensions(), 1536);
    }
}
