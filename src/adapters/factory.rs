//! The composition of backends from credentials: a walk over the registry tables of every kind,
//! in dependency order (see [`crate::adapters::registry`]).
//!
//! - `local_llm_json` → a chat model ([`llm::PROVIDERS`]), or none (adds then store text as given);
//! - `local_embedder_json` → an embedding model ([`embedder::PROVIDERS`]); no block = the local model;
//! - `local_vector_db_json` → the vector store and, beside it, the history and the journal of
//!   accepted writes ([`storage::PROVIDERS`]); no block = the embedded store in the data directory;
//! - `local_graph_db_json` → graph memory ([`graph::PROVIDERS`], needs an LLM);
//! - `local_reranker_json` → a reranker ([`rerank::PROVIDERS`]; `llm_reranker` uses the configured
//!   LLM unless it has its own).

use crate::adapters::registry::BuildContext;
use crate::adapters::rerank::llm_reranker;
use crate::adapters::system_clock::SystemClock;
use crate::adapters::{embedder, graph, llm, rerank, storage};
use crate::domain::credentials::CredentialSet;
use crate::ports::backends::{BackendFactory, Backends, BuildError};
use crate::ports::embedder::Embedder;
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Arc;

/// Builds every backend the plugin supports, with one [`BuildContext`].
#[derive(Debug, Clone)]
pub struct DefaultBackendFactory {
    context: BuildContext,
}

impl DefaultBackendFactory {
    /// A factory building with `context` (the composition root's).
    pub fn with_context(context: BuildContext) -> Self {
        Self { context }
    }

    /// A factory keeping local files (embedded store, SQLite history and journals) under
    /// `data_dir`, with an empty environment: no variable fills in a missing key (tests use it).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self::with_context(BuildContext::new(Default::default(), data_dir))
    }
}

#[async_trait]
impl BackendFactory for DefaultBackendFactory {
    async fn build(&self, credentials: &CredentialSet) -> Result<Backends, BuildError> {
        let context = &self.context;
        let llm = credentials.llm.as_ref().map(|block| llm::build_llm(block, context)).transpose()?;
        let embedder = match &credentials.embedder {
            Some(block) => embedder::build_embedder(block, context)?,
            None => self.default_embedder()?,
        };
        let storage = match &credentials.vector_store {
            Some(block) => storage::build_storage(block, context, embedder.dimensions())?,
            None => storage::default_storage(context, embedder.dimensions()),
        };
        let graph = match &credentials.graph_store {
            Some(block) => Some(graph::build_graph(block, context, llm.clone())?),
            None => None,
        };
        let reranker = match &credentials.reranker {
            Some(block) => {
                let llm = match llm_reranker::own_llm_block(block)? {
                    Some(own) => Some(llm::build_llm(&own, context)?),
                    None => llm.clone(),
                };
                Some(rerank::build_reranker(block, context, llm)?)
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
        Ok(Arc::new(LocalEmbedder::new(LocalEmbedderConfig::in_data_dir(self.context.data_dir()))))
    }

    /// Without `local_embedder_json` and without the in-process model compiled in: an error.
    #[cfg(not(feature = "local-embedder"))]
    fn default_embedder(&self) -> Result<Arc<dyn Embedder>, BuildError> {
        Err(BuildError::Missing { field: crate::domain::credentials::EMBEDDER })
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
    async fn fallbacks_and_the_data_dir_come_from_the_context_only() {
        use crate::adapters::registry::Environment;
        let dir = tempfile::tempdir().unwrap();
        let set = credentials(json!({
            "local_llm_json": {"provider": "openai"},
            "local_embedder_json": {"provider": "openai", "config": {"api_key": "k", "embedding_dims": 8}},
            "local_vector_db_json": {"provider": "embedded", "config": {"path": "sub/m.db"}}
        }));
        let without = DefaultBackendFactory::new(dir.path()).build(&set).await.err().unwrap().to_string();
        assert!(without.contains("api_key is required") && without.contains("OPENAI_API_KEY"), "{without}");
        let env = Environment::from_pairs([("OPENAI_API_KEY", "sk-from-context")]);
        let factory = DefaultBackendFactory::with_context(BuildContext::new(env, dir.path()));
        let backends = factory.build(&set).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(backends.llm.is_some());
        assert_eq!(backends.vector_store.dimensions(), 8);
        let outside = credentials(json!({
            "local_embedder_json": {"provider": "openai", "config": {"api_key": "k"}},
            "local_vector_db_json": {"provider": "embedded", "config": {"path": "../m.db"}}
        }));
        let err = factory.build(&outside).await.err().unwrap().to_string();
        assert!(err.contains(&format!("inside the data directory {}", dir.path().display())), "{err}");
    }

    /// The error every entry gives for a key it does not accept, with the keys its table lists.
    fn unknown_key_error(field: &str, provider: &str, keys: &[&str]) -> String {
        format!("{field}: unknown key \"bogus_key\" for provider \"{provider}\"; allowed keys are {}", keys.join(", "))
    }

    #[test]
    fn every_table_entry_lists_the_keys_its_adapter_accepts() {
        use crate::adapters::config::test_block;
        use crate::adapters::registry::{Environment, Provider};
        use crate::domain::credentials::{EMBEDDER, GRAPH_STORE, LLM, RERANKER, VECTOR_STORE};
        let dir = tempfile::tempdir().unwrap();
        let ctx = BuildContext::new(Environment::default(), dir.path());
        fn check<T, N: Clone>(field: &'static str, table: &[Provider<T, N>], ctx: &BuildContext, needs: N) {
            for entry in table {
                for name in entry.names {
                    let keys = (entry.keys)(name);
                    assert!(!keys.is_empty() && !keys.contains(&"bogus_key"), "{field} {name}: {keys:?}");
                    let block = test_block(field, name, json!({"bogus_key": 1}));
                    let err = match (entry.build)(&block, ctx, needs.clone()) {
                        Ok(_) => panic!("{field} {name}: an unknown key was accepted"),
                        Err(e) => e.to_string(),
                    };
                    assert_eq!(err, unknown_key_error(field, name, &keys), "{field} {name}");
                }
            }
        }
        check(LLM, llm::PROVIDERS, &ctx, ());
        check(EMBEDDER, &[embedder::PROVIDERS, embedder::LOCAL].concat(), &ctx, ());
        check(VECTOR_STORE, storage::PROVIDERS, &ctx, 8);
        let chat = llm::build_llm(&test_block(LLM, "openai", json!({"api_key": "k"})), &ctx).unwrap();
        check(GRAPH_STORE, graph::PROVIDERS, &ctx, Some(chat.clone()));
        check(RERANKER, rerank::PROVIDERS, &ctx, Some(chat));
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
