//! Embeddings through OpenAI's `/embeddings` API, for `openai` and the embedders Mem0 reaches through
//! the same API at another base URL (`together`, `lmstudio`).
//!
//! Config keys are Mem0's: `model`, `api_key`, `embedding_dims`, `http_client_proxies` and the base URL
//! (`openai_base_url`, `lmstudio_base_url`; `together_base_url` is ours, Mem0 uses Together's SDK). Ours:
//! `timeout` (seconds per request, default 60), `max_retries` (default 2), `batch_size` (texts per
//! request, default 100 as Mem0). `dimensions` is sent only to `text-embedding-3*` models and only when
//! `embedding_dims` is set; every returned vector must have the configured size.

use super::base::{allowed_keys, flatten_newlines, in_batches, BaseKeys};
use crate::adapters::config::{self, check_keys, config_error, missing_key, secret_or_env, HttpKeys};
use crate::adapters::http::{bearer, join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["openai", "together", "lmstudio"];

/// Texts per request when `batch_size` is not set (Mem0's OpenAI chunk size).
pub const DEFAULT_BATCH_SIZE: usize = 100;

/// The largest `batch_size` accepted (OpenAI's limit is 2048 inputs).
pub const MAX_BATCH_SIZE: usize = 2048;

/// One embedding provider with Mem0's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EmbedProvider {
    name: &'static str,
    default_model: &'static str,
    default_dims: usize,
    base_url_key: &'static str,
    base_url_env: &'static [&'static str],
    default_base_url: &'static str,
    api_key_env: Option<&'static str>,
    default_api_key: Option<&'static str>,
    /// Mem0 replaces newlines by spaces for this provider.
    flatten_newlines: bool,
    /// Send `encoding_format: "float"` (OpenAI's client does; the others' do not).
    encoding_format: bool,
}

const ALL: &[EmbedProvider] = &[
    EmbedProvider {
        name: "openai",
        default_model: "text-embedding-3-small",
        default_dims: 1536,
        base_url_key: "openai_base_url",
        base_url_env: &["OPENAI_API_BASE", "OPENAI_BASE_URL"],
        default_base_url: "https://api.openai.com/v1",
        api_key_env: Some("OPENAI_API_KEY"),
        default_api_key: None,
        flatten_newlines: true,
        encoding_format: true,
    },
    EmbedProvider {
        name: "together",
        default_model: "intfloat/multilingual-e5-large-instruct",
        default_dims: 1024,
        base_url_key: "together_base_url",
        base_url_env: &["TOGETHER_BASE_URL"],
        default_base_url: "https://api.together.xyz/v1",
        api_key_env: Some("TOGETHER_API_KEY"),
        default_api_key: None,
        flatten_newlines: false,
        encoding_format: false,
    },
    EmbedProvider {
        name: "lmstudio",
        default_model: "nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.f16.gguf",
        default_dims: 1536,
        base_url_key: "lmstudio_base_url",
        base_url_env: &[],
        default_base_url: "http://localhost:1234/v1",
        api_key_env: None,
        default_api_key: Some("lm-studio"),
        flatten_newlines: true,
        encoding_format: false,
    },
];

/// An embedding model reached through an OpenAI-compatible `/embeddings` endpoint.
#[derive(Debug)]
pub struct OpenAiEmbedder {
    pub(crate) provider: &'static str,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) model: String,
    pub(crate) dims: usize,
    pub(crate) send_dimensions: bool,
    pub(crate) batch_size: usize,
    pub(crate) flatten_newlines: bool,
    pub(crate) encoding_format: bool,
    pub(crate) http: HttpClient,
}

impl OpenAiEmbedder {
    /// Builds the adapter from a `{"provider", "config"}` block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        let Some(provider) = ALL.iter().find(|p| p.name == block.provider) else {
            return Err(BuildError::UnknownProvider {
                field: block.field,
                provider: block.provider.clone(),
                supported: PROVIDERS.join(", "),
            });
        };
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let base_url =
            config::base_url(block, provider.base_url_key, provider.base_url_env, env, provider.default_base_url)?;
        let env_names: Vec<&str> = provider.api_key_env.into_iter().collect();
        let api_key = secret_or_env(keys.api_key.as_ref(), &env_names, env)
            .or_else(|| provider.default_api_key.map(|k| SecretString::from(k.to_owned())))
            .ok_or_else(|| missing_key(block, "api_key", &env_names))?;
        let batch_size = keys.batch_size(block, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE)?;

        let model = keys.model_or(provider.default_model);
        let mut headers = HeaderMap::new();
        let auth = bearer(api_key.expose_secret()).map_err(|e| config_error(block, e.to_string()))?;
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        let http = HttpClient::new("openai-compatible embeddings", &settings)
            .map_err(|e| config_error(block, e.to_string()))?
            .with_secret(api_key.expose_secret());
        Ok(Self {
            provider: provider.name,
            url: join_url(&base_url, "embeddings"),
            headers,
            send_dimensions: keys.embedding_dims.is_some() && provider.name == "openai" && takes_dimensions(&model),
            dims: keys.embedding_dims.unwrap_or(provider.default_dims),
            model,
            batch_size,
            flatten_newlines: provider.flatten_newlines,
            encoding_format: provider.encoding_format,
            http,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The `provider` name this adapter was built for.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The model asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The full `/embeddings` URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn embed_chunk(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let input = if self.flatten_newlines { flatten_newlines(texts) } else { texts.to_vec() };
        let mut body = json!({"model": self.model, "input": input});
        if self.encoding_format {
            body["encoding_format"] = json!("float");
        }
        if self.send_dimensions {
            body["dimensions"] = json!(self.dims);
        }
        let answer: EmbeddingList = self.http.post_json(&self.url, &self.headers, &body).await?;
        order_by_index(answer.data, texts.len())
    }
}

/// True for models that take a `dimensions` parameter (OpenAI's `text-embedding-3*`).
pub(crate) fn takes_dimensions(model: &str) -> bool {
    model.to_ascii_lowercase().starts_with("text-embedding-3")
}

#[derive(Deserialize)]
struct EmbeddingList {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

/// The vectors in input order (by `index`), checking each of the `expected` indices appears exactly once.
fn order_by_index(items: Vec<EmbeddingItem>, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if items.len() != expected {
        return Err(EmbedError::Protocol(format!("asked for {expected} embeddings, got {}", items.len())));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in items {
        match slots.get_mut(item.index) {
            Some(slot @ None) => *slot = Some(item.embedding),
            Some(Some(_)) => return Err(EmbedError::Protocol(format!("embedding index {} appears twice", item.index))),
            None => {
                return Err(EmbedError::Protocol(format!(
                    "embedding index {} is out of range for {expected} inputs",
                    item.index
                )))
            }
        }
    }
    // Every slot is filled: `expected` distinct in-range indices were seen.
    Ok(slots.into_iter().flatten().collect())
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk)).await?;
        tracing::debug!(provider = self.provider, model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(provider: &str) -> Vec<&'static str> {
    ALL.iter().find(|p| p.name == provider).map(|p| allowed_keys(&[p.base_url_key])).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn build(provider: &str, config: Value, vars: &[(&str, &str)]) -> Result<OpenAiEmbedder, BuildError> {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": provider, "config": config}))
            .unwrap()
            .unwrap();
        OpenAiEmbedder::from_block(&block, &crate::adapters::config::test_context(vars))
    }

    fn item(index: usize, embedding: Vec<f32>) -> EmbeddingItem {
        EmbeddingItem { index, embedding }
    }

    #[test]
    fn defaults_follow_mem0() {
        let e = build("openai", json!({}), &[("OPENAI_API_KEY", "sk-123456")]).unwrap();
        assert_eq!((e.model(), e.dimensions(), e.send_dimensions), ("text-embedding-3-small", 1536, false));
        assert_eq!(e.url(), "https://api.openai.com/v1/embeddings");
        let e = build("openai", json!({"api_key": "sk-123456", "embedding_dims": 256}), &[]).unwrap();
        assert!(e.send_dimensions);
        let e =
            build("openai", json!({"api_key": "k-123456", "model": "bge-m3", "embedding_dims": 1024}), &[]).unwrap();
        assert!(!e.send_dimensions, "only text-embedding-3 models take dimensions");
        let e = build("together", json!({}), &[("TOGETHER_API_KEY", "t-123456")]).unwrap();
        assert_eq!((e.dimensions(), e.url()), (1024, "https://api.together.xyz/v1/embeddings"));
        let e = build("lmstudio", json!({"lmstudio_base_url": "http://box:1234/v1"}), &[]).unwrap();
        assert_eq!(e.url(), "http://box:1234/v1/embeddings");
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = build("openai", json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("api_key is required") && err.contains("OPENAI_API_KEY"), "{err}");
        let err = build("openai", json!({"api_key": "k-123456", "ollama_base_url": "x"}), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown key \"ollama_base_url\"") && err.contains("openai_base_url"), "{err}");
        let err =
            build("openai", json!({"api_key": "k-123456", "embedding_dims": "big"}), &[]).unwrap_err().to_string();
        assert!(err.contains("embedding_dims: invalid type"), "{err}");
        let err = build("openai", json!({"api_key": "k-123456", "batch_size": 0}), &[]).unwrap_err().to_string();
        assert!(err.contains("batch_size must be between 1"), "{err}");
        let err = build("ollama", json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown provider \"ollama\""), "{err}");
    }

    #[test]
    fn vectors_are_ordered_by_index() {
        let ordered = order_by_index(vec![item(1, vec![1.0, 1.0]), item(0, vec![0.0, 0.0])], 2).unwrap();
        assert_eq!(ordered, vec![vec![0.0, 0.0], vec![1.0, 1.0]]);
        assert!(order_by_index(vec![item(0, vec![1.0])], 2).is_err());
        assert!(order_by_index(vec![item(0, vec![1.0]), item(0, vec![1.0])], 2).is_err());
        assert!(order_by_index(vec![item(0, vec![1.0]), item(5, vec![1.0])], 2).is_err());
    }
}
