//! ZeroEntropy's rerank API (`POST /v1/models/rerank`), Mem0's `zero_entropy` reranker.
//!
//! Keys: Mem0's `model` (`zerank-1`), `api_key` (or `ZERO_ENTROPY_API_KEY`, Mem0's, or
//! `ZEROENTROPY_API_KEY`, the SDK's), `top_k`; ours: `top_n` (same as `top_k`), `base_url` (or
//! `ZEROENTROPY_BASE_URL`; default `https://api.zeroentropy.dev/v1`), `timeout`, `max_retries`,
//! `http_client_proxies`.

use super::hosted::{parse_results, HostedReranker, RerankApi, Spec};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::reranker::RerankHit;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["zero_entropy"];

/// ZeroEntropy's settings.
pub const SPEC: Spec = Spec {
    provider: "zero_entropy",
    default_model: Some("zerank-1"),
    base_url_key: "base_url",
    base_url_env: &["ZEROENTROPY_BASE_URL"],
    default_base_url: Some("https://api.zeroentropy.dev/v1"),
    path: "models/rerank",
    api_key_env: &["ZERO_ENTROPY_API_KEY", "ZEROENTROPY_API_KEY"],
    api_key_required: true,
    extra_keys: &[],
};

/// ZeroEntropy's wire format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ZeroEntropyApi;

impl RerankApi for ZeroEntropyApi {
    fn body(&self, model: Option<&str>, query: &str, documents: &[String], top_n: usize) -> Value {
        json!({"model": model, "query": query, "documents": documents, "top_n": top_n})
    }

    fn parse(&self, answer: Value) -> Result<Vec<RerankHit>, String> {
        parse_results(answer)
    }
}

/// A ZeroEntropy reranker from a `{"provider": "zero_entropy", "config": …}` block. Nothing is contacted.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<HostedReranker<ZeroEntropyApi>, BuildError> {
    let env = context.env();
    HostedReranker::build(block, &SPEC, ZeroEntropyApi, env)
}
