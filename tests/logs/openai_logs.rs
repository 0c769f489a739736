//! API keys never reach the logs: every log line the OpenAI-compatible adapters (and the HTTP stack
//! under them) write during failing and retried calls is captured and searched for the key.
//!
//! In the `logs` binary: the subscriber is process-global, so only tests that search the logs run
//! beside it (they all look for secrets, so each searches the others' lines too).

use crate::log_capture;
use crate::support::adapter_config;
use crate::support::fake_openai;

use adapter_config::{block, fast_retries, no_env};
use fake_openai::{FakeOpenAi, Reply};
use log_capture::Captured;
use mem0_dify::adapters::embedder::openai::OpenAiEmbedder;
use mem0_dify::adapters::llm::openai::OpenAiChat;
use mem0_dify::ports::embedder::{EmbedPurpose, Embedder};
use mem0_dify::ports::llm::{ChatMessage, ChatRequest, Llm};
use serde_json::json;

const KEY: &str = "sk-test-0123456789abcdef";

fn openai_chat(server: &FakeOpenAi) -> OpenAiChat {
    let config = json!({"api_key": KEY, "openai_base_url": server.base_url(), "model": "gpt-4o-mini"});
    OpenAiChat::from_block(&block("local_llm_json", "openai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn embedder(server: &FakeOpenAi) -> OpenAiEmbedder {
    let config = json!({"api_key": KEY, "openai_base_url": server.base_url()});
    OpenAiEmbedder::from_block(&block("local_embedder_json", "openai", config), &no_env())
        .unwrap()
        .with_retry_policy(fast_retries())
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![ChatMessage::user(text)], ..ChatRequest::default() }
}

#[tokio::test(flavor = "current_thread")]
async fn api_keys_never_reach_the_logs() {
    let captured = Captured::install();

    let server = FakeOpenAi::start().await;
    server.require_api_key("sk-the-right-key-000");
    let llm = openai_chat(&server);
    let embedder = embedder(&server);
    let mut errors = vec![llm.chat(ask("hi")).await.unwrap_err().to_string()];
    errors.push(embedder.embed(&["x".to_owned()], EmbedPurpose::Add).await.unwrap_err().to_string());

    let server = FakeOpenAi::start().await;
    server.fail_next(2, Reply::error(500, &format!("upstream rejected Bearer {KEY}")));
    server.push_chat(Reply::tool_call_raw("f", &format!("{{\"key\": \"{KEY}\"")));
    let llm = openai_chat(&server);
    errors.push(llm.chat(ask("hi")).await.unwrap_err().to_string());
    errors.push(format!("{llm:?} {embedder:?}"));

    let logs = captured.text();
    assert!(logs.contains("provider request failed; retrying"), "the subscriber captured nothing useful:\n{logs}");
    assert!(logs.contains("[REDACTED]"), "{logs}");
    assert!(!logs.contains(KEY), "the API key leaked into the logs:\n{logs}");
    for error in errors {
        assert!(!error.contains(KEY), "the API key leaked into an error: {error}");
    }
}
