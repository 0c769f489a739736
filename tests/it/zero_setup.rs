//! The zero-setup path of README's Quick start, on the built `mem0-dify` binary: no credentials
//! file, a fresh data directory (`MEM0_DIFY_DATA_DIR`), the embedded store, the local embedding
//! model and SQLite history + journal; an LLM only when `OPENAI_API_KEY` is in the environment.
//!
//! Needs the all-MiniLM-L6-v2 model directory in MEM0_TEST_MINILM_DIR
//! (`export MEM0_TEST_MINILM_DIR="$(scripts/services/minilm.sh install)"`, as scripts/test.sh does);
//! it is linked to `<data dir>/models/all-MiniLM-L6-v2`, where the zero-setup embedder looks.
//! Without it these tests fail, unless MEM0_SKIP_SERVICE_TESTS=1.
#![cfg(feature = "local-embedder")]

use crate::support::fake_openai;

use crate::support::minilm;

use fake_openai::{FakeOpenAi, Reply};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// Environment variables of the developer's shell that would change what the binary does.
const SCRUBBED_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
    "OPENROUTER_API_KEY",
    "MEM0_DIFY_LLM_MODEL",
    "MEM0_DIFY_DATA_DIR",
    "INSTALL_METHOD",
];

/// A fresh machine: an empty home, an empty working directory and a data directory.
struct Sandbox {
    root: TempDir,
    env: Vec<(String, String)>,
}

/// What one `mem0-dify call` printed.
struct Run {
    json: Value,
    text: String,
    ok: bool,
}

impl Sandbox {
    /// A sandbox whose data directory holds the model (linked, as `minilm.sh` installs it).
    fn with_model(model: &Path) -> Self {
        let sandbox = Self::empty();
        let models = sandbox.data_dir().join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::os::unix::fs::symlink(model, models.join("all-MiniLM-L6-v2")).unwrap();
        sandbox
    }

    /// A sandbox without the model.
    fn empty() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        std::fs::create_dir_all(root.path().join("work")).unwrap();
        Self { root, env: Vec::new() }
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Sets an environment variable for the following runs.
    fn set_env(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// `mem0-dify call TOOL --params PARAMS [extra args]`.
    async fn call_with(&self, tool: &str, params: Value, extra: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mem0-dify"));
        for name in SCRUBBED_ENV {
            command.env_remove(name);
        }
        command
            .args(["call", tool, "--params", &params.to_string()])
            .args(extra)
            .current_dir(self.root.path().join("work"))
            .env("HOME", self.root.path().join("home"))
            .env("MEM0_DIFY_DATA_DIR", self.data_dir())
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(240), command.output())
            .await
            .unwrap_or_else(|_| panic!("mem0-dify call {tool} did not exit within 240 s"))
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{tool}: stdout is not JSON ({e}): {stdout}\nstderr: {text}"));
        Run { json, text, ok: output.status.success() }
    }

    async fn call(&self, tool: &str, params: Value) -> Run {
        self.call_with(tool, params, &[]).await
    }
}

/// The texts of a list of memories or search hits.
fn memories(results: &Value) -> Vec<String> {
    results.as_array().unwrap().iter().map(|m| m["memory"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_session_without_an_llm_stores_text_verbatim_and_persists() {
    let Some(model) = minilm::model_dir() else { return };
    let sandbox = Sandbox::with_model(&model);
    let text = "I am vegetarian and live in Lisbon";

    // README's first command: async by default, applied before the process exits.
    let add = sandbox.call("add_memory", json!({"user": text, "user_id": "alice"})).await;
    assert!(add.ok, "{}\n{}", add.json, add.text);
    assert_eq!(add.json["results"][0]["event"], "ACCEPT", "{}", add.json);
    let write_id = add.json["write_id"].as_str().unwrap().to_owned();
    assert_eq!(add.json["write_status"]["state"], "applied", "{}\n{}", add.json, add.text);
    let change = &add.json["write_status"]["result"]["results"][0];
    assert_eq!((change["event"].as_str(), change["memory"].as_str()), (Some("ADD"), Some(text)), "{}", add.json);
    assert!(add.text.contains("Applying it before exiting"), "{}", add.text);
    assert!(add.text.contains(&format!("Write {write_id} has been applied.")), "{}", add.text);
    assert!(
        add.text.contains("No LLM is configured, so the text is stored as given")
            && add.text.contains("OPENAI_API_KEY"),
        "the reply must say why the text was stored verbatim: {}",
        add.text
    );
    for file in ["memories.db", "history.db", "journal-embedded-mem0.db"] {
        assert!(sandbox.data_dir().join(file).is_file(), "{file} is not in the data directory");
    }

    // A second process sees what the first stored.
    let search = sandbox.call("search_memory", json!({"query": "what food does she eat?", "user_id": "alice"})).await;
    assert!(search.ok && search.json.get("degraded").is_none(), "{}\n{}", search.json, search.text);
    assert_eq!(memories(&search.json["results"]), [text]);
    let score = search.json["results"][0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");
    let other = sandbox.call("search_memory", json!({"query": "vegetarian", "user_id": "bob"})).await;
    assert_eq!(other.json["results"], json!([]), "another user's search sees nothing");

    let all = sandbox.call("get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(memories(&all.json["results"]), [text]);
    let id = all.json["results"][0]["id"].as_str().unwrap().to_owned();
    let get = sandbox.call("get_memory", json!({"memory_id": id, "user_id": "alice"})).await;
    assert_eq!(get.json["results"]["memory"], text, "{}", get.json);

    let update = sandbox
        .call("update_memory", json!({"memory_id": id, "user_id": "alice", "text": "Vegan, lives in Porto"}))
        .await;
    assert!(update.ok, "{}\n{}", update.json, update.text);
    assert_eq!(update.json["write_status"]["state"], "applied", "{}", update.json);
    let get = sandbox.call("get_memory", json!({"memory_id": id, "user_id": "alice"})).await;
    assert_eq!(get.json["results"]["memory"], "Vegan, lives in Porto");
    let history = sandbox.call("get_memory_history", json!({"memory_id": id, "user_id": "alice"})).await;
    let events: Vec<&str> =
        history.json["results"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["ADD", "UPDATE"], "{}", history.json);

    // Sync mode through a credentials file holding only the switch.
    std::fs::write(sandbox.root.path().join("work/sync.json"), r#"{"async_mode": false}"#).unwrap();
    let sync = sandbox
        .call_with("add_memory", json!({"user": "I have a cat", "user_id": "alice"}), &["--credentials", "sync.json"])
        .await;
    assert!(sync.ok && sync.json.get("write_status").is_none(), "{}", sync.json);
    assert_eq!(sync.json["results"][0]["event"], "ADD", "{}", sync.json);
    assert!(sync.text.contains("No LLM is configured"), "{}", sync.text);

    let delete = sandbox.call("delete_memory", json!({"memory_id": id, "user_id": "alice"})).await;
    assert_eq!(delete.json["write_status"]["state"], "applied", "{}", delete.json);
    let all = sandbox.call("get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(memories(&all.json["results"]), ["I have a cat"]);
    let delete_all = sandbox.call("delete_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(delete_all.json["write_status"]["state"], "applied", "{}", delete_all.json);
    let all = sandbox.call("get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(all.json["results"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_compatible_llm_in_the_environment_extracts_facts() {
    let Some(model) = minilm::model_dir() else { return };
    let server = FakeOpenAi::start().await;
    server.on_chat(|_| Reply::json(&json!({"facts": ["Is vegetarian", "Lives in Lisbon"]})));
    // Slow enough that a process exiting right after ACCEPT would not have applied the write.
    server.set_latency(Duration::from_millis(1500));
    let mut sandbox = Sandbox::with_model(&model);
    sandbox.set_env("OPENAI_API_KEY", "sk-zero-setup-test");
    sandbox.set_env("OPENAI_BASE_URL", &server.base_url());
    sandbox.set_env("MEM0_DIFY_LLM_MODEL", "fake-extractor");

    let add =
        sandbox.call("add_memory", json!({"user": "I am vegetarian and live in Lisbon", "user_id": "alice"})).await;
    assert!(add.ok, "{}\n{}", add.json, add.text);
    assert_eq!(add.json["results"][0]["event"], "ACCEPT", "{}", add.json);
    assert_eq!(add.json["write_status"]["state"], "applied", "{}\n{}", add.json, add.text);
    assert!(!add.text.contains("No LLM is configured"), "{}", add.text);

    let chats = server.chat_requests();
    assert_eq!(chats.len(), 1, "one extraction call when nothing related is stored: {chats:?}");
    let chat = &chats[0];
    assert_eq!(chat.path, "/v1/chat/completions");
    assert_eq!(chat.header("authorization"), Some("Bearer sk-zero-setup-test"));
    assert_eq!(chat.body["model"], "fake-extractor");
    assert!(chat.body["messages"].to_string().contains("I am vegetarian and live in Lisbon"), "{}", chat.body);
    assert!(server.embedding_requests().is_empty(), "the embedder stays the local model");

    let mut added = memories(&add.json["write_status"]["result"]["results"]);
    added.sort();
    assert_eq!(added, ["Is vegetarian", "Lives in Lisbon"], "{}", add.json);

    // The facts persist, and a later run without the LLM reads them.
    sandbox.env.clear();
    let search = sandbox.call("search_memory", json!({"query": "Where does she live?", "user_id": "alice"})).await;
    assert_eq!(
        memories(&search.json["results"]).first().map(String::as_str),
        Some("Lives in Lisbon"),
        "{}",
        search.json
    );
    assert_eq!(server.chat_requests().len(), 1, "a search makes no LLM call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_reported_naming_what_is_wrong() {
    // No model in the data directory: the accepted write fails, and the call says so and fails.
    let sandbox = Sandbox::empty();
    let add = sandbox.call("add_memory", json!({"user": "I like tea", "user_id": "alice"})).await;
    assert!(!add.ok, "a failed accepted write must fail the call: {}", add.json);
    assert_eq!(add.json["write_status"]["state"], "failed", "{}", add.json);
    let error = add.json["write_status"]["error"].as_str().unwrap();
    let model_path = sandbox.data_dir().join("models/all-MiniLM-L6-v2");
    assert!(error.contains(&model_path.display().to_string()) && error.contains("minilm.sh install"), "{error}");
    assert!(add.text.contains("failed"), "{}", add.text);

    let missing = sandbox.call("add_memory", json!({"user": "I like tea"})).await;
    assert!(!missing.ok);
    assert_eq!(missing.json["messages"], "user_id is required", "{}", missing.json);
    let bad = sandbox.call("search_memory", json!({"query": "tea", "user_id": "alice", "top_k": 2.5})).await;
    assert!(!bad.ok);
    assert!(bad.json["messages"].as_str().unwrap().contains("top_k must be a whole number"), "{}", bad.json);
}
