//! Secrets never reach the logs: every log line (down to TRACE, the signing crate's included) that the
//! model provider adapters write during rejected, retried and failing calls is captured and searched
//! for each provider's secret, which the fake servers echo back in their error bodies.
//!
//! In the `logs` binary: the subscriber is process-global, so only tests that search the logs run
//! beside it (they all look for secrets, so each searches the others' lines too).

use crate::log_capture;
use crate::support::adapter_config;
use crate::support::scripted_server;

use adapter_config::{block, no_env};
use log_capture::Captured;
use mem0_dify::adapters::embedder::build_embedder;
use mem0_dify::adapters::llm::build_llm;
use mem0_dify::ports::embedder::EmbedPurpose;
use mem0_dify::ports::llm::{ChatMessage, ChatRequest};
use scripted_server::{Reply, ScriptedServer};
use serde_json::json;

const KEY: &str = "test-key-0123456789abcdef";
const AWS_SECRET: &str = "aws-secret-0123456789abcdef";
const AWS_SESSION: &str = "aws-session-0123456789abcdef";

/// The next request is refused with 401, every later one fails with 500 (`max_retries` 1 retries once),
/// each error body quoting `secrets` (the adapter's own: it cannot know another adapter's).
fn echo(server: &ScriptedServer, secrets: &[&str]) {
    let echo = format!("credentials {} were rejected (Bearer {})", secrets.join(" / "), secrets[0]);
    server.take_requests();
    server.push(Reply::json(401, json!({"error": {"message": echo}})));
    server.on_request(move |_| Reply::json(500, json!({"error": {"message": echo.clone()}, "message": echo.clone()})));
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_the_logs() {
    let captured = Captured::install();

    let server = ScriptedServer::start().await;
    let url = server.url();
    let fast = json!({"max_retries": 1});
    let azure = json!({"api_key": KEY, "azure_endpoint": url, "api_version": "2024-10-21"});
    let llms = [
        ("azure_openai", json!({"azure_kwargs": azure})),
        ("anthropic", json!({"api_key": KEY, "anthropic_base_url": url})),
        ("ollama", json!({"api_key": KEY, "ollama_base_url": url})),
        ("gemini", json!({"api_key": KEY, "gemini_base_url": url})),
        (
            "aws_bedrock",
            json!({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": AWS_SECRET,
                   "aws_session_token": AWS_SESSION, "aws_bedrock_base_url": url}),
        ),
        ("aws_bedrock", json!({"api_key": KEY, "aws_bedrock_base_url": url})),
    ];
    let embedders = [
        ("azure_openai", json!({"azure_kwargs": azure})),
        ("ollama", json!({"api_key": KEY, "ollama_base_url": url})),
        ("gemini", json!({"api_key": KEY, "gemini_base_url": url})),
        ("huggingface", json!({"api_key": KEY, "huggingface_base_url": url, "embedding_dims": 4})),
        ("huggingface", json!({"api_key": KEY, "huggingface_inference_url": url})),
        (
            "aws_bedrock",
            json!({"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": AWS_SECRET,
                   "aws_session_token": AWS_SESSION, "aws_bedrock_base_url": url}),
        ),
    ];

    let mut shown = Vec::new();
    let request = ChatRequest { messages: vec![ChatMessage::user("hi")], ..ChatRequest::default() };
    for (provider, config) in llms {
        let secrets: &[&str] =
            if config.get("aws_secret_access_key").is_some() { &[AWS_SECRET, AWS_SESSION] } else { &[KEY] };
        echo(&server, secrets);
        let mut config = config;
        config.as_object_mut().unwrap().extend(fast.as_object().unwrap().clone());
        let llm = build_llm(&block("local_llm_json", provider, config), &no_env()).unwrap();
        for _ in 0..2 {
            let err = llm.chat(request.clone()).await.unwrap_err();
            shown.push(format!("{provider}: {err} {err:?}"));
        }
        assert_eq!(server.take_requests().len(), 3, "{provider}: 401 once, then 500 retried once");
    }
    for (provider, config) in embedders {
        let secrets: &[&str] =
            if config.get("aws_secret_access_key").is_some() { &[AWS_SECRET, AWS_SESSION] } else { &[KEY] };
        echo(&server, secrets);
        let mut config = config;
        config.as_object_mut().unwrap().extend(fast.as_object().unwrap().clone());
        let embedder = build_embedder(&block("local_embedder_json", provider, config), &no_env()).unwrap();
        for _ in 0..2 {
            let err = embedder.embed(&["x".to_owned()], EmbedPurpose::Add).await.unwrap_err();
            shown.push(format!("{provider}: {err} {err:?}"));
        }
        assert_eq!(server.take_requests().len(), 3, "{provider}: 401 once, then 500 retried once");
    }

    let logs = captured.text();
    assert!(logs.contains("provider request failed; retrying"), "the subscriber captured nothing useful:\n{logs}");
    assert!(logs.contains("signing request"), "the signing crate's TRACE lines were not captured:\n{logs}");
    assert!(logs.contains("[REDACTED]"), "{logs}");
    assert_eq!(shown.len(), 24);
    for secret in [KEY, AWS_SECRET, AWS_SESSION] {
        assert!(!logs.contains(secret), "a secret leaked into the logs:\n{logs}");
        for error in &shown {
            assert!(!error.contains(secret), "a secret leaked into an error: {error}");
        }
    }
}
