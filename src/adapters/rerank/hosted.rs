//! What the hosted rerankers (Cohere, Jina, ZeroEntropy, text-embeddings-inference) share: the common
//! keys (`model`, `api_key`, `top_k` / `top_n`, the base-URL key, `timeout`, `max_retries`,
//! `http_client_proxies`), the HTTP call through the shared client, batching, and turning an answer
//! into hits best first. Each provider module supplies its wire format as a [`RerankApi`].

use crate::adapters::config::{
    self, check_base_url, check_keys, config_error, non_blank, or_env, string_key, HttpKeys,
};
use crate::adapters::http::{bearer, join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::reranker::{RerankError, RerankHit, Reranker};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

/// Keys every hosted reranker accepts besides its base-URL key and its own.
pub const COMMON_KEYS: &[&str] =
    &["model", "api_key", "top_k", "top_n", "http_client_proxies", "timeout", "max_retries"];

/// A provider's defaults and where its settings come from.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The `provider` name.
    pub provider: &'static str,
    /// Model when `model` is not set (`None`: the server has one model and none is sent).
    pub default_model: Option<&'static str>,
    /// The config key of the base URL.
    pub base_url_key: &'static str,
    /// Environment variables consulted, in order, for the base URL.
    pub base_url_env: &'static [&'static str],
    /// Base URL when none is set (`None`: the key is required).
    pub default_base_url: Option<&'static str>,
    /// Path of the rerank endpoint below the base URL.
    pub path: &'static str,
    /// Environment variables consulted, in order, for the API key.
    pub api_key_env: &'static [&'static str],
    /// True when a missing API key is a configuration error.
    pub api_key_required: bool,
    /// Keys this provider accepts beyond the common ones.
    pub extra_keys: &'static [&'static str],
}

impl Spec {
    /// Every key this provider accepts.
    pub fn allowed_keys(&self) -> Vec<&'static str> {
        COMMON_KEYS.iter().chain(self.extra_keys).chain([&self.base_url_key]).copied().collect()
    }
}

/// A provider's wire format.
pub trait RerankApi: Send + Sync + 'static {
    /// The request body for one batch of documents.
    fn body(&self, model: Option<&str>, query: &str, documents: &[String], top_n: usize) -> Value;

    /// The hits of an answer (indexes into the batch); the message says what is wrong.
    fn parse(&self, answer: Value) -> Result<Vec<RerankHit>, String>;

    /// Most documents per request (`None`: all in one).
    fn batch_size(&self) -> Option<usize> {
        None
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    model: Option<String>,
    api_key: Option<SecretString>,
    top_k: Option<usize>,
    top_n: Option<usize>,
}

/// A reranker behind an HTTP API.
pub struct HostedReranker<A: RerankApi> {
    provider: &'static str,
    url: String,
    headers: HeaderMap,
    model: Option<String>,
    cap: Option<usize>,
    api: A,
    http: HttpClient,
}

impl<A: RerankApi> std::fmt::Debug for HostedReranker<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedReranker")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

impl<A: RerankApi> HostedReranker<A> {
    /// Reads the common keys of `block` for `spec` (after rejecting keys it does not accept) and pairs
    /// them with the provider's wire format. Nothing is contacted.
    pub fn build(block: &ProviderBlock, spec: &Spec, api: A, env: &Environment) -> Result<Self, BuildError> {
        check_keys(block, &spec.allowed_keys())?;
        let keys: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        if keys.top_k.is_some() && keys.top_n.is_some() && keys.top_k != keys.top_n {
            return Err(config_error(block, "top_k and top_n mean the same; set one of them"));
        }
        let cap = keys.top_k.or(keys.top_n);
        if cap == Some(0) {
            return Err(config_error(block, "top_k must be at least 1"));
        }
        let base_url = or_env(string_key(block, spec.base_url_key)?, spec.base_url_env, env)
            .or_else(|| spec.default_base_url.map(str::to_owned))
            .ok_or_else(|| {
                config_error(
                    block,
                    format!(
                        "{} is required for provider {:?} (the server's address)",
                        spec.base_url_key, spec.provider
                    ),
                )
            })?;
        let base_url = check_base_url(block, spec.base_url_key, &base_url)?;
        let api_key = keys
            .api_key
            .map(|k| k.expose_secret().trim().to_owned())
            .filter(|k| !k.is_empty())
            .or_else(|| spec.api_key_env.iter().find_map(|name| env.var(name)));
        let mut http = HttpClient::new(spec.provider, &settings).map_err(|e| config_error(block, e.to_string()))?;
        let mut headers = HeaderMap::new();
        match api_key {
            Some(key) => {
                http = http.with_secret(&key);
                headers.insert(AUTHORIZATION, bearer(&key).map_err(|e| config_error(block, e.to_string()))?);
            }
            None if spec.api_key_required => {
                let from_env = spec.api_key_env.join(" or ");
                return Err(config_error(
                    block,
                    format!(
                        "api_key is required for provider {:?}: set it in the config or in {from_env}",
                        spec.provider
                    ),
                ));
            }
            None => {}
        }
        let model = non_blank(keys.model).or_else(|| spec.default_model.map(str::to_owned));
        Ok(Self { provider: spec.provider, url: join_url(&base_url, spec.path), headers, model, cap, api, http })
    }

    /// The same reranker with the provider's options read from its own keys.
    pub fn with_api(self, api: A) -> Self {
        Self { api, ..self }
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The model sent, if any.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The endpoint called.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, message: impl std::fmt::Display) -> RerankError {
        RerankError(format!("{}: {message}", self.provider))
    }
}

#[async_trait]
impl<A: RerankApi> Reranker for HostedReranker<A> {
    async fn rerank(&self, query: &str, documents: &[String], top_n: usize) -> Result<Vec<RerankHit>, RerankError> {
        let top_n = top_n.min(self.cap.unwrap_or(usize::MAX)).min(documents.len());
        if top_n == 0 {
            return Ok(Vec::new());
        }
        let batch = self.api.batch_size().unwrap_or(documents.len()).max(1);
        let mut hits = Vec::with_capacity(documents.len());
        for (n, chunk) in documents.chunks(batch).enumerate() {
            let body = self.api.body(self.model.as_deref(), query, chunk, top_n.min(chunk.len()));
            let answer: Value =
                self.http.post_json(&self.url, &self.headers, &body).await.map_err(|e| self.error(e))?;
            for hit in self.api.parse(answer).map_err(|m| self.error(format!("unexpected answer: {m}")))? {
                if hit.index >= chunk.len() || !hit.score.is_finite() {
                    return Err(self.error(format!(
                        "unexpected answer: hit for document {} with score {} among {} documents",
                        hit.index,
                        hit.score,
                        chunk.len()
                    )));
                }
                hits.push(RerankHit { index: n * batch + hit.index, score: hit.score });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        let mut seen = std::collections::HashSet::new();
        hits.retain(|h| seen.insert(h.index));
        hits.truncate(top_n);
        Ok(hits)
    }
}

/// Cohere / Jina / ZeroEntropy answers: `{"results": [{"index", "relevance_score"}, …]}`.
pub fn parse_results(answer: Value) -> Result<Vec<RerankHit>, String> {
    #[derive(Deserialize)]
    struct Answer {
        results: Vec<Hit>,
    }
    #[derive(Deserialize)]
    struct Hit {
        index: usize,
        relevance_score: f32,
    }
    let answer: Answer = serde_json::from_value(answer).map_err(|e| e.to_string())?;
    Ok(answer.results.into_iter().map(|h| RerankHit { index: h.index, score: h.relevance_score }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_read() {
        let hits = parse_results(json!({"id": "x", "results": [{"index": 1, "relevance_score": 0.9}]})).unwrap();
        assert_eq!(hits, vec![RerankHit { index: 1, score: 0.9 }]);
        assert!(parse_results(json!({"data": []})).unwrap_err().contains("results"));
    }
}
