//! Secrets never leak: the real plugin binary at `RUST_LOG=debug` is driven through the paths where
//! secrets are most likely to escape — a provider echoing the rejected API key in its 401 body, a
//! wrong database password, an unreachable graph store with a password, credential validation,
//! reads and writes that fail — and neither its stderr nor any answer sent to the daemon contains
//! an API key or a password. Memory texts stay out of the log too.

use crate::support::pgstore;
use crate::support::reliability;

use reliability::{assert_clean_log, credentials, pgvector, Model, Plugin, API_KEY};
use serde_json::{json, Value};
use std::time::Duration;

const WRONG_DB_PASSWORD: &str = "wrong-db-pw-4e1f9a";
const GRAPH_PASSWORD: &str = "graph-pw-a83c55d2";

/// The test database URL with `password` in place of the real one.
fn with_password(url: &str, password: &str, real: &str) -> String {
    url.replacen(&format!(":{real}@"), &format!(":{password}@"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_or_password_reaches_the_log_or_the_daemon() {
    let Some(url) = pgstore::pg_url() else { return };
    let real_password = pgstore::service_var("MEM0_TEST_PG_PASSWORD").unwrap_or_default();
    assert!(url.contains(&format!(":{real_password}@")), "the test URL carries the password");
    let model = Model::start(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = Plugin::spawn(dir.path(), &[("MEM0_DIFY_SEARCH_TIMEOUT_SECS", "5")]);
    let collection = pgstore::unique_collection("secrets");

    let good = credentials(&model.base_url(), pgvector(&url, &collection), false);
    let mut wrong_db = good.clone();
    wrong_db["local_vector_db_json"] =
        json!(pgvector(&with_password(&url, WRONG_DB_PASSWORD, &real_password), &collection).to_string());
    let mut with_graph = good.clone();
    with_graph["local_graph_db_json"] = json!(json!({"provider": "neo4j", "config": {
        "url": "bolt://127.0.0.1:1", "username": "neo4j", "password": GRAPH_PASSWORD}})
    .to_string());

    let mut answers: Vec<Value> = Vec::new();
    // Everything works once, so the success paths are logged at debug too.
    let added =
        plugin.call("add_memory", json!({"user": "Please remember: Likes tea", "user_id": "alice"}), &good).await;
    assert!(added.ok(), "{added:?}");
    answers.push(added.json);
    for creds in [&good, &wrong_db, &with_graph] {
        let sid = plugin
            .send(json!({"user_id": "u", "type": "tool", "action": "validate_tool_credentials", "provider": "mem0",
                         "credentials": creds}))
            .await;
        answers.push(Value::Array(plugin.daemon.session(&sid, Duration::from_secs(60)).await));
        for (tool, params) in [
            ("search_memory", json!({"query": "tea", "user_id": "alice"})),
            ("add_memory", json!({"user": "Please remember: Likes cake", "user_id": "alice"})),
            ("get_all_memories", json!({"user_id": "alice"})),
        ] {
            let answer = plugin.call(tool, params, creds).await;
            answers.push(answer.json);
        }
    }
    // The model rejects the key and echoes it in its 401 body, as OpenAI does.
    model.server.require_api_key("sk-the-right-one");
    for tool in ["add_memory", "search_memory"] {
        let answer = plugin.call(tool, json!({"user": "x", "query": "x", "user_id": "alice"}), &good).await;
        // An add fails; a search degrades. Either way the cause is named, the key redacted.
        assert!(answer.json.to_string().contains("401"), "{answer:?}");
        answers.push(answer.json);
    }
    let echoed =
        model.server.requests().iter().any(|r| r.header("authorization") == Some(&format!("Bearer {API_KEY}")));
    assert!(echoed, "the key was sent, so the 401 body echoed it");

    plugin.stop(Duration::from_secs(30)).await;
    if let Ok(path) = std::env::var("MEM0_DUMP_LOG") {
        std::fs::write(path, plugin.stderr()).unwrap();
    }
    let secrets = [API_KEY, &real_password, WRONG_DB_PASSWORD, GRAPH_PASSWORD];
    assert_clean_log(&plugin.stderr(), &secrets);
    // Nor do the memories themselves (the database driver would log them at debug).
    assert!(!plugin.stderr().contains("Likes tea"), "a memory's text is in the log");
    let sent = serde_json::to_string(&answers).unwrap();
    for secret in secrets {
        assert!(!sent.contains(secret), "a secret reached the daemon: {sent}");
    }
    // The failures were reported, and named their cause.
    assert!(sent.contains("local_vector_db_json") && sent.contains("local_graph_db_json"), "{sent}");
    assert!(sent.contains("401"), "{sent}");
    println!(
        "secrets: {} answers and {} log bytes at debug level checked for 4 secrets",
        answers.len(),
        plugin.stderr().len()
    );
}

/// Under `serve` only warnings and errors reach stderr by default: the daemon relays every stderr
/// line to Dify's logs as a warning. `MEM0_DIFY_LOG` (or `RUST_LOG`) still raises the level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_only_warnings_unless_asked_for_more() {
    let model = Model::start(Duration::ZERO).await;
    let creds = credentials(&model.base_url(), json!({"provider": "embedded", "config": {}}), false);
    let mut stderr_by_setting = Vec::new();
    for env in [vec![("RUST_LOG", "")], vec![("RUST_LOG", ""), ("MEM0_DIFY_LOG", "info")], vec![("RUST_LOG", "info")]] {
        let dir = tempfile::tempdir().unwrap();
        let mut plugin = Plugin::spawn(dir.path(), &env);
        let added =
            plugin.call("add_memory", json!({"user": "Please remember: Likes tea", "user_id": "alice"}), &creds).await;
        assert!(added.ok(), "{added:?}");
        let broken =
            plugin.call("search_memory", json!({"query": "tea", "user_id": "alice", "top_k": -1}), &creds).await;
        assert!(!broken.ok(), "{broken:?}");
        assert!(plugin.stop(Duration::from_secs(20)).await.success());
        stderr_by_setting.push(plugin.stderr());
    }
    let quiet = &stderr_by_setting[0];
    assert!(!quiet.contains(" INFO ") && !quiet.contains(" DEBUG "), "serve logged below warn by default:\n{quiet}");
    for raised in &stderr_by_setting[1..] {
        assert!(raised.contains(" INFO "), "the level was not raised:\n{raised}");
    }
    println!(
        "default serve stderr: {} lines; at info: {} lines",
        quiet.lines().count(),
        stderr_by_setting[1].lines().count()
    );
}
