//! The memory engine end to end: the real application, the real backend factory and adapters,
//! a fake OpenAI server speaking the real wire format, and each storage backend for real —
//! PostgreSQL + pgvector (from scripts/services/postgres.sh) and the embedded store.

use crate::support::fake_openai;
use crate::support::pgstore;

use fake_openai::{FakeOpenAi, Reply};
use mem0_dify::adapters::dify::tools::invoke_tool;
use mem0_dify::adapters::factory::DefaultBackendFactory;
use mem0_dify::app::api::{AppSettings, MemoryApp};
use mem0_dify::domain::credentials::CredentialSet;
use mem0_dify::ports::memory_api::InvokeContext;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

const DIMS: usize = 64;

/// Where the memories go.
#[derive(Clone, Copy, Debug)]
enum Store {
    Pgvector,
    Embedded,
}

struct World {
    app: Arc<MemoryApp>,
    llm: FakeOpenAi,
    credentials: Map<String, Value>,
    _dir: tempfile::TempDir,
}

impl World {
    /// `None` when the store's service is absent and MEM0_SKIP_SERVICE_TESTS=1.
    async fn new(store: Store, async_mode: bool) -> Option<Self> {
        let llm = FakeOpenAi::start().await;
        llm.set_embedding_dims(DIMS);
        let dir = tempfile::tempdir().unwrap();
        let vector = match store {
            Store::Pgvector => json!({"provider": "pgvector", "config": {
                "connection_string": pgstore::pg_url()?,
                "collection_name": pgstore::unique_collection("scenario"),
                "embedding_model_dims": DIMS}}),
            Store::Embedded => json!({"provider": "embedded", "config": {
                "path": dir.path().join("memories.db").to_string_lossy(), "embedding_model_dims": DIMS}}),
        };
        let model = |extra: Value| {
            let mut config = json!({"api_key": "sk-test", "openai_base_url": llm.base_url(), "max_retries": 0});
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            config
        };
        let credentials = json!({
            "local_llm_json": {"provider": "openai", "config": model(json!({"model": "gpt-4o-mini"}))},
            "local_embedder_json": {"provider": "openai", "config": model(json!({"embedding_dims": DIMS}))},
            "local_vector_db_json": vector,
            "async_mode": async_mode,
        });
        let factory = Arc::new(DefaultBackendFactory::new(dir.path()));
        let app = Arc::new(MemoryApp::start(factory, AppSettings::default()));
        Some(Self { app, llm, credentials: credentials.as_object().unwrap().clone(), _dir: dir })
    }

    async fn call(&self, tool: &str, params: Value) -> Value {
        let credentials = CredentialSet::from_map(&self.credentials).unwrap();
        let reply =
            invoke_tool(self.app.as_ref(), &credentials, tool, params.as_object().unwrap(), &InvokeContext::default())
                .await;
        reply.json
    }

    fn facts(&self, facts: &[&str]) {
        self.llm.push_chat(Reply::json(&json!({ "facts": facts })));
    }

    /// Answers the next decision call with one event about the stored memory whose text is `about`.
    fn decide(&self, about: &'static str, event: &'static str, text: &'static str) {
        self.llm.on_chat(move |body| {
            let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
            let id = stored_id(prompt, about).unwrap_or_else(|| "missing".into());
            Reply::json(&json!({"memory": [{"id": id, "text": text, "event": event, "old_memory": about}]}))
        });
    }

    /// Answers every decision call by adding the new facts as they are.
    fn add_new_facts(&self) {
        self.llm.on_chat(|body| {
            let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
            let facts = prompt
                .split_once("New facts (JSON):\n")
                .and_then(|(_, rest)| serde_json::Deserializer::from_str(rest).into_iter::<Value>().next())
                .and_then(Result::ok)
                .unwrap_or(json!([]));
            let items: Vec<Value> = facts
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| json!({"id": "new", "text": f, "event": "ADD"}))
                .collect();
            Reply::json(&json!({ "memory": items }))
        });
    }

    fn chat_calls(&self) -> usize {
        self.llm.chat_requests().len()
    }
}

/// The small id the decision prompt gave the stored memory `text`.
fn stored_id(prompt: &str, text: &str) -> Option<String> {
    let start = prompt.find("Stored memories (JSON):\n")? + "Stored memories (JSON):\n".len();
    let list: Value = serde_json::Deserializer::from_str(&prompt[start..]).into_iter().next()?.ok()?;
    list.as_array()?.iter().find(|m| m["text"] == text).map(|m| m["id"].as_str().unwrap_or_default().to_owned())
}

fn events(reply: &Value) -> Vec<(String, String)> {
    reply["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {reply}"))
        .iter()
        .map(|r| (r["event"].as_str().unwrap().to_owned(), r["memory"].as_str().unwrap().to_owned()))
        .collect()
}

fn texts(reply: &Value) -> Vec<String> {
    let mut texts: Vec<String> =
        reply["results"].as_array().unwrap().iter().map(|r| r["memory"].as_str().unwrap().to_owned()).collect();
    texts.sort();
    texts
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

async fn add_update_delete_and_history(store: Store) {
    let Some(w) = World::new(store, false).await else { return };
    // Two facts, nothing stored yet: two ADDs, one LLM call.
    w.facts(&["Is vegetarian", "Lives in Paris"]);
    let reply = w.call("add_memory", json!({"user": "I'm a vegetarian living in Paris", "user_id": "alice"})).await;
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    assert_eq!(events(&reply), pairs(&[("ADD", "Is vegetarian"), ("ADD", "Lives in Paris")]));
    assert_eq!(w.chat_calls(), 1);

    // The same fact again: NONE, without a decision call.
    w.facts(&["Is vegetarian"]);
    let reply = w.call("add_memory", json!({"user": "I don't eat meat", "user_id": "alice"})).await;
    assert_eq!(events(&reply), pairs(&[("NONE", "Is vegetarian")]));
    assert_eq!(w.chat_calls(), 2);

    // A contradiction: UPDATE, with history old → new.
    w.facts(&["Lives in Berlin"]);
    w.decide("Lives in Paris", "UPDATE", "Lives in Berlin");
    let reply = w.call("add_memory", json!({"user": "I moved to Berlin", "user_id": "alice"})).await;
    assert_eq!(events(&reply), pairs(&[("UPDATE", "Lives in Berlin")]));
    assert_eq!(reply["results"][0]["previous_memory"], "Lives in Paris");
    assert_eq!(w.chat_calls(), 4);
    let id = reply["results"][0]["id"].as_str().unwrap().to_owned();
    let history = w.call("get_memory_history", json!({"memory_id": id})).await;
    let rows = history["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{history}");
    assert_eq!((rows[0]["event"].as_str(), rows[0]["new_memory"].as_str()), (Some("ADD"), Some("Lives in Paris")));
    assert_eq!(
        (rows[1]["event"].as_str(), rows[1]["old_memory"].as_str(), rows[1]["new_memory"].as_str()),
        (Some("UPDATE"), Some("Lives in Paris"), Some("Lives in Berlin"))
    );

    // "No longer": DELETE.
    w.facts(&["No longer vegetarian"]);
    w.decide("Is vegetarian", "DELETE", "Is vegetarian");
    let reply = w.call("add_memory", json!({"user": "I'm not vegetarian anymore", "user_id": "alice"})).await;
    assert_eq!(events(&reply), pairs(&[("DELETE", "Is vegetarian")]));
    let all = w.call("get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(texts(&all), vec!["Lives in Berlin"]);

    // Update and delete by id; another user's id is not found.
    let update = w.call("update_memory", json!({"memory_id": id, "text": "Lives in Munich", "user_id": "bob"})).await;
    assert_eq!(update["status"], "ERROR", "{update}");
    assert!(update["messages"].as_str().unwrap().contains("Memory not found"));
    let update = w.call("update_memory", json!({"memory_id": id, "text": "Lives in Munich", "user_id": "alice"})).await;
    assert_eq!(update["status"], "SUCCESS", "{update}");
    let got = w.call("get_memory", json!({"memory_id": id})).await;
    assert_eq!(got["results"]["memory"], "Lives in Munich");
    let deleted = w.call("delete_memory", json!({"memory_id": id, "user_id": "alice"})).await;
    assert_eq!(deleted["status"], "SUCCESS", "{deleted}");
    let gone = w.call("get_memory", json!({"memory_id": id})).await;
    assert_eq!(gone["status"], "ERROR");
}

async fn scopes_never_mix(store: Store) {
    let Some(w) = World::new(store, false).await else { return };
    w.add_new_facts();
    for (user, fact) in [("alice", "Likes green tea"), ("bob", "Likes black tea"), ("bob", "Has a dog")] {
        w.facts(&[fact]);
        let reply = w.call("add_memory", json!({"user": fact, "user_id": user})).await;
        assert_eq!(reply["status"], "SUCCESS", "{reply}");
    }
    let found = w.call("search_memory", json!({"query": "tea", "user_id": "alice", "top_k": 10})).await;
    assert_eq!(texts(&found), vec!["Likes green tea"]);
    let score = found["results"][0]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score), "score {score}");
    // A filter naming another user cannot widen the search.
    let widened = w
        .call("search_memory", json!({"query": "tea", "user_id": "alice", "filters": "{\"OR\": [{\"user_id\": \"bob\"}, {\"user_id\": \"alice\"}]}"}))
        .await;
    assert_eq!(texts(&widened), vec!["Likes green tea"]);
    let foreign =
        w.call("search_memory", json!({"query": "tea", "user_id": "alice", "filters": {"user_id": "bob"}})).await;
    assert!(texts(&foreign).is_empty(), "{foreign}");

    // delete_all of alice leaves bob intact.
    let deleted = w.call("delete_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(deleted["status"], "SUCCESS", "{deleted}");
    assert!(texts(&w.call("get_all_memories", json!({"user_id": "alice"})).await).is_empty());
    assert_eq!(
        texts(&w.call("get_all_memories", json!({"user_id": "bob"})).await),
        vec!["Has a dog", "Likes black tea"]
    );
}

async fn concurrent_adds_store_one_memory(store: Store) {
    let Some(w) = World::new(store, false).await else { return };
    w.llm.on_chat(|_| Reply::json(&json!({"facts": ["Likes tea"]})));
    let w = Arc::new(w);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.call("add_memory", json!({"user": "I like tea", "user_id": "carol"})).await })
        })
        .collect();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply["status"], "SUCCESS", "{reply}");
    }
    let all = w.call("get_all_memories", json!({"user_id": "carol"})).await;
    assert_eq!(texts(&all), vec!["Likes tea"]);
}

async fn async_writes_are_accepted_then_applied(store: Store) {
    let Some(w) = World::new(store, true).await else { return };
    w.llm.set_latency(Duration::from_millis(200));
    w.facts(&["Plays the violin"]);
    let reply = w.call("add_memory", json!({"user": "I play the violin", "user_id": "dave"})).await;
    assert_eq!(reply["results"][0]["event"], "ACCEPT", "{reply}");
    let write_id = reply["write_id"].as_str().unwrap().to_owned();
    let mut state = Value::Null;
    for _ in 0..100 {
        state = w.call("get_write_status", json!({"write_id": write_id})).await;
        if state["results"]["state"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["results"]["state"], "applied", "{state}");
    assert_eq!(state["results"]["result"]["results"][0]["memory"], "Plays the violin");
    let all = w.call("get_all_memories", json!({"user_id": "dave"})).await;
    assert_eq!(texts(&all), vec!["Plays the violin"]);
}

/// The scripted model answers facts in the conversation's language: the extraction prompt asks
/// for that language, and Chinese and Japanese memories are stored and found intact. The
/// `language` credential adds an instruction forcing one.
async fn conversations_keep_their_language(store: Store) {
    let Some(mut w) = World::new(store, false).await else { return };
    w.add_new_facts();
    for (user, input, facts) in [
        ("li", "我是素食者，在上海当护士。", ["是素食者", "在上海当护士"]),
        ("sato", "私はベジタリアンで、東京で看護師をしています。", ["ベジタリアンである", "東京で看護師をしている"]),
    ] {
        w.facts(&facts);
        let before = w.chat_calls();
        let reply = w.call("add_memory", json!({"user": input, "user_id": user})).await;
        assert_eq!(reply["status"], "SUCCESS", "{reply}");
        let extraction = &w.llm.chat_requests()[before].body;
        let system = extraction["messages"][0]["content"].as_str().unwrap();
        assert!(system.contains("Write each fact in the language the user used"), "{system}");
        assert!(extraction["messages"][1]["content"].as_str().unwrap().contains(input));
        let mut expected: Vec<String> = facts.iter().map(|f| f.to_string()).collect();
        expected.sort();
        assert_eq!(texts(&w.call("get_all_memories", json!({"user_id": user})).await), expected);
        let found = w.call("search_memory", json!({"query": facts[1], "user_id": user})).await;
        assert!(found["results"].to_string().contains(facts[1]), "{found}");
    }
    w.credentials.insert("language".into(), json!("English"));
    w.facts(&["Is vegetarian"]);
    let before = w.chat_calls();
    let reply = w.call("add_memory", json!({"user": "我是素食者。", "user_id": "wang"})).await;
    assert_eq!(reply["status"], "SUCCESS", "{reply}");
    let system = w.llm.chat_requests()[before].body["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(system.contains("write every fact in English, whatever language the conversation uses"), "{system}");
}

macro_rules! on_every_store {
    ($($scenario:ident),*) => {
        mod pgvector {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::Store::Pgvector).await })*
        }
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() { super::$scenario(super::Store::Embedded).await })*
        }
    };
}

on_every_store!(
    add_update_delete_and_history,
    scopes_never_mix,
    concurrent_adds_store_one_memory,
    async_writes_are_accepted_then_applied,
    conversations_keep_their_language
);
