//! The span timings file (`MEM0_DIFY_SPAN_TIMINGS`, `src/adapters/span_timings.rs`) from the built
//! `mem0-dify serve`, driven over stdio by the daemon stand-in: an async add and a search on
//! pgvector (the test PostgreSQL) with a local OpenAI-format embedder; SIGUSR1 writes what was
//! timed so far and starts again; when the daemon closes stdin the process writes the last timings.

use crate::support::daemon::StdioPlugin;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::pgstore::{drop_table, pg_url, unique_collection};
use mem0_dify::adapters::span_timings::TimingsReport;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const DIMS: usize = 8;

fn credentials(model: &FakeOpenAi, url: &str, collection: &str) -> Value {
    let model_config = json!({"api_key": "sk-spans", "openai_base_url": model.base_url(), "embedding_dims": DIMS});
    json!({
        "local_embedder_json": json!({"provider": "openai", "config": model_config}).to_string(),
        "local_vector_db_json": json!({"provider": "pgvector", "config": {
            "connection_string": url, "collection_name": collection, "embedding_model_dims": DIMS}}).to_string(),
        "async_mode": true,
    })
}

fn invoke(tool: &str, params: Value, credentials: &Value) -> Value {
    json!({"user_id": "dify-user-1", "type": "tool", "action": "invoke_tool", "provider": "mem0", "tool": tool,
           "credentials": credentials, "credential_type": "api-key", "tool_parameters": params})
}

/// The JSON message of a tool reply.
fn reply(messages: &[Value]) -> Value {
    messages
        .iter()
        .find(|m| m["data"]["type"] == "json")
        .map(|m| m["data"]["message"]["json_object"].clone())
        .unwrap_or_else(|| panic!("no JSON message in {messages:#?}"))
}

fn read_report(path: &Path) -> TimingsReport {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_writes_its_span_timings_on_sigusr1_and_at_exit() {
    let Some(url) = pg_url() else { return };
    let model = FakeOpenAi::start().await;
    model.set_embedding_dims(DIMS);
    let collection = unique_collection("spans");
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("spans.json");
    let data_dir = scratch.path().join("data").to_string_lossy().into_owned();
    let timings = file.to_string_lossy().into_owned();
    let binary = Path::new(env!("CARGO_BIN_EXE_mem0-dify"));
    let mut plugin = StdioPlugin::start_binary(
        binary,
        &[("MEM0_DIFY_DATA_DIR", &data_dir), ("MEM0_DIFY_SPAN_TIMINGS", &timings), ("RUST_LOG", "warn")],
    );
    plugin.daemon.heartbeats(1, Duration::from_secs(30)).await;
    let creds = credentials(&model, &url, &collection);

    let warm =
        plugin.daemon.call(invoke("search_memory", json!({"query": "warm up", "user_id": "alice"}), &creds)).await;
    assert_eq!(reply(&warm)["status"], "SUCCESS", "{warm:#?}\n{}", plugin.stderr());
    plugin.signal("USR1");
    let mut first = None;
    for _ in 0..100 {
        if file.exists() {
            first = Some(read_report(&file));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = first.unwrap_or_else(|| panic!("no timings file after SIGUSR1; stderr:\n{}", plugin.stderr()));
    assert_eq!((first.generation, first.last, first.spans["dify.session"].count), (0, false, 1), "{first:#?}");

    let add = invoke("add_memory", json!({"user": "I live in Lisbon", "user_id": "alice", "infer": false}), &creds);
    let added = plugin.daemon.call(add).await;
    assert_eq!(reply(&added)["results"][0]["event"], "ACCEPT", "{added:#?}");
    let search = invoke("search_memory", json!({"query": "where does she live?", "user_id": "alice"}), &creds);
    let found = plugin.daemon.call(search).await;
    assert_eq!(reply(&found)["status"], "SUCCESS", "{found:#?}");
    plugin.daemon.close_input().await;
    let status = plugin.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "exit status {status:?}; stderr:\n{}", plugin.stderr());

    let last = read_report(&file);
    assert_eq!((last.generation, last.last), (1, true));
    assert_eq!(last.spans["dify.session"].count, 2, "the warm-up search was left out at SIGUSR1: {last:#?}");
    for name in [
        "dify.read",
        "dify.parse_line",
        "dify.parse_data",
        "dify.credentials",
        "dify.params",
        "dify.tool",
        "dify.shape",
        "dify.encode",
        "dify.write",
        "app.read",
        "app.write",
        "app.journal",
        "app.embed",
        "app.retrieve",
        "pg.checkout",
        "pg.query",
    ] {
        let stats = last.spans.get(name).unwrap_or_else(|| panic!("no {name} spans: {last:#?}"));
        assert!(stats.count > 0 && stats.total_ms > 0.0 && stats.p50_ms <= stats.max_ms, "{name}: {stats:?}");
    }
    // the ACK statement and the search's statements, under the calls that made them
    for path in [
        "dify.session/dify.tool/app.write/app.journal/pg.query",
        "dify.session/dify.tool/app.read/app.retrieve/pg.query",
        "dify.session/dify.tool/app.read/app.embed",
    ] {
        assert!(last.paths.get(path).is_some_and(|s| s.count > 0), "no {path}: {:#?}", last.paths.keys());
    }
    let session = &last.spans["dify.session"];
    assert!(session.total_ms >= last.spans["dify.tool"].total_ms, "{last:#?}");
    drop_table(&url, &collection).await;
    for suffix in ["_journal", "_history"] {
        drop_table(&url, &format!("{collection}{suffix}")).await;
    }
}
