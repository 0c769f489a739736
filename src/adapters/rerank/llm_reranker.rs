//! Mem0's `llm_reranker`: a chat model scores each document's relevance to the query, one call per
//! document (as Mem0 does), a few calls at a time.
//!
//! Keys are Mem0's: `top_k`, `scoring_prompt` (replaces the system prompt, as in Mem0), and the keys
//! that give the reranker its own chat model: `provider` (`openai`), `model` (`gpt-5-mini`), `api_key`,
//! `temperature` (0.0), `max_tokens` (100) or a nested `llm` block `{"provider", "config"}`. When
//! none of those is set the configured chat model (`local_llm_json`) is used. The composition root
//! builds the model: [`own_llm_block`] says which block to build, and [`from_block`] takes the result.
//!
//! Each call asks for JSON (`{"score": 0.0–1.0}`); a reply that is not such JSON is read as Mem0 reads
//! it (the first decimal, else the first integer, clamped to [0, 1]; none: 0.5). A document whose call
//! fails gets 0.5 (Mem0's neutral score); when every call fails the rerank fails.

use crate::adapters::config::{self, check_keys, config_error};
use crate::domain::credentials::ProviderBlock;
use crate::domain::json_answer::extract_json;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatMessage, ChatRequest, Llm, LlmError, ResponseFormat};
use crate::ports::reranker::{RerankError, RerankHit, Reranker};
use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["llm_reranker"];

/// Mem0's keys.
pub const ALLOWED_KEYS: &[&str] =
    &["model", "provider", "api_key", "top_k", "temperature", "max_tokens", "scoring_prompt", "llm"];

/// Mem0's reranking model when the reranker names its own provider.
pub const DEFAULT_MODEL: &str = "gpt-5-mini";
/// Mem0's provider when the reranker names its own model.
pub const DEFAULT_PROVIDER: &str = "openai";
/// Mem0's `temperature`.
pub const DEFAULT_TEMPERATURE: f64 = 0.0;
/// Mem0's `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 100;
/// Longest query or document sent, in characters (Mem0's limit against prompt flooding).
pub const MAX_INPUT_CHARS: usize = 4000;
/// Score of a document whose call failed or whose reply holds no number (Mem0's).
pub const NEUTRAL_SCORE: f32 = 0.5;
/// Calls in flight at once.
pub const CONCURRENCY: usize = 4;

/// The system prompt (the instructions; the query and document come in the user message).
pub const SYSTEM_PROMPT: &str = "You rate how relevant a document is to a search query.\n\
Use a scale from 0.0 to 1.0: 1.0 = answers the query directly; 0.8-0.9 = highly relevant; \
0.6-0.7 = somewhat relevant; 0.4-0.5 = barely relevant; 0.0-0.3 = not relevant.\n\
Reply with a JSON object holding only the score, for example {\"score\": 0.7}.";

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    model: Option<String>,
    provider: Option<String>,
    api_key: Option<Value>,
    top_k: Option<usize>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    scoring_prompt: Option<String>,
    llm: Option<Map<String, Value>>,
}

/// The chat-model block the reranker's own keys describe (Mem0's merging: a nested `llm` block, with
/// `model`, `temperature`, `max_tokens` and `api_key` filled in from the reranker's keys when it lacks
/// them; else `provider` / `model` / `api_key` / `temperature` / `max_tokens`); `None` when the
/// reranker names no model of its own and the configured chat model should be used.
pub fn own_llm_block(block: &ProviderBlock) -> Result<Option<ProviderBlock>, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let keys: Keys = config::deserialize(block)?;
    let own = keys.llm.is_some() || keys.provider.is_some() || keys.model.is_some() || keys.api_key.is_some();
    if !own {
        return Ok(None);
    }
    let (provider, mut config) = match keys.llm {
        Some(mut nested) => {
            let provider = match nested.remove("provider") {
                Some(Value::String(p)) => p,
                None | Some(Value::Null) => keys.provider.clone().unwrap_or_else(|| DEFAULT_PROVIDER.to_owned()),
                Some(_) => return Err(config_error(block, "llm.provider must be a string")),
            };
            let config = match nested.remove("config") {
                Some(Value::Object(config)) => config,
                None | Some(Value::Null) => Map::new(),
                Some(_) => return Err(config_error(block, "llm.config must be an object")),
            };
            if let Some(extra) = nested.keys().next() {
                return Err(config_error(
                    block,
                    format!("llm: unexpected key {extra:?} beside \"provider\" and \"config\""),
                ));
            }
            (provider, config)
        }
        None => (keys.provider.clone().unwrap_or_else(|| DEFAULT_PROVIDER.to_owned()), Map::new()),
    };
    let defaults = [
        ("model", json!(keys.model.clone().unwrap_or_else(|| DEFAULT_MODEL.to_owned()))),
        ("temperature", json!(keys.temperature.unwrap_or(DEFAULT_TEMPERATURE))),
        ("max_tokens", json!(keys.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))),
    ];
    for (key, value) in defaults {
        config.entry(key).or_insert(value);
    }
    if let Some(api_key) = keys.api_key.filter(|k| !k.is_null()) {
        config.entry("api_key").or_insert(api_key);
    }
    let raw = json!({"provider": provider, "config": config});
    ProviderBlock::parse(block.field, &raw)
        .map_err(|e| config_error(block, format!("llm: {e}")))?
        .ok_or(BuildError::Missing { field: block.field })
        .map(Some)
}

/// A reranker that asks a chat model.
pub struct LlmReranker {
    llm: Arc<dyn Llm>,
    system_prompt: String,
    json_mode: bool,
    cap: Option<usize>,
}

impl std::fmt::Debug for LlmReranker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmReranker")
            .field("json_mode", &self.json_mode)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

/// Builds the reranker over `llm` (the model [`own_llm_block`] describes, else the configured one).
pub fn from_block(block: &ProviderBlock, llm: Option<Arc<dyn Llm>>) -> Result<LlmReranker, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let keys: Keys = config::deserialize(block)?;
    let Some(llm) = llm else {
        return Err(config_error(
            block,
            "llm_reranker needs a chat model: configure local_llm_json, or give the reranker its own \
             (provider, model, api_key, or a nested llm block)",
        ));
    };
    if keys.top_k == Some(0) {
        return Err(config_error(block, "top_k must be at least 1"));
    }
    let custom = config::non_blank(keys.scoring_prompt);
    // JSON mode requires the word "JSON" in the messages (OpenAI rejects it otherwise).
    let json_mode = custom.as_deref().is_none_or(|p| p.to_ascii_lowercase().contains("json"));
    Ok(LlmReranker {
        llm,
        system_prompt: custom.unwrap_or_else(|| SYSTEM_PROMPT.to_owned()),
        json_mode,
        cap: keys.top_k,
    })
}

impl LlmReranker {
    async fn score(&self, query: &str, document: &str) -> Result<f32, LlmError> {
        let user = format!("Query: {}\n\nDocument: {}", clip(query), clip(document));
        let request = ChatRequest {
            messages: vec![ChatMessage::system(self.system_prompt.clone()), ChatMessage::user(user)],
            response_format: if self.json_mode { ResponseFormat::JsonObject } else { ResponseFormat::Text },
            tools: Vec::new(),
            ..ChatRequest::default()
        };
        let answer = self.llm.chat(request).await?;
        Ok(read_score(answer.content.as_deref().unwrap_or_default()))
    }
}

#[async_trait]
impl Reranker for LlmReranker {
    async fn rerank(&self, query: &str, documents: &[String], top_n: usize) -> Result<Vec<RerankHit>, RerankError> {
        let top_n = top_n.min(self.cap.unwrap_or(usize::MAX)).min(documents.len());
        if top_n == 0 {
            return Ok(Vec::new());
        }
        let calls: Vec<_> = documents.iter().map(|d| self.score(query, d)).collect();
        let outcomes: Vec<Result<f32, LlmError>> = stream::iter(calls).buffered(CONCURRENCY).collect().await;
        if let Some(Err(first)) = outcomes.iter().find(|o| o.is_err()).filter(|_| outcomes.iter().all(Result::is_err)) {
            return Err(RerankError(format!("llm_reranker: every scoring call failed: {first}")));
        }
        let mut hits: Vec<RerankHit> = outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                let score = outcome.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, document = index, "llm_reranker: scoring failed; using the neutral score");
                    NEUTRAL_SCORE
                });
                RerankHit { index, score }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        hits.truncate(top_n);
        Ok(hits)
    }
}

/// The score in a model's reply: `{"score": s}`, else the first decimal, else the first integer,
/// clamped to [0, 1]; [`NEUTRAL_SCORE`] when there is none.
pub fn read_score(reply: &str) -> f32 {
    let from_json = extract_json(reply).and_then(|v| match v {
        Value::Number(n) => n.as_f64(),
        Value::Object(map) => map.get("score").or_else(|| map.get("relevance")).and_then(Value::as_f64),
        _ => None,
    });
    let score = from_json.or_else(|| first_number(reply, true)).or_else(|| first_number(reply, false));
    match score {
        Some(s) if s.is_finite() => s.clamp(0.0, 1.0) as f32,
        _ => {
            tracing::debug!("llm_reranker: no score in the reply; using the neutral score");
            NEUTRAL_SCORE
        }
    }
}

/// The first `-?\d+\.\d+` (when `decimal`) or `-?\d+` in the text.
fn first_number(text: &str, decimal: bool) -> Option<f64> {
    let bytes = text.as_bytes();
    let digits_from = |i: usize| bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let sign = usize::from(bytes[i] == b'-');
        let int = digits_from(i + sign);
        if int > 0 {
            let mut end = i + sign + int;
            if decimal {
                let frac = if bytes.get(end) == Some(&b'.') { digits_from(end + 1) } else { 0 };
                if frac > 0 {
                    end += 1 + frac;
                    return text[start..end].parse().ok();
                }
            } else {
                return text[start..end].parse().ok();
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

fn clip(text: &str) -> &str {
    match text.char_indices().nth(MAX_INPUT_CHARS) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;

    fn block(config: Value) -> ProviderBlock {
        test_block("local_reranker_json", "llm_reranker", config)
    }

    #[test]
    fn scores_are_read_like_mem0() {
        assert_eq!(read_score("{\"score\": 0.8}"), 0.8);
        assert_eq!(read_score("```json\n{\"score\": 1.7}\n```"), 1.0);
        assert_eq!(read_score("Relevance: 0.35 out of 1"), 0.35);
        assert_eq!(read_score("I'd say 3"), 1.0);
        assert_eq!(read_score("score -2"), 0.0);
        assert_eq!(read_score("no idea"), NEUTRAL_SCORE);
        assert_eq!(read_score("0.25"), 0.25);
        assert_eq!(first_number("v1.2.3 then 4.56", true), Some(1.2));
        assert_eq!(first_number("x-7y", false), Some(-7.0));
    }

    #[test]
    fn own_models_are_described_as_mem0_merges_them() {
        assert_eq!(own_llm_block(&block(json!({"top_k": 3}))).unwrap(), None);
        let own = own_llm_block(&block(json!({"model": "gpt-4o-mini", "api_key": "sk-123456"}))).unwrap().unwrap();
        assert_eq!((own.field, own.provider.as_str()), ("local_reranker_json", "openai"));
        assert_eq!(
            Value::Object(own.config),
            json!({"model": "gpt-4o-mini", "temperature": 0.0, "max_tokens": 100, "api_key": "sk-123456"})
        );
        let nested = own_llm_block(&block(json!({
            "llm": {"provider": "ollama", "config": {"ollama_base_url": "http://h:11434", "model": "qwen3"}},
            "max_tokens": 20,
        })))
        .unwrap()
        .unwrap();
        assert_eq!(nested.provider, "ollama");
        assert_eq!(
            Value::Object(nested.config),
            json!({"ollama_base_url": "http://h:11434", "model": "qwen3", "temperature": 0.0, "max_tokens": 20})
        );
        let err = own_llm_block(&block(json!({"llm": {"provider": "x", "cfg": {}}}))).unwrap_err().to_string();
        assert!(err.contains("unexpected key \"cfg\""), "{err}");
        let err = own_llm_block(&block(json!({"modle": "x"}))).unwrap_err().to_string();
        assert!(err.contains("unknown key \"modle\"") && err.contains("scoring_prompt"), "{err}");
    }

    #[test]
    fn a_model_is_required() {
        let err = from_block(&block(json!({})), None).unwrap_err().to_string();
        assert!(err.contains("llm_reranker needs a chat model"), "{err}");
    }

    #[test]
    fn long_inputs_are_clipped() {
        let long = "é".repeat(MAX_INPUT_CHARS + 10);
        assert_eq!(clip(&long).chars().count(), MAX_INPUT_CHARS);
    }
}
