//! Outbound port: turning credentials into connected backends.

use super::clock::{Clock, IdSource};
use super::{
    embedder::Embedder, graph_store::GraphBackend, history_store::HistoryStore, journal::WriteJournal, llm::Llm,
    reranker::Reranker, vector_store::VectorStore,
};
use crate::domain::credentials::CredentialSet;
use async_trait::async_trait;
use std::sync::Arc;

/// The backends one credential set configures.
#[derive(Clone)]
pub struct Backends {
    /// The chat model; `None` means adds store text as given (infer off).
    pub llm: Option<Arc<dyn Llm>>,
    /// The embedding model.
    pub embedder: Arc<dyn Embedder>,
    /// The vector store.
    pub vector_store: Arc<dyn VectorStore>,
    /// The history store.
    pub history: Arc<dyn HistoryStore>,
    /// The journal of accepted writes (kept beside the memories).
    pub journal: Arc<dyn WriteJournal>,
    /// Graph memory, when configured (it needs `llm`).
    pub graph: Option<GraphBackend>,
    /// The reranker, when configured.
    pub reranker: Option<Arc<dyn Reranker>>,
    /// The time stamped on memories and history rows.
    pub clock: Arc<dyn Clock>,
    /// The ids of new memories and history rows.
    pub ids: Arc<dyn IdSource>,
}

impl Backends {
    /// True when a model can be reached only while an inbound call is being handled (see
    /// [`Llm::bound_to_call`]): writes then run in the calling task even in async mode.
    pub fn bound_to_call(&self) -> bool {
        self.embedder.bound_to_call() || self.llm.as_ref().is_some_and(|llm| llm.bound_to_call())
    }
}

/// Why backends could not be built. Messages name the credential and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A config key is missing, unknown or of the wrong type.
    #[error("{field}: {message}")]
    Config {
        /// The credential (e.g. `local_llm_json`).
        field: &'static str,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The provider is not supported.
    #[error("{field}: unknown provider {provider:?}; supported providers are {supported}")]
    UnknownProvider {
        /// The credential.
        field: &'static str,
        /// The provider given.
        provider: String,
        /// The supported names, comma separated.
        supported: String,
    },
    /// A required block is missing.
    #[error("{field} is required")]
    Missing {
        /// The credential.
        field: &'static str,
    },
}

/// Builds backends from credentials (implemented by the adapters' factory).
#[async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// Builds (but does not yet contact) the backends a credential set describes.
    async fn build(&self, credentials: &CredentialSet) -> Result<Backends, BuildError>;
}
