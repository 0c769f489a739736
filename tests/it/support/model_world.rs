//! A world for write-path tests against the scripted model: the real application over the embedded
//! store (or pgvector), the fake OpenAI server as LLM and embedder, answering by default one fact per
//! add (the user's line) and ADD for every new fact; tools are invoked as Dify would.

#![allow(dead_code)]

use super::fake_openai::{FakeOpenAi, Reply};
use super::pgstore;
use mem0_dify::adapters::dify::tools::invoke_tool;
use mem0_dify::adapters::factory::DefaultBackendFactory;
use mem0_dify::app::api::{AppSettings, MemoryApp};
use mem0_dify::app::writes::WriterTiming;
use mem0_dify::domain::credentials::CredentialSet;
use mem0_dify::ports::memory_api::InvokeContext;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DIMS: usize = 16;
pub const KEY: &str = "sk-faults-51d0c3a9e7";

pub struct World {
    pub app: Arc<MemoryApp>,
    pub model: FakeOpenAi,
    pub credentials: CredentialSet,
    _dir: tempfile::TempDir,
}

impl World {
    /// The application over the embedded store (or pgvector) and a model answering one fact per add.
    pub async fn new(async_mode: bool, model_config: Value, writer: WriterTiming, pg: bool) -> Option<Self> {
        Self::with(async_mode, model_config, writer, pg, json!({})).await
    }

    /// As `new`, with more credentials (e.g. a graph store).
    pub async fn with(
        async_mode: bool,
        model_config: Value,
        writer: WriterTiming,
        pg: bool,
        extra: Value,
    ) -> Option<Self> {
        let model = FakeOpenAi::start().await;
        model.set_embedding_dims(DIMS);
        model.require_api_key(KEY);
        model.on_chat(|body| {
            // Extraction (system + user): the user's message is the fact. Decision: add the new facts.
            if body["messages"][0]["role"] == "system" {
                let text = body["messages"][1]["content"].as_str().unwrap_or_default();
                let fact = text.lines().find_map(|l| l.strip_prefix("user: ")).unwrap_or("nothing").to_owned();
                return Reply::json(&json!({"facts": [fact]}));
            }
            let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
            let facts: Vec<Value> = prompt
                .split_once("New facts (JSON):\n")
                .and_then(|(_, rest)| serde_json::Deserializer::from_str(rest).into_iter::<Value>().next())
                .and_then(Result::ok)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let items: Vec<Value> = facts.iter().map(|f| json!({"id": "new", "text": f, "event": "ADD"})).collect();
            Reply::json(&json!({ "memory": items }))
        });
        let dir = tempfile::tempdir().unwrap();
        let vector = if pg {
            json!({"provider": "pgvector", "config": {"connection_string": pgstore::pg_url()?,
                   "collection_name": pgstore::unique_collection("faults"), "embedding_model_dims": DIMS}})
        } else {
            json!({"provider": "embedded", "config": {
                "path": dir.path().join("memories.db").to_string_lossy(), "embedding_model_dims": DIMS}})
        };
        let config = |extra: Value| {
            let mut config = json!({"api_key": KEY, "openai_base_url": model.base_url(), "max_retries": 0});
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            config
        };
        let mut credentials = json!({
            "local_llm_json": {"provider": "openai", "config": config(model_config)},
            "local_embedder_json": {"provider": "openai", "config": config(json!({"embedding_dims": DIMS}))},
            "local_vector_db_json": vector,
            "async_mode": async_mode,
        });
        let extra_credentials = extra.as_object().unwrap().iter().filter(|(k, _)| !k.starts_with("test_"));
        credentials.as_object_mut().unwrap().extend(extra_credentials.map(|(k, v)| (k.clone(), v.clone())));
        let credentials = CredentialSet::from_map(credentials.as_object().unwrap()).unwrap();
        let factory = Arc::new(DefaultBackendFactory::new(dir.path()));
        let mut settings = AppSettings { writer, ..AppSettings::default() };
        if let Some(ceiling) = extra.get("test_sync_ceiling_ms").and_then(Value::as_u64) {
            settings.timeouts.sync_write = Duration::from_millis(ceiling);
        }
        let app = Arc::new(MemoryApp::start(factory, settings));
        Some(Self { app, model, credentials, _dir: dir })
    }

    pub async fn call(&self, tool: &str, params: Value) -> Value {
        let params: Map<String, Value> = params.as_object().unwrap().clone();
        invoke_tool(self.app.as_ref(), &self.credentials, tool, &params, &InvokeContext::default()).await.json
    }

    pub async fn status(&self, write_id: &str) -> Value {
        self.call("get_write_status", json!({"write_id": write_id})).await["results"].clone()
    }

    /// Polls the write until `done` holds for its state (10 s at most).
    pub async fn wait_state(&self, write_id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let state = self.status(write_id).await;
            if done(&state) {
                return state;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "write {write_id} stuck at {state}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn chat_calls(&self) -> usize {
        self.model.chat_requests().len()
    }

    pub async fn memories(&self, user: &str) -> Vec<String> {
        let all = self.call("get_all_memories", json!({"user_id": user})).await;
        all["results"].as_array().unwrap().iter().map(|m| m["memory"].as_str().unwrap().to_owned()).collect()
    }
}

pub fn fast_writer(max_attempts: u32) -> WriterTiming {
    WriterTiming {
        lease: Duration::from_secs(5),
        renewal: Duration::from_secs(1),
        poll: Duration::from_millis(50),
        retry_base: Duration::from_millis(100),
        max_attempts,
    }
}
