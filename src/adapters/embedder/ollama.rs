//! Embeddings through Ollama's native API (`POST {ollama_base_url}/api/embed`, many texts per request).
//!
//! Config keys are Mem0's: `model` (default `nomic-embed-text`), `embedding_dims`, `ollama_base_url`
//! (else `OLLAMA_HOST`, else `http://localhost:11434`), `api_key` (else `OLLAMA_API_KEY`; sent as a
//! bearer token when set), `http_client_proxies`; ours: `batch_size` (default 64), `timeout`,
//! `max_retries`. The default size is 768, what `nomic-embed-text` returns (Mem0 says 512 but never
//! checks). Unlike Mem0, a missing model is not pulled: Ollama's "not found" error is reported.

use super::base::{allowed_keys, in_batches, BaseKeys};
use crate::adapters::config::{check_keys, config_error, HttpKeys};
use crate::adapters::http::{join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::ollama::{OllamaServer, BASE_URL_KEY};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::json;

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["ollama"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "nomic-embed-text";
/// The size of `nomic-embed-text` vectors.
pub const DEFAULT_DIMS: usize = 768;
/// Texts per request when `batch_size` is not set.
pub const DEFAULT_BATCH_SIZE: usize = 64;
/// The largest `batch_size` accepted.
pub const MAX_BATCH_SIZE: usize = 2048;

/// An embedding model served by Ollama.
#[derive(Debug)]
pub struct OllamaEmbedder {
    url: String,
    headers: HeaderMap,
    model: String,
    dims: usize,
    batch_size: usize,
    http: HttpClient,
}

#[derive(Deserialize)]
struct Answer {
    embeddings: Vec<Vec<f32>>,
}

impl OllamaEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let server = OllamaServer::from_block(block, keys.api_key.as_ref(), env)?;
        let http = HttpClient::new("ollama embed", &settings).map_err(|e| config_error(block, e.to_string()))?;
        Ok(Self {
            url: join_url(&server.base_url, "api/embed"),
            http: server.register_secret(http),
            headers: server.headers,
            model: keys.model_or(DEFAULT_MODEL),
            dims: keys.embedding_dims.unwrap_or(DEFAULT_DIMS),
            batch_size: keys.batch_size(block, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE)?,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    async fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = json!({"model": self.model, "input": texts});
        let answer: Answer = self.http.post_json(&self.url, &self.headers, &body).await?;
        Ok(answer.embeddings)
    }
}

#[async_trait]
impl Embedder for OllamaEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk)).await?;
        tracing::debug!(provider = "ollama", model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    allowed_keys(&[BASE_URL_KEY])
}
