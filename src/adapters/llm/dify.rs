//! The `dify` chat model: one backwards invocation of type `llm` per chat (the request body the
//! Python SDK's `LLMInvocation` sends; the answer is a stream of `LLMResultChunk`s).
//!
//! The invocation has no JSON or schema mode: an answer schema asked for is described in a last system
//! message (the answer is read tolerantly). A request's smaller token limit replaces `max_tokens` in
//! `completion_params`, and its stop sequences are sent as `stop`.

use super::base::{schema_instruction, write_path_settings, WireToolCall, DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE};
use crate::adapters::config::{self, check_keys, config_error};
use crate::adapters::dify::backwards::current_caller;
pub use crate::adapters::dify::models::PROVIDERS;
use crate::adapters::dify::models::{DifyModel, MODEL_KEYS};
use crate::adapters::dify::protocol::null_as_default;
use crate::domain::credentials::ProviderBlock;
use crate::domain::extraction_settings;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, ToolCall, Usage};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The keys of a `dify` `local_llm_json` block.
pub const KEYS: &[&str] = &["mode", "completion_params", "temperature", "max_tokens", "top_p"];

/// The modes Dify's LLM invocation knows.
const MODES: &[&str] = &["chat", "completion"];

/// A chat model of the user's Dify workspace.
#[derive(Debug, Clone)]
pub struct DifyChat {
    model: DifyModel,
    mode: String,
    completion_params: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChatKeys {
    mode: Option<String>,
    completion_params: Option<Map<String, Value>>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
    top_p: Option<f64>,
}

impl DifyChat {
    /// Reads a `dify` block: [`MODEL_KEYS`] and [`KEYS`]. `temperature` (default 0.1, Mem0's),
    /// `max_tokens` (default 2000) and `top_p` go into `completion_params` unless it sets them.
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        check_keys(block, &keys(&block.provider))?;
        write_path_settings(block)?;
        let model = DifyModel::from_block(block, "gpt-4o-mini")?;
        let keys: ChatKeys = config::deserialize(block)?;
        let mode = config::non_blank(keys.mode).unwrap_or_else(|| "chat".to_owned());
        if !MODES.contains(&mode.as_str()) {
            return Err(config_error(block, format!("mode must be one of {}, got {mode:?}", MODES.join(", "))));
        }
        let mut completion_params = keys.completion_params.unwrap_or_default();
        let temperature = keys.temperature.unwrap_or(DEFAULT_TEMPERATURE);
        completion_params.entry("temperature").or_insert(json!(temperature));
        completion_params.entry("max_tokens").or_insert(json!(keys.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
        if let Some(top_p) = keys.top_p {
            completion_params.entry("top_p").or_insert(json!(top_p));
        }
        Ok(Self { model, mode, completion_params })
    }

    /// The `request` of the `llm` invocation for one chat.
    fn request(&self, chat: &ChatRequest) -> Value {
        let mut messages: Vec<Value> =
            chat.messages.iter().map(|m| json!({"role": m.role, "content": m.content, "name": null})).collect();
        if let Some(schema) = chat.response_format.schema() {
            messages.push(json!({"role": "system", "content": schema_instruction(&schema.schema), "name": null}));
        }
        let mut completion_params = self.completion_params.clone();
        if let (Some(wanted), Some(configured)) =
            (chat.max_tokens, completion_params.get("max_tokens").and_then(Value::as_u64))
        {
            let configured = u32::try_from(configured).unwrap_or(u32::MAX);
            completion_params.insert("max_tokens".into(), json!(wanted.clamp(1, configured)));
        }
        let stop = (!chat.stop.is_empty()).then(|| chat.stop.clone());
        let tools = (!chat.tools.is_empty()).then(|| {
            chat.tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
                .collect::<Vec<_>>()
        });
        json!({
            "provider": self.model.provider,
            "model": self.model.model,
            "model_type": "llm",
            "mode": self.mode,
            "completion_params": completion_params,
            "prompt_messages": messages,
            "tools": tools,
            "stop": stop,
            "stream": false,
        })
    }
}

#[async_trait]
impl Llm for DifyChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let caller = current_caller()?;
        let chunks = caller.invoke("llm", self.request(&request), self.model.silence).await?;
        tracing::debug!(model = %self.model.model, chunks = chunks.len(), "dify llm answered");
        merge_chunks(&chunks).map_err(LlmError::Protocol).and_then(crate::adapters::llm::base::usable)
    }

    fn bound_to_call(&self) -> bool {
        true
    }
}

/// One `LLMResultChunk` (the fields read). The daemon forwards `null` for absent lists and
/// objects (`"tool_calls": null`); every one of them reads as empty.
#[derive(Debug, Deserialize)]
struct Chunk {
    delta: Delta,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(deserialize_with = "null_as_default")]
    message: AssistantMessage,
    #[serde(default)]
    usage: Option<ChunkUsage>,
}

#[derive(Debug, Default, Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Deserialize)]
struct ChunkUsage {
    #[serde(default, deserialize_with = "null_as_default")]
    prompt_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    completion_tokens: u64,
}

/// The answer of a stream of chunks, as the SDK builds it: texts joined, the last non-empty list
/// of tool calls, usage summed.
fn merge_chunks(chunks: &[Value]) -> Result<ChatResponse, String> {
    if chunks.is_empty() {
        return Err("Dify ended the llm invocation without an answer".into());
    }
    let mut text = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut usage: Option<Usage> = None;
    for value in chunks {
        let chunk: Chunk =
            serde_json::from_value(value.clone()).map_err(|e| format!("an LLMResultChunk is malformed: {e}"))?;
        text.push_str(&content_text(&chunk.delta.message.content)?);
        if !chunk.delta.message.tool_calls.is_empty() {
            calls = chunk.delta.message.tool_calls.into_iter().map(WireToolCall::read).collect::<Result<_, _>>()?;
        }
        if let Some(u) = chunk.delta.usage {
            let total = usage.get_or_insert_with(Usage::default);
            total.prompt_tokens += u.prompt_tokens;
            total.completion_tokens += u.completion_tokens;
        }
    }
    Ok(ChatResponse { content: (!text.is_empty()).then_some(text), tool_calls: calls, usage })
}

/// The text of a message's `content`: a string, a list of content parts (the `text` ones
/// joined), or nothing.
fn content_text(content: &Value) -> Result<String, String> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        Value::Array(parts) => Ok(parts
            .iter()
            .filter(|p| p["type"] == "text")
            .filter_map(|p| p["data"].as_str())
            .collect::<Vec<_>>()
            .concat()),
        other => Err(format!("the message content is neither text nor a list of parts: {other}")),
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    MODEL_KEYS.iter().chain(KEYS).chain(extraction_settings::KEYS).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::llm::{ChatMessage, ResponseFormat, ToolSpec};

    fn block(config: Value) -> ProviderBlock {
        ProviderBlock::parse("local_llm_json", &json!({"provider": "dify", "config": config})).unwrap().unwrap()
    }

    fn chunk(content: Value, tool_calls: Value, usage: Value) -> Value {
        json!({"model": "m", "prompt_messages": [], "system_fingerprint": null, "delta": {"index": 0,
            "message": {"role": "assistant", "content": content, "name": null, "tool_calls": tool_calls},
            "usage": usage, "finish_reason": null}})
    }

    #[test]
    fn the_request_is_the_sdk_llm_invocation() {
        let chat = DifyChat::from_block(&block(json!({
            "provider": "langgenius/openai/openai", "model": "gpt-4o-mini", "completion_params": {"temperature": 0.7},
            "top_p": 0.5})))
        .unwrap();
        let request = ChatRequest {
            messages: vec![ChatMessage::system("be brief"), ChatMessage::user("hi")],
            response_format: ResponseFormat::JsonObject,
            tools: vec![ToolSpec { name: "f".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
            ..ChatRequest::default()
        };
        assert_eq!(
            chat.request(&request),
            json!({
                "provider": "langgenius/openai/openai", "model": "gpt-4o-mini", "model_type": "llm", "mode": "chat",
                "completion_params": {"temperature": 0.7, "max_tokens": 2000, "top_p": 0.5},
                "prompt_messages": [
                    {"role": "system", "content": "be brief", "name": null},
                    {"role": "user", "content": "hi", "name": null}],
                "tools": [{"name": "f", "description": "d", "parameters": {"type": "object"}}],
                "stop": null, "stream": false,
            })
        );
        let plain = ChatRequest { messages: vec![ChatMessage::user("hi")], ..ChatRequest::default() };
        assert_eq!(chat.request(&plain)["tools"], Value::Null);
    }

    #[test]
    fn unknown_keys_and_modes_are_refused() {
        let error = DifyChat::from_block(&block(json!({"provider": "p", "model": "m", "api_key": "k"})))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown key \"api_key\""), "{error}");
        let error = DifyChat::from_block(&block(json!({"provider": "p", "model": "m", "mode": "agent"})))
            .unwrap_err()
            .to_string();
        assert!(error.contains("mode must be one of chat, completion"), "{error}");
    }

    #[test]
    fn chunks_are_merged_like_the_sdk() {
        let chunks = vec![
            chunk(json!("Hel"), json!([]), Value::Null),
            chunk(json!([{"type": "text", "data": "lo"}, {"type": "image", "data": "x"}]), json!([]), Value::Null),
            chunk(
                Value::Null,
                json!([{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]),
                json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}),
            ),
        ];
        let answer = merge_chunks(&chunks).unwrap();
        assert_eq!(answer.content.as_deref(), Some("Hello"));
        assert_eq!(answer.tool_calls, vec![ToolCall { name: "f".into(), arguments: json!({"a": 1}) }]);
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 7, completion_tokens: 3 }));
    }

    #[test]
    fn null_lists_and_objects_read_as_empty() {
        // the Go daemon forwards null for every absent list or object
        let chunks = vec![
            chunk(json!("Hel"), Value::Null, Value::Null),
            json!({"delta": {"index": 0, "message": null, "usage": null, "finish_reason": null}}),
            chunk(json!("lo"), Value::Null, json!({"prompt_tokens": null, "completion_tokens": 2})),
        ];
        let answer = merge_chunks(&chunks).unwrap();
        assert_eq!(answer.content.as_deref(), Some("Hello"));
        assert!(answer.tool_calls.is_empty());
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 0, completion_tokens: 2 }));
        let call = json!([{"id": "1", "type": "function", "function": {"name": "f", "arguments": null}}]);
        let answer = merge_chunks(&[chunk(Value::Null, call, Value::Null)]).unwrap();
        assert_eq!(answer.tool_calls, vec![ToolCall { name: "f".into(), arguments: json!({}) }]);
    }

    #[test]
    fn empty_or_malformed_answers_are_errors() {
        assert!(merge_chunks(&[]).unwrap_err().contains("without an answer"));
        assert!(merge_chunks(&[json!({"delta": {}})]).unwrap_err().contains("malformed"));
        assert!(merge_chunks(&[chunk(json!(3), json!([]), Value::Null)]).unwrap_err().contains("neither text"));
        let bad_args = chunk(Value::Null, json!([{"function": {"name": "f", "arguments": "{bad"}}]), Value::Null);
        assert!(merge_chunks(&[bad_args]).unwrap_err().contains("not valid JSON"));
    }

    #[tokio::test]
    async fn outside_a_dify_call_the_model_is_unavailable() {
        let chat = DifyChat::from_block(&block(json!({"provider": "p", "model": "m"}))).unwrap();
        assert!(chat.bound_to_call());
        let error = chat.chat(ChatRequest::default()).await.unwrap_err();
        assert!(matches!(error, LlmError::Unavailable(_)), "{error:?}");
        assert!(error.to_string().contains("only while Dify is calling this plugin"), "{error}");
    }
}
