//! The rerankers against local servers speaking each provider's wire format: Cohere v2, Jina,
//! ZeroEntropy and text-embeddings-inference (request path, auth, body; answers mapped to hits best
//! first; 401 / 429 / 500), and the LLM reranker over the OpenAI-compatible chat adapter.

use crate::support::adapter_config;
use crate::support::fake_openai;
use crate::support::fake_rerank;

use adapter_config::{fast_retries, no_env, with_env};
use fake_openai::{FakeOpenAi, Reply};
use fake_rerank::{relevance, FakeRerank, Fault};
use mem0_dify::adapters::llm::openai::OpenAiChat;
use mem0_dify::adapters::rerank::{self, cohere, huggingface, jina, llm_reranker, zero_entropy};
use mem0_dify::domain::credentials::ProviderBlock;
use mem0_dify::ports::llm::Llm;
use mem0_dify::ports::reranker::{RerankHit, Reranker};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "rk-test-0123456789abcdef";

fn block(provider: &str, config: Value) -> ProviderBlock {
    adapter_config::block("local_reranker_json", provider, config)
}

fn documents() -> Vec<String> {
    ["Plays chess on Sundays", "Likes green tea", "Drinks green tea every morning", "Lives in Paris"]
        .map(String::from)
        .to_vec()
}

/// A hosted reranker of `provider` pointed at the fake server.
fn hosted(provider: &str, server: &FakeRerank, extra: Value) -> Arc<dyn Reranker> {
    let mut config = json!({"api_key": KEY});
    match provider {
        "huggingface" => config["huggingface_base_url"] = json!(server.url()),
        "zero_entropy" => config["base_url"] = json!(format!("{}/v1", server.url())),
        _ => config["base_url"] = json!(server.url()),
    }
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let block = block(provider, config);
    match provider {
        "cohere" => Arc::new(cohere::from_block(&block, &no_env()).unwrap().with_retry_policy(fast_retries())),
        "jina" => Arc::new(jina::from_block(&block, &no_env()).unwrap().with_retry_policy(fast_retries())),
        "zero_entropy" => {
            Arc::new(zero_entropy::from_block(&block, &no_env()).unwrap().with_retry_policy(fast_retries()))
        }
        "huggingface" => {
            Arc::new(huggingface::from_block(&block, &no_env()).unwrap().with_retry_policy(fast_retries()))
        }
        other => panic!("not a hosted reranker: {other}"),
    }
}

fn indexes(hits: &[RerankHit]) -> Vec<usize> {
    hits.iter().map(|h| h.index).collect()
}

#[tokio::test]
async fn cohere_sends_the_v2_request() {
    let server = FakeRerank::start(Some(KEY)).await;
    let reranker = hosted("cohere", &server, json!({"max_tokens_per_doc": 512, "return_documents": true}));

    let hits = reranker.rerank("green tea in the morning", &documents(), 2).await.unwrap();

    assert_eq!(indexes(&hits), [2, 1]);
    assert!((hits[0].score - 0.6).abs() < 1e-6 && (hits[1].score - 0.4).abs() < 1e-6, "{hits:?}");
    let request = &server.requests()[0];
    assert_eq!(request.line(), "POST /v2/rerank");
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body,
        json!({"model": "rerank-v3.5", "query": "green tea in the morning", "documents": documents(), "top_n": 2,
               "max_tokens_per_doc": 512})
    );
}

#[tokio::test]
async fn jina_and_zero_entropy_send_their_requests() {
    let server = FakeRerank::start(Some(KEY)).await;
    let jina = hosted("jina", &server, json!({"model": "jina-reranker-v3"}));
    let zero = hosted("zero_entropy", &server, json!({"top_k": 1}));

    assert_eq!(indexes(&jina.rerank("Paris", &documents(), 3).await.unwrap())[0], 3);
    let hits = zero.rerank("green tea", &documents(), 3).await.unwrap();
    assert_eq!(indexes(&hits), [1], "top_k caps the hits");

    let requests = server.requests();
    assert_eq!(requests[0].line(), "POST /v1/rerank");
    assert_eq!(
        requests[0].body,
        json!({"model": "jina-reranker-v3", "query": "Paris", "documents": documents(), "top_n": 3, "return_documents": false})
    );
    assert_eq!(requests[1].line(), "POST /v1/models/rerank");
    assert_eq!(
        requests[1].body,
        json!({"model": "zerank-1", "query": "green tea", "documents": documents(), "top_n": 1})
    );
    assert!(requests.iter().all(|r| r.header("authorization") == Some(format!("Bearer {KEY}").as_str())));
}

#[tokio::test]
async fn text_embeddings_inference_is_batched_and_indexed_across_batches() {
    let server = FakeRerank::start(None).await;
    server.set_max_batch(3);
    let reranker =
        hosted("huggingface", &server, json!({"batch_size": 3, "normalize": false, "top_k": 3, "device": "cuda"}));
    let docs: Vec<String> =
        ["a", "tea", "b", "c", "green tea", "d", "morning green tea"].iter().map(|s| s.to_string()).collect();

    let hits = reranker.rerank("morning green tea", &docs, 10).await.unwrap();

    assert_eq!(indexes(&hits), [6, 4, 1], "indexes point into all documents; top_k caps");
    assert_eq!(hits[0].score, 5.0, "raw logits when normalize is false");
    let requests = server.requests();
    let texts: Vec<Value> = requests.iter().map(|r| r.body["texts"].clone()).collect();
    assert_eq!(texts, [json!(["a", "tea", "b"]), json!(["c", "green tea", "d"]), json!(["morning green tea"])]);
    assert_eq!(requests[0].line(), "POST /rerank");
    assert_eq!(
        requests[0].body,
        json!({"query": "morning green tea", "texts": ["a", "tea", "b"], "truncate": true, "raw_scores": true, "return_text": false})
    );
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));

    // Over the server's batch limit: TEI's 422, named.
    let reranker = hosted("huggingface", &server, json!({"batch_size": 5}));
    let err = reranker.rerank("tea", &docs, 3).await.unwrap_err().to_string();
    assert!(err.contains("huggingface: HTTP 422: batch size 5 > maximum allowed batch size 3"), "{err}");
}

#[tokio::test]
async fn every_hosted_reranker_handles_401_429_and_500() {
    for provider in ["cohere", "jina", "zero_entropy", "huggingface"] {
        let server = FakeRerank::start(Some("rk-the-right-key-000")).await;
        let err = hosted(provider, &server, json!({})).rerank("tea", &documents(), 2).await.unwrap_err().to_string();
        assert!(err.starts_with(&format!("reranking failed: {provider}: HTTP 401: invalid api token")), "{err}");
        assert!(!err.contains(KEY));
        assert_eq!(server.requests().len(), 1, "{provider}: 401 is not retried");

        let server = FakeRerank::start(Some(KEY)).await;
        server.fail_next(1, Fault::new(429, json!({"message": "too many requests"})).retry_after(0.1));
        let started = Instant::now();
        let hits = hosted(provider, &server, json!({})).rerank("green tea", &documents(), 2).await.unwrap();
        assert_eq!(indexes(&hits)[0], 1, "{provider}");
        assert!(started.elapsed() >= Duration::from_millis(100), "{provider}: Retry-After honoured");
        assert_eq!(server.requests().len(), 2, "{provider}");

        let server = FakeRerank::start(Some(KEY)).await;
        server.fail_next(10, Fault::new(500, json!({"message": "internal error"})));
        let err = hosted(provider, &server, json!({})).rerank("tea", &documents(), 2).await.unwrap_err().to_string();
        assert_eq!(err, format!("reranking failed: {provider}: HTTP 500: internal error"));
        assert_eq!(server.requests().len(), 3, "{provider}: one attempt and two retries");
    }
}

#[tokio::test]
async fn answers_that_do_not_fit_are_refused() {
    let server = FakeRerank::start(None).await;
    server.fail_next(1, Fault::new(200, json!({"results": []})));
    let reranker = hosted("huggingface", &server, json!({}));
    let err = reranker.rerank("tea", &documents(), 2).await.unwrap_err().to_string();
    assert!(err.contains("huggingface: unexpected answer: invalid type: map, expected a sequence"), "{err}");
    assert!(reranker.rerank("tea", &[], 2).await.unwrap().is_empty());
    assert!(reranker.rerank("tea", &documents(), 0).await.unwrap().is_empty());
    assert_eq!(server.requests().len(), 1, "nothing is sent for nothing to rank");

    server.fail_next(1, Fault::new(200, json!({"results": [{"index": 9, "relevance_score": 0.5}]})));
    let err = hosted("cohere", &server, json!({})).rerank("tea", &documents(), 2).await.unwrap_err().to_string();
    assert!(
        err.contains("cohere: unexpected answer: hit for document 9") && err.contains("among 4 documents"),
        "{err}"
    );
}

fn chat_model(server: &FakeOpenAi) -> Arc<dyn Llm> {
    let block = ProviderBlock::parse(
        "local_llm_json",
        &json!({"provider": "openai", "config": {"api_key": KEY, "openai_base_url": server.base_url(), "model": "gpt-4o-mini"}}),
    )
    .unwrap()
    .unwrap();
    Arc::new(OpenAiChat::from_block(&block, &no_env()).unwrap().with_retry_policy(fast_retries()))
}

/// Scores the user message `Query: …\n\nDocument: …` by word overlap, as JSON.
fn score_reply(body: &Value) -> Reply {
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    let (query, document) =
        user.strip_prefix("Query: ").and_then(|r| r.split_once("\n\nDocument: ")).unwrap_or(("", ""));
    if document.contains("broken") {
        return Reply::error(400, "content policy");
    }
    Reply::json(&json!({"score": relevance(query, document)}))
}

#[tokio::test]
async fn the_llm_reranker_scores_each_document_in_json_mode() {
    let server = FakeOpenAi::start().await;
    server.require_api_key(KEY);
    server.on_chat(score_reply);
    let reranker =
        rerank::build_reranker(&block("llm_reranker", json!({"top_k": 2})), &no_env(), Some(chat_model(&server)))
            .unwrap();

    let hits = reranker.rerank("green tea in the morning", &documents(), 3).await.unwrap();

    assert_eq!(indexes(&hits), [2, 1]);
    assert!((hits[0].score - 0.6).abs() < 1e-6, "{hits:?}");
    let chats = server.chat_requests();
    assert_eq!(chats.len(), 4, "one call per document");
    let mut users: Vec<&str> = chats.iter().map(|c| c.body["messages"][1]["content"].as_str().unwrap()).collect();
    users.sort();
    assert_eq!(users[0], "Query: green tea in the morning\n\nDocument: Drinks green tea every morning");
    for chat in &chats {
        assert_eq!(chat.body["response_format"], json!({"type": "json_object"}));
        assert_eq!(chat.body["messages"][0], json!({"role": "system", "content": llm_reranker::SYSTEM_PROMPT}));
    }
}

#[tokio::test]
async fn the_llm_reranker_gives_failed_documents_the_neutral_score() {
    let server = FakeOpenAi::start().await;
    server.on_chat(score_reply);
    let reranker = llm_reranker::from_block(&block("llm_reranker", json!({})), Some(chat_model(&server))).unwrap();
    let docs: Vec<String> = ["green tea", "broken record", "chess"].map(String::from).to_vec();

    let hits = reranker.rerank("green tea", &docs, 3).await.unwrap();

    assert_eq!(
        hits,
        vec![
            RerankHit { index: 0, score: 1.0 },
            RerankHit { index: 1, score: 0.5 },
            RerankHit { index: 2, score: 0.0 }
        ]
    );

    // Every call failing is an error (the search then keeps the vector order).
    let server = FakeOpenAi::start().await;
    server.require_api_key("sk-another-key-123456");
    let reranker = llm_reranker::from_block(&block("llm_reranker", json!({})), Some(chat_model(&server))).unwrap();
    let err = reranker.rerank("tea", &docs, 3).await.unwrap_err().to_string();
    assert!(err.contains("llm_reranker: every scoring call failed") && err.contains("HTTP 401"), "{err}");
    assert!(!err.contains(KEY));
}

#[tokio::test]
async fn a_custom_scoring_prompt_is_the_system_prompt_and_free_text_is_read() {
    let server = FakeOpenAi::start().await;
    server.on_chat(|_| Reply::text("Relevance score: 0.85 (high)"));
    let config = json!({"scoring_prompt": "Rate relevance between 0 and 1. Reply with the number only."});
    let reranker = llm_reranker::from_block(&block("llm_reranker", config), Some(chat_model(&server))).unwrap();

    let hits = reranker.rerank("tea", &documents()[..1], 1).await.unwrap();

    assert_eq!(hits, vec![RerankHit { index: 0, score: 0.85 }]);
    let chat = &server.chat_requests()[0];
    assert!(chat.body.get("response_format").is_none(), "no JSON mode without the word JSON in the prompt");
    assert_eq!(chat.body["messages"][0]["content"], "Rate relevance between 0 and 1. Reply with the number only.");
}

#[test]
fn build_reranker_dispatches_and_config_errors_name_the_key() {
    for provider in ["cohere", "jina", "zero_entropy"] {
        assert!(
            rerank::build_reranker(&block(provider, json!({"api_key": KEY})), &no_env(), None).is_ok(),
            "{provider}"
        );
    }
    let tei = block("huggingface", json!({"huggingface_base_url": "http://tei:8080"}));
    assert!(rerank::build_reranker(&tei, &no_env(), None).is_ok());

    let err =
        |result: Result<Arc<dyn Reranker>, mem0_dify::ports::backends::BuildError>| result.err().unwrap().to_string();
    let e = err(rerank::build_reranker(&block("huggingface", json!({})), &no_env(), None));
    assert!(e.starts_with("local_reranker_json: huggingface_base_url is required"), "{e}");
    let e = err(rerank::build_reranker(&block("cohere", json!({"api_key": KEY, "top_p": 3})), &no_env(), None));
    assert!(e.contains("unknown key \"top_p\"") && e.contains("max_tokens_per_doc"), "{e}");
    let e =
        err(rerank::build_reranker(&block("jina", json!({"api_key": KEY, "top_k": 2, "top_n": 3})), &no_env(), None));
    assert!(e.contains("top_k and top_n"), "{e}");
    let e = err(rerank::build_reranker(&block("llm_reranker", json!({})), &no_env(), None));
    assert!(e.contains("llm_reranker needs a chat model"), "{e}");
    let e = cohere::from_block(&block("cohere", json!({})), &no_env()).unwrap_err().to_string();
    assert!(e.contains("api_key is required") && e.contains("COHERE_API_KEY or CO_API_KEY"), "{e}");
    let e = zero_entropy::from_block(&block("zero_entropy", json!({"base_url": "ftp://x"})), &no_env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("base_url must start with http:// or https://"), "{e}");
    let env = with_env(&[("ZERO_ENTROPY_API_KEY", "ze-from-env-123")]);
    let from_env = zero_entropy::from_block(&block("zero_entropy", json!({})), &env).unwrap();
    assert_eq!((from_env.model(), from_env.url()), (Some("zerank-1"), "https://api.zeroentropy.dev/v1/models/rerank"));
    let e = huggingface::from_block(
        &block("huggingface", json!({"huggingface_base_url": "http://t", "batch_size": 0})),
        &no_env(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("batch_size must be at least 1"), "{e}");
}
