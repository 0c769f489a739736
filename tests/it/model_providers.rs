//! Every hosted model provider against a local server speaking its wire format: the request is
//! asserted (method, path, query, headers, auth, body), the answer read, and HTTP 401 (not retried,
//! key hidden), 429 (retried, then success) and 500 (bounded retries, then a clear error) checked.
//! Config errors name the key. Bedrock's SigV4 signature is verified by an independent implementation
//! of AWS's algorithm; Vertex AI's service-account assertion is verified with the key's public half.

use crate::support::adapter_config;
use crate::support::fake_openai;
use crate::support::scripted_server;
use crate::support::sigv4_check;

use adapter_config::{block, fast_retries, no_env};
use fake_openai::embed_text;
use mem0_dify::adapters::embedder::aws_bedrock::BedrockEmbedder;
use mem0_dify::adapters::embedder::azure_openai::AzureOpenAiEmbedder;
use mem0_dify::adapters::embedder::gemini::GeminiEmbedder;
use mem0_dify::adapters::embedder::huggingface::HuggingFaceEmbedder;
use mem0_dify::adapters::embedder::ollama::OllamaEmbedder;
use mem0_dify::adapters::embedder::vertexai::VertexAiEmbedder;
use mem0_dify::adapters::embedder::{build_embedder, supported_providers as embedder_providers};
use mem0_dify::adapters::llm::anthropic::AnthropicChat;
use mem0_dify::adapters::llm::aws_bedrock::BedrockChat;
use mem0_dify::adapters::llm::azure_openai::AzureOpenAiChat;
use mem0_dify::adapters::llm::gemini::GeminiChat;
use mem0_dify::adapters::llm::ollama::OllamaChat;
use mem0_dify::adapters::llm::{build_llm, supported_providers as llm_providers};
use mem0_dify::adapters::registry::BuildContext;
use mem0_dify::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use mem0_dify::ports::llm::{ChatMessage, ChatRequest, Llm, LlmError, ResponseFormat, ToolCall, ToolSpec, Usage};
use scripted_server::{Recorded, Reply, ScriptedServer};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

const KEY: &str = "test-key-0123456789abcdef";
const LLM: &str = "local_llm_json";
const EMBEDDER: &str = "local_embedder_json";
const SYSTEM: &str = "You extract facts.";
const USER: &str = "Hi, I am Ana and I like green tea.";

fn env(pairs: &[(&str, &str)]) -> BuildContext {
    adapter_config::with_env(pairs)
}

fn ask(response_format: ResponseFormat) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system(SYSTEM), ChatMessage::user(USER)],
        response_format,
        ..ChatRequest::default()
    }
}

fn entity_tool() -> ToolSpec {
    ToolSpec {
        name: "add_entities".into(),
        description: "Adds entities".into(),
        parameters: json!({"type": "object", "additionalProperties": false,
            "properties": {"entities": {"type": "array", "items": {"type": "string"}}}, "required": ["entities"]}),
    }
}

fn ask_with_tool() -> ChatRequest {
    ChatRequest { tools: vec![entity_tool()], ..ask(ResponseFormat::Text) }
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn with(base: Value, extra: Value) -> Value {
    let mut base = base;
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

// ---------------------------------------------------------------------------------------------------
// The status checks every provider goes through.

/// A failed call, reduced to what the checks compare.
#[derive(Debug, PartialEq)]
enum Kind {
    Unauthorized(u16),
    RateLimited,
    Http(u16),
    Other,
}

#[derive(Debug)]
struct Failure {
    kind: Kind,
    /// Display and Debug of the port error.
    shown: String,
}

impl From<LlmError> for Failure {
    fn from(e: LlmError) -> Self {
        let kind = match &e {
            LlmError::Unauthorized { status, .. } => Kind::Unauthorized(*status),
            LlmError::RateLimited(_) => Kind::RateLimited,
            LlmError::Http { status, .. } => Kind::Http(*status),
            _ => Kind::Other,
        };
        Self { kind, shown: format!("{e} {e:?}") }
    }
}

impl From<EmbedError> for Failure {
    fn from(e: EmbedError) -> Self {
        let kind = match &e {
            EmbedError::Unauthorized { status, .. } => Kind::Unauthorized(*status),
            EmbedError::RateLimited(_) => Kind::RateLimited,
            EmbedError::Http { status, .. } => Kind::Http(*status),
            _ => Kind::Other,
        };
        Self { kind, shown: format!("{e} {e:?}") }
    }
}

type Call = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>> + Send + Sync>;

fn chat_call(llm: impl Llm) -> Call {
    let llm = Arc::new(llm);
    Box::new(move || {
        let llm = llm.clone();
        Box::pin(async move { llm.chat(ask(ResponseFormat::Text)).await.map(|_| ()).map_err(Failure::from) })
    })
}

fn embed_call(embedder: impl Embedder) -> Call {
    let embedder = Arc::new(embedder);
    Box::new(move || {
        let embedder = embedder.clone();
        Box::pin(async move {
            embedder.embed(&texts(&["hello world"]), EmbedPurpose::Search).await.map(|_| ()).map_err(Failure::from)
        })
    })
}

/// 401: one request, `Unauthorized`, the echoed secret hidden. 429 with `Retry-After`: retried, then
/// the success. 500: one attempt and two retries, then an error carrying the provider's message.
async fn check_statuses(
    server: &ScriptedServer,
    call: Call,
    success: Reply,
    error: fn(u16, &str) -> Reply,
    secret: &str,
) {
    server.take_requests();
    server.push(error(401, &format!("The credential {secret} is invalid")));
    let failure = call().await.unwrap_err();
    assert_eq!(failure.kind, Kind::Unauthorized(401), "{failure:?}");
    assert!(!failure.shown.contains(secret), "the secret leaked: {}", failure.shown);
    assert!(failure.shown.contains("[REDACTED]"), "{}", failure.shown);
    assert_eq!(server.take_requests().len(), 1, "401 must not be retried");

    server.push(error(429, "Too many requests, slow down").header("retry-after", "0.05"));
    server.push(success);
    call().await.map_err(|f| f.shown).expect("429 is retried and then succeeds");
    assert_eq!(server.take_requests().len(), 2);

    server.push_n(5, error(500, "Internal server failure"));
    let failure = call().await.unwrap_err();
    assert_eq!(failure.kind, Kind::Http(500), "{failure:?}");
    assert!(failure.shown.contains("HTTP 500: Internal server failure"), "{}", failure.shown);
    assert_eq!(server.take_requests().len(), 3, "one attempt and two retries");
}

fn assert_post(request: &Recorded, path: &str) {
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", path));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

// ---------------------------------------------------------------------------------------------------
// Azure OpenAI (OpenAI's wire format at the deployment URL).

fn openai_error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

fn openai_completion(content: &str) -> Reply {
    Reply::ok(json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}}))
}

fn azure_kwargs(server: &ScriptedServer) -> Value {
    json!({"api_key": KEY, "azure_endpoint": server.url(), "api_version": "2024-10-21",
           "default_headers": {"x-ms-client-team": "memory"}})
}

fn azure_chat(server: &ScriptedServer, extra: Value) -> AzureOpenAiChat {
    let config = with(json!({"model": "gpt-4o-mini", "azure_kwargs": azure_kwargs(server)}), extra);
    AzureOpenAiChat::from_block(&block(LLM, "azure_openai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

#[tokio::test]
async fn azure_openai_chat_calls_the_deployment() {
    let server = ScriptedServer::start().await;
    server.push(openai_completion(r#"{"facts": ["Likes green tea"]}"#));
    let llm = azure_chat(&server, json!({"temperature": 0.2}));

    let answer = llm.chat(ask(ResponseFormat::JsonObject)).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some(r#"{"facts": ["Likes green tea"]}"#));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 21, completion_tokens: 5 }));
    let request = &server.requests()[0];
    assert_post(request, "/openai/deployments/gpt-4o-mini/chat/completions");
    assert_eq!(request.query_string(), Some("api-version=2024-10-21"));
    assert_eq!(request.header("api-key"), Some(KEY));
    assert_eq!(request.header("x-ms-client-team"), Some("memory"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
               "temperature": 0.2, "top_p": 0.1, "max_tokens": 2000, "response_format": {"type": "json_object"}})
    );
}

#[tokio::test]
async fn azure_openai_chat_deployment_and_settings_come_from_the_environment() {
    let server = ScriptedServer::start().await;
    server.push(openai_completion("ok"));
    let vars = env(&[
        ("LLM_AZURE_OPENAI_API_KEY", KEY),
        ("LLM_AZURE_ENDPOINT", &server.url()),
        ("LLM_AZURE_API_VERSION", "2025-01-01-preview"),
        ("LLM_AZURE_DEPLOYMENT", "prod-gpt"),
    ]);
    let llm = AzureOpenAiChat::from_block(&block(LLM, "azure_openai_structured", json!({})), &vars).unwrap();

    llm.chat(ask(ResponseFormat::Text)).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.path, "/openai/deployments/prod-gpt/chat/completions");
    assert_eq!(request.query_string(), Some("api-version=2025-01-01-preview"));
    assert_eq!(request.header("api-key"), Some(KEY));
    assert_eq!(request.body["model"], "gpt-5-mini");
    assert!(request.body.get("temperature").is_none(), "gpt-5-mini is a reasoning model");
}

#[tokio::test]
async fn azure_openai_chat_statuses() {
    let server = ScriptedServer::start().await;
    check_statuses(&server, chat_call(azure_chat(&server, json!({}))), openai_completion("ok"), openai_error, KEY)
        .await;
}

fn openai_embeddings(request: &Recorded) -> Reply {
    let dims = request.body["dimensions"].as_u64().unwrap_or(8) as usize;
    let data: Vec<Value> = request.body["input"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": embed_text(text.as_str().unwrap(), dims)}))
        .rev()
        .collect();
    Reply::ok(
        json!({"object": "list", "data": data, "model": request.body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}),
    )
}

fn azure_embedder(server: &ScriptedServer) -> AzureOpenAiEmbedder {
    let config = json!({"model": "text-embedding-3-small", "embedding_dims": 8, "azure_kwargs": azure_kwargs(server)});
    AzureOpenAiEmbedder::from_block(&block(EMBEDDER, "azure_openai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

#[tokio::test]
async fn azure_openai_embeddings_call_the_deployment() {
    let server = ScriptedServer::start().await;
    server.on_request(openai_embeddings);
    let embedder = azure_embedder(&server);

    let vectors = embedder.embed(&texts(&["green tea", "line\nbreak"]), EmbedPurpose::Add).await.unwrap();

    assert_eq!(vectors, vec![embed_text("green tea", 8), embed_text("line break", 8)]);
    assert_eq!(embedder.dimensions(), 8);
    let request = &server.requests()[0];
    assert_post(request, "/openai/deployments/text-embedding-3-small/embeddings");
    assert_eq!(request.query_string(), Some("api-version=2024-10-21"));
    assert_eq!(request.header("api-key"), Some(KEY));
    assert_eq!(
        request.body,
        json!({"model": "text-embedding-3-small", "input": ["green tea", "line break"], "encoding_format": "float", "dimensions": 8})
    );
}

#[tokio::test]
async fn azure_openai_embeddings_statuses() {
    let server = ScriptedServer::start().await;
    let success = Reply::ok(json!({"data": [{"index": 0, "embedding": embed_text("hello world", 8)}]}));
    check_statuses(&server, embed_call(azure_embedder(&server)), success, openai_error, KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Anthropic Messages API.

fn anthropic_error(status: u16, message: &str) -> Reply {
    let kind = match status {
        401 => "authentication_error",
        429 => "rate_limit_error",
        _ => "api_error",
    };
    Reply::json(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}

fn anthropic_message(content: Value) -> Reply {
    Reply::ok(json!({"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": content, "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 30, "output_tokens": 7}}))
}

fn anthropic(server: &ScriptedServer, extra: Value) -> AnthropicChat {
    let config = with(json!({"api_key": KEY, "anthropic_base_url": server.url()}), extra);
    AnthropicChat::from_block(&block(LLM, "anthropic", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

#[tokio::test]
async fn anthropic_json_mode_is_a_forced_tool_and_the_system_prompt_is_separate() {
    let server = ScriptedServer::start().await;
    server.push(anthropic_message(json!([
        {"type": "tool_use", "id": "toolu_1", "name": "json_answer", "input": {"facts": ["Likes green tea"]}}
    ])));
    let llm = anthropic(&server, json!({}));

    let answer = llm.chat(ask(ResponseFormat::JsonObject)).await.unwrap();

    let content: Value = serde_json::from_str(answer.content.as_deref().unwrap()).unwrap();
    assert_eq!(content, json!({"facts": ["Likes green tea"]}));
    assert!(answer.tool_calls.is_empty());
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 30, completion_tokens: 7 }));
    let request = &server.requests()[0];
    assert_post(request, "/v1/messages");
    assert_eq!(request.header("x-api-key"), Some(KEY));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({"model": "claude-sonnet-4-6", "max_tokens": 2000, "system": SYSTEM,
               "messages": [{"role": "user", "content": USER}], "temperature": 0.1,
               "tools": [{"name": "json_answer", "description": "Give your complete answer: the JSON object the instructions ask for.",
                          "input_schema": {"type": "object", "additionalProperties": true}}],
               "tool_choice": {"type": "tool", "name": "json_answer"}})
    );
}

#[tokio::test]
async fn anthropic_tools_are_forced_and_tool_use_becomes_tool_calls() {
    let server = ScriptedServer::start().await;
    server.push(anthropic_message(json!([
        {"type": "text", "text": "Adding."},
        {"type": "tool_use", "id": "toolu_1", "name": "add_entities", "input": {"entities": ["Ana", "green tea"]}}
    ])));
    let llm = anthropic(&server, json!({"model": "claude-opus-4-7", "max_tokens": 300}));

    let answer = llm.chat(ask_with_tool()).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("Adding."));
    assert_eq!(
        answer.tool_calls,
        vec![ToolCall { name: "add_entities".into(), arguments: json!({"entities": ["Ana", "green tea"]}) }]
    );
    let body = &server.requests()[0].body;
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(body["tools"][0]["input_schema"], entity_tool().parameters);
    assert_eq!(body["max_tokens"], 300);
    assert!(body.get("temperature").is_none(), "Opus 4.7 takes no sampling parameters (Mem0's rule)");
}

#[tokio::test]
async fn anthropic_statuses() {
    let server = ScriptedServer::start().await;
    let success = anthropic_message(json!([{"type": "text", "text": "ok"}]));
    check_statuses(&server, chat_call(anthropic(&server, json!({}))), success, anthropic_error, KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Ollama native API.

fn ollama_error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"error": message}))
}

fn ollama_chat_answer(message: Value) -> Reply {
    Reply::ok(json!({"model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z", "message": message,
        "done": true, "done_reason": "stop", "prompt_eval_count": 40, "eval_count": 9}))
}

fn ollama(server: &ScriptedServer, extra: Value) -> OllamaChat {
    let config = with(json!({"ollama_base_url": server.url(), "model": "llama3.1:8b"}), extra);
    OllamaChat::from_block(&block(LLM, "ollama", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

#[tokio::test]
async fn ollama_chat_uses_the_native_api_with_json_format() {
    let server = ScriptedServer::start().await;
    server.push(ollama_chat_answer(json!({"role": "assistant", "content": "{\"facts\": []}"})));
    let llm = ollama(&server, json!({"num_ctx": 4096}));

    let answer = llm.chat(ask(ResponseFormat::JsonObject)).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("{\"facts\": []}"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 40, completion_tokens: 9 }));
    let request = &server.requests()[0];
    assert_post(request, "/api/chat");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(
        request.body,
        json!({"model": "llama3.1:8b", "format": "json",
               "messages": [{"role": "system", "content": SYSTEM},
                            {"role": "user", "content": format!("{USER}\n\nPlease respond with valid JSON only.")}],
               "stream": false, "options": {"temperature": 0.1, "num_predict": 2000, "top_p": 0.1, "num_ctx": 4096}})
    );
}

#[tokio::test]
async fn ollama_chat_offers_tools_and_sends_a_key_when_set() {
    let server = ScriptedServer::start().await;
    server.push(ollama_chat_answer(json!({"role": "assistant", "content": "",
        "tool_calls": [{"function": {"name": "add_entities", "arguments": {"entities": ["Ana"]}}}]})));
    let llm = ollama(&server, json!({"api_key": KEY}));

    let answer = llm.chat(ask_with_tool()).await.unwrap();

    assert_eq!(
        answer.tool_calls,
        vec![ToolCall { name: "add_entities".into(), arguments: json!({"entities": ["Ana"]}) }]
    );
    let request = &server.requests()[0];
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(
        request.body["tools"],
        json!([{"type": "function", "function": {"name": "add_entities", "description": "Adds entities",
                                                 "parameters": entity_tool().parameters}}])
    );
    assert!(request.body.get("format").is_none());
}

#[tokio::test]
async fn ollama_chat_statuses() {
    let server = ScriptedServer::start().await;
    let success = ollama_chat_answer(json!({"role": "assistant", "content": "ok"}));
    check_statuses(&server, chat_call(ollama(&server, json!({"api_key": KEY}))), success, ollama_error, KEY).await;
}

fn ollama_embeddings(request: &Recorded) -> Reply {
    let embeddings: Vec<Vec<f32>> =
        request.body["input"].as_array().unwrap().iter().map(|t| embed_text(t.as_str().unwrap(), 768)).collect();
    Reply::ok(
        json!({"model": request.body["model"], "embeddings": embeddings, "total_duration": 1000, "prompt_eval_count": 4}),
    )
}

fn ollama_embedder(server: &ScriptedServer, extra: Value) -> OllamaEmbedder {
    let config = with(json!({"ollama_base_url": server.url()}), extra);
    OllamaEmbedder::from_block(&block(EMBEDDER, "ollama", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

#[tokio::test]
async fn ollama_embeddings_use_api_embed_in_batches() {
    let server = ScriptedServer::start().await;
    server.on_request(ollama_embeddings);
    let embedder = ollama_embedder(&server, json!({"batch_size": 2}));
    let input = texts(&["a cat", "a dog", "green tea"]);

    let vectors = embedder.embed(&input, EmbedPurpose::Add).await.unwrap();

    assert_eq!(vectors, input.iter().map(|t| embed_text(t, 768)).collect::<Vec<_>>());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_post(&requests[0], "/api/embed");
    assert_eq!(requests[0].body, json!({"model": "nomic-embed-text", "input": ["a cat", "a dog"]}));
    assert_eq!(requests[1].body["input"], json!(["green tea"]));

    let wrong_size = ollama_embedder(&server, json!({"embedding_dims": 512}));
    let err = wrong_size.embed(&input, EmbedPurpose::Add).await.unwrap_err();
    assert!(err.to_string().contains("768 dimensions but embedding_dims is 512"), "{err}");
}

#[tokio::test]
async fn ollama_embeddings_statuses() {
    let server = ScriptedServer::start().await;
    let success = Reply::ok(json!({"embeddings": [embed_text("hello world", 768)]}));
    let embedder = ollama_embedder(&server, json!({"api_key": KEY}));
    check_statuses(&server, embed_call(embedder), success, ollama_error, KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Gemini API.

fn google_error(status: u16, message: &str) -> Reply {
    let code = match status {
        401 => "UNAUTHENTICATED",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INTERNAL",
    };
    Reply::json(status, json!({"error": {"code": status, "message": message, "status": code}}))
}

fn gemini_answer(parts: Value) -> Reply {
    Reply::ok(
        json!({"candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 25, "candidatesTokenCount": 6, "totalTokenCount": 31},
        "modelVersion": "gemini-2.0-flash"}),
    )
}

fn gemini(server: &ScriptedServer) -> GeminiChat {
    let config = json!({"api_key": KEY, "gemini_base_url": server.url()});
    GeminiChat::from_block(&block(LLM, "gemini", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

#[tokio::test]
async fn gemini_generate_content_with_json_mime_type() {
    let server = ScriptedServer::start().await;
    server.push(gemini_answer(json!([{"text": "{\"facts\": "}, {"text": "[]}"}])));

    let answer = gemini(&server).chat(ask(ResponseFormat::JsonObject)).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("{\"facts\": []}"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 25, completion_tokens: 6 }));
    let request = &server.requests()[0];
    assert_post(request, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(request.query_string(), None, "the key is never put in the URL");
    assert_eq!(request.header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        request.body,
        json!({"contents": [{"role": "user", "parts": [{"text": USER}]}],
               "systemInstruction": {"parts": [{"text": SYSTEM}]},
               "generationConfig": {"temperature": 0.1, "topP": 0.1, "maxOutputTokens": 2000,
                                    "responseMimeType": "application/json"}})
    );
}

#[tokio::test]
async fn gemini_function_calling() {
    let server = ScriptedServer::start().await;
    server.push(gemini_answer(json!([{"functionCall": {"name": "add_entities", "args": {"entities": ["Ana"]}}}])));

    let answer = gemini(&server).chat(ask_with_tool()).await.unwrap();

    assert_eq!(
        answer.tool_calls,
        vec![ToolCall { name: "add_entities".into(), arguments: json!({"entities": ["Ana"]}) }]
    );
    let body = &server.requests()[0].body;
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "add_entities", "description": "Adds entities",
            "parameters": {"type": "object", "properties": {"entities": {"type": "array", "items": {"type": "string"}}},
                           "required": ["entities"]}}]}])
    );
    assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
}

#[tokio::test]
async fn gemini_statuses() {
    let server = ScriptedServer::start().await;
    check_statuses(&server, chat_call(gemini(&server)), gemini_answer(json!([{"text": "ok"}])), google_error, KEY)
        .await;
}

fn gemini_embeddings(request: &Recorded) -> Reply {
    let embeddings: Vec<Value> = request.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = r["content"]["parts"][0]["text"].as_str().unwrap();
            json!({"values": embed_text(text, r["outputDimensionality"].as_u64().unwrap() as usize)})
        })
        .collect();
    Reply::ok(json!({"embeddings": embeddings}))
}

fn gemini_embedder(server: &ScriptedServer, extra: Value) -> GeminiEmbedder {
    let config = with(json!({"api_key": KEY, "gemini_base_url": server.url()}), extra);
    GeminiEmbedder::from_block(&block(EMBEDDER, "gemini", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

#[tokio::test]
async fn gemini_batch_embed_contents() {
    let server = ScriptedServer::start().await;
    server.on_request(gemini_embeddings);
    let embedder = gemini_embedder(
        &server,
        json!({"output_dimensionality": 16, "memory_search_embedding_type": "RETRIEVAL_QUERY"}),
    );

    let stored = embedder.embed(&texts(&["green\ntea", "a cat"]), EmbedPurpose::Add).await.unwrap();
    let query = embedder.embed(&texts(&["tea"]), EmbedPurpose::Search).await.unwrap();

    assert_eq!(embedder.dimensions(), 16);
    assert_eq!(stored, vec![embed_text("green tea", 16), embed_text("a cat", 16)]);
    assert_eq!(query, vec![embed_text("tea", 16)]);
    let requests = server.requests();
    assert_post(&requests[0], "/v1beta/models/gemini-embedding-001:batchEmbedContents");
    assert_eq!(requests[0].header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        requests[0].body,
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "green tea"}]}, "outputDimensionality": 16},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a cat"}]}, "outputDimensionality": 16}]})
    );
    assert_eq!(requests[1].body["requests"][0]["taskType"], "RETRIEVAL_QUERY");
}

#[tokio::test]
async fn gemini_embeddings_statuses() {
    let server = ScriptedServer::start().await;
    let success = Reply::ok(json!({"embeddings": [{"values": embed_text("hello world", 768)}]}));
    check_statuses(&server, embed_call(gemini_embedder(&server, json!({}))), success, google_error, KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Hugging Face: text-embeddings-inference and the hosted Inference API.

fn huggingface_error(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"error": message, "error_type": "Validation"}))
}

fn feature_vectors(request: &Recorded, dims: usize) -> Reply {
    let vectors: Vec<Vec<f32>> =
        request.body["inputs"].as_array().unwrap().iter().map(|t| embed_text(t.as_str().unwrap(), dims)).collect();
    Reply::ok(json!(vectors))
}

fn tei(server: &ScriptedServer, extra: Value) -> HuggingFaceEmbedder {
    let config = with(json!({"huggingface_base_url": format!("{}/v1", server.url()), "embedding_dims": 8}), extra);
    HuggingFaceEmbedder::from_block(&block(EMBEDDER, "huggingface", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

#[tokio::test]
async fn huggingface_tei_embed() {
    let server = ScriptedServer::start().await;
    server.on_request(|r| feature_vectors(r, 8));
    let embedder = tei(&server, json!({"model_kwargs": {"normalize": true}}));

    let vectors = embedder.embed(&texts(&["green tea", "a cat"]), EmbedPurpose::Add).await.unwrap();

    assert_eq!(vectors, vec![embed_text("green tea", 8), embed_text("a cat", 8)]);
    let request = &server.requests()[0];
    assert_post(request, "/embed");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.body, json!({"inputs": ["green tea", "a cat"], "truncate": true, "normalize": true}));
}

#[tokio::test]
async fn huggingface_hosted_feature_extraction() {
    let server = ScriptedServer::start().await;
    server.on_request(|r| feature_vectors(r, 8));
    let config =
        json!({"huggingface_inference_url": server.url(), "model": "BAAI/bge-small-en-v1.5", "embedding_dims": 8});
    let embedder = HuggingFaceEmbedder::from_block(&block(EMBEDDER, "huggingface", config), &env(&[("HF_TOKEN", KEY)]))
        .unwrap()
        .with_retry_policy(fast_retries());

    let vectors = embedder.embed(&texts(&["green tea"]), EmbedPurpose::Search).await.unwrap();

    assert_eq!(vectors, vec![embed_text("green tea", 8)]);
    let request = &server.requests()[0];
    assert_post(request, "/models/BAAI/bge-small-en-v1.5/pipeline/feature-extraction");
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.body, json!({"inputs": ["green tea"]}));

    server.push(Reply::ok(json!([[[0.1, 0.2], [0.3, 0.4]]])));
    let err = embedder.embed(&texts(&["green tea"]), EmbedPurpose::Search).await.unwrap_err();
    assert!(err.to_string().contains("one vector per token"), "{err}");
}

#[tokio::test]
async fn huggingface_statuses() {
    let server = ScriptedServer::start().await;
    let success = Reply::ok(json!([embed_text("hello world", 8)]));
    check_statuses(&server, embed_call(tei(&server, json!({"api_key": KEY}))), success, huggingface_error, KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Vertex AI: a service account's OAuth token, then `predict` / `generateContent`.

const PRIVATE_KEY: &str = include_str!("support/test_service_account_key.pem");
const PUBLIC_KEY: &str = include_str!("support/test_service_account_key.pub.pem");
const ACCESS_TOKEN: &str = "ya29.test-access-token-0123456789";
const CLIENT_EMAIL: &str = "mem0@mem0-test.iam.gserviceaccount.com";

/// A token endpoint answering every exchange.
async fn token_server() -> ScriptedServer {
    let server = ScriptedServer::start().await;
    server.on_request(|_| Reply::ok(json!({"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})));
    server
}

fn service_account(tokens: &ScriptedServer) -> Value {
    json!({"type": "service_account", "project_id": "mem0-test", "private_key_id": "kid-1", "private_key": PRIVATE_KEY,
           "client_email": CLIENT_EMAIL, "client_id": "1", "token_uri": format!("{}/token", tokens.url())})
}

/// The token request is a JWT-bearer grant whose assertion verifies with the key's public half.
fn assert_token_request(tokens: &ScriptedServer) {
    let requests = tokens.requests();
    assert_eq!(requests.len(), 1, "the token is fetched once and cached");
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/token"));
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form: HashMap<String, String> = form_urlencoded::parse(&request.raw_body).into_owned().collect();
    assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[format!("{}/token", tokens.url())]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let token = jsonwebtoken::decode::<Value>(&form["assertion"], &key, &validation).expect("a valid RS256 assertion");
    assert_eq!(token.header.kid.as_deref(), Some("kid-1"));
    assert_eq!(token.claims["iss"], CLIENT_EMAIL);
    assert_eq!(token.claims["scope"], "https://www.googleapis.com/auth/cloud-platform");
    let wrong_key = jsonwebtoken::DecodingKey::from_secret(b"not the key");
    assert!(jsonwebtoken::decode::<Value>(&form["assertion"], &wrong_key, &validation).is_err());
}

fn vertex_predictions(request: &Recorded) -> Reply {
    let dims = request.body["parameters"]["outputDimensionality"].as_u64().unwrap() as usize;
    let predictions: Vec<Value> = request.body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!({"embeddings": {"values": embed_text(i["content"].as_str().unwrap(), dims),
                                       "statistics": {"truncated": false, "token_count": 2}}})
        })
        .collect();
    Reply::ok(json!({"predictions": predictions}))
}

fn vertex_embedder(api: &ScriptedServer, credentials: Value, extra: Value) -> VertexAiEmbedder {
    let config = with(
        json!({"vertex_credentials_json": credentials, "vertexai_base_url": api.url(), "embedding_dims": 8}),
        extra,
    );
    VertexAiEmbedder::from_block(&block(EMBEDDER, "vertexai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

#[tokio::test]
async fn vertexai_embeddings_sign_in_with_the_service_account() {
    let tokens = token_server().await;
    let api = ScriptedServer::start().await;
    api.on_request(vertex_predictions);
    let embedder = vertex_embedder(&api, service_account(&tokens), json!({}));

    let stored = embedder.embed(&texts(&["green tea", "a cat"]), EmbedPurpose::Add).await.unwrap();
    let query = embedder.embed(&texts(&["tea"]), EmbedPurpose::Search).await.unwrap();

    assert_eq!(stored, vec![embed_text("green tea", 8), embed_text("a cat", 8)]);
    assert_eq!(query, vec![embed_text("tea", 8)]);
    assert_token_request(&tokens);
    let requests = api.requests();
    assert_eq!(requests.len(), 3, "gemini-embedding-001 takes one text per request");
    assert_post(
        &requests[0],
        "/v1/projects/mem0-test/locations/us-central1/publishers/google/models/gemini-embedding-001:predict",
    );
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
    assert_eq!(
        requests[0].body,
        json!({"instances": [{"content": "green tea", "task_type": "RETRIEVAL_DOCUMENT"}], "parameters": {"outputDimensionality": 8}})
    );
    assert_eq!(requests[2].body["instances"][0]["task_type"], "RETRIEVAL_QUERY");
}

#[tokio::test]
async fn vertexai_credentials_may_be_a_key_file_and_older_models_batch() {
    let tokens = token_server().await;
    let api = ScriptedServer::start().await;
    api.on_request(vertex_predictions);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), service_account(&tokens).to_string()).unwrap();
    let path = file.path().to_str().unwrap();
    let embedder = vertex_embedder(
        &api,
        json!(path),
        json!({"model": "text-embedding-005", "location": "europe-west4", "project": "other-project",
               "memory_add_embedding_type": "SEMANTIC_SIMILARITY"}),
    );

    embedder.embed(&texts(&["green tea", "a cat"]), EmbedPurpose::Add).await.unwrap();

    let request = &api.requests()[0];
    assert_eq!(
        request.path,
        "/v1/projects/other-project/locations/europe-west4/publishers/google/models/text-embedding-005:predict"
    );
    assert_eq!(request.body["instances"].as_array().unwrap().len(), 2);
    assert_eq!(request.body["instances"][1]["task_type"], "SEMANTIC_SIMILARITY");
}

#[tokio::test]
async fn vertexai_statuses_and_rejected_keys() {
    let tokens = token_server().await;
    let api = ScriptedServer::start().await;
    let success = Reply::ok(json!({"predictions": [{"embeddings": {"values": embed_text("hello world", 8)}}]}));
    let embedder = vertex_embedder(&api, service_account(&tokens), json!({}));
    check_statuses(&api, embed_call(embedder), success, google_error, PRIVATE_KEY).await;

    let refusing = ScriptedServer::start().await;
    refusing.push(Reply::json(400, json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})));
    let embedder = vertex_embedder(&api, service_account(&refusing), json!({}));
    let err = embedder.embed(&texts(&["x"]), EmbedPurpose::Add).await.unwrap_err();
    assert!(matches!(err, EmbedError::Unauthorized { status: 400, .. }), "{err:?}");
    assert!(
        err.to_string().contains("access token for the service account failed: invalid_grant: Invalid JWT Signature."),
        "{err}"
    );
}

#[tokio::test]
async fn gemini_on_vertex_ai() {
    let tokens = token_server().await;
    let api = ScriptedServer::start().await;
    api.push(gemini_answer(json!([{"text": "ok"}])));
    let config = json!({"vertexai": true, "vertex_credentials_json": service_account(&tokens).to_string(),
                        "vertexai_base_url": api.url(), "location": "global", "model": "gemini-2.5-flash"});
    let llm = GeminiChat::from_block(&block(LLM, "gemini", config), &no_env()).unwrap();

    let answer = llm.chat(ask(ResponseFormat::Text)).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("ok"));
    assert_token_request(&tokens);
    let request = &api.requests()[0];
    assert_post(
        request,
        "/v1/projects/mem0-test/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
    );
    assert_eq!(request.header("authorization"), Some(format!("Bearer {ACCESS_TOKEN}").as_str()));
    assert_eq!(request.header("x-goog-api-key"), None);
    assert_eq!(request.body["systemInstruction"], json!({"parts": [{"text": SYSTEM}]}));
}

// ---------------------------------------------------------------------------------------------------
// Amazon Bedrock Converse, signed with SigV4.

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn bedrock_error(status: u16, message: &str) -> Reply {
    let kind = match status {
        401 | 403 => "UnrecognizedClientException",
        429 => "ThrottlingException",
        _ => "InternalServerException",
    };
    Reply::json(status, json!({"message": message})).header("x-amzn-errortype", kind)
}

fn converse_answer(content: Value) -> Reply {
    Reply::ok(json!({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": "end_turn",
        "usage": {"inputTokens": 33, "outputTokens": 8, "totalTokens": 41}, "metrics": {"latencyMs": 120}}))
}

fn bedrock(server: &ScriptedServer, extra: Value) -> BedrockChat {
    let config = with(
        json!({"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY,
               "aws_region": "us-east-1", "aws_bedrock_base_url": server.url()}),
        extra,
    );
    BedrockChat::from_block(&block(LLM, "aws_bedrock", config), &no_env()).unwrap().with_retry_policy(fast_retries())
}

/// The request carries a SigV4 signature that AWS's algorithm, recomputed independently, accepts.
fn assert_signed(request: &Recorded, extra_signed: &[&str]) {
    let header = request.header("authorization").expect("an Authorization header");
    let auth = sigv4_check::parse_authorization(header).expect("a SigV4 Authorization header");
    assert_eq!(
        (auth.access_key_id.as_str(), auth.region.as_str(), auth.service.as_str()),
        (ACCESS_KEY_ID, "us-east-1", "bedrock")
    );
    for name in ["host", "x-amz-date"].iter().chain(extra_signed) {
        assert!(auth.signed_headers.iter().any(|h| h == name), "{name} is not signed: {header}");
    }
    let amz_date = request.header("x-amz-date").unwrap();
    assert!(amz_date.starts_with(&auth.date) && amz_date.ends_with('Z'), "{amz_date}");
    let expected = |secret: &str| {
        sigv4_check::expected_signature(
            secret,
            &auth,
            &request.method,
            &request.path,
            request.query_string(),
            &request.headers,
            &request.raw_body,
        )
    };
    assert_eq!(auth.signature, expected(SECRET_ACCESS_KEY), "the signature does not verify");
    assert_ne!(auth.signature, expected("another-secret-key"), "the check must depend on the secret");
}

#[tokio::test]
async fn aws_bedrock_converse_is_signed_with_sigv4() {
    let server = ScriptedServer::start().await;
    server.push(converse_answer(json!([{"text": "{\"facts\": []}"}])));

    let answer =
        bedrock(&server, json!({"model_kwargs": {"top_k": 5}})).chat(ask(ResponseFormat::JsonObject)).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("{\"facts\": []}"));
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 33, completion_tokens: 8 }));
    let request = &server.requests()[0];
    assert_post(request, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    assert_signed(request, &[]);
    assert_eq!(request.header("x-amz-security-token"), None);
    assert_eq!(
        request.body,
        json!({"messages": [{"role": "user", "content": [{"text": USER}]}],
               "system": [{"text": format!("{SYSTEM}\n\nPlease respond with valid JSON only.")}],
               "inferenceConfig": {"maxTokens": 2000, "temperature": 0.1},
               "additionalModelRequestFields": {"top_k": 5}})
    );
}

#[tokio::test]
async fn aws_bedrock_temporary_credentials_and_tools() {
    let server = ScriptedServer::start().await;
    server.push(converse_answer(
        json!([{"toolUse": {"toolUseId": "t1", "name": "add_entities", "input": {"entities": ["Ana"]}}}]),
    ));
    let llm = bedrock(&server, json!({"aws_session_token": "session-token-0123456789", "top_p": 0.9}));

    let answer = llm.chat(ask_with_tool()).await.unwrap();

    assert_eq!(
        answer.tool_calls,
        vec![ToolCall { name: "add_entities".into(), arguments: json!({"entities": ["Ana"]}) }]
    );
    let request = &server.requests()[0];
    assert_eq!(request.header("x-amz-security-token"), Some("session-token-0123456789"));
    assert_signed(request, &["x-amz-security-token"]);
    assert_eq!(request.body["inferenceConfig"]["topP"], 0.9);
    assert_eq!(
        request.body["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "add_entities", "description": "Adds entities",
                                       "inputSchema": {"json": entity_tool().parameters}}}],
               "toolChoice": {"any": {}}})
    );
}

#[tokio::test]
async fn aws_bedrock_api_keys_are_bearer_tokens() {
    let server = ScriptedServer::start().await;
    server.push(converse_answer(json!([{"text": "ok"}])));
    let config =
        json!({"api_key": KEY, "aws_bedrock_base_url": server.url(), "model": "meta.llama3-70b-instruct-v1:0"});
    let llm = BedrockChat::from_block(&block(LLM, "aws_bedrock", config), &no_env()).unwrap();

    llm.chat(ask(ResponseFormat::Text)).await.unwrap();

    let request = &server.requests()[0];
    assert_eq!(request.path, "/model/meta.llama3-70b-instruct-v1%3A0/converse");
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.header("x-amz-date"), None);
}

#[tokio::test]
async fn aws_bedrock_statuses() {
    let server = ScriptedServer::start().await;
    let success = converse_answer(json!([{"text": "ok"}]));
    check_statuses(&server, chat_call(bedrock(&server, json!({}))), success, bedrock_error, SECRET_ACCESS_KEY).await;

    server.push(bedrock_error(403, "The request signature we calculated does not match the signature you provided."));
    let err = bedrock(&server, json!({})).chat(ask(ResponseFormat::Text)).await.unwrap_err();
    assert!(matches!(err, LlmError::Unauthorized { status: 403, .. }), "{err:?}");
}

fn bedrock_embedder(server: &ScriptedServer, extra: Value) -> BedrockEmbedder {
    let config = with(
        json!({"aws_access_key_id": ACCESS_KEY_ID, "aws_secret_access_key": SECRET_ACCESS_KEY,
               "aws_region": "us-east-1", "aws_bedrock_base_url": server.url()}),
        extra,
    );
    BedrockEmbedder::from_block(&block(EMBEDDER, "aws_bedrock", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

#[tokio::test]
async fn aws_bedrock_titan_embeddings_are_signed_one_text_per_request() {
    let server = ScriptedServer::start().await;
    server.on_request(|r| {
        let dims = r.body["dimensions"].as_u64().unwrap_or(1024) as usize;
        Reply::ok(
            json!({"embedding": embed_text(r.body["inputText"].as_str().unwrap(), dims), "inputTextTokenCount": 2}),
        )
    });
    let embedder = bedrock_embedder(&server, json!({"model": "amazon.titan-embed-text-v2:0", "embedding_dims": 256}));

    let vectors = embedder.embed(&texts(&["green tea", "a cat"]), EmbedPurpose::Add).await.unwrap();

    assert_eq!(vectors, vec![embed_text("green tea", 256), embed_text("a cat", 256)]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_post(&requests[0], "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert_signed(&requests[0], &[]);
    assert_eq!(requests[1].body, json!({"inputText": "a cat", "dimensions": 256}));
}

#[tokio::test]
async fn aws_bedrock_cohere_embeddings_batch_with_an_input_type() {
    let server = ScriptedServer::start().await;
    server.on_request(|r| {
        let vectors: Vec<Vec<f32>> =
            r.body["texts"].as_array().unwrap().iter().map(|t| embed_text(t.as_str().unwrap(), 1024)).collect();
        Reply::ok(
            json!({"id": "e1", "embeddings": vectors, "texts": r.body["texts"], "response_type": "embeddings_floats"}),
        )
    });
    let embedder = bedrock_embedder(&server, json!({"model": "cohere.embed-english-v3"}));

    let stored = embedder.embed(&texts(&["green tea", "a cat"]), EmbedPurpose::Add).await.unwrap();
    embedder.embed(&texts(&["tea"]), EmbedPurpose::Search).await.unwrap();

    assert_eq!(stored, vec![embed_text("green tea", 1024), embed_text("a cat", 1024)]);
    let requests = server.requests();
    assert_signed(&requests[0], &[]);
    assert_eq!(requests[0].body, json!({"texts": ["green tea", "a cat"], "input_type": "search_document"}));
    assert_eq!(requests[1].body["input_type"], "search_query");
}

#[tokio::test]
async fn aws_bedrock_embeddings_statuses() {
    let server = ScriptedServer::start().await;
    let success = Reply::ok(json!({"embedding": embed_text("hello world", 1536)}));
    let embedder = bedrock_embedder(&server, json!({}));
    check_statuses(&server, embed_call(embedder), success, bedrock_error, SECRET_ACCESS_KEY).await;
}

// ---------------------------------------------------------------------------------------------------
// Dispatch and configuration errors.

#[test]
fn every_provider_is_dispatched_and_unknown_ones_are_listed() {
    let llm_names = llm_providers();
    for name in [
        "openai",
        "azure_openai",
        "azure_openai_structured",
        "anthropic",
        "ollama",
        "gemini",
        "deepseek",
        "groq",
        "together",
        "xai",
        "lmstudio",
        "vllm",
        "litellm",
        "openrouter",
        "openai_structured",
        "sarvam",
        "minimax",
        "aws_bedrock",
    ] {
        assert!(llm_names.contains(&name), "{name}");
    }
    let embedder_names = embedder_providers();
    for name in
        ["openai", "azure_openai", "ollama", "gemini", "huggingface", "together", "lmstudio", "vertexai", "aws_bedrock"]
    {
        assert!(embedder_names.contains(&name), "{name}");
    }
    let err = build_llm(&block(LLM, "langchain", json!({})), &no_env()).err().unwrap().to_string();
    assert!(
        err.starts_with("local_llm_json: unknown provider \"langchain\"; supported providers are openai,"),
        "{err}"
    );
    assert!(err.contains("aws_bedrock"), "{err}");
    let err = build_embedder(&block(EMBEDDER, "fastembed", json!({})), &no_env()).err().unwrap().to_string();
    assert!(err.contains("unknown provider \"fastembed\"") && err.contains("vertexai"), "{err}");
}

#[test]
fn config_errors_name_the_key_and_never_the_secret() {
    let llm_error = |provider: &str, config: Value| {
        build_llm(&block(LLM, provider, config), &no_env()).err().expect("an error").to_string()
    };
    let embed_error = |provider: &str, config: Value| {
        build_embedder(&block(EMBEDDER, provider, config), &no_env()).err().expect("an error").to_string()
    };

    let err = llm_error("anthropic", json!({"api_key": KEY, "anthropic_url": "http://x"}));
    assert!(err.contains("unknown key \"anthropic_url\"") && err.contains("anthropic_base_url"), "{err}");
    let err = llm_error("anthropic", json!({}));
    assert!(err.contains("api_key is required") && err.contains("ANTHROPIC_API_KEY"), "{err}");
    let err = llm_error("anthropic", json!({"api_key": KEY, "temperature": 1.5}));
    assert!(err.contains("temperature must be between 0 and 1"), "{err}");
    let err = llm_error("ollama", json!({"num_ctx": "big"}));
    assert!(err.contains("num_ctx: invalid type"), "{err}");
    let err = llm_error("gemini", json!({"api_key": {"nested": KEY}}));
    assert!(err.contains("api_key has the wrong type") && !err.contains(KEY), "{err}");
    let err = llm_error("gemini", json!({}));
    assert!(
        err.contains("api_key is required") && err.contains("GOOGLE_API_KEY") && err.contains("GEMINI_API_KEY"),
        "{err}"
    );
    let err = llm_error("gemini", json!({"vertexai": true}));
    assert!(err.contains("vertex_credentials_json is required"), "{err}");
    let err = llm_error(
        "azure_openai",
        json!({"azure_kwargs": {"api_key": KEY, "azure_endpoint": "https://x.openai.azure.com"}}),
    );
    assert!(err.contains("azure_kwargs.api_version is required") && err.contains("LLM_AZURE_API_VERSION"), "{err}");
    let err = llm_error("azure_openai", json!({"azure_kwargs": {"deployment": "x"}}));
    assert!(err.contains("unknown field `deployment`") && err.contains("azure_deployment"), "{err}");
    let err = llm_error("aws_bedrock", json!({"aws_region": "us-east-1"}));
    assert!(err.contains("aws_access_key_id and aws_secret_access_key are required"), "{err}");
    let err = llm_error("aws_bedrock", json!({"aws_profile": "default"}));
    assert!(err.contains("aws_profile is not supported"), "{err}");
    let err = llm_error("aws_bedrock", json!({"aws_access_key_id": "AKID", "aws_secret_access_key": 42}));
    assert!(err.contains("aws_secret_access_key has the wrong type") && !err.contains("42"), "{err}");

    let err = embed_error("ollama", json!({"ollama_base_url": "ftp://h"}));
    assert!(err.contains("ollama_base_url must start with http"), "{err}");
    let err = embed_error("gemini", json!({"api_key": KEY, "memory_search_embedding_type": "FAST"}));
    assert!(err.contains("memory_search_embedding_type must be one of"), "{err}");
    let err = embed_error("huggingface", json!({"huggingface_base_url": "http://tei:3000"}));
    assert!(err.contains("embedding_dims is required"), "{err}");
    let err = embed_error("azure_openai", json!({}));
    assert!(
        err.contains("azure_kwargs.api_key is required") && err.contains("EMBEDDING_AZURE_OPENAI_API_KEY"),
        "{err}"
    );
    let err = embed_error("vertexai", json!({"vertex_credentials_json": "/nonexistent/key.json"}));
    assert!(err.contains("cannot read the service account key file"), "{err}");
    let err = embed_error(
        "vertexai",
        json!({"vertex_credentials_json": {"type": "service_account", "client_email": "a@b", "private_key": KEY}}),
    );
    assert!(err.contains("not a PEM-encoded RSA key") && !err.contains(KEY), "{err}");
    let err = embed_error("vertexai", json!({"api_key": KEY}));
    assert!(err.contains("api_key is not used by provider \"vertexai\""), "{err}");
}
