//! Chat through Ollama's native API (`POST {ollama_base_url}/api/chat`, not streamed).
//!
//! Config keys are Mem0's base keys (see [`super::base`]) plus `ollama_base_url` (else `OLLAMA_HOST`,
//! else `http://localhost:11434`) and `num_ctx`; `api_key` (else `OLLAMA_API_KEY`) is sent as a bearer
//! token when set. As in Mem0: `temperature`, `top_p` and `max_tokens` (as `num_predict`) go in
//! `options`; JSON mode is `format: "json"` plus "Please respond with valid JSON only." appended to the
//! last user message, and an answer schema goes in `format` itself (Ollama's structured outputs; JSON
//! mode with `structured_output: "json_object"`); a request's smaller token limit becomes
//! `num_predict` and its stop sequences `options.stop`; tools are offered in OpenAI's shape (Ollama
//! cannot be forced to call one).

use super::base::{allowed_keys, cut_off, usable, BaseKeys, WireToolCall, JSON_INSTRUCTION};
use crate::adapters::config::{self, check_keys, config_error, HttpKeys};
use crate::adapters::http::{join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::ollama::{OllamaServer, BASE_URL_KEY};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, ChatRole, Llm, LlmError, StructuredOutput, Usage};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["ollama"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "llama3.1:70b";

const EXTRA_KEYS: &[&str] = &[BASE_URL_KEY, "num_ctx"];

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    num_ctx: Option<u32>,
}

/// A model served by Ollama.
#[derive(Debug)]
pub struct OllamaChat {
    url: String,
    headers: HeaderMap,
    model: String,
    options: Value,
    max_tokens: u32,
    structured: StructuredOutput,
    http: HttpClient,
}

impl OllamaChat {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let keys: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let server = OllamaServer::from_block(block, base.api_key.as_ref(), env)?;
        let http = HttpClient::new("ollama chat", &settings).map_err(|e| config_error(block, e.to_string()))?;
        let mut options =
            json!({"temperature": base.temperature(), "num_predict": base.max_tokens(), "top_p": base.top_p()});
        if let Some(num_ctx) = keys.num_ctx {
            options["num_ctx"] = json!(num_ctx);
        }
        Ok(Self {
            url: join_url(&server.base_url, "api/chat"),
            http: server.register_secret(http),
            headers: server.headers,
            model: base.model_or(DEFAULT_MODEL),
            options,
            max_tokens: base.max_tokens(),
            structured: base.structured(StructuredOutput::Schema),
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let mut messages: Vec<Value> =
            request.messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect();
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        if request.response_format.wants_json() {
            let format = match request.response_format.schema() {
                Some(schema) if self.structured == StructuredOutput::Schema => schema.schema.clone(),
                _ => json!("json"),
            };
            body.insert("format".into(), format);
            match (request.messages.last(), messages.last_mut()) {
                (Some(last), Some(wire)) if last.role == ChatRole::User => {
                    wire["content"] = json!(format!("{}\n\n{JSON_INSTRUCTION}", last.content));
                }
                _ => messages.push(json!({"role": "user", "content": JSON_INSTRUCTION})),
            }
        }
        body.insert("messages".into(), Value::Array(messages));
        body.insert("stream".into(), json!(false));
        let mut options = self.options.clone();
        options["num_predict"] = json!(request.token_limit(self.max_tokens));
        if !request.stop.is_empty() {
            options["stop"] = json!(request.stop);
        }
        body.insert("options".into(), options);
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        Value::Object(body)
    }
}

#[async_trait]
impl Llm for OllamaChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let answer: Answer = self.http.post_json(&self.url, &self.headers, &self.body(&request)).await?;
        let redactor = self.http.redactor();
        answer
            .into_response(self.max_tokens)
            .map_err(|e| LlmError::Protocol(redactor.redact_and_truncate(&e)))
            .and_then(usable)
    }
}

/// An `/api/chat` answer (only the fields used).
#[derive(Debug, Deserialize)]
struct Answer {
    message: WireMessage,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

impl Answer {
    fn into_response(self, max_tokens: u32) -> Result<ChatResponse, String> {
        let content = self.message.content.filter(|c| !c.is_empty());
        let tool_calls = self
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .map(WireToolCall::read)
            .collect::<Result<Vec<_>, _>>()?;
        if content.is_none() && tool_calls.is_empty() && self.done_reason.as_deref() == Some("length") {
            return Err(cut_off(max_tokens));
        }
        let usage = match (self.prompt_eval_count, self.eval_count) {
            (None, None) => None,
            (p, c) => Some(Usage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0) }),
        };
        Ok(ChatResponse { content, tool_calls, usage })
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
    use crate::ports::llm::ChatMessage;

    #[test]
    fn json_mode_adds_mem0s_instruction() {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "ollama", "config": {"num_ctx": 8192}}))
            .unwrap()
            .unwrap();
        let chat = OllamaChat::from_block(&block, &crate::adapters::config::test_context(&[])).unwrap();
        let request = ChatRequest {
            messages: vec![ChatMessage::system("s"), ChatMessage::user("u")],
            response_format: crate::ports::llm::ResponseFormat::JsonObject,
            tools: vec![],
            ..ChatRequest::default()
        };
        let body = chat.body(&request);
        assert_eq!(body["messages"][1]["content"], "u\n\nPlease respond with valid JSON only.");
        assert_eq!((body["format"].clone(), body["options"]["num_ctx"].clone()), (json!("json"), json!(8192)));
        let system_only = ChatRequest { messages: vec![ChatMessage::system("s")], ..request };
        assert_eq!(chat.body(&system_only)["messages"][1], json!({"role": "user", "content": JSON_INSTRUCTION}));
    }

    #[test]
    fn answers_are_read() {
        let answer: Answer = serde_json::from_value(json!({"message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}, "prompt_eval_count": 5, "eval_count": 2}))
        .unwrap();
        let answer = answer.into_response(10).unwrap();
        assert_eq!((answer.content, answer.tool_calls[0].arguments.clone()), (None, json!({"a": 1})));
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 5, completion_tokens: 2 }));
        let cut: Answer = serde_json::from_value(json!({"message": {"content": ""}, "done_reason": "length"})).unwrap();
        assert!(cut.into_response(10).unwrap_err().contains("max_tokens"));
    }
}
