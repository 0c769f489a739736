//! Embeddings through OpenAI's `/embeddings` API, for `openai` and the embedders Mem0 reaches through
//! the same API at another base URL (`together`, `lmstudio`).
//!
//! Config keys are Mem0's: `model`, `api_key`, `embedding_dims`, `http_client_proxies` and the base URL
//! (`openai_base_url`, `lmstudio_base_url`; `together_base_url` is ours, Mem0 uses Together's SDK). Ours:
//! `timeout` (seconds per request, default 60), `max_retries` (default 2), `batch_size` (texts per
//! request, default 100 as Mem0). `dimensions` is sent only to `text-embedding-3*` models and only when
//! `embedding_dims` is set; every returned vector must have the configured size.

use crate::adapters::config::{self, check_base_url, check_keys, config_error, non_blank, Env, HttpKeys, ProcessEnv};
use crate::adapters::http::{bearer, join_url, HttpClient, RetryPolicy};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

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

const COMMON_KEYS: &[&str] = &["model", "api_key", "embedding_dims", "batch_size"];

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    model: Option<String>,
    api_key: Option<SecretString>,
    embedding_dims: Option<usize>,
    batch_size: Option<usize>,
}

/// An embedding model reached through an OpenAI-compatible `/embeddings` endpoint.
#[derive(Debug)]
pub struct OpenAiEmbedder {
    provider: &'static str,
    url: String,
    headers: HeaderMap,
    model: String,
    dims: usize,
    send_dimensions: bool,
    batch_size: usize,
    flatten_newlines: bool,
    encoding_format: bool,
    http: HttpClient,
}

impl OpenAiEmbedder {
    /// Builds the adapter from a `{"provider", "config"}` block, reading fallbacks from the process
    /// environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        Self::from_block_with_env(block, &ProcessEnv)
    }

    /// [`OpenAiEmbedder::from_block`] with the environment given.
    pub fn from_block_with_env(block: &ProviderBlock, env: &dyn Env) -> Result<Self, BuildError> {
        let Some(provider) = ALL.iter().find(|p| p.name == block.provider) else {
            return Err(BuildError::UnknownProvider {
                field: block.field,
                provider: block.provider.clone(),
                supported: PROVIDERS.join(", "),
            });
        };
        let allowed: Vec<&str> =
            COMMON_KEYS.iter().chain(HttpKeys::NAMES).chain([&provider.base_url_key]).copied().collect();
        check_keys(block, &allowed)?;
        let keys: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;

        let base_url = match block.config.get(provider.base_url_key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => non_blank(Some(s.clone())),
            Some(other) => {
                return Err(config_error(block, format!("{} must be a string, got {other}", provider.base_url_key)))
            }
        }
        .or_else(|| provider.base_url_env.iter().find_map(|name| env.var(name)))
        .unwrap_or_else(|| provider.default_base_url.to_owned());
        let base_url = check_base_url(block, provider.base_url_key, &base_url)?;

        let api_key = keys
            .api_key
            .as_ref()
            .map(|k| k.expose_secret().trim().to_owned())
            .filter(|k| !k.is_empty())
            .or_else(|| provider.api_key_env.and_then(|name| env.var(name)))
            .or_else(|| provider.default_api_key.map(str::to_owned))
            .ok_or_else(|| {
                config_error(
                    block,
                    format!(
                        "api_key is required for provider {:?}: set it in the config or in the {} environment variable",
                        provider.name,
                        provider.api_key_env.unwrap_or("provider's")
                    ),
                )
            })?;
        if keys.embedding_dims == Some(0) {
            return Err(config_error(block, "embedding_dims must be at least 1, got 0"));
        }
        let batch_size = keys.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(config_error(
                block,
                format!("batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}"),
            ));
        }

        let model = non_blank(keys.model.clone()).unwrap_or_else(|| provider.default_model.to_owned());
        let mut headers = HeaderMap::new();
        headers
            .insert(reqwest::header::AUTHORIZATION, bearer(&api_key).map_err(|e| config_error(block, e.to_string()))?);
        let http = HttpClient::new("openai-compatible embeddings", &settings)
            .map_err(|e| config_error(block, e.to_string()))?
            .with_secret(&api_key);
        Ok(Self {
            provider: provider.name,
            url: join_url(&base_url, "embeddings"),
            headers,
            send_dimensions: keys.embedding_dims.is_some()
                && provider.name == "openai"
                && model.to_ascii_lowercase().starts_with("text-embedding-3"),
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
        let input: Vec<String> =
            texts.iter().map(|t| if self.flatten_newlines { t.replace('\n', " ") } else { t.clone() }).collect();
        let mut body = json!({"model": self.model, "input": input});
        if self.encoding_format {
            body["encoding_format"] = json!("float");
        }
        if self.send_dimensions {
            body["dimensions"] = json!(self.dims);
        }
        let answer: EmbeddingList = self.http.post_json(&self.url, &self.headers, &body).await?;
        order_and_check(answer.data, texts.len(), self.dims)
    }
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

/// The vectors in input order (by `index`), checking there is exactly one per text, each of `dims` floats.
fn order_and_check(items: Vec<EmbeddingItem>, expected: usize, dims: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if items.len() != expected {
        return Err(EmbedError::Protocol(format!("asked for {expected} embeddings, got {}", items.len())));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in items {
        if item.embedding.len() != dims {
            return Err(EmbedError::Protocol(format!(
                "embedding {} has {} dimensions but embedding_dims is {dims}; set embedding_dims to the model's size",
                item.index,
                item.embedding.len()
            )));
        }
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
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            vectors.extend(self.embed_chunk(chunk).await?);
        }
        tracing::debug!(provider = self.provider, model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn build(provider: &str, config: Value, vars: &[(&str, &str)]) -> Result<OpenAiEmbedder, BuildError> {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": provider, "config": config}))
            .unwrap()
            .unwrap();
        let env: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        OpenAiEmbedder::from_block_with_env(&block, &env)
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
    fn vectors_are_ordered_by_index_and_checked() {
        let ordered = order_and_check(vec![item(1, vec![1.0, 1.0]), item(0, vec![0.0, 0.0])], 2, 2).unwrap();
        assert_eq!(ordered, vec![vec![0.0, 0.0], vec![1.0, 1.0]]);
        let err = order_and_check(vec![item(0, vec![1.0])], 1, 2).unwrap_err();
        assert!(err.to_string().contains("has 1 dimensions but embedding_dims is 2"), "{err}");
        assert!(order_and_check(vec![item(0, vec![1.0])], 2, 1).is_err());
        assert!(order_and_check(vec![item(0, vec![1.0]), item(0, vec![1.0])], 2, 1).is_err());
        assert!(order_and_check(vec![item(0, vec![1.0]), item(5, vec![1.0])], 2, 1).is_err());
    }
}
