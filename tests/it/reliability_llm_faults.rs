//! Model faults from the fake OpenAI server — 5xx, 429 with `Retry-After`, timeouts, a rejected
//! key — against the real application and adapters: a call retries a bounded number of times and
//! then fails with a clear error; an accepted write stays in the journal, pending with its last
//! error, and is applied once when the model recovers; a write that keeps failing ends `failed`
//! with the reason; a permanent error is not retried.

use crate::support::fake_openai;
use crate::support::model_world;

use fake_openai::Reply;
use model_world::{fast_writer, World, KEY};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_calls_retry_a_bounded_number_of_times_then_fail_clearly() {
    let config = json!({"max_retries": 2, "timeout": 0.5});
    let w = World::new(false, config, fast_writer(3), false).await.unwrap();

    // 5xx: one call + two retries, then the error names the status.
    w.model.set_outage("/chat/completions", Some(Reply::error(503, "The engine is currently overloaded")));
    let started = Instant::now();
    let reply = w.call("add_memory", json!({"user": "I like tea", "user_id": "alice"})).await;
    assert_eq!(reply["status"], "ERROR", "{reply}");
    let message = reply["messages"].as_str().unwrap();
    assert!(message.contains("503") && message.contains("overloaded"), "{message}");
    assert_eq!(w.chat_calls(), 3, "1 call + max_retries 2");
    assert!(started.elapsed() < Duration::from_secs(10), "bounded in time: {:?}", started.elapsed());

    // 429 with Retry-After: honoured, bounded, named.
    w.model.set_outage("/chat/completions", Some(Reply::rate_limited(Some(0.2))));
    let reply = w.call("add_memory", json!({"user": "I like cake", "user_id": "alice"})).await;
    let message = reply["messages"].as_str().unwrap();
    assert!(message.contains("429") || message.to_lowercase().contains("rate"), "{message}");
    assert_eq!(w.chat_calls(), 6);

    // A model slower than `timeout`: bounded attempts, then a timeout error.
    w.model.set_outage("/chat/completions", None);
    w.model.set_latency(Duration::from_secs(3));
    let started = Instant::now();
    let reply = w.call("add_memory", json!({"user": "I like pie", "user_id": "alice"})).await;
    let message = reply["messages"].as_str().unwrap();
    assert!(message.contains("did not answer within 500ms"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    w.model.set_latency(Duration::ZERO);

    // A rejected key is permanent: no retry, and the key is not echoed.
    w.model.require_api_key("sk-another-key");
    let before = w.chat_calls();
    let reply = w.call("add_memory", json!({"user": "I like jam", "user_id": "alice"})).await;
    let message = reply["messages"].as_str().unwrap();
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(KEY), "the key is echoed: {message}");
    assert_eq!(w.chat_calls(), before + 1, "401 is not retried");

    // Nothing was stored by the failed calls, and the model serves again.
    w.model.require_api_key(KEY);
    assert!(w.memories("alice").await.is_empty());
    let reply = w.call("add_memory", json!({"user": "I like tea", "user_id": "alice"})).await;
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    assert_eq!(w.memories("alice").await, vec!["I like tea"]);
}

async fn accepted_writes_survive_model_faults(pg: bool) {
    let Some(w) = World::new(true, json!({}), fast_writer(30), pg).await else { return };

    // 503 from the model: the write stays pending with the error, retried with backoff.
    w.model.set_outage("/chat/completions", Some(Reply::error(503, "upstream unavailable")));
    let reply = w.call("add_memory", json!({"user": "I play chess", "user_id": "bob"})).await;
    let id = reply["write_id"].as_str().unwrap_or_else(|| panic!("no write id: {reply}")).to_owned();
    let state = w.wait_state(&id, |s| s["attempts"].as_u64().unwrap_or(0) >= 3).await;
    assert_eq!(state["state"], "pending", "{state}");
    assert!(state["last_error"].as_str().unwrap().contains("503"), "{state}");
    // 429 next: still pending, the error follows.
    w.model.set_outage("/chat/completions", Some(Reply::rate_limited(Some(0.05))));
    let state = w.wait_state(&id, |s| s["last_error"].as_str().is_some_and(|e| e.contains("429"))).await;
    assert_eq!(state["state"], "pending", "{state}");
    // Recovered: applied once.
    w.model.set_outage("/chat/completions", None);
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "applied", "{state}");
    assert_eq!(w.memories("bob").await, vec!["I play chess"]);

    // The embedder failing: same story.
    w.model.set_outage("/embeddings", Some(Reply::error(500, "embedding backend crashed")));
    let reply = w.call("add_memory", json!({"user": "I play go", "user_id": "bob"})).await;
    let id = reply["write_id"].as_str().unwrap().to_owned();
    let state = w.wait_state(&id, |s| s["attempts"].as_u64().unwrap_or(0) >= 2).await;
    assert_eq!(state["state"], "pending", "{state}");
    assert!(state["last_error"].as_str().unwrap().contains("500"), "{state}");
    w.model.set_outage("/embeddings", None);
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "applied", "{state}");
    let mut memories = w.memories("bob").await;
    memories.sort();
    assert_eq!(memories, vec!["I play chess", "I play go"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_writes_stay_pending_through_model_faults_then_apply_embedded() {
    accepted_writes_survive_model_faults(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_writes_stay_pending_through_model_faults_then_apply_pgvector() {
    accepted_writes_survive_model_faults(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_keep_failing_end_failed_with_the_reason_and_permanent_errors_are_not_retried() {
    let w = World::new(true, json!({}), fast_writer(3), false).await.unwrap();
    w.model.set_outage("/chat/completions", Some(Reply::error(502, "bad gateway")));
    let reply = w.call("add_memory", json!({"user": "I swim", "user_id": "carol"})).await;
    let id = reply["write_id"].as_str().unwrap().to_owned();
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "failed", "{state}");
    assert!(state["error"].as_str().unwrap().contains("502"), "{state}");
    assert_eq!(w.chat_calls(), 3, "max_attempts 3");

    w.model.set_outage("/chat/completions", None);
    w.model.require_api_key("sk-another-key");
    let reply = w.call("add_memory", json!({"user": "I run", "user_id": "carol"})).await;
    let id = reply["write_id"].as_str().unwrap().to_owned();
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "failed", "{state}");
    let error = state["error"].as_str().unwrap();
    assert!(error.contains("401") && !error.contains(KEY), "{error}");
    assert_eq!(w.chat_calls(), 4, "a rejected key is not retried");
    assert!(w.memories("carol").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_store_that_is_down_does_not_stop_vector_memory() {
    let graph = json!({"local_graph_db_json": {"provider": "neo4j", "config": {
        "url": "bolt://127.0.0.1:1", "username": "neo4j", "password": "pw"}}});
    for async_mode in [false, true] {
        let w = World::with(async_mode, json!({}), fast_writer(3), false, graph.clone()).await.unwrap();
        let reply = w.call("add_memory", json!({"user": "I grow tomatoes", "user_id": "dana"})).await;
        assert_eq!(reply["status"], "SUCCESS", "{reply}");
        let report = if async_mode {
            let id = reply["write_id"].as_str().unwrap().to_owned();
            let state = w.wait_state(&id, |s| s["state"] != "pending").await;
            assert_eq!(state["state"], "applied", "{state}");
            state["result"].clone()
        } else {
            reply.clone()
        };
        // The tool reply says `graph_degraded: {reason}`; the stored result of an async write keeps
        // the report's `graph_degraded` text.
        let reason = report["graph_degraded"]["reason"].as_str().or(report["graph_degraded"].as_str());
        assert!(reason.is_some_and(|r| r.contains("unavailable")), "{report}");
        assert_eq!(w.memories("dana").await, vec!["I grow tomatoes"]);
        // Reads still answer, with the graph part marked degraded.
        let found = w.call("search_memory", json!({"query": "tomatoes", "user_id": "dana"})).await;
        assert_eq!(found["results"][0]["memory"], "I grow tomatoes", "{found}");
    }
}

/// HTTP 200 answers without a usable completion — an `{"error": …}` body, no choices, no content,
/// an HTML page — are transient: the accepted write stays pending, retried with backoff, and is
/// applied once the model answers again (they used to fail the write at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_200_answers_without_a_completion_are_retried_until_the_model_recovers() {
    let w = World::new(true, json!({}), fast_writer(30), false).await.unwrap();
    let faults = [
        ("error body", Reply::Raw { status: 200, body: r#"{"error": {"message": "upstream overloaded"}}"#.into() }),
        ("no choices", Reply::Raw { status: 200, body: r#"{"id": "x", "choices": []}"#.into() }),
        ("no content", Reply::Raw { status: 200, body: r#"{"choices": [{"message": {"content": null}}]}"#.into() }),
        ("html page", Reply::Raw { status: 200, body: "<html><body>502 Bad Gateway</body></html>".into() }),
    ];
    let mut survived = 0;
    for (n, (what, fault)) in faults.iter().enumerate() {
        w.model.set_outage("/chat/completions", Some(fault.clone()));
        let user = format!("I collect stamp number {n}");
        let reply = w.call("add_memory", json!({"user": user, "user_id": "erin"})).await;
        let id = reply["write_id"].as_str().unwrap_or_else(|| panic!("{what}: {reply}")).to_owned();
        let state = w.wait_state(&id, |s| s["attempts"].as_u64().unwrap_or(0) >= 2 || s["state"] != "pending").await;
        assert_eq!(state["state"], "pending", "{what}: {state}");
        assert!(state["last_error"].as_str().is_some_and(|e| e.contains("usable completion")), "{what}: {state}");
        w.model.set_outage("/chat/completions", None);
        let state = w.wait_state(&id, |s| s["state"] != "pending").await;
        assert_eq!(state["state"], "applied", "{what}: {state}");
        assert!(w.memories("erin").await.contains(&user), "{what}");
        survived += 1;
    }
    println!("http 200 faults injected: {}, survived: {survived}", faults.len());
}

/// An extraction answer that stays unreadable is asked again, then fails the write with a reason
/// quoting it (async: `failed` with the attempts; sync: ERROR) — never SUCCESS with no facts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_model_answers_fail_the_write_quoting_the_answer() {
    for async_mode in [true, false] {
        let w = World::new(async_mode, json!({}), fast_writer(3), false).await.unwrap();
        w.model.set_outage("/chat/completions", Some(Reply::text("Sure! The user seems to like tea a lot.")));
        let reply = w.call("add_memory", json!({"user": "I like tea", "user_id": "fay"})).await;
        let reason = if async_mode {
            let id = reply["write_id"].as_str().unwrap().to_owned();
            let state = w.wait_state(&id, |s| s["state"] != "pending").await;
            assert_eq!(state["state"], "failed", "{state}");
            assert!(state["attempts"].as_u64().is_some_and(|a| a >= 1), "{state}");
            state["error"].as_str().unwrap().to_owned()
        } else {
            assert_eq!(reply["status"], "ERROR", "{reply}");
            reply["messages"].as_str().unwrap().to_owned()
        };
        assert!(reason.contains("fact extraction") && reason.contains("cannot be read"), "{reason}");
        assert!(reason.contains("Sure! The user seems"), "the reason quotes the answer: {reason}");
        assert!(!reason.contains(KEY), "{reason}");
        assert_eq!(w.chat_calls(), 2, "asked once and repaired once, not retried again: the answer is the model's");
        assert!(w.memories("fay").await.is_empty());
    }
}

/// Extracted facts are journaled before the update decision: when the decision call fails (here
/// HTTP 503, then answers with no choices) the write is retried from the decision, the model is
/// not asked for the facts again, and the facts are applied once the model is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_decision_resumes_from_the_journaled_facts() {
    let w = World::new(true, json!({}), fast_writer(30), false).await.unwrap();
    let reply = w.call("add_memory", json!({"user": "I like tea", "user_id": "gil"})).await;
    let id = reply["write_id"].as_str().unwrap().to_owned();
    assert_eq!(w.wait_state(&id, |s| s["state"] != "pending").await["state"], "applied");

    // From now on the decision call (a single user message) fails; extraction still answers.
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = failing.clone();
    w.model.on_chat(move |body| {
        if body["messages"][0]["role"] == "system" {
            let text = body["messages"][1]["content"].as_str().unwrap_or_default();
            let fact = text.lines().find_map(|l| l.strip_prefix("user: ")).unwrap_or("nothing").to_owned();
            return Reply::json(&json!({"facts": [fact]}));
        }
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            return Reply::error(503, "decision backend down");
        }
        Reply::json(&json!({"memory": [{"id": "0", "text": "I like tea", "event": "NONE"},
                                        {"id": "new", "text": "I like green tea", "event": "ADD"}]}))
    });
    let extraction_calls =
        |w: &World| w.model.chat_requests().iter().filter(|r| r.body["messages"][0]["role"] == "system").count();
    let before = extraction_calls(&w);
    let reply = w.call("add_memory", json!({"user": "I like green tea", "user_id": "gil"})).await;
    let id = reply["write_id"].as_str().unwrap().to_owned();
    let state = w.wait_state(&id, |s| s["attempts"].as_u64().unwrap_or(0) >= 3).await;
    assert_eq!(state["state"], "pending", "{state}");
    assert!(state["last_error"].as_str().unwrap().contains("503"), "{state}");
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "applied", "{state}");
    assert_eq!(extraction_calls(&w) - before, 1, "the facts were extracted once");
    let mut memories = w.memories("gil").await;
    memories.sort();
    assert_eq!(memories, vec!["I like green tea", "I like tea"]);
}

/// A sync write that outlives its ceiling answers with its write id and "still running" (it used
/// to answer ERROR and then be applied anyway); the write goes on and its outcome is in
/// get_write_status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_writes_past_their_ceiling_answer_still_running_with_the_write_id() {
    let w = World::with(false, json!({}), fast_writer(3), false, json!({"test_sync_ceiling_ms": 300})).await.unwrap();
    w.model.set_latency(Duration::from_millis(600));
    let reply = w.call("add_memory", json!({"user": "I sail", "user_id": "hal"})).await;
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    assert_eq!(reply["still_running"], true, "{reply}");
    let id = reply["write_id"].as_str().unwrap().to_owned();
    let state = w.wait_state(&id, |s| s["state"] != "pending").await;
    assert_eq!(state["state"], "applied", "{state}");
    assert_eq!(w.memories("hal").await, vec!["I sail"]);
    // Within the ceiling, a sync write answers with its result as before.
    w.model.set_latency(Duration::ZERO);
    let reply = w.call("add_memory", json!({"user": "I row", "user_id": "hal"})).await;
    assert_eq!(reply["results"][0]["event"], "ADD", "{reply}");
    assert!(reply.get("still_running").is_none(), "{reply}");
}
