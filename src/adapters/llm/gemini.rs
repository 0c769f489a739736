//! Chat through Gemini's `generateContent`: the Gemini API (`x-goog-api-key`) or, with `vertexai`,
//! Vertex AI (a service account's OAuth token).
//!
//! Config keys are Mem0's base keys (see [`super::base`]) plus Mem0's `vertexai` (else
//! `GOOGLE_GENAI_USE_VERTEXAI`), `project`, `location`, and ours: `gemini_base_url` (else
//! `GOOGLE_GEMINI_BASE_URL`), `vertex_credentials_json` (the service account key or its path; else
//! `GOOGLE_APPLICATION_CREDENTIALS`) and `vertexai_base_url`. `api_key` falls back to `GOOGLE_API_KEY`,
//! then `GEMINI_API_KEY`. System messages become `systemInstruction`; `temperature`, `top_p` and
//! `max_tokens` go in `generationConfig` (a request's smaller token limit as `maxOutputTokens`, its
//! stop sequences as `stopSequences`); JSON mode is `responseMimeType: application/json`, and an
//! answer schema is also sent as `responseSchema` (Gemini's OpenAPI subset: upper-case types, no
//! `additionalProperties`; JSON mode alone with `structured_output: "json_object"`); offered tools
//! become function declarations with calling mode `ANY`.

use super::base::{allowed_keys, cut_off, tool_call, usable, visible_stops, BaseKeys, Conversation};
use crate::adapters::config::{self, check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, HttpError, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::google::{GeminiApi, Vertex, GEMINI_BASE_URL_KEY, VERTEX_KEYS};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, StructuredOutput, ToolSpec, Usage};
use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["gemini"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "gemini-2.0-flash";

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    vertexai: Option<bool>,
}

/// Where requests go and how they authenticate.
#[derive(Debug)]
enum Target {
    Api(GeminiApi),
    Vertex(Box<Vertex>),
}

/// A Gemini model.
#[derive(Debug)]
pub struct GeminiChat {
    target: Target,
    url: String,
    generation: Value,
    max_tokens: u32,
    structured: StructuredOutput,
    http: HttpClient,
}

impl GeminiChat {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let keys: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let model = base.model_or(DEFAULT_MODEL);
        let vertexai = keys.vertexai.unwrap_or_else(|| {
            env.var("GOOGLE_GENAI_USE_VERTEXAI")
                .is_some_and(|v| ["true", "1", "yes"].contains(&v.to_ascii_lowercase().as_str()))
        });
        let http = HttpClient::new("gemini generate", &settings).map_err(|e| config_error(block, e.to_string()))?;
        let (target, url, http) = if vertexai {
            let vertex = Vertex::from_block(block, &settings, env)?;
            let url = vertex.model_url(&model, "generateContent");
            let http = vertex.register_secret(http);
            (Target::Vertex(Box::new(vertex)), url, http)
        } else {
            let api = GeminiApi::from_block(block, base.api_key.as_ref(), env)?;
            let url = api.url(&model, "generateContent");
            let http = api.register_secret(http);
            (Target::Api(api), url, http)
        };
        let generation =
            json!({"temperature": base.temperature(), "topP": base.top_p(), "maxOutputTokens": base.max_tokens()});
        let structured = base.structured(StructuredOutput::Schema);
        Ok(Self { target, url, generation, max_tokens: base.max_tokens(), structured, http })
    }

    /// Replaces the retry policy (tests use fast backoffs), the token exchange's included.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self.target = match self.target {
            Target::Vertex(vertex) => Target::Vertex(Box::new(vertex.with_retry(retry))),
            api => api,
        };
        self
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let conversation = Conversation::split(&request.messages);
        let contents: Vec<Value> = conversation
            .turns
            .iter()
            .map(|t| json!({"role": if t.from_user { "user" } else { "model" }, "parts": [{"text": t.text}]}))
            .collect();
        let mut body = Map::new();
        body.insert("contents".into(), Value::Array(contents));
        if let Some(system) = conversation.system {
            body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
        }
        let mut generation = self.generation.clone();
        generation["maxOutputTokens"] = json!(request.token_limit(self.max_tokens));
        let stops = visible_stops(request);
        if !stops.is_empty() {
            generation["stopSequences"] = json!(stops);
        }
        if request.response_format.wants_json() && request.tools.is_empty() {
            generation["responseMimeType"] = json!("application/json");
            if let Some(schema) =
                request.response_format.schema().filter(|_| self.structured == StructuredOutput::Schema)
            {
                generation["responseSchema"] = response_schema(&schema.schema);
            }
        }
        body.insert("generationConfig".into(), generation);
        if !request.tools.is_empty() {
            let declarations: Vec<Value> = request.tools.iter().map(declaration).collect();
            body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
            body.insert("toolConfig".into(), json!({"functionCallingConfig": {"mode": "ANY"}}));
        }
        Value::Object(body)
    }

    async fn headers(&self) -> Result<HeaderMap, HttpError> {
        match &self.target {
            Target::Api(api) => Ok(api.headers.clone()),
            Target::Vertex(vertex) => vertex.auth_headers().await,
        }
    }
}

#[async_trait]
impl Llm for GeminiChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let headers = self.headers().await?;
        let answer: Answer = self.http.post_json(&self.url, &headers, &self.body(&request)).await?;
        let redactor = self.http.redactor();
        answer
            .into_response(self.max_tokens)
            .map_err(|e| LlmError::Protocol(redactor.redact_and_truncate(&e)))
            .and_then(usable)
    }
}

/// A function declaration; the parameters lose the JSON Schema keywords Gemini's schema subset refuses.
fn declaration(tool: &ToolSpec) -> Value {
    json!({"name": tool.name, "description": tool.description, "parameters": gemini_schema(&tool.parameters)})
}

/// A JSON Schema without `additionalProperties`, `$schema` and `strict`, at every level.
fn gemini_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "additionalProperties" | "$schema" | "strict"))
                .map(|(k, v)| (k.clone(), gemini_schema(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(gemini_schema).collect()),
        other => other.clone(),
    }
}

/// An answer schema in Gemini's `responseSchema` form: [`gemini_schema`] with the type names upper
/// case (`OBJECT`, `STRING`, …) as its OpenAPI subset spells them.
fn response_schema(schema: &Value) -> Value {
    match gemini_schema(schema) {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match (k.as_str(), &v) {
                    ("type", Value::String(t)) => (k, json!(t.to_ascii_uppercase())),
                    _ => (k, response_schema(&v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(response_schema).collect()),
        other => other,
    }
}

/// A `generateContent` answer (only the fields used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<Value>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default)]
    function_call: Option<FunctionCall>,
}

#[derive(Debug, Deserialize)]
struct FunctionCall {
    name: String,
    #[serde(default)]
    args: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
}

impl Answer {
    fn into_response(self, max_tokens: u32) -> Result<ChatResponse, String> {
        let Some(candidate) = self.candidates.into_iter().next() else {
            return Err(match self.prompt_feedback.as_ref().and_then(|f| f.get("blockReason")) {
                Some(reason) => format!("the prompt was blocked ({reason})"),
                None => "the answer has no candidates".to_owned(),
            });
        };
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(call) = part.function_call {
                tool_calls.push(tool_call(call.name, call.args)?);
            } else if let Some(text) = part.text.filter(|_| part.thought != Some(true)) {
                texts.push(text);
            }
        }
        let content = Some(texts.concat()).filter(|t| !t.is_empty());
        if content.is_none() && tool_calls.is_empty() {
            match candidate.finish_reason.as_deref() {
                Some("MAX_TOKENS") => return Err(cut_off(max_tokens)),
                Some(reason) if reason != "STOP" => {
                    return Err(format!("the model stopped without an answer ({reason})"))
                }
                _ => {}
            }
        }
        let usage = self
            .usage_metadata
            .map(|u| Usage { prompt_tokens: u.prompt_token_count, completion_tokens: u.candidates_token_count });
        Ok(ChatResponse { content, tool_calls, usage })
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    let extra: Vec<&str> = [GEMINI_BASE_URL_KEY, "vertexai"].into_iter().chain(VERTEX_KEYS.iter().copied()).collect();
    allowed_keys(&extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(answer: Value) -> Result<ChatResponse, String> {
        serde_json::from_value::<Answer>(answer).unwrap().into_response(50)
    }

    #[test]
    fn schemas_lose_what_gemini_refuses() {
        let schema = json!({"type": "object", "additionalProperties": false, "$schema": "x",
            "properties": {"a": {"type": "array", "items": {"type": "object", "additionalProperties": false}}}});
        assert_eq!(
            gemini_schema(&schema),
            json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "object"}}}})
        );
    }

    #[test]
    fn answers_are_read() {
        let answer = parse(json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking…", "thought": true}, {"text": "{\"a\":"}, {"text": "1}"},
            {"functionCall": {"name": "f", "args": {"x": 1}}}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9}}))
        .unwrap();
        assert_eq!(answer.content.as_deref(), Some("{\"a\":1}"));
        assert_eq!(answer.tool_calls[0].arguments, json!({"x": 1}));
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 7, completion_tokens: 2 }));
        let err = parse(json!({"promptFeedback": {"blockReason": "SAFETY"}})).unwrap_err();
        assert!(err.contains("blocked (\"SAFETY\")"), "{err}");
        let err = parse(json!({"candidates": [{"content": {"parts": []}, "finishReason": "MAX_TOKENS"}]})).unwrap_err();
        assert!(err.contains("max_tokens (50)"), "{err}");
        let err = parse(json!({"candidates": [{"finishReason": "RECITATION"}]})).unwrap_err();
        assert!(err.contains("RECITATION"), "{err}");
    }
}
