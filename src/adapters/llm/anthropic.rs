//! Chat through Anthropic's Messages API (`POST {anthropic_base_url}/v1/messages`, `x-api-key`,
//! `anthropic-version: 2023-06-01`).
//!
//! Config keys are Mem0's base keys (see [`super::base`]) plus `anthropic_base_url` (else
//! `ANTHROPIC_BASE_URL`, else `https://api.anthropic.com`) and `enable_sampling_parameters`; `api_key`
//! falls back to `ANTHROPIC_API_KEY`. The system messages go in `system`. As in Mem0, only `temperature`
//! is sent (the API refuses it beside `top_p`), and only to models that accept sampling parameters
//! (Mem0's rule: not to Sonnet 5+ or Opus 4.7+, unless `enable_sampling_parameters` says otherwise).
//!
//! JSON mode, which the API lacks, is a forced call of a `json_answer` tool whose input is the answer:
//! the reply's content is that input as JSON text; an answer schema is that tool's `input_schema`
//! (any object with `structured_output: "json_object"`). Offered tools are forced with
//! `tool_choice: any`, and `tool_use` blocks become tool calls. A request's smaller token limit is
//! sent as `max_tokens`, its stop sequences that are not only whitespace as `stop_sequences`.

use super::base::{allowed_keys, cut_off, tool_call, usable, visible_stops, BaseKeys, Conversation};
use crate::adapters::config::{self, check_keys, config_error, missing_key, secret_or_env, HttpKeys};
use crate::adapters::http::{join_url, secret_header, HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, StructuredOutput, Usage};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["anthropic"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-6";
/// Anthropic's API.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header.
pub const API_VERSION: &str = "2023-06-01";
/// The tool forced in JSON mode.
pub const JSON_TOOL: &str = "json_answer";

const EXTRA_KEYS: &[&str] = &["anthropic_base_url", "enable_sampling_parameters"];

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    enable_sampling_parameters: Option<bool>,
}

/// A Claude model reached through the Messages API.
#[derive(Debug)]
pub struct AnthropicChat {
    url: String,
    headers: HeaderMap,
    model: String,
    max_tokens: u32,
    temperature: Option<f64>,
    structured: StructuredOutput,
    http: HttpClient,
}

impl AnthropicChat {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let keys: Keys = config::deserialize(block)?;
        if let Some(t) = base.temperature.filter(|t| *t > 1.0) {
            return Err(config_error(block, format!("temperature must be between 0 and 1 for Anthropic, got {t}")));
        }
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let base_url = config::base_url(block, "anthropic_base_url", &["ANTHROPIC_BASE_URL"], env, DEFAULT_BASE_URL)?;
        let api_key = secret_or_env(base.api_key.as_ref(), &["ANTHROPIC_API_KEY"], env)
            .ok_or_else(|| missing_key(block, "api_key", &["ANTHROPIC_API_KEY"]))?;
        let mut headers = HeaderMap::new();
        let key = secret_header(api_key.expose_secret(), "api_key").map_err(|e| config_error(block, e.to_string()))?;
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(HeaderName::from_static("anthropic-version"), HeaderValue::from_static(API_VERSION));
        let model = base.model_or(DEFAULT_MODEL);
        let sampling = keys.enable_sampling_parameters.unwrap_or_else(|| takes_sampling_parameters(&model));
        let http = HttpClient::new("anthropic messages", &settings)
            .map_err(|e| config_error(block, e.to_string()))?
            .with_secret(api_key.expose_secret());
        Ok(Self {
            url: join_url(&base_url, "v1/messages"),
            headers,
            max_tokens: base.max_tokens(),
            temperature: sampling.then(|| base.temperature()),
            structured: base.structured(StructuredOutput::Schema),
            model,
            http,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The request body.
    fn body(&self, request: &ChatRequest) -> Value {
        let conversation = Conversation::split(&request.messages);
        let messages: Vec<Value> = conversation
            .turns
            .iter()
            .map(|t| json!({"role": if t.from_user { "user" } else { "assistant" }, "content": t.text}))
            .collect();
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("max_tokens".into(), json!(request.token_limit(self.max_tokens)));
        let stops = visible_stops(request);
        if !stops.is_empty() {
            body.insert("stop_sequences".into(), json!(stops));
        }
        if let Some(system) = conversation.system {
            body.insert("system".into(), json!(system));
        }
        body.insert("messages".into(), Value::Array(messages));
        if let Some(temperature) = self.temperature {
            body.insert("temperature".into(), json!(temperature));
        }
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
            body.insert("tools".into(), Value::Array(tools));
            body.insert("tool_choice".into(), json!({"type": "any"}));
        } else if request.response_format.wants_json() {
            let schema = match request.response_format.schema() {
                Some(schema) if self.structured == StructuredOutput::Schema => schema.schema.clone(),
                _ => json!({"type": "object", "additionalProperties": true}),
            };
            body.insert(
                "tools".into(),
                json!([{"name": JSON_TOOL,
                        "description": "Give your complete answer: the JSON object the instructions ask for.",
                        "input_schema": schema}]),
            );
            body.insert("tool_choice".into(), json!({"type": "tool", "name": JSON_TOOL}));
        }
        Value::Object(body)
    }
}

#[async_trait]
impl Llm for AnthropicChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let json_tool = request.tools.is_empty() && request.response_format.wants_json();
        let answer: Message = self.http.post_json(&self.url, &self.headers, &self.body(&request)).await?;
        let redactor = self.http.redactor();
        answer
            .into_response(json_tool, self.max_tokens)
            .map_err(|e| LlmError::Protocol(redactor.redact_and_truncate(&e)))
            .and_then(usable)
    }
}

/// Mem0's rule for models that accept sampling parameters: legacy `claude-3-*` ids and Haiku do;
/// Sonnet before 5 and Opus before 4.7 do; other and unknown names do not. A dated snapshot suffix
/// (`claude-opus-4-20250514`) counts as minor version 0.
pub fn takes_sampling_parameters(model: &str) -> bool {
    let name = model.to_ascii_lowercase();
    let name = name.rsplit_once('[').map_or(name.as_str(), |(head, _)| head);
    let parts: Vec<&str> = name.split('-').collect();
    let number = |i: usize| {
        parts.get(i).filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())).map(|p| {
            if p.len() >= 8 {
                0
            } else {
                p.parse::<u32>().unwrap_or(u32::MAX)
            }
        })
    };
    if parts.len() > 1 && number(1).is_some() {
        return true;
    }
    let family = parts.get(1).copied().filter(|f| !f.is_empty()).unwrap_or(name);
    match (family, number(2), number(3)) {
        ("haiku", _, _) => true,
        ("sonnet", Some(major), _) => major < 5,
        ("opus", Some(major), Some(minor)) => (major, minor) < (4, 7),
        ("opus", Some(major), None) => major < 4,
        _ => false,
    }
}

/// A Messages API answer (only the fields used).
#[derive(Debug, Deserialize)]
struct Message {
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        name: String,
        #[serde(default)]
        input: Option<Value>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl Message {
    /// The port's response; in JSON mode the `json_answer` input is the content.
    fn into_response(self, json_tool: bool, max_tokens: u32) -> Result<ChatResponse, String> {
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in self.content {
            match block {
                Block::Text { text } => texts.push(text),
                Block::ToolUse { name, input } if json_tool && name == JSON_TOOL => {
                    texts = vec![input.unwrap_or_else(|| json!({})).to_string()];
                }
                Block::ToolUse { name, input } => tool_calls.push(tool_call(name, input)?),
                Block::Other => {}
            }
        }
        let content = Some(texts.concat()).filter(|t| !t.is_empty());
        if content.is_none() && tool_calls.is_empty() && self.stop_reason.as_deref() == Some("max_tokens") {
            return Err(cut_off(max_tokens));
        }
        let usage = self.usage.map(|u| Usage { prompt_tokens: u.input_tokens, completion_tokens: u.output_tokens });
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

    #[test]
    fn sampling_parameters_follow_mem0s_rule() {
        for model in [
            "claude-3-5-sonnet-20240620",
            "claude-3-opus",
            "claude-haiku-4-5",
            "claude-sonnet-4-6",
            "claude-opus-4-1",
            "claude-opus-4-20250514",
        ] {
            assert!(takes_sampling_parameters(model), "{model}");
        }
        for model in ["claude-sonnet-5", "claude-opus-4-7", "claude-opus-5-0", "opus", "my-proxy-model"] {
            assert!(!takes_sampling_parameters(model), "{model}");
        }
    }

    #[test]
    fn answers_are_read() {
        let parse =
            |v: Value, json_tool: bool| serde_json::from_value::<Message>(v).unwrap().into_response(json_tool, 10);
        let answer = parse(
            json!({"content": [{"type": "thinking", "thinking": "x"}, {"type": "text", "text": "a"},
                   {"type": "tool_use", "id": "t", "name": "f", "input": {"k": 1}}],
                   "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}}),
            false,
        )
        .unwrap();
        assert_eq!(answer.content.as_deref(), Some("a"));
        assert_eq!((answer.tool_calls[0].name.as_str(), &answer.tool_calls[0].arguments), ("f", &json!({"k": 1})));
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 3, completion_tokens: 4 }));
        let answer = parse(
            json!({"content": [{"type": "tool_use", "id": "t", "name": JSON_TOOL, "input": {"facts": []}}]}),
            true,
        )
        .unwrap();
        assert_eq!((answer.content.as_deref(), answer.tool_calls.len()), (Some(r#"{"facts":[]}"#), 0));
        let err = parse(json!({"content": [], "stop_reason": "max_tokens"}), false).unwrap_err();
        assert!(err.contains("max_tokens (10)"), "{err}");
    }
}
