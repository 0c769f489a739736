//! Embeddings from Hugging Face: a text-embeddings-inference (TEI) server (`POST {root}/embed`) when
//! `huggingface_base_url` is set, else the hosted Inference API's feature extraction
//! (`POST {huggingface_inference_url}/models/{model}/pipeline/feature-extraction`).
//!
//! Config keys are Mem0's: `model` (default `multi-qa-MiniLM-L6-cos-v1`, read as
//! `sentence-transformers/…` when it names no owner), `embedding_dims`, `api_key` (a bearer token:
//! optional for TEI, required for the hosted API, else `HF_TOKEN` / `HUGGINGFACEHUB_API_TOKEN`),
//! `huggingface_base_url` (Mem0 points it at TEI's OpenAI route, e.g. `http://localhost:3000/v1`: a
//! trailing `/v1` is dropped, TEI's native `/embed` is at the root), `model_kwargs` (merged into the
//! request body, e.g. `{"normalize": false}` or `{"prompt_name": "query"}`), `http_client_proxies`;
//! ours: `huggingface_inference_url` (default `https://router.huggingface.co/hf-inference`),
//! `batch_size` (default 32, TEI's default client batch limit), `timeout`, `max_retries`.
//!
//! Mem0 asks a local SentenceTransformer or the TEI server for the vector size; here it must be known
//! before the first call, so `embedding_dims` is required except for the default model (384).
//! Long texts are truncated by TEI (`truncate: true`) rather than refused.

use super::base::{allowed_keys, in_batches, BaseKeys};
use crate::adapters::config::HttpKeys;
use crate::adapters::config::{self, check_keys, config_error, missing_key, secret_or_env, string_key};
use crate::adapters::http::{bearer, join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["huggingface"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "sentence-transformers/multi-qa-MiniLM-L6-cos-v1";
/// The size of the default model's vectors.
pub const DEFAULT_DIMS: usize = 384;
/// The hosted Inference API.
pub const DEFAULT_INFERENCE_URL: &str = "https://router.huggingface.co/hf-inference";
/// Where the token comes from when `api_key` is not set.
pub const TOKEN_ENV: &[&str] = &["HF_TOKEN", "HUGGINGFACEHUB_API_TOKEN"];
/// Texts per request when `batch_size` is not set.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// The largest `batch_size` accepted.
pub const MAX_BATCH_SIZE: usize = 2048;

const EXTRA_KEYS: &[&str] = &["huggingface_base_url", "huggingface_inference_url", "model_kwargs"];

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    model_kwargs: Option<Map<String, Value>>,
}

/// A Hugging Face embedding model, on a TEI server or the hosted Inference API.
#[derive(Debug)]
pub struct HuggingFaceEmbedder {
    url: String,
    headers: HeaderMap,
    model: String,
    dims: usize,
    /// Fields added to every body: TEI's `truncate`, then `model_kwargs`.
    extra: Map<String, Value>,
    batch_size: usize,
    http: HttpClient,
}

/// A feature-extraction answer: one vector per text, or (for models without pooling) one per token.
#[derive(Deserialize)]
#[serde(untagged)]
enum Features {
    Pooled(Vec<Vec<f32>>),
    Tokens(#[allow(dead_code)] Vec<Vec<Vec<f32>>>),
}

impl HuggingFaceEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let own: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let tei = string_key(block, "huggingface_base_url")?;
        let model = match keys.model_or(DEFAULT_MODEL) {
            model if model.contains('/') => model,
            model => format!("sentence-transformers/{model}"),
        };
        let token = secret_or_env(keys.api_key.as_ref(), TOKEN_ENV, env);
        let mut extra = Map::new();
        let url = match &tei {
            Some(raw) => {
                let root = config::check_base_url(block, "huggingface_base_url", raw)?;
                extra.insert("truncate".into(), json!(true));
                join_url(root.strip_suffix("/v1").unwrap_or(&root), "embed")
            }
            None => {
                if token.is_none() {
                    return Err(missing_key(block, "api_key", TOKEN_ENV));
                }
                let base = config::base_url(block, "huggingface_inference_url", &[], env, DEFAULT_INFERENCE_URL)?;
                format!("{base}/models/{model}/pipeline/feature-extraction")
            }
        };
        extra.extend(own.model_kwargs.unwrap_or_default());
        let dims =
            match keys.embedding_dims {
                Some(dims) => dims,
                None if tei.is_none() && model == DEFAULT_MODEL => DEFAULT_DIMS,
                None => return Err(config_error(
                    block,
                    "embedding_dims is required unless the model is the default one: the vector size must be known \
                     before the first call (e.g. 384 for all-MiniLM-L6-v2, 768 for bge-base, 1024 for bge-large)",
                )),
            };
        let mut headers = HeaderMap::new();
        let mut http =
            HttpClient::new("huggingface embed", &settings).map_err(|e| config_error(block, e.to_string()))?;
        if let Some(token) = &token {
            let value = bearer(token.expose_secret()).map_err(|e| config_error(block, e.to_string()))?;
            headers.insert(AUTHORIZATION, value);
            http = http.with_secret(token.expose_secret());
        }
        Ok(Self {
            url,
            headers,
            model,
            dims,
            extra,
            batch_size: keys.batch_size(block, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE)?,
            http,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut body = Map::new();
        body.insert("inputs".into(), json!(texts));
        body.extend(self.extra.clone());
        match self.http.post_json(&self.url, &self.headers, &Value::Object(body)).await? {
            Features::Pooled(vectors) => Ok(vectors),
            Features::Tokens(_) => Err(EmbedError::Protocol(format!(
                "{} returns one vector per token, not one per text; use a sentence-embedding model",
                self.model
            ))),
        }
    }
}

#[async_trait]
impl Embedder for HuggingFaceEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk)).await?;
        tracing::debug!(provider = "huggingface", model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    allowed_keys(EXTRA_KEYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(config: Value, vars: &[(&str, &str)]) -> Result<HuggingFaceEmbedder, BuildError> {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "huggingface", "config": config}))
            .unwrap()
            .unwrap();
        HuggingFaceEmbedder::from_block(&block, &crate::adapters::config::test_context(vars))
    }

    #[test]
    fn tei_and_hosted_urls() {
        let e = build(json!({"huggingface_base_url": "http://tei:3000/v1", "embedding_dims": 768}), &[]).unwrap();
        assert_eq!((e.url(), e.dimensions()), ("http://tei:3000/embed", 768));
        assert!(e.headers.is_empty() && e.extra["truncate"] == json!(true));
        let e = build(json!({"model": "multi-qa-MiniLM-L6-cos-v1"}), &[("HF_TOKEN", "hf_123456")]).unwrap();
        assert_eq!(
            e.url(),
            "https://router.huggingface.co/hf-inference/models/sentence-transformers/multi-qa-MiniLM-L6-cos-v1/pipeline/feature-extraction"
        );
        assert_eq!((e.dimensions(), e.headers["authorization"].to_str().unwrap()), (384, "Bearer hf_123456"));
    }

    #[test]
    fn missing_settings_are_named() {
        let err = build(json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("api_key is required") && err.contains("HF_TOKEN"), "{err}");
        let err = build(json!({"huggingface_base_url": "http://tei:3000"}), &[]).unwrap_err().to_string();
        assert!(err.contains("embedding_dims is required"), "{err}");
        let err =
            build(json!({"api_key": "hf_123456", "model": "BAAI/bge-small-en-v1.5"}), &[]).unwrap_err().to_string();
        assert!(err.contains("embedding_dims is required"), "{err}");
        let err = build(json!({"api_key": "hf_123456", "model_kwargs": [1]}), &[]).unwrap_err().to_string();
        assert!(err.contains("model_kwargs: invalid type"), "{err}");
    }
}
