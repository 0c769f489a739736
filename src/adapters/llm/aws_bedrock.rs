//! Chat through Amazon Bedrock's Converse API (`POST /model/{modelId}/converse`), one request shape
//! for every model family, signed with SigV4 or sent with a Bedrock API key.
//!
//! Config keys are Mem0's base keys (see [`super::base`]) plus `aws_access_key_id`,
//! `aws_secret_access_key`, `aws_session_token`, `aws_region` (else the `AWS_*` variables; region
//! default `us-west-2`), `model_kwargs` (sent as `additionalModelRequestFields`), `provider_override`
//! (accepted; Converse needs no per-family shaping) and ours: `aws_bedrock_base_url` (else
//! `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`). `aws_profile` is refused (see [`crate::adapters::vendors::aws`]).
//! `top_p` is sent only when set (as Mem0: some models refuse it beside `temperature`). Converse has
//! no JSON mode: Mem0's "Please respond with valid JSON only." is added to the system text, with the
//! answer schema when one is asked for (the answer is then read tolerantly). A request's smaller token
//! limit is sent as `maxTokens`, its stop sequences as `stopSequences`. Offered
//! tools are forced (`toolChoice: any`) on the families that allow it (Anthropic, Amazon Nova, Mistral
//! Large) and offered otherwise.

use super::base::JSON_INSTRUCTION;
use super::base::{
    allowed_keys, cut_off, schema_instruction, tool_call, usable, visible_stops, BaseKeys, Conversation,
};
use crate::adapters::config::{self, check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, RetryPolicy, JSON};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::aws::{self, encode_segment, AwsAccess};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, Usage};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["aws_bedrock"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
/// SigV4's name for the Bedrock runtime.
pub const SIGNING_NAME: &str = "bedrock";

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    model_kwargs: Option<Map<String, Value>>,
    /// Accepted for Mem0 compatibility (type-checked); Converse needs no per-family shaping.
    #[allow(dead_code)]
    provider_override: Option<String>,
}

/// A model on Amazon Bedrock.
#[derive(Debug)]
pub struct BedrockChat {
    access: AwsAccess,
    url: String,
    model: String,
    inference: Value,
    model_kwargs: Option<Map<String, Value>>,
    max_tokens: u32,
    http: HttpClient,
}

impl BedrockChat {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let keys: Keys = config::deserialize(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let access = AwsAccess::from_block(block, SIGNING_NAME, base.api_key.as_ref(), env)?;
        let default_base = format!("https://bedrock-runtime.{}.amazonaws.com", access.region);
        let base_url =
            config::base_url(block, "aws_bedrock_base_url", &["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"], env, &default_base)?;
        let model = base.model_or(DEFAULT_MODEL);
        let mut inference = json!({"maxTokens": base.max_tokens(), "temperature": base.temperature()});
        if let Some(top_p) = base.top_p {
            inference["topP"] = json!(top_p);
        }
        let http = HttpClient::new("bedrock converse", &settings).map_err(|e| config_error(block, e.to_string()))?;
        Ok(Self {
            url: format!("{base_url}/model/{}/converse", encode_segment(&model)),
            http: access.register_secrets(http),
            access,
            model,
            inference,
            model_kwargs: keys.model_kwargs.filter(|m| !m.is_empty()),
            max_tokens: base.max_tokens(),
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let conversation = Conversation::split(&request.messages);
        let messages: Vec<Value> = conversation
            .turns
            .iter()
            .map(|t| json!({"role": if t.from_user { "user" } else { "assistant" }, "content": [{"text": t.text}]}))
            .collect();
        let json_mode = request.response_format.wants_json() && request.tools.is_empty();
        let instruction = match request.response_format.schema() {
            Some(schema) => schema_instruction(&schema.schema),
            None => JSON_INSTRUCTION.to_owned(),
        };
        let system = match (conversation.system, json_mode) {
            (Some(system), true) => Some(format!("{system}\n\n{instruction}")),
            (None, true) => Some(instruction),
            (system, false) => system,
        };
        let mut body = Map::new();
        body.insert("messages".into(), Value::Array(messages));
        if let Some(system) = system {
            body.insert("system".into(), json!([{"text": system}]));
        }
        let mut inference = self.inference.clone();
        inference["maxTokens"] = json!(request.token_limit(self.max_tokens));
        let stops = visible_stops(request);
        if !stops.is_empty() {
            inference["stopSequences"] = json!(stops);
        }
        body.insert("inferenceConfig".into(), inference);
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({"toolSpec": {"name": t.name, "description": t.description,
                                        "inputSchema": {"json": t.parameters}}})
                })
                .collect();
            let mut config = json!({"tools": tools});
            if forces_tools(&self.model) {
                config["toolChoice"] = json!({"any": {}});
            }
            body.insert("toolConfig".into(), config);
        }
        if let Some(fields) = &self.model_kwargs {
            body.insert("additionalModelRequestFields".into(), Value::Object(fields.clone()));
        }
        Value::Object(body)
    }
}

#[async_trait]
impl Llm for BedrockChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = serde_json::to_vec(&self.body(&request))
            .map_err(|e| LlmError::Protocol(format!("the request could not be serialized: {e}")))?;
        let headers = self.access.auth_headers("POST", &self.url, &body).map_err(LlmError::Protocol)?;
        let answer: Answer = self.http.post_bytes(&self.url, &headers, JSON, body).await?;
        let redactor = self.http.redactor();
        answer
            .into_response(self.max_tokens)
            .map_err(|e| LlmError::Protocol(redactor.redact_and_truncate(&e)))
            .and_then(usable)
    }
}

/// True for the model families whose Converse `toolChoice` may force a tool call.
fn forces_tools(model: &str) -> bool {
    let model = model.to_ascii_lowercase();
    ["anthropic.", "amazon.nova", "mistral.mistral-large"].iter().any(|family| model.contains(family))
}

/// A Converse answer (only the fields used).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    output: Output,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct Output {
    message: WireMessage,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Vec<Block>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
}

#[derive(Debug, Deserialize)]
struct ToolUse {
    name: String,
    #[serde(default)]
    input: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

impl Answer {
    fn into_response(self, max_tokens: u32) -> Result<ChatResponse, String> {
        let mut texts = Vec::new();
        let mut tool_calls = Vec::new();
        for block in self.output.message.content {
            if let Some(text) = block.text {
                texts.push(text);
            }
            if let Some(call) = block.tool_use {
                tool_calls.push(tool_call(call.name, call.input)?);
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
    let extra: Vec<&str> =
        aws::KEYS.iter().copied().chain(["model_kwargs", "provider_override", "aws_bedrock_base_url"]).collect();
    allowed_keys(&extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_forcing_follows_the_family() {
        assert!(forces_tools("anthropic.claude-3-5-sonnet-20240620-v1:0"));
        assert!(forces_tools("us.anthropic.claude-sonnet-4-20250514-v1:0"));
        assert!(forces_tools("amazon.nova-pro-v1:0"));
        assert!(!forces_tools("meta.llama3-70b-instruct-v1:0"));
    }

    #[test]
    fn answers_are_read() {
        let answer: Answer = serde_json::from_value(json!({"output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hm"}}}, {"text": "hi"},
            {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}]}},
            "stopReason": "tool_use", "usage": {"inputTokens": 9, "outputTokens": 3, "totalTokens": 12}}))
        .unwrap();
        let answer = answer.into_response(10).unwrap();
        assert_eq!(answer.content.as_deref(), Some("hi"));
        assert_eq!(answer.tool_calls[0].arguments, json!({"a": 1}));
        assert_eq!(answer.usage, Some(Usage { prompt_tokens: 9, completion_tokens: 3 }));
        let cut: Answer =
            serde_json::from_value(json!({"output": {"message": {"content": []}}, "stopReason": "max_tokens"}))
                .unwrap();
        assert!(cut.into_response(10).unwrap_err().contains("max_tokens (10)"));
    }
}
