//! Outbound port: a chat model (OpenAI-style chat, JSON mode, tool calls).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// Who a chat message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The user's turn.
    User,
    /// The model's turn.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Speaker.
    pub role: ChatRole,
    /// Text.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: ChatRole::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: ChatRole::User, content: content.into() }
    }

    /// A message of the model (an earlier answer shown back to it).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: ChatRole::Assistant, content: content.into() }
    }
}

/// How the model must answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// A JSON object (OpenAI `json_object` mode or the provider's equivalent).
    JsonObject,
    /// A JSON object following a schema, enforced by the provider where it can (OpenAI-style
    /// `json_schema`, Ollama's `format`, a forced tool, Gemini's `responseSchema`); a provider that
    /// cannot falls back to [`ResponseFormat::JsonObject`], and the answer is read tolerantly anyway.
    JsonSchema(AnswerSchema),
}

impl ResponseFormat {
    /// True when the answer must be JSON (with or without a schema).
    pub fn wants_json(&self) -> bool {
        !matches!(self, ResponseFormat::Text)
    }

    /// The schema asked for, if any.
    pub fn schema(&self) -> Option<&AnswerSchema> {
        match self {
            ResponseFormat::JsonSchema(schema) => Some(schema),
            _ => None,
        }
    }
}

/// A named JSON Schema an answer must follow.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerSchema {
    /// A short name (`facts`, `memory_decisions`): letters, digits, `_` and `-` only, as OpenAI asks.
    pub name: String,
    /// The schema: an object type, `additionalProperties: false` and every property required at
    /// every level (what OpenAI's strict mode demands).
    pub schema: Value,
}

/// How a provider can be held to a schema (see [`ResponseFormat::JsonSchema`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StructuredOutput {
    /// The schema is sent and enforced by the provider.
    Schema,
    /// Only JSON mode: the answer is JSON, its shape is asked for in the prompt.
    #[default]
    JsonMode,
    /// Neither: JSON is asked for in the prompt only.
    PromptOnly,
}

pub use crate::domain::model_tools::{ToolCall, ToolSpec};

/// A chat completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Required answer format.
    pub response_format: ResponseFormat,
    /// Functions offered; when non-empty the model is asked to call one.
    pub tools: Vec<ToolSpec>,
    /// Most tokens of this answer (sized to the task); the configured `max_tokens` stays the
    /// ceiling: the smaller one is sent.
    pub max_tokens: Option<u32>,
    /// Sequences that end the answer where the provider takes them.
    pub stop: Vec<String>,
}

impl ChatRequest {
    /// The token limit to send: the request's, never above the configured one.
    pub fn token_limit(&self, configured: u32) -> u32 {
        self.max_tokens.map_or(configured, |wanted| wanted.clamp(1, configured))
    }
}

/// Token counts reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
}

/// A chat completion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatResponse {
    /// Text answer, if any.
    pub content: Option<String>,
    /// Function calls, if any.
    pub tool_calls: Vec<ToolCall>,
    /// Token usage, if reported.
    pub usage: Option<Usage>,
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// No answer within the request timeout.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// HTTP 429 after all retries.
    #[error("the model provider is rate limiting requests (HTTP 429): {0}")]
    RateLimited(String),
    /// HTTP 401/403: the key is wrong or lacks access.
    #[error("the model provider rejected the credentials (HTTP {status}): {message}")]
    Unauthorized {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// Another HTTP error.
    #[error("the model provider answered HTTP {status}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// Could not connect or the connection broke.
    #[error("could not reach the model provider: {0}")]
    Transport(String),
    /// The answer was not in the expected format.
    #[error("unexpected answer from the model provider: {0}")]
    Protocol(String),
    /// A success answer (HTTP 200) without a usable completion: an `{"error": …}` body, no choices,
    /// no content, or not JSON at all (an HTML page from a proxy). Providers answer so while they
    /// are overloaded or restarting, so a retry may succeed.
    #[error("the model provider answered without a usable completion: {0}")]
    BadAnswer(String),
    /// The model cannot be reached from here, or its host refused the request (not HTTP).
    #[error("the model is not available: {0}")]
    Unavailable(String),
}

impl LlmError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Timeout(_) | LlmError::RateLimited(_) | LlmError::Transport(_) | LlmError::BadAnswer(_) => true,
            LlmError::Http { status, .. } => *status >= 500,
            LlmError::Unauthorized { .. } | LlmError::Protocol(_) | LlmError::Unavailable(_) => false,
        }
    }
}

/// A chat model.
#[async_trait]
pub trait Llm: Send + Sync + 'static {
    /// Runs one chat completion.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError>;

    /// True when the model can be reached only while an inbound call is being handled (Dify's
    /// workspace models, lent to a plugin for the duration of a tool call): writes that need it
    /// then run in the calling task instead of in the background.
    fn bound_to_call(&self) -> bool {
        false
    }
}
