//! Embeddings through Vertex AI's `predict` for Google's text embedding models, authenticated with a
//! service account's OAuth token.
//!
//! Config keys are Mem0's: `model` (default `gemini-embedding-001`), `embedding_dims` (default 256;
//! sent as `outputDimensionality`), `vertex_credentials_json` (the path of a service account key file
//! as in Mem0, or here also the key's JSON itself; else `GOOGLE_APPLICATION_CREDENTIALS`), and the task
//! type per purpose (`memory_add_embedding_type` / `memory_update_embedding_type`, default
//! `RETRIEVAL_DOCUMENT`; `memory_search_embedding_type`, default `RETRIEVAL_QUERY`),
//! `http_client_proxies`. Ours: `project` (else the key's `project_id`, else `GOOGLE_CLOUD_PROJECT`),
//! `location` (else `GOOGLE_CLOUD_LOCATION`, else `us-central1`), `vertexai_base_url`, `batch_size`
//! (default 1 for `gemini-embedding*` models, which take one text per request, else 100; at most 250),
//! `timeout`, `max_retries`. `api_key` is refused: Vertex AI is reached with the service account.

use super::base::{allowed_keys, in_batches, BaseKeys, TaskTypes, TASK_TYPE_KEYS};
use crate::adapters::config::{check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::google::{Vertex, VERTEX_KEYS};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["vertexai"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "gemini-embedding-001";
/// Mem0's default size.
pub const DEFAULT_DIMS: usize = 256;
/// The most texts one request takes (older text embedding models).
pub const MAX_BATCH_SIZE: usize = 250;

/// A Vertex AI text embedding model.
#[derive(Debug)]
pub struct VertexAiEmbedder {
    vertex: Vertex,
    url: String,
    model: String,
    dims: usize,
    task_types: TaskTypes,
    batch_size: usize,
    http: HttpClient,
}

#[derive(Deserialize)]
struct Answer {
    predictions: Vec<Prediction>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: Values,
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

impl VertexAiEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. The key file
    /// is read now; nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        if keys.api_key.is_some() {
            return Err(config_error(
                block,
                "api_key is not used by provider \"vertexai\": it signs in with the service account of \
                 vertex_credentials_json",
            ));
        }
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let vertex = Vertex::from_block(block, &settings, env)?;
        let model = keys.model_or(DEFAULT_MODEL);
        let default_batch = if model.starts_with("gemini-embedding") { 1 } else { 100 };
        let http = HttpClient::new("vertex ai embed", &settings).map_err(|e| config_error(block, e.to_string()))?;
        Ok(Self {
            url: vertex.model_url(&model, "predict"),
            http: vertex.register_secret(http),
            vertex,
            dims: keys.embedding_dims.unwrap_or(DEFAULT_DIMS),
            task_types: TaskTypes::from_block(block, TaskTypes::retrieval())?,
            batch_size: keys.batch_size(block, default_batch, MAX_BATCH_SIZE)?,
            model,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs), the token exchange's included.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self.vertex = self.vertex.with_retry(retry);
        self
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn embed_chunk(&self, texts: &[String], task_type: Option<&str>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let instances: Vec<Value> = texts
            .iter()
            .map(|text| match task_type {
                Some(task_type) => json!({"content": text, "task_type": task_type}),
                None => json!({"content": text}),
            })
            .collect();
        let body = json!({"instances": instances, "parameters": {"outputDimensionality": self.dims}});
        let headers = self.vertex.auth_headers().await?;
        let answer: Answer = self.http.post_json(&self.url, &headers, &body).await?;
        Ok(answer.predictions.into_iter().map(|p| p.embeddings.values).collect())
    }
}

#[async_trait]
impl Embedder for VertexAiEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let task_type = self.task_types.for_purpose(purpose);
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk, task_type)).await?;
        tracing::debug!(provider = "vertexai", model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    let extra: Vec<&str> = VERTEX_KEYS.iter().chain(TASK_TYPE_KEYS).copied().collect();
    allowed_keys(&extra)
}
