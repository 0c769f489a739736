//! Embeddings through the Gemini API's `batchEmbedContents` (`x-goog-api-key`), up to 100 texts per request.
//!
//! Config keys are Mem0's: `model` (default `models/gemini-embedding-001`), `embedding_dims`, else
//! `output_dimensionality`, else 768 (sent as `outputDimensionality`), `api_key` (else `GOOGLE_API_KEY`,
//! then `GEMINI_API_KEY`), `memory_add_embedding_type` / `memory_update_embedding_type` /
//! `memory_search_embedding_type` (sent as `taskType` when set; Mem0 uses them for Vertex AI only),
//! `http_client_proxies`; ours: `gemini_base_url` (else `GOOGLE_GEMINI_BASE_URL`), `batch_size`
//! (default and most 100), `timeout`, `max_retries`. Newlines become spaces, as in Mem0.

use super::base::{allowed_keys, flatten_newlines, in_batches, BaseKeys, TaskTypes, TASK_TYPE_KEYS};
use crate::adapters::config::{self, check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::google::{resource_name, GeminiApi, GEMINI_BASE_URL_KEY};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["gemini"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "models/gemini-embedding-001";
/// Mem0's default size.
pub const DEFAULT_DIMS: usize = 768;
/// The most texts one `batchEmbedContents` request takes.
pub const MAX_BATCH_SIZE: usize = 100;

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    output_dimensionality: Option<usize>,
}

/// A Gemini embedding model.
#[derive(Debug)]
pub struct GeminiEmbedder {
    api: GeminiApi,
    url: String,
    model: String,
    dims: usize,
    task_types: TaskTypes,
    batch_size: usize,
    http: HttpClient,
}

#[derive(Deserialize)]
struct Answer {
    embeddings: Vec<Values>,
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

impl GeminiEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let own: Keys = config::deserialize(block)?;
        if own.output_dimensionality == Some(0) {
            return Err(config_error(block, "output_dimensionality must be at least 1, got 0"));
        }
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let api = GeminiApi::from_block(block, keys.api_key.as_ref(), env)?;
        let model = resource_name(&keys.model_or(DEFAULT_MODEL));
        let http = HttpClient::new("gemini embed", &settings).map_err(|e| config_error(block, e.to_string()))?;
        Ok(Self {
            url: api.url(&model, "batchEmbedContents"),
            http: api.register_secret(http),
            api,
            model,
            dims: keys.embedding_dims.or(own.output_dimensionality).unwrap_or(DEFAULT_DIMS),
            task_types: TaskTypes::from_block(block, TaskTypes::default())?,
            batch_size: keys.batch_size(block, MAX_BATCH_SIZE, MAX_BATCH_SIZE)?,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    async fn embed_chunk(&self, texts: &[String], task_type: Option<&str>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let requests: Vec<Value> = flatten_newlines(texts)
            .into_iter()
            .map(|text| {
                let mut request = json!({"model": self.model, "content": {"parts": [{"text": text}]},
                                         "outputDimensionality": self.dims});
                if let Some(task_type) = task_type {
                    request["taskType"] = json!(task_type);
                }
                request
            })
            .collect();
        let answer: Answer = self.http.post_json(&self.url, &self.api.headers, &json!({"requests": requests})).await?;
        Ok(answer.embeddings.into_iter().map(|e| e.values).collect())
    }
}

#[async_trait]
impl Embedder for GeminiEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let task_type = self.task_types.for_purpose(purpose);
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk, task_type)).await?;
        tracing::debug!(provider = "gemini", model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    let extra: Vec<&str> =
        ["output_dimensionality", GEMINI_BASE_URL_KEY].into_iter().chain(TASK_TYPE_KEYS.iter().copied()).collect();
    allowed_keys(&extra)
}
