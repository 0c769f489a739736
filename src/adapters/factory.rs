//! The composition of backends from credentials: the one place that knows every adapter.
//!
//! - `local_llm_json` → a chat model, or none (adds then store text as given);
//! - `local_embedder_json` → an embedding model (required);
//! - `local_vector_db_json` → the vector store and, beside it, the history and the journal of
//!   accepted writes: in the same PostgreSQL database for `pgvector`, in SQLite files next to the
//!   store (or in the data directory) otherwise; no block = the embedded store in the data directory;
//! - `local_graph_db_json` → graph memory (needs an LLM);
//! - `local_reranker_json` → a reranker (`llm_reranker` uses the configured LLM unless it has its own).

use crate::adapters::data_dir;
use crate::adapters::graph::neo4j::{self, Neo4jGraphStore};
use crate::adapters::history::postgres::PostgresHistoryStore;
use crate::adapters::history::sqlite::SqliteHistoryStore;
use crate::adapters::journal::postgres::PostgresJournal;
use crate::adapters::journal::sqlite::SqliteJournal;
use crate::adapters::rerank::{self, llm_reranker};
use crate::adapters::system_clock::SystemClock;
use crate::adapters::vector;
use crate::adapters::vector::embedded::{self, EmbeddedConfig, EmbeddedVectorStore};
use crate::adapters::vector::pgvector::{self, PgVectorStore};
use crate::domain::credentials::{self, CredentialSet, ProviderBlock};
use crate::ports::backends::{BackendFactory, Backends, BuildError};
use crate::ports::embedder::Embedder;
use crate::ports::graph_store::GraphBackend;
use crate::ports::history_store::HistoryStore;
use crate::ports::journal::WriteJournal;
use crate::ports::vector_store::VectorStore;
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The chat model of a `local_llm_json` block: every provider of [`crate::adapters::llm`].
pub use crate::adapters::llm::build_llm;

/// The embedding model of a `local_embedder_json` block: every provider of [`crate::adapters::embedder`].
pub use crate::adapters::embedder::build_embedder;

/// Vector store providers built here (besides the hosted ones of [`vector::HOSTED_PROVIDERS`]).
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
            None => self.default_embedder()?,
        };
        let storage = self.storage(credentials.vector_store.as_ref(), embedder.dimensions())?;
        let graph = match &credentials.graph_store {
            Some(block) => Some(build_graph(block, llm.is_some())?),
            None => None,
        };
        let reranker = match &credentials.reranker {
            Some(block) => {
                let llm = match llm_reranker::own_llm_block(block)? {
                    Some(own) => Some(build_llm(&own)?),
                    None => llm.clone(),
                };
                Some(rerank::build_reranker(block, llm)?)
            }
            None => None,
        };
        Ok(Backends {
            llm,
            embedder,
            vector_store: storage.vector_store,
            history: storage.history,
            journal: storage.journal,
            graph,
            reranker,
            clock: Arc::new(SystemClock),
            ids: Arc::new(SystemClock),
        })
    }
}

impl DefaultBackendFactory {
    /// Without `local_embedder_json`: the in-process model from the data directory.
    #[cfg(feature = "local-embedder")]
    fn default_embedder(&self) -> Result<Arc<dyn Embedder>, BuildError> {
        use crate::adapters::embedder::local::{LocalEmbedder, LocalEmbedderConfig};
        Ok(Arc::new(LocalEmbedder::new(LocalEmbedderConfig::in_data_dir(&self.data_dir))))
    }

    /// Without `local_embedder_json` and without the in-process model compiled in: an error.
    #[cfg(not(feature = "local-embedder"))]
    fn default_embedder(&self) -> Result<Arc<dyn Embedder>, BuildError> {
        Err(BuildError::Missing { field: credentials::EMBEDDER })
    }

    /// The store a block describes (none: the embedded one). The embedded store's vectors have
    /// the embedder's size unless the block sets `embedding_model_dims`.
    fn storage(&self, block: Option<&ProviderBlock>, embedder_dims: usize) -> Result<Storage, BuildError> {
        let Some(block) = block else {
            let config =
                EmbeddedConfig { embedding_model_dims: embedder_dims, ..EmbeddedConfig::in_data_dir(&self.data_dir) };
            return Ok(self.embedded(config));
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
            "embedded" => {
                let mut config = embedded::from_block_in(block, &self.data_dir)?;
                if !block.config.contains_key("embedding_model_dims") {
                    config.embedding_model_dims = embedder_dims;
                }
                Ok(self.embedded(config))
            }
            provider => match vector::build_hosted_store(block) {
                Some(store) => Ok(self.hosted(provider, store?, block)),
                None => Err(unknown(block, &[VECTOR_PROVIDERS, vector::HOSTED_PROVIDERS].concat())),
            },
        }
    }

    /// A hosted store; history and journal in SQLite files in the data directory.
    fn hosted(&self, provider: &str, store: Arc<dyn VectorStore>, block: &ProviderBlock) -> Storage {
        let collection = block.config.get("collection_name").and_then(|v| v.as_str()).unwrap_or("mem0");
        let safe: String =
            collection.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        Storage {
            history: Arc::new(SqliteHistoryStore::new(self.data_dir.join("history.db"))),
            journal: Arc::new(SqliteJournal::new(self.data_dir.join(format!("journal-{provider}-{safe}.db")))),
            vector_store: store,
        }
    }

    /// The embedded store; history and journal in SQLite files beside its file.
    fn embedded(&self, config: EmbeddedConfig) -> Storage {
        let dir = config.path.parent().map_or_else(|| self.data_dir.clone(), Path::to_path_buf);
        let journal = dir.join(config.journal_file_name());
        Storage {
            history: Arc::new(SqliteHistoryStore::new(dir.join("history.db"))),
            journal: Arc::new(SqliteJournal::new(journal)),
            vector_store: Arc::new(EmbeddedVectorStore::new(config)),
        }
    }
}

fn build_graph(block: &ProviderBlock, llm_configured: bool) -> Result<GraphBackend, BuildError> {
    if block.provider != "neo4j" {
        return Err(unknown(block, &["neo4j"]));
    }
    if !llm_configured {
        return Err(BuildError::Config {
            field: block.field,
            message: format!("graph memory extracts entities with the LLM: configure {} too", credentials::LLM),
        });
    }
    let config = neo4j::from_block(block)?;
    Ok(GraphBackend { settings: config.settings(), store: Arc::new(Neo4jGraphStore::new(config)) })
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
        assert!(err.contains("pgvector") && err.contains("pinecone"), "{err}");
        let err = build_error(json!({"local_embedder_json": embedder, "local_reranker_json": {"provider": "x"}})).await;
        assert!(err.starts_with("local_reranker_json: unknown provider \"x\""), "{err}");
        let err = build_error(json!({"local_llm_json": {"provider": "nope"}, "local_embedder_json": embedder})).await;
        assert!(err.starts_with("local_llm_json: unknown provider \"nope\""), "{err}");
        let graph =
            json!({"provider": "neo4j", "config": {"url": "bolt://127.0.0.1:1", "username": "u", "password": "p"}});
        let err = build_error(json!({"local_embedder_json": embedder, "local_graph_db_json": graph})).await;
        assert!(err.contains("configure local_llm_json"), "{err}");
    }

    #[tokio::test]
    async fn no_credentials_mean_the_zero_setup_defaults() {
        let factory = DefaultBackendFactory::new(tempfile::tempdir().unwrap().path());
        let built = factory.build(&credentials(json!({}))).await;
        if cfg!(feature = "local-embedder") {
            let backends = built.unwrap_or_else(|e| panic!("{e}"));
            assert!(backends.llm.is_none() && backends.graph.is_none() && backends.reranker.is_none());
            assert_eq!(backends.vector_store.dimensions(), 384);
            assert_eq!(backends.embedder.dimensions(), 384);
        } else {
            assert_eq!(built.err().unwrap().to_string(), "local_embedder_json is required");
        }
    }

    #[tokio::test]
    async fn the_embedded_store_takes_the_embedders_size_unless_told_otherwise() {
        let factory = DefaultBackendFactory::new(tempfile::tempdir().unwrap().path());
        let embedder = json!({"provider": "openai", "config": {"api_key": "k", "embedding_dims": 256}});
        for (store, expected) in [
            (json!(null), 256),
            (json!({"provider": "embedded", "config": {}}), 256),
            (json!({"provider": "embedded", "config": {"embedding_model_dims": 128}}), 128),
        ] {
            let mut set = json!({"local_embedder_json": embedder});
            if !store.is_null() {
                set["local_vector_db_json"] = store.clone();
            }
            let backends = factory.build(&credentials(set)).await.unwrap();
            assert_eq!(backends.vector_store.dimensions(), expected, "{store}");
        }
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
