//! Embeddings through an Azure OpenAI deployment: OpenAI's `/embeddings` wire format (shared with
//! [`super::openai`]) at `{azure_endpoint}/openai/deployments/{deployment}/embeddings?api-version=…`
//! with an `api-key` header.
//!
//! Config keys are Mem0's: `model` (default `text-embedding-3-small`; the deployment defaults to it),
//! `embedding_dims` (default 1536; sent as `dimensions` to `text-embedding-3*` models when set),
//! `azure_kwargs` (`api_key`, `azure_deployment`, `azure_endpoint`, `api_version`, `default_headers`,
//! falling back to `EMBEDDING_AZURE_OPENAI_API_KEY`, `EMBEDDING_AZURE_DEPLOYMENT`,
//! `EMBEDDING_AZURE_ENDPOINT`, `EMBEDDING_AZURE_API_VERSION`), `http_client_proxies`; ours: `batch_size`
//! (default 100), `timeout`, `max_retries`. Newlines become spaces, as in Mem0.

use super::base::{allowed_keys, BaseKeys};
use super::openai::{takes_dimensions, OpenAiEmbedder, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE};
use crate::adapters::config::{check_keys, config_error, HttpKeys};
use crate::adapters::http::{join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::azure::{AzureDeployment, Component, KWARGS_KEY};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["azure_openai"];
/// The model (and deployment) when `model` is not set.
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";
/// The vector size when `embedding_dims` is not set.
pub const DEFAULT_DIMS: usize = 1536;

/// An embedding model deployed on Azure OpenAI.
#[derive(Debug)]
pub struct AzureOpenAiEmbedder {
    inner: OpenAiEmbedder,
}

impl AzureOpenAiEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let model = keys.model_or(DEFAULT_MODEL);
        let deployment = AzureDeployment::from_block(block, Component::Embedder, keys.api_key.as_ref(), &model, env)?;
        let http =
            HttpClient::new("azure openai embeddings", &settings).map_err(|e| config_error(block, e.to_string()))?;
        let inner = OpenAiEmbedder {
            provider: PROVIDERS[0],
            url: join_url(&deployment.base_url, &deployment.path("embeddings")),
            http: deployment.register_secrets(http),
            headers: deployment.headers,
            send_dimensions: keys.embedding_dims.is_some() && takes_dimensions(&model),
            dims: keys.embedding_dims.unwrap_or(DEFAULT_DIMS),
            model,
            batch_size: keys.batch_size(block, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE)?,
            flatten_newlines: true,
            encoding_format: true,
        };
        Ok(Self { inner })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(self, retry: RetryPolicy) -> Self {
        Self { inner: self.inner.with_retry_policy(retry) }
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        self.inner.url()
    }
}

#[async_trait]
impl Embedder for AzureOpenAiEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed(texts, purpose).await
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    allowed_keys(&[KWARGS_KEY])
}
