//! Hugging Face text-embeddings-inference (TEI) `POST /rerank`, serving Mem0's `huggingface` reranker
//! (which Mem0 runs in-process with `transformers`) from a TEI server or a Hugging Face Inference
//! Endpoint running TEI.
//!
//! Keys: `huggingface_base_url` (required: the server, as Mem0's Hugging Face embedder names it),
//! Mem0's `model` (informational: the server serves one model), `api_key` (or `HUGGINGFACE_API_KEY` /
//! `HF_TOKEN`; optional, sent as a bearer token), `top_k`, `batch_size` (32: texts per request, TEI's
//! default client limit), `normalize` (true: sigmoid scores in [0, 1]; false: raw logits), `max_length`
//! (accepted; TEI truncates at the model's maximum) and `device` (accepted; the server decides); ours:
//! `top_n`, `timeout`, `max_retries`, `http_client_proxies`.

use super::hosted::{HostedReranker, RerankApi, Spec};
use crate::adapters::config::{self, config_error};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::reranker::RerankHit;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["huggingface"];

/// Mem0's `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// TEI's settings.
pub const SPEC: Spec = Spec {
    provider: "huggingface",
    default_model: None,
    base_url_key: "huggingface_base_url",
    base_url_env: &[],
    default_base_url: None,
    path: "rerank",
    api_key_env: &["HUGGINGFACE_API_KEY", "HF_TOKEN"],
    api_key_required: false,
    extra_keys: &["device", "batch_size", "max_length", "normalize"],
};

/// TEI's wire format.
#[derive(Debug, Clone, Copy)]
pub struct TeiApi {
    batch_size: usize,
    normalize: bool,
}

impl Default for TeiApi {
    fn default() -> Self {
        Self { batch_size: DEFAULT_BATCH_SIZE, normalize: true }
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
#[allow(dead_code)] // `device` and `max_length` are type-checked, not sent.
struct Keys {
    device: Option<String>,
    batch_size: Option<usize>,
    max_length: Option<u32>,
    normalize: Option<bool>,
}

impl RerankApi for TeiApi {
    fn body(&self, _model: Option<&str>, query: &str, documents: &[String], _top_n: usize) -> Value {
        json!({"query": query, "texts": documents, "truncate": true, "raw_scores": !self.normalize, "return_text": false})
    }

    fn parse(&self, answer: Value) -> Result<Vec<RerankHit>, String> {
        #[derive(Deserialize)]
        struct Hit {
            index: usize,
            score: f32,
        }
        let hits: Vec<Hit> = serde_json::from_value(answer).map_err(|e| e.to_string())?;
        Ok(hits.into_iter().map(|h| RerankHit { index: h.index, score: h.score }).collect())
    }

    fn batch_size(&self) -> Option<usize> {
        Some(self.batch_size)
    }
}

/// A TEI reranker from a `{"provider": "huggingface", "config": …}` block. Nothing is contacted.
pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<HostedReranker<TeiApi>, BuildError> {
    let env = context.env();
    let reranker = HostedReranker::build(block, &SPEC, TeiApi::default(), env)?;
    let keys: Keys = config::deserialize(block)?;
    let batch_size = keys.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if batch_size == 0 {
        return Err(config_error(block, "batch_size must be at least 1"));
    }
    Ok(reranker.with_api(TeiApi { batch_size, normalize: keys.normalize.unwrap_or(true) }))
}
