//! Jina AI's rerank API (`POST /v1/rerank`). Mem0 has no Jina reranker; the keys follow the others:
//! `model` (`jina-reranker-v2-base-multilingual`), `api_key` (or `JINA_API_KEY`), `top_k` / `top_n`,
//! `base_url` (default `https://api.jina.ai`), `timeout`, `max_retries`, `http_client_proxies`.

use super::hosted::{parse_results, HostedReranker, RerankApi, Spec};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::reranker::RerankHit;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["jina"];

/// Jina's settings.
pub const SPEC: Spec = Spec {
    provider: "jina",
    default_model: Some("jina-reranker-v2-base-multilingual"),
    base_url_key: "base_url",
    base_url_env: &[],
    default_base_url: Some("https://api.jina.ai"),
    path: "v1/rerank",
    api_key_env: &["JINA_API_KEY"],
    api_key_required: true,
    extra_keys: &[],
};

/// Jina's wire format.
#[derive(Debug, Clone, Copy, Default)]
pub struct JinaApi;

impl RerankApi for JinaApi {
    fn body(&self, model: Option<&str>, query: &str, documents: &[String], top_n: usize) -> Value {
        json!({"model": model, "query": query, "documents": documents, "top_n": top_n, "return_documents": false})
    }

    fn parse(&self, answer: Value) -> Result<Vec<RerankHit>, String> {
        parse_results(answer)
    }
}

/// A Jina reranker from a `{"provider": "jina", "config": …}` block. Nothing is contacted.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<HostedReranker<JinaApi>, BuildError> {
    let env = context.env();
    HostedReranker::build(block, &SPEC, JinaApi, env)
}
