//! Each chat provider sends the answer schema the way it supports (against a local server speaking
//! its wire format; the request body the server received is asserted): OpenAI-compatible servers
//! `response_format: json_schema` (strict), providers with JSON mode only `json_object`, Sarvam
//! nothing, Ollama the schema as `format`, Anthropic a forced `json_answer` tool whose
//! `input_schema` is the schema, Gemini `responseSchema` in its OpenAPI form, Bedrock the schema in
//! the system text; `structured_output: "json_object"` lowers every one to JSON mode. The task-sized
//! token limit and the stop sequences go where each API takes them, the configured `max_tokens`
//! staying the ceiling.

use crate::support::adapter_config;
use crate::support::scripted_server;

use adapter_config::{block, no_env};
use mem0_dify::adapters::llm::build_llm;
use mem0_dify::ports::llm::{AnswerSchema, ChatMessage, ChatRequest, ResponseFormat};
use scripted_server::{Reply, ScriptedServer};
use serde_json::{json, Value};

const LLM: &str = "local_llm_json";
const KEY: &str = "test-key-0123456789abcdef";
const FACTS: &str = r#"{"facts": ["Likes green tea"]}"#;

fn schema() -> Value {
    json!({"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
        "required": ["facts"], "additionalProperties": false})
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("Extract facts as JSON."), ChatMessage::user("user: I like green tea")],
        response_format: ResponseFormat::JsonSchema(AnswerSchema { name: "memory_facts".into(), schema: schema() }),
        max_tokens: Some(300),
        stop: vec!["\n\n\n\n".into(), "END".into()],
        ..ChatRequest::default()
    }
}

/// The body `provider` sends for [`request`], with `config` (the base URL key is added), after
/// checking the answer `reply` is read back as the facts.
async fn sent(provider: &str, url_key: &str, config: Value, reply: Value) -> Value {
    let server = ScriptedServer::start().await;
    server.on_request(move |_| Reply::ok(reply.clone()));
    let mut config = config;
    config[url_key] = json!(server.url());
    let llm = build_llm(&block(LLM, provider, config), &no_env()).unwrap();
    let answer = llm.chat(request()).await.unwrap();
    let facts: Value = serde_json::from_str(answer.content.as_deref().unwrap()).unwrap();
    assert_eq!(facts, json!({"facts": ["Likes green tea"]}), "{provider}");
    server.requests().pop().unwrap().body
}

fn openai_answer() -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": FACTS}, "finish_reason": "stop"}]})
}

#[tokio::test]
async fn openai_compatible_servers_get_a_strict_json_schema_or_json_mode() {
    let strict =
        json!({"type": "json_schema", "json_schema": {"name": "memory_facts", "strict": true, "schema": schema()}});
    for (provider, url_key) in
        [("openai", "openai_base_url"), ("vllm", "vllm_base_url"), ("lmstudio", "lmstudio_base_url")]
    {
        let config = json!({"api_key": KEY, "model": "qwen2.5-coder-0.5b", "max_tokens": 2000});
        let body = sent(provider, url_key, config, openai_answer()).await;
        assert_eq!(body["response_format"], strict, "{provider}");
        assert_eq!(body["max_tokens"], 300, "{provider}: the task's limit under the configured 2000");
        assert_eq!(body["stop"], json!(["\n\n\n\n", "END"]), "{provider}");
    }
    let body = sent("deepseek", "deepseek_base_url", json!({"api_key": KEY, "max_tokens": 200}), openai_answer()).await;
    assert_eq!(body["response_format"], json!({"type": "json_object"}), "DeepSeek has JSON mode only");
    assert_eq!(body["max_tokens"], 200, "the configured max_tokens stays the ceiling");
    let body = sent("sarvam", "sarvam_base_url", json!({"api_key": KEY}), openai_answer()).await;
    assert!(body.get("response_format").is_none(), "Sarvam has no JSON mode: {body}");
    let config = json!({"api_key": KEY, "model": "m", "structured_output": "json_object"});
    let body = sent("vllm", "vllm_base_url", config, openai_answer()).await;
    assert_eq!(body["response_format"], json!({"type": "json_object"}), "lowered by structured_output");
}

#[tokio::test]
async fn ollama_gets_the_schema_as_format() {
    let answer = json!({"message": {"role": "assistant", "content": FACTS}, "done_reason": "stop"});
    let body = sent("ollama", "ollama_base_url", json!({"model": "qwen2.5-coder:0.5b"}), answer.clone()).await;
    assert_eq!(body["format"], schema());
    assert_eq!(body["options"]["num_predict"], 300);
    assert_eq!(body["options"]["stop"], json!(["\n\n\n\n", "END"]));
    let body = sent("ollama", "ollama_base_url", json!({"structured_output": "json_object"}), answer).await;
    assert_eq!(body["format"], "json");
}

#[tokio::test]
async fn anthropic_gets_a_forced_tool_whose_input_schema_is_the_schema() {
    let answer = json!({"content": [{"type": "tool_use", "id": "t1", "name": "json_answer",
        "input": {"facts": ["Likes green tea"]}}], "stop_reason": "tool_use"});
    let body = sent("anthropic", "anthropic_base_url", json!({"api_key": KEY}), answer).await;
    assert_eq!(body["tools"][0]["name"], "json_answer");
    assert_eq!(body["tools"][0]["input_schema"], schema());
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "json_answer"}));
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["stop_sequences"], json!(["END"]), "whitespace-only stop sequences are refused by the API");
}

#[tokio::test]
async fn gemini_gets_a_response_schema_in_its_openapi_form() {
    let answer = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": FACTS}]},
        "finishReason": "STOP"}]});
    let body = sent("gemini", "gemini_base_url", json!({"api_key": KEY}), answer).await;
    let generation = &body["generationConfig"];
    assert_eq!(generation["responseMimeType"], "application/json");
    assert_eq!(
        generation["responseSchema"],
        json!({"type": "OBJECT", "properties": {"facts": {"type": "ARRAY", "items": {"type": "STRING"}}},
            "required": ["facts"]})
    );
    assert_eq!(
        (generation["maxOutputTokens"].clone(), generation["stopSequences"].clone()),
        (json!(300), json!(["END"]))
    );
}

#[tokio::test]
async fn bedrock_gets_the_schema_in_the_system_text() {
    let answer = json!({"output": {"message": {"role": "assistant", "content": [{"text": FACTS}]}},
        "stopReason": "end_turn"});
    let config = json!({"api_key": KEY, "aws_region": "us-east-1", "model": "meta.llama3-70b-instruct-v1:0"});
    let body = sent("aws_bedrock", "aws_bedrock_base_url", config, answer).await;
    let system = body["system"][0]["text"].as_str().unwrap();
    assert!(system.starts_with("Extract facts as JSON.") && system.contains("JSON Schema"), "{system}");
    assert!(system.contains(&schema().to_string()), "{system}");
    assert_eq!(body["inferenceConfig"]["maxTokens"], 300);
    assert_eq!(body["inferenceConfig"]["stopSequences"], json!(["END"]));
}

#[test]
fn bad_write_path_options_are_refused_naming_the_key() {
    for (config, key) in [
        (json!({"extraction_mode": "one_call"}), "extraction_mode"),
        (json!({"fact_roles": ["assistant"]}), "fact_roles"),
        (json!({"structured_output": "grammar"}), "structured_output"),
    ] {
        for provider in ["ollama", "vllm"] {
            let err = build_llm(&block(LLM, provider, config.clone()), &no_env()).err().unwrap().to_string();
            assert!(err.contains(key) && err.contains(LLM), "{provider} {config}: {err}");
        }
    }
}
