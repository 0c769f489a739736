//! The OpenAI-compatible chat and embedding adapters against a local server speaking OpenAI's wire
//! format: request shape, answers, retries, timeouts, errors, and that API keys never leak.

use crate::support::adapter_config;
use crate::support::fake_openai;

use adapter_config::{block, fast_retries, no_env};
use fake_openai::{cosine, embed_text, FakeOpenAi, Reply};
use mem0_dify::adapters::embedder::openai::OpenAiEmbedder;
use mem0_dify::adapters::llm::openai::OpenAiChat;
use mem0_dify::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use mem0_dify::ports::llm::{ChatMessage, ChatRequest, Llm, LlmError, ResponseFormat, ToolSpec, Usage};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-0123456789abcdef";

fn chat(provider: &str, config: Value) -> OpenAiChat {
    OpenAiChat::from_block(&block("local_llm_json", provider, config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn openai_chat(server: &FakeOpenAi, extra: Value) -> OpenAiChat {
    let mut config = json!({"api_key": KEY, "openai_base_url": server.base_url(), "model": "gpt-4o-mini"});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    chat("openai", config)
}

fn embedder(server: &FakeOpenAi, extra: Value) -> OpenAiEmbedder {
    let mut config = json!({"api_key": KEY, "openai_base_url": server.base_url()});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    OpenAiEmbedder::from_block(&block("local_embedder_json", "openai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::system("You extract facts."), ChatMessage::user(text)],
        ..ChatRequest::default()
    }
}

#[tokio::test]
async fn chat_sends_the_openai_request_and_reads_the_answer() {
    let server = FakeOpenAi::start().await;
    server.require_api_key(KEY);
    server.push_chat(Reply::Chat(fake_openai::ChatReply {
        content: Some("Hello!".into()),
        usage: Some((12, 3)),
        ..Default::default()
    }));
    let llm = openai_chat(&server, json!({"temperature": 0.2, "max_tokens": 100}));

    let answer = llm.chat(ask("Hi, I am Ana")).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("Hello!"));
    assert!(answer.tool_calls.is_empty());
    assert_eq!(answer.usage, Some(Usage { prompt_tokens: 12, completion_tokens: 3 }));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("accept"), Some("application/json"));
    assert!(request.header("user-agent").unwrap().starts_with("mem0-dify/"));
    assert_eq!(
        request.body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "You extract facts."}, {"role": "user", "content": "Hi, I am Ana"}],
            "temperature": 0.2,
            "top_p": 0.1,
            "max_tokens": 100,
        })
    );
}

#[tokio::test]
async fn json_mode_is_requested_with_response_format() {
    let server = FakeOpenAi::start().await;
    server.push_chat(Reply::json(&json!({"facts": ["Name is Ana"]})));
    let llm = openai_chat(&server, json!({"model": "gpt-5-mini", "reasoning_effort": "low"}));

    let request = ChatRequest { response_format: ResponseFormat::JsonObject, ..ask("I am Ana") };
    let answer = llm.chat(request).await.unwrap();

    let parsed: Value = serde_json::from_str(answer.content.as_deref().unwrap()).unwrap();
    assert_eq!(parsed, json!({"facts": ["Name is Ana"]}));
    let body = &server.chat_requests()[0].body;
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    // gpt-5-mini is a reasoning model: no sampling parameters, reasoning_effort instead.
    assert_eq!(body["reasoning_effort"], "low");
    for absent in ["temperature", "top_p", "max_tokens", "max_completion_tokens", "tools"] {
        assert!(body.get(absent).is_none(), "{absent} must not be sent: {body}");
    }
}

#[tokio::test]
async fn tool_calls_are_offered_and_parsed() {
    let server = FakeOpenAi::start().await;
    server.push_chat(Reply::tool_call("add_entities", json!({"entities": [{"name": "Ana", "type": "person"}]})));
    server.push_chat(Reply::tool_call_raw("add_entities", "{\"entities\": [oops"));
    let llm = openai_chat(&server, json!({}));
    let tool = ToolSpec {
        name: "add_entities".into(),
        description: "Adds entities".into(),
        parameters: json!({"type": "object", "properties": {"entities": {"type": "array"}}}),
    };
    let request = ChatRequest { tools: vec![tool.clone()], ..ask("Ana lives in Lisbon") };

    let answer = llm.chat(request.clone()).await.unwrap();

    assert_eq!(answer.content, None);
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.tool_calls[0].name, "add_entities");
    assert_eq!(answer.tool_calls[0].arguments, json!({"entities": [{"name": "Ana", "type": "person"}]}));
    let body = &server.chat_requests()[0].body;
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "add_entities", "description": "Adds entities", "parameters": tool.parameters}}])
    );

    let err = llm.chat(request).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Protocol(m) if m.contains("add_entities") && m.contains("not valid JSON")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_hides_the_key() {
    let server = FakeOpenAi::start().await;
    server.require_api_key("sk-the-right-key-000");
    let llm = openai_chat(&server, json!({}));

    let err = llm.chat(ask("hi")).await.unwrap_err();

    assert!(matches!(&err, LlmError::Unauthorized { status: 401, .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("Incorrect API key provided: [REDACTED]"), "{shown}");
    assert!(!shown.contains(KEY) && !format!("{err:?}").contains(KEY), "{shown}");
    assert_eq!(server.requests().len(), 1, "401 must not be retried");
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_asked_wait() {
    let server = FakeOpenAi::start().await;
    server.fail_next(1, Reply::rate_limited(Some(0.2)));
    server.push_chat(Reply::text("finally"));
    let llm = openai_chat(&server, json!({}));

    let started = Instant::now();
    let answer = llm.chat(ask("hi")).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("finally"));
    assert_eq!(server.requests().len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(200), "Retry-After was not honoured");
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let server = FakeOpenAi::start().await;
    server.fail_next(10, Reply::error(500, "The server had an error while processing your request"));
    let llm = openai_chat(&server, json!({}));

    let err = llm.chat(ask("hi")).await.unwrap_err();

    assert!(
        matches!(&err, LlmError::Http { status: 500, message } if message.contains("server had an error")),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn max_retries_from_the_config_is_honoured() {
    let server = FakeOpenAi::start().await;
    server.fail_next(10, Reply::error(503, "overloaded"));
    let config = json!({"api_key": KEY, "openai_base_url": server.base_url(), "max_retries": 1});
    let llm = OpenAiChat::from_block(&block("local_llm_json", "openai", config), &no_env()).unwrap();

    let err = llm.chat(ask("hi")).await.unwrap_err();

    assert!(matches!(err, LlmError::Http { status: 503, .. }));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn slow_answers_time_out_without_retry() {
    let server = FakeOpenAi::start().await;
    server.set_latency(Duration::from_secs(2));
    server.push_chat(Reply::text("too late"));
    let llm = openai_chat(&server, json!({"timeout": 0.2}));

    let started = Instant::now();
    let err = llm.chat(ask("hi")).await.unwrap_err();

    assert_eq!(err, LlmError::Timeout(Duration::from_millis(200)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_servers_are_transport_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let llm = chat("openai", json!({"api_key": KEY, "openai_base_url": format!("http://127.0.0.1:{port}/v1")}));

    let err = llm.chat(ask("hi")).await.unwrap_err();

    let named = format!("connection failed (http://127.0.0.1:{port}/v1/chat/completions)");
    assert!(matches!(&err, LlmError::Transport(m) if m.contains(&named)), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn same_api_providers_use_their_own_base_url_keys_and_quirks() {
    let server = FakeOpenAi::start().await;
    server.on_chat(|_| Reply::text("ok"));

    let deepseek = chat("deepseek", json!({"api_key": KEY, "deepseek_base_url": server.url()}));
    deepseek.chat(ask("a")).await.unwrap();
    let groq = chat("groq", json!({"api_key": KEY, "groq_base_url": format!("{}/openai/v1", server.url())}));
    groq.chat(ask("b")).await.unwrap();
    let lmstudio = chat(
        "lmstudio",
        json!({"lmstudio_base_url": server.base_url(), "lmstudio_response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
    );
    lmstudio.chat(ChatRequest { response_format: ResponseFormat::JsonObject, ..ask("c") }).await.unwrap();
    let openrouter = chat(
        "openrouter",
        json!({"api_key": KEY, "openrouter_base_url": server.base_url(), "models": ["a/x", "b/y"],
               "site_url": "https://example.org", "app_name": "mem0-dify tests"}),
    );
    openrouter.chat(ask("d")).await.unwrap();

    let requests = server.chat_requests();
    assert_eq!(requests[0].path, "/chat/completions");
    assert_eq!(requests[0].body["model"], "deepseek-chat");
    assert_eq!(requests[1].path, "/openai/v1/chat/completions");
    assert_eq!(requests[1].body["model"], "llama-3.3-70b-versatile");
    assert_eq!(requests[2].header("authorization"), Some("Bearer lm-studio"));
    assert_eq!(requests[2].body["response_format"], json!({"type": "json_schema", "json_schema": {"name": "x"}}));
    assert_eq!(requests[3].header("http-referer"), Some("https://example.org"));
    assert_eq!(requests[3].header("x-title"), Some("mem0-dify tests"));
    assert_eq!(
        (requests[3].body["models"].clone(), requests[3].body["route"].clone()),
        (json!(["a/x", "b/y"]), json!("fallback"))
    );
    assert!(requests[3].body.get("model").is_none());
}

#[tokio::test]
async fn http_client_proxies_route_requests_through_the_proxy() {
    let proxy = FakeOpenAi::start().await;
    proxy.push_chat(Reply::text("via proxy"));
    let llm = chat(
        "openai",
        json!({"api_key": KEY, "openai_base_url": "http://upstream.invalid/v1", "http_client_proxies": proxy.url()}),
    );

    let answer = llm.chat(ask("hi")).await.unwrap();

    assert_eq!(answer.content.as_deref(), Some("via proxy"));
    let request = &proxy.requests()[0];
    assert_eq!(request.header("host"), Some("upstream.invalid"));
    assert_eq!(request.path, "/v1/chat/completions");
}

#[tokio::test]
async fn embeddings_are_batched_ordered_and_sized() {
    let server = FakeOpenAi::start().await;
    server.require_api_key(KEY);
    server.set_embedding_order_reversed(true);
    let embedder = embedder(&server, json!({"embedding_dims": 16, "batch_size": 2}));
    let texts: Vec<String> =
        ["I like green tea", "I really like green tea", "The train leaves at noon", "line\nbreak", "five"]
            .map(String::from)
            .to_vec();

    let vectors = embedder.embed(&texts, EmbedPurpose::Add).await.unwrap();

    assert_eq!(embedder.dimensions(), 16);
    let expected: Vec<Vec<f32>> = texts.iter().map(|t| embed_text(&t.replace('\n', " "), 16)).collect();
    assert_eq!(vectors, expected);
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]));
    let requests = server.embedding_requests();
    let inputs: Vec<Value> = requests.iter().map(|r| r.body["input"].clone()).collect();
    assert_eq!(
        inputs,
        vec![
            json!(["I like green tea", "I really like green tea"]),
            json!(["The train leaves at noon", "line break"]),
            json!(["five"]),
        ]
    );
    let first = &requests[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/v1/embeddings"));
    assert_eq!(first.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(first.body["model"], "text-embedding-3-small");
    assert_eq!(first.body["encoding_format"], "float");
    assert_eq!(first.body["dimensions"], 16);

    assert!(embedder.embed(&[], EmbedPurpose::Search).await.unwrap().is_empty());
    assert_eq!(server.embedding_requests().len(), 3, "no request for no texts");
}

#[tokio::test]
async fn embeddings_of_the_wrong_size_are_rejected() {
    let server = FakeOpenAi::start().await;
    server.set_embedding_dims(4);
    let embedder = embedder(&server, json!({"model": "my-embedder", "embedding_dims": 8}));

    let err = embedder.embed(&["hello".to_owned()], EmbedPurpose::Add).await.unwrap_err();

    assert!(
        matches!(&err, EmbedError::Protocol(m) if m.contains("4 dimensions") && m.contains("embedding_dims is 8")),
        "{err:?}"
    );
    assert!(server.embedding_requests()[0].body.get("dimensions").is_none(), "only text-embedding-3 takes dimensions");
}

#[tokio::test]
async fn embedder_errors_map_to_port_errors() {
    let server = FakeOpenAi::start().await;
    server.require_api_key("sk-another-key-1234");
    let embedder = embedder(&server, json!({}));
    let err = embedder.embed(&["x".to_owned()], EmbedPurpose::Add).await.unwrap_err();
    assert!(matches!(&err, EmbedError::Unauthorized { status: 401, .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY));

    let server = FakeOpenAi::start().await;
    server.fail_next(1, Reply::error(502, "bad gateway"));
    let embedder = self::embedder(&server, json!({"embedding_dims": 8}));
    let vectors = embedder.embed(&["x".to_owned()], EmbedPurpose::Search).await.unwrap();
    assert_eq!(vectors, vec![embed_text("x", 8)]);
    assert_eq!(server.embedding_requests().len(), 2);
}

#[test]
fn config_errors_name_the_key() {
    let llm_error = |provider: &str, config: Value| {
        OpenAiChat::from_block(&block("local_llm_json", provider, config), &no_env()).unwrap_err().to_string()
    };
    let err = llm_error("openai", json!({"api_key": KEY, "temprature": 0.1}));
    assert!(err.starts_with("local_llm_json: unknown key \"temprature\"") && err.contains("temperature"), "{err}");
    let err = llm_error("openai", json!({"api_key": KEY, "timeout": "soon"}));
    assert!(err.contains("timeout: invalid type"), "{err}");
    let err = llm_error("openai", json!({"api_key": KEY, "openai_base_url": "ftp://x"}));
    assert!(err.contains("openai_base_url must start with http"), "{err}");
    let err = llm_error("openai", json!({"api_key": KEY, "http_client_proxies": "socks5://p:1"}));
    assert!(err.contains("http_client_proxies") && err.contains("socks5"), "{err}");
    let err = llm_error("openai", json!({"api_key": ["sk-in-a-list-123456"]}));
    assert!(err.contains("api_key has the wrong type") && !err.contains("sk-in-a-list"), "{err}");

    let embed_error = |config: Value| {
        OpenAiEmbedder::from_block(&block("local_embedder_json", "openai", config), &no_env()).unwrap_err().to_string()
    };
    let err = embed_error(json!({"api_key": KEY, "embedding_dim": 8}));
    assert!(
        err.starts_with("local_embedder_json: unknown key \"embedding_dim\"") && err.contains("embedding_dims"),
        "{err}"
    );
    let err = embed_error(json!({}));
    assert!(err.contains("api_key is required") && err.contains("OPENAI_API_KEY"), "{err}");
}
