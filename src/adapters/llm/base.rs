//! What every chat adapter shares: Mem0's `BaseLlmConfig` keys (names, typed reading, range checks,
//! defaults), the split of a conversation into system text and alternating turns (Anthropic, Gemini,
//! Bedrock), and the reading of tool-call arguments.

use crate::adapters::config::{self, config_error, non_blank};
use crate::domain::credentials::{strip_code_fence, ProviderBlock};
use crate::domain::extraction_settings::{self, ExtractionSettings, SchemaUse};
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatMessage, ChatRequest, ChatResponse, ChatRole, LlmError, StructuredOutput, ToolCall};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

/// Mem0's default `temperature`.
pub const DEFAULT_TEMPERATURE: f64 = 0.1;
/// Mem0's default `top_p`.
pub const DEFAULT_TOP_P: f64 = 0.1;
/// Mem0's default `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 2000;

/// The sentence Mem0 adds to ask for JSON where a provider has no JSON mode (Mem0's Ollama wording).
pub const JSON_INSTRUCTION: &str = "Please respond with valid JSON only.";

/// The error for an answer with no content because it hit the token limit.
pub fn cut_off(max_tokens: u32) -> String {
    format!("the answer was cut off at max_tokens ({max_tokens}) before any content; raise max_tokens")
}

/// The answer if it holds something to read: text that is not blank, or a tool call. An empty
/// completion is [`LlmError::BadAnswer`] (transient: providers answer so while overloaded), the same
/// for every provider.
pub fn usable(response: ChatResponse) -> Result<ChatResponse, LlmError> {
    let blank = response.content.as_deref().is_none_or(|c| c.trim().is_empty());
    if blank && response.tool_calls.is_empty() {
        return Err(LlmError::BadAnswer("the answer has no content".to_owned()));
    }
    Ok(response)
}

/// Keys every chat provider accepts: Mem0's `BaseLlmConfig` plus the shared HTTP keys (`timeout`,
/// `max_retries` are ours) and the write path's ([`extraction_settings::KEYS`]).
pub const BASE_KEYS: &[&str] = &[
    extraction_settings::EXTRACTION_MODE,
    extraction_settings::FACT_ROLES,
    extraction_settings::STRUCTURED_OUTPUT,
    "model",
    "api_key",
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "enable_vision",
    "vision_details",
    "reasoning_effort",
    "is_reasoning_model",
    "http_client_proxies",
    "timeout",
    "max_retries",
];

/// The keys a provider accepts: [`BASE_KEYS`] and its own.
pub fn allowed_keys(extra: &[&'static str]) -> Vec<&'static str> {
    config::allowed_keys(BASE_KEYS, extra)
}

/// The typed [`BASE_KEYS`] of a block (other keys are ignored here; unknown ones are rejected earlier).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BaseKeys {
    /// `model`.
    pub model: Option<String>,
    /// `api_key`.
    pub api_key: Option<SecretString>,
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `max_tokens`.
    pub max_tokens: Option<u32>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `top_k`: accepted for Mem0 compatibility (type-checked); Mem0 sends it to no provider.
    pub top_k: Option<u32>,
    /// `enable_vision`: accepted (type-checked); messages here are text only.
    pub enable_vision: Option<bool>,
    /// `vision_details`.
    pub vision_details: Option<String>,
    /// `reasoning_effort`.
    pub reasoning_effort: Option<String>,
    /// `is_reasoning_model`.
    pub is_reasoning_model: Option<bool>,
    /// The write path's settings ([`extraction_settings::KEYS`]), checked here so that a bad value
    /// is refused when the block is built.
    #[serde(skip)]
    pub extraction: ExtractionSettings,
}

impl BaseKeys {
    /// Reads and range-checks the keys.
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        let mut keys: Self = config::deserialize(block)?;
        keys.check(block)?;
        keys.extraction = write_path_settings(block)?;
        Ok(keys)
    }

    /// How answers meant to follow a schema are asked for: what the provider `supports`, lowered to
    /// JSON mode when `structured_output` is `"json_object"`.
    pub fn structured(&self, supports: StructuredOutput) -> StructuredOutput {
        match (self.extraction.schema_use, supports) {
            (SchemaUse::JsonObject, StructuredOutput::Schema) => StructuredOutput::JsonMode,
            (_, supports) => supports,
        }
    }

    fn check(&self, block: &ProviderBlock) -> Result<(), BuildError> {
        let bad = |message: String| Err(config_error(block, message));
        if let Some(t) = self.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
            return bad(format!("temperature must be between 0 and 2, got {t}"));
        }
        if let Some(p) = self.top_p.filter(|p| !(0.0..=1.0).contains(p)) {
            return bad(format!("top_p must be between 0 and 1, got {p}"));
        }
        if self.max_tokens == Some(0) {
            return bad("max_tokens must be at least 1, got 0".to_owned());
        }
        if let Some(detail) = self.vision_details.as_deref().filter(|d| !["low", "high", "auto"].contains(d)) {
            return bad(format!("vision_details must be \"low\", \"high\" or \"auto\", got {detail:?}"));
        }
        Ok(())
    }

    /// `model`, or the provider's default.
    pub fn model_or(&self, default: &str) -> String {
        non_blank(self.model.clone()).unwrap_or_else(|| default.to_owned())
    }

    /// `temperature`, or Mem0's default.
    pub fn temperature(&self) -> f64 {
        self.temperature.unwrap_or(DEFAULT_TEMPERATURE)
    }

    /// `top_p`, or Mem0's default.
    pub fn top_p(&self) -> f64 {
        self.top_p.unwrap_or(DEFAULT_TOP_P)
    }

    /// `max_tokens`, or Mem0's default.
    pub fn max_tokens(&self) -> u32 {
        self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)
    }
}

/// The write path's settings of an LLM block, checked (an error names the key).
pub fn write_path_settings(block: &ProviderBlock) -> Result<ExtractionSettings, BuildError> {
    ExtractionSettings::from_config(&block.config).map_err(|message| config_error(block, message))
}

/// The stop sequences of a request that hold more than whitespace (some APIs refuse the others).
pub fn visible_stops(request: &ChatRequest) -> Vec<String> {
    request.stop.iter().filter(|s| !s.trim().is_empty()).cloned().collect()
}

/// The system text that describes the schema to a model the provider cannot hold to it.
pub fn schema_instruction(schema: &Value) -> String {
    format!("{JSON_INSTRUCTION} The JSON must follow this JSON Schema: {schema}")
}

/// One turn of a conversation whose system text was taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// True for the user, false for the model.
    pub from_user: bool,
    /// Text.
    pub text: String,
}

/// A conversation as Anthropic, Gemini and Bedrock take it: the system text apart, and turns that
/// alternate between user and model, starting with the user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conversation {
    /// Every system message, joined by blank lines.
    pub system: Option<String>,
    /// The other messages; consecutive messages of one speaker are joined by blank lines.
    pub turns: Vec<Turn>,
}

impl Conversation {
    /// Splits `messages`. With no user or model message at all, the system text becomes the user turn
    /// (these APIs refuse an empty conversation).
    pub fn split(messages: &[ChatMessage]) -> Self {
        let mut system: Vec<&str> = Vec::new();
        let mut turns: Vec<Turn> = Vec::new();
        for message in messages {
            let from_user = match message.role {
                ChatRole::System => {
                    system.push(&message.content);
                    continue;
                }
                ChatRole::User => true,
                ChatRole::Assistant => false,
            };
            match turns.last_mut() {
                Some(last) if last.from_user == from_user => {
                    last.text.push_str("\n\n");
                    last.text.push_str(&message.content);
                }
                _ => turns.push(Turn { from_user, text: message.content.clone() }),
            }
        }
        let system = (!system.is_empty()).then(|| system.join("\n\n"));
        if turns.is_empty() {
            return Self { system: None, turns: vec![Turn { from_user: true, text: system.unwrap_or_default() }] };
        }
        Self { system, turns }
    }
}

/// A tool call in the OpenAI shape (`{"function": {"name", "arguments"}}`), which OpenAI-compatible
/// servers, Ollama and Dify's `LLMResultChunk` all answer with.
#[derive(Debug, Deserialize)]
pub struct WireToolCall {
    /// The function called.
    pub function: WireFunction,
}

/// The function of a [`WireToolCall`].
#[derive(Debug, Deserialize)]
pub struct WireFunction {
    /// Its name.
    pub name: String,
    /// Its arguments: an object, a JSON string holding one, or nothing.
    #[serde(default)]
    pub arguments: Option<Value>,
}

impl WireToolCall {
    /// The call with its arguments read (see [`tool_call`]).
    pub fn read(self) -> Result<ToolCall, String> {
        tool_call(self.function.name, self.function.arguments)
    }
}

/// A tool call with its arguments read: an object, a JSON string holding one (code fences tolerated;
/// blank means `{}`), or nothing (`{}`). Anything else is an error naming the function.
pub fn tool_call(name: String, arguments: Option<Value>) -> Result<ToolCall, String> {
    let arguments = match arguments {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(text)) => {
            let body = strip_code_fence(&text);
            if body.is_empty() {
                json!({})
            } else {
                serde_json::from_str::<Value>(body)
                    .map_err(|e| format!("the arguments of the call to {name:?} are not valid JSON ({e})"))?
            }
        }
        Some(other) => other,
    };
    if !arguments.is_object() {
        return Err(format!("the arguments of the call to {name:?} are not a JSON object"));
    }
    Ok(ToolCall { name, arguments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;

    fn block(config: Value) -> ProviderBlock {
        test_block("local_llm_json", "ollama", config)
    }

    #[test]
    fn base_keys_are_checked_and_defaulted() {
        let keys = BaseKeys::from_block(&block(json!({"model": " ", "max_tokens": 10}))).unwrap();
        assert_eq!(
            (keys.model_or("m"), keys.max_tokens(), keys.temperature(), keys.top_p()),
            ("m".into(), 10, 0.1, 0.1)
        );
        let err = BaseKeys::from_block(&block(json!({"temperature": 3}))).unwrap_err().to_string();
        assert!(err.contains("temperature must be between 0 and 2"), "{err}");
        let err = BaseKeys::from_block(&block(json!({"top_p": 2}))).unwrap_err().to_string();
        assert!(err.contains("top_p must be between 0 and 1"), "{err}");
        let err = BaseKeys::from_block(&block(json!({"max_tokens": 0}))).unwrap_err().to_string();
        assert!(err.contains("max_tokens must be at least 1"), "{err}");
        let err = BaseKeys::from_block(&block(json!({"vision_details": "max"}))).unwrap_err().to_string();
        assert!(err.contains("vision_details must be"), "{err}");
        assert!(allowed_keys(&["ollama_base_url"]).contains(&"ollama_base_url"));
    }

    #[test]
    fn conversations_split_system_and_merge_turns() {
        let messages = vec![
            ChatMessage::system("a"),
            ChatMessage::user("b"),
            ChatMessage::user("c"),
            ChatMessage { role: ChatRole::Assistant, content: "d".into() },
            ChatMessage::system("e"),
        ];
        let conversation = Conversation::split(&messages);
        assert_eq!(conversation.system.as_deref(), Some("a\n\ne"));
        assert_eq!(
            conversation.turns,
            vec![Turn { from_user: true, text: "b\n\nc".into() }, Turn { from_user: false, text: "d".into() }]
        );
        let only_system = Conversation::split(&[ChatMessage::system("s")]);
        assert_eq!(only_system, Conversation { system: None, turns: vec![Turn { from_user: true, text: "s".into() }] });
    }

    #[test]
    fn tool_arguments_are_read() {
        assert_eq!(tool_call("f".into(), None).unwrap().arguments, json!({}));
        assert_eq!(tool_call("f".into(), Some(json!("```json\n{\"a\":1}\n```"))).unwrap().arguments, json!({"a": 1}));
        assert_eq!(tool_call("f".into(), Some(json!({"b": 2}))).unwrap().arguments, json!({"b": 2}));
        assert!(tool_call("f".into(), Some(json!("{bad"))).unwrap_err().contains("not valid JSON"));
        assert!(tool_call("f".into(), Some(json!([1]))).unwrap_err().contains("not a JSON object"));
    }
}
