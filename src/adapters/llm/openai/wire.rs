//! The `/chat/completions` wire format: building the request body, reading the answer.

use crate::adapters::llm::base::WireToolCall;
use crate::ports::llm::{ChatRequest, ChatResponse, LlmError, ResponseFormat, StructuredOutput, Usage};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Sampling parameters sent to non-reasoning models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampling {
    /// `temperature`.
    pub temperature: f64,
    /// `top_p`.
    pub top_p: f64,
    /// `max_tokens` / `max_completion_tokens`.
    pub max_tokens: u32,
    /// Send the limit as `max_completion_tokens` (GPT-5 family).
    pub max_completion_tokens: bool,
}

/// Everything about the body that comes from configuration rather than the request.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct BodyTemplate {
    /// `model`; `None` when OpenRouter `models` replace it.
    pub model: Option<String>,
    /// Sampling parameters; `None` for reasoning models (Mem0 sends them none).
    pub sampling: Option<Sampling>,
    /// `reasoning_effort`, for reasoning models.
    pub reasoning_effort: Option<String>,
    /// `store` (OpenAI, only when configured).
    pub store: Option<bool>,
    /// OpenRouter `models` and `route`.
    pub openrouter_models: Option<(Vec<String>, String)>,
    /// A `response_format` always sent (LM Studio's `lmstudio_response_format`).
    pub fixed_response_format: Option<Value>,
    /// Drop JSON mode (Groq `compound*` models reject it).
    pub json_mode_unsupported: bool,
    /// Whether a schema asked for is sent as `{"type": "json_schema", …}` (OpenAI, vLLM's guided
    /// decoding, llama.cpp's grammar, LM Studio, Ollama's OpenAI endpoint) or as JSON mode.
    pub structured: StructuredOutput,
}

impl BodyTemplate {
    /// The JSON body for one request.
    pub(crate) fn body(&self, request: &ChatRequest) -> Value {
        let mut body = Map::new();
        if let Some(model) = &self.model {
            body.insert("model".into(), json!(model));
        }
        let messages: Vec<Value> =
            request.messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect();
        body.insert("messages".into(), Value::Array(messages));
        if let Some(s) = self.sampling {
            body.insert("temperature".into(), json!(s.temperature));
            body.insert("top_p".into(), json!(s.top_p));
            let key = if s.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
            body.insert(key.into(), json!(request.token_limit(s.max_tokens)));
            if !request.stop.is_empty() {
                // At most 4, as OpenAI allows; reasoning models (no sampling) refuse `stop` at all.
                body.insert("stop".into(), json!(request.stop.iter().take(4).collect::<Vec<_>>()));
            }
        } else if let Some(effort) = &self.reasoning_effort {
            body.insert("reasoning_effort".into(), json!(effort));
        }
        if let Some(format) = self.response_format(&request.response_format) {
            body.insert("response_format".into(), format);
        }
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
            body.insert("tool_choice".into(), json!("required"));
        }
        if let Some(store) = self.store {
            body.insert("store".into(), json!(store));
        }
        if let Some((models, route)) = &self.openrouter_models {
            body.insert("models".into(), json!(models));
            body.insert("route".into(), json!(route));
        }
        Value::Object(body)
    }

    fn response_format(&self, wanted: &ResponseFormat) -> Option<Value> {
        if let Some(fixed) = &self.fixed_response_format {
            return Some(fixed.clone());
        }
        match wanted {
            ResponseFormat::Text => None,
            _ if self.json_mode_unsupported => {
                tracing::warn!(
                    model = self.model.as_deref().unwrap_or(""),
                    "the model does not support JSON mode; asking for JSON in the prompt only"
                );
                None
            }
            ResponseFormat::JsonSchema(schema) if self.structured == StructuredOutput::Schema => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": schema.name, "strict": true, "schema": schema.schema},
            })),
            ResponseFormat::JsonObject | ResponseFormat::JsonSchema(_) => Some(json!({"type": "json_object"})),
        }
    }
}

/// A `/chat/completions` answer (only the fields used).
#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: WireMessage,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

impl Completion {
    /// The port's response: first choice's text and tool calls (arguments parsed), and usage.
    /// `redact` cleans any provider text that ends up in an error.
    pub(crate) fn into_response(self, redact: impl Fn(&str) -> String) -> Result<ChatResponse, LlmError> {
        let choice = match self.choices.and_then(|c| c.into_iter().next()) {
            Some(choice) => choice,
            None => {
                let detail = match self.error {
                    Some(error) => format!("the answer holds an error instead of choices: {}", error_text(&error)),
                    None => "the answer has no choices".to_owned(),
                };
                return Err(LlmError::BadAnswer(redact(&detail)));
            }
        };
        let content = choice.message.content.and_then(content_text);
        let tool_calls = choice
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .map(|call| call.read().map_err(|e| LlmError::Protocol(redact(&e))))
            .collect::<Result<Vec<_>, _>>()?;
        if content.is_none() && tool_calls.is_empty() {
            if let Some(refusal) = choice.message.refusal.filter(|r| !r.trim().is_empty()) {
                return Err(LlmError::Protocol(redact(&format!("the model refused: {refusal}"))));
            }
        }
        let usage = self.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
        });
        Ok(ChatResponse { content, tool_calls, usage })
    }
}

fn error_text(error: &Value) -> String {
    match error.get("message").unwrap_or(error) {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Message content as text: a string, or the `text` parts of a content array.
fn content_text(content: Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text),
        Value::Array(parts) => {
            let text: String =
                parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("");
            (!text.is_empty()).then_some(text)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::llm::{ChatMessage, ToolSpec};

    fn parse(answer: Value) -> Result<ChatResponse, LlmError> {
        serde_json::from_value::<Completion>(answer).unwrap().into_response(|s| s.to_owned())
    }

    #[test]
    fn reasoning_models_get_no_sampling_and_json_mode_is_sent() {
        let template =
            BodyTemplate { model: Some("o3".into()), reasoning_effort: Some("low".into()), ..BodyTemplate::default() };
        let request = ChatRequest {
            messages: vec![ChatMessage::system("s"), ChatMessage::user("u")],
            response_format: ResponseFormat::JsonObject,
            tools: vec![],
            ..ChatRequest::default()
        };
        assert_eq!(
            template.body(&request),
            json!({"model": "o3", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                   "reasoning_effort": "low", "response_format": {"type": "json_object"}})
        );
    }

    #[test]
    fn sampling_tools_and_openrouter_fields() {
        let template = BodyTemplate {
            model: None,
            sampling: Some(Sampling { temperature: 0.1, top_p: 0.1, max_tokens: 2000, max_completion_tokens: true }),
            openrouter_models: Some((vec!["a".into(), "b".into()], "fallback".into())),
            ..BodyTemplate::default()
        };
        let request = ChatRequest {
            messages: vec![ChatMessage::user("u")],
            response_format: ResponseFormat::Text,
            tools: vec![ToolSpec { name: "f".into(), description: "d".into(), parameters: json!({"type": "object"}) }],
            ..ChatRequest::default()
        };
        let body = template.body(&request);
        assert_eq!(body["max_completion_tokens"], 2000);
        assert_eq!(body["tool_choice"], "required");
        assert_eq!(
            body["tools"][0],
            json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}})
        );
        assert_eq!(body["models"], json!(["a", "b"]));
        assert!(body.get("model").is_none() && body.get("response_format").is_none());
    }

    #[test]
    fn fixed_formats_and_unsupported_json_mode() {
        let request = ChatRequest { response_format: ResponseFormat::JsonObject, ..ChatRequest::default() };
        let fixed =
            BodyTemplate { fixed_response_format: Some(json!({"type": "json_schema"})), ..BodyTemplate::default() };
        assert_eq!(fixed.body(&request)["response_format"], json!({"type": "json_schema"}));
        let groq = BodyTemplate { json_mode_unsupported: true, ..BodyTemplate::default() };
        assert!(groq.body(&request).get("response_format").is_none());
    }

    #[test]
    fn schemas_are_sent_where_supported_with_the_task_sized_limit_and_stops() {
        use crate::ports::llm::AnswerSchema;
        let schema = json!({"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
            "required": ["facts"], "additionalProperties": false});
        let request = ChatRequest {
            response_format: ResponseFormat::JsonSchema(AnswerSchema { name: "facts".into(), schema: schema.clone() }),
            max_tokens: Some(300),
            stop: vec!["\n\n\n\n".into()],
            ..ChatRequest::default()
        };
        let sampling = Sampling { temperature: 0.1, top_p: 0.1, max_tokens: 2000, max_completion_tokens: false };
        let template =
            BodyTemplate { sampling: Some(sampling), structured: StructuredOutput::Schema, ..BodyTemplate::default() };
        let body = template.body(&request);
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "facts", "strict": true, "schema": schema}})
        );
        assert_eq!((body["max_tokens"].clone(), body["stop"].clone()), (json!(300), json!(["\n\n\n\n"])));
        let json_mode = BodyTemplate { structured: StructuredOutput::JsonMode, ..template.clone() };
        assert_eq!(json_mode.body(&request)["response_format"], json!({"type": "json_object"}));
        let small = BodyTemplate { sampling: Some(Sampling { max_tokens: 100, ..sampling }), ..template };
        assert_eq!(small.body(&request)["max_tokens"], 100, "the configured max_tokens stays the ceiling");
    }

    #[test]
    fn answers_are_parsed() {
        let answer = parse(json!({"choices": [{"message": {"content": "hi", "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "f", "arguments": "```json\n{\"a\": 1}\n```"}},
            {"id": "2", "type": "function", "function": {"name": "g", "arguments": ""}},
            {"id": "3", "type": "function", "function": {"name": "h", "arguments": {"b": 2}}}]}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}))
        .unwrap();
        assert_eq!(answer.content.as_deref(), Some("hi"));
        let args: Vec<_> = answer.tool_calls.iter().map(|c| (c.name.as_str(), c.arguments.clone())).collect();
        assert_eq!(args, vec![("f", json!({"a": 1})), ("g", json!({})), ("h", json!({"b": 2}))]);
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 3, completion_tokens: 4 }));
        let parts =
            parse(json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]}));
        assert_eq!(parts.unwrap().content.as_deref(), Some("ab"));
    }

    #[test]
    fn malformed_answers_are_errors_and_empty_ones_transient() {
        let err = parse(json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"function": {"name": "f", "arguments": "{not json"}}]}}]}))
        .unwrap_err();
        assert!(matches!(&err, LlmError::Protocol(m) if m.contains("\"f\"") && m.contains("not valid JSON")), "{err}");
        let err =
            parse(json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}}]}));
        assert!(matches!(err, Err(LlmError::Protocol(m)) if m.contains("not a JSON object")));
        // An HTTP 200 without choices (or with an error inside) is transient: the provider is overloaded.
        assert_eq!(parse(json!({"choices": []})), Err(LlmError::BadAnswer("the answer has no choices".into())));
        let err = parse(json!({"error": {"message": "upstream down"}})).unwrap_err();
        assert!(err.to_string().contains("upstream down") && err.is_transient(), "{err}");
        let err = parse(json!({"choices": [{"message": {"content": null, "refusal": "no"}}]})).unwrap_err();
        assert!(err.to_string().contains("refused: no"));
    }
}
