//! Cohere's rerank API v2 (`POST /v2/rerank`), Mem0's `cohere` reranker.
//!
//! Keys: Mem0's `model` (`rerank-v3.5`), `api_key` (or `COHERE_API_KEY` / `CO_API_KEY`), `top_k`,
//! `return_documents` and `max_chunks_per_doc` (both accepted; v2 returns no documents and has no
//! chunking), plus ours: `top_n` (same as `top_k`), `max_tokens_per_doc` (v2's truncation), `base_url`
//! (or `CO_API_URL`; default `https://api.cohere.com`), `timeout`, `max_retries`, `http_client_proxies`.

use super::hosted::{parse_results, HostedReranker, RerankApi, Spec};
use crate::adapters::config::{self, config_error};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::reranker::RerankHit;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["cohere"];

/// Cohere's settings.
pub const SPEC: Spec = Spec {
    provider: "cohere",
    default_model: Some("rerank-v3.5"),
    base_url_key: "base_url",
    base_url_env: &["CO_API_URL"],
    default_base_url: Some("https://api.cohere.com"),
    path: "v2/rerank",
    api_key_env: &["COHERE_API_KEY", "CO_API_KEY"],
    api_key_required: true,
    extra_keys: &["return_documents", "max_chunks_per_doc", "max_tokens_per_doc"],
};

/// Cohere's wire format.
#[derive(Debug, Clone, Default)]
pub struct CohereApi {
    max_tokens_per_doc: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
#[allow(dead_code)] // `return_documents` and `max_chunks_per_doc` are type-checked, not sent.
struct Keys {
    return_documents: Option<bool>,
    max_chunks_per_doc: Option<u32>,
    max_tokens_per_doc: Option<u32>,
}

impl RerankApi for CohereApi {
    fn body(&self, model: Option<&str>, query: &str, documents: &[String], top_n: usize) -> Value {
        let mut body = json!({"model": model, "query": query, "documents": documents, "top_n": top_n});
        if let Some(max) = self.max_tokens_per_doc {
            body["max_tokens_per_doc"] = json!(max);
        }
        body
    }

    fn parse(&self, answer: Value) -> Result<Vec<RerankHit>, String> {
        parse_results(answer)
    }
}

/// A Cohere reranker from a `{"provider": "cohere", "config": …}` block. Nothing is contacted.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<HostedReranker<CohereApi>, BuildError> {
    let env = context.env();
    let reranker = HostedReranker::build(block, &SPEC, CohereApi::default(), env)?;
    let keys: Keys = config::deserialize(block)?;
    if keys.max_tokens_per_doc == Some(0) {
        return Err(config_error(block, "max_tokens_per_doc must be at least 1"));
    }
    Ok(reranker.with_api(CohereApi { max_tokens_per_doc: keys.max_tokens_per_doc }))
}
