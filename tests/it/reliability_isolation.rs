//! Isolation: nobody reads or touches another user's memories. Hostile filters (OR over other
//! users, NOT, negations, SQL-looking strings), hostile user ids and memory ids, hostile metadata
//! and async writes aimed at another user's memory never return or change anything outside the
//! caller's scope — on pgvector and on the embedded store, through the real tool layer. Then, over
//! stdio with the real binary: with `bind_user_to_dify_user`, `user_id` is the end user the daemon
//! names in the request, whatever the LLM passes.

use crate::support::fake_openai;
use crate::support::pgstore;
use crate::support::reliability;

use fake_openai::FakeOpenAi;
use mem0_dify::adapters::dify::tools::invoke_tool;
use mem0_dify::adapters::factory::DefaultBackendFactory;
use mem0_dify::app::api::{AppSettings, MemoryApp};
use mem0_dify::domain::credentials::CredentialSet;
use mem0_dify::ports::memory_api::InvokeContext;
use reliability::{assert_clean_log, pgvector, Db, Model, Plugin, API_KEY, DIMS};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Store {
    Pgvector,
    Embedded,
}

struct World {
    app: Arc<MemoryApp>,
    sync: CredentialSet,
    asynchronous: CredentialSet,
    _model: FakeOpenAi,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(store: Store) -> Option<Self> {
        let model = FakeOpenAi::start().await;
        model.set_embedding_dims(DIMS);
        let dir = tempfile::tempdir().unwrap();
        let vector = match store {
            Store::Pgvector => pgvector(&pgstore::pg_url()?, &pgstore::unique_collection("isolation")),
            Store::Embedded => json!({"provider": "embedded", "config": {
                "path": dir.path().join("memories.db").to_string_lossy(), "embedding_model_dims": DIMS}}),
        };
        let embedder = json!({"provider": "openai", "config": {
            "api_key": "sk-x", "openai_base_url": model.base_url(), "embedding_dims": DIMS}});
        let set = |async_mode: bool| {
            let map =
                json!({"local_embedder_json": embedder, "local_vector_db_json": vector, "async_mode": async_mode});
            CredentialSet::from_map(map.as_object().unwrap()).unwrap()
        };
        let factory = Arc::new(DefaultBackendFactory::new(dir.path()));
        let app = Arc::new(MemoryApp::start(factory, AppSettings::default()));
        Some(Self { app, sync: set(false), asynchronous: set(true), _model: model, _dir: dir })
    }

    async fn call_with(&self, credentials: &CredentialSet, tool: &str, params: Value) -> Value {
        let params: Map<String, Value> = params.as_object().unwrap().clone();
        invoke_tool(self.app.as_ref(), credentials, tool, &params, &InvokeContext::default()).await.json
    }

    async fn call(&self, tool: &str, params: Value) -> Value {
        self.call_with(&self.sync, tool, params).await
    }

    /// Stores `text` verbatim for `scope`; returns its id.
    async fn seed(&self, scope: Value, text: &str, metadata: Value) -> String {
        let mut params = scope;
        params["user"] = json!(text);
        params["infer"] = json!(false);
        params["metadata"] = metadata;
        let reply = self.call("add_memory", params).await;
        assert_eq!(reply["status"], "SUCCESS", "{reply}");
        reply["results"][0]["id"].as_str().expect("id").to_owned()
    }

    /// Every memory (id → text), read back by id without a scope.
    async fn snapshot(&self, ids: &BTreeMap<String, &'static str>) -> BTreeMap<String, String> {
        let mut texts = BTreeMap::new();
        for id in ids.keys() {
            let got = self.call("get_memory", json!({"memory_id": id})).await;
            texts.insert(id.clone(), got["results"]["memory"].as_str().unwrap_or("<gone>").to_owned());
        }
        texts
    }
}

fn result_ids(reply: &Value) -> Vec<String> {
    reply["results"]
        .as_array()
        .map_or_else(Vec::new, |items| items.iter().filter_map(|m| m["id"].as_str().map(str::to_owned)).collect())
}

/// Filters that try to widen a search to other users, or to break out of the query.
fn hostile_filters() -> Vec<Value> {
    vec![
        json!({"OR": [{"user_id": "bob"}, {"user_id": "alice"}]}),
        json!({"$or": [{"user_id": {"ne": "alice"}}, {"topic": "secret"}]}),
        json!({"NOT": [{"user_id": "alice"}]}),
        json!({"NOT": [{"topic": "nothing"}]}),
        json!({"user_id": {"ne": "alice"}}),
        json!({"user_id": {"in": ["bob", "mallory", "alice"]}}),
        json!({"user_id": {"nin": ["alice"]}}),
        json!({"user_id": "bob"}),
        json!({"agent_id": {"ne": null}}),
        json!({"run_id": {"nin": []}}),
        json!({"AND": [{"OR": [{"user_id": "bob"}, {"NOT": [{"user_id": "bob"}]}]}]}),
        json!({"OR": [{"topic": "x' OR '1'='1"}, {"topic": {"contains": "%"}}]}),
        json!({"topic": {"icontains": "'); DROP TABLE memories; --"}}),
        json!({"topic": {"gte": ""}}),
        json!({"data": {"contains": "secret"}}),
        json!({"hash": {"ne": "x"}}),
        json!({"payload->>'user_id'": "bob"}),
        json!({"a') OR 1=1 --": 1}),
        json!({"user_id": {"eq": {"$ne": "alice"}}}),
        json!("{\"OR\": [{\"user_id\": \"bob\"}]}"),
        json!([{"user_id": "bob"}]),
    ]
}

/// User ids that look like wildcards, injections or near-misses of another user.
const HOSTILE_USERS: &[&str] = &[
    "%",
    "*",
    "alice%",
    "ALICE",
    "alice' OR '1'='1",
    "bob\" OR 1=1 --",
    "u:bob|a:|r:",
    "user_id:bob",
    "' OR payload->>'user_id' IS NOT NULL --",
    "ａｌｉｃｅ",
    "nobody",
];

async fn hostile_input_never_crosses_scopes(store: Store) {
    let Some(w) = World::new(store).await else { return };
    let mut owner: BTreeMap<String, &'static str> = BTreeMap::new();
    owner.insert(
        w.seed(json!({"user_id": "alice"}), "Alice likes green tea", json!({"topic": "drinks"})).await,
        "alice",
    );
    owner
        .insert(w.seed(json!({"user_id": "alice"}), "Alice lives in Paris", json!({"topic": "places"})).await, "alice");
    owner.insert(
        w.seed(json!({"user_id": "alice", "run_id": "r1"}), "Alice tea in run one", json!({"topic": "drinks"})).await,
        "alice",
    );
    let bob_tea = w.seed(json!({"user_id": "bob"}), "Bob likes black tea", json!({"topic": "drinks"})).await;
    owner.insert(bob_tea.clone(), "bob");
    let bob_secret = w.seed(json!({"user_id": "bob"}), "Bob secret tea recipe", json!({"topic": "secret"})).await;
    owner.insert(bob_secret.clone(), "bob");
    owner.insert(
        w.seed(json!({"user_id": "carol", "agent_id": "bot"}), "Bot tea policy", json!({"topic": "secret"})).await,
        "carol",
    );
    // Metadata naming another user is refused (the scope keys are reserved).
    let spoof = json!({"user_id": "alice", "user": "Spoofed tea note", "infer": false,
                       "metadata": {"user_id": "bob", "agent_id": "bot", "run_id": "r9"}});
    let spoofed = w.call("add_memory", spoof).await;
    assert_eq!(spoofed["status"], "ERROR", "{spoofed}");
    assert!(spoofed["messages"].as_str().unwrap().contains("is reserved"), "{spoofed}");
    let spoof = json!({"memory_id": bob_tea, "user_id": "bob", "text": "Bob likes black tea", "metadata": {"user_id": "alice"}});
    let spoofed = w.call("update_memory", spoof).await;
    assert_eq!(spoofed["status"], "ERROR", "{spoofed}");
    let before = w.snapshot(&owner).await;
    let of = |user: &str| -> BTreeSet<String> {
        owner.iter().filter(|(_, o)| **o == user).map(|(id, _)| id.clone()).collect()
    };
    let mut checks = 0usize;

    // Hostile filters: errors, or only alice's memories.
    for filter in hostile_filters() {
        for (tool, params) in [
            (
                "search_memory",
                json!({"query": "tea secret recipe", "user_id": "alice", "top_k": 50, "filters": filter}),
            ),
            ("get_all_memories", json!({"user_id": "alice", "limit": 100, "filters": filter})),
        ] {
            let reply = w.call(tool, params).await;
            let ids: BTreeSet<String> = result_ids(&reply).into_iter().collect();
            assert!(
                ids.is_subset(&of("alice")),
                "{tool} with {filter} leaked {:?}: {reply}",
                ids.difference(&of("alice"))
            );
            checks += 1;
        }
    }
    // The filters do work (so the checks above can fail): a filter matching everything returns
    // exactly alice's memories.
    let everything = json!({"NOT": [{"topic": "nothing"}]});
    let reply = w.call("get_all_memories", json!({"user_id": "alice", "limit": 100, "filters": everything})).await;
    assert_eq!(result_ids(&reply).into_iter().collect::<BTreeSet<_>>(), of("alice"), "{reply}");
    // A filter on bob's own scope is fine for bob, and still cannot reach alice.
    let reply = w
        .call("search_memory", json!({"query": "tea", "user_id": "bob", "filters": {"NOT": [{"user_id": "bob"}]}}))
        .await;
    assert!(result_ids(&reply).is_empty(), "{reply}");

    // Hostile user ids: nothing of anybody else, and delete_all wipes nothing of anybody else.
    for user in HOSTILE_USERS {
        for (tool, params) in [
            ("search_memory", json!({"query": "tea", "user_id": user, "top_k": 50})),
            ("get_all_memories", json!({"user_id": user, "limit": 100})),
            ("delete_all_memories", json!({"user_id": user})),
        ] {
            let reply = w.call(tool, params).await;
            assert!(result_ids(&reply).is_empty(), "{tool} as {user:?}: {reply}");
            checks += 1;
        }
    }

    // Another user's memory by id, with alice's scope: not found, for every id tool, and async too.
    let bob_upper = bob_secret.to_uppercase();
    let bob_braced = format!("{{{bob_secret}}}");
    let bob_urn = format!("urn:uuid:{bob_secret}");
    for memory_id in [bob_secret.as_str(), &bob_upper, &bob_braced, &bob_urn] {
        for (tool, extra) in [
            ("get_memory", json!({})),
            ("get_memory_history", json!({})),
            ("update_memory", json!({"text": "Bob recipe stolen"})),
            ("delete_memory", json!({})),
        ] {
            let mut params = json!({"memory_id": memory_id, "user_id": "alice"});
            params.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let reply = w.call(tool, params.clone()).await;
            assert_eq!(reply["status"], "ERROR", "{tool} {params}: {reply}");
            assert!(
                reply["messages"].as_str().unwrap().contains("not found")
                    || reply["messages"].as_str().unwrap().contains("memory_id"),
                "{reply}"
            );
            checks += 1;
        }
    }
    for tool in ["update_memory", "delete_memory"] {
        let params = json!({"memory_id": bob_tea, "user_id": "alice", "agent_id": "bot", "text": "hijacked"});
        let reply = w.call_with(&w.asynchronous, tool, params).await;
        let write_id = reply["write_id"].as_str().unwrap_or_else(|| panic!("{reply}")).to_owned();
        let started = Instant::now();
        let state = loop {
            let status = w.call("get_write_status", json!({"write_id": write_id})).await;
            if status["results"]["state"] != "pending" {
                break status["results"].clone();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{status}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(state["state"], "failed", "{state}");
        assert!(state["error"].as_str().unwrap().contains("not found"), "{state}");
        checks += 1;
    }
    // Memory ids that are not ids.
    for memory_id in ["' OR 1=1 --", "*", "%", "00000000-0000-0000-0000-000000000000", "../../etc/passwd"] {
        let reply = w.call("delete_memory", json!({"memory_id": memory_id, "user_id": "alice"})).await;
        assert_eq!(reply["status"], "ERROR", "{memory_id}: {reply}");
        checks += 1;
    }

    // Nothing changed, for anybody.
    assert_eq!(w.snapshot(&owner).await, before);
    let bob_all = w.call("get_all_memories", json!({"user_id": "bob"})).await;
    assert_eq!(result_ids(&bob_all).into_iter().collect::<BTreeSet<_>>(), of("bob"));
    let alice_all = w.call("get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(result_ids(&alice_all).into_iter().collect::<BTreeSet<_>>(), of("alice"));
    println!("isolation ({store:?}): {checks} hostile calls, 0 crossed a scope, 0 memories changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_never_crosses_scopes_pgvector() {
    hostile_input_never_crosses_scopes(Store::Pgvector).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_never_crosses_scopes_embedded() {
    hostile_input_never_crosses_scopes(Store::Embedded).await;
}

/// Over stdio with the real binary: the daemon's `user_id` (the Dify end user) replaces whatever
/// user the tool parameters name when `bind_user_to_dify_user` is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_user_is_the_daemons_end_user_over_stdio() {
    let Some(url) = pgstore::pg_url() else { return };
    let model = Model::start(Duration::ZERO).await;
    let collection = pgstore::unique_collection("bind");
    let mut creds = reliability::credentials(&model.base_url(), pgvector(&url, &collection), false);
    let unbound = creds.clone();
    creds["bind_user_to_dify_user"] = json!(true);
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = Plugin::spawn(dir.path(), &[]);
    let db = Db::new(&url, &collection);

    // The victim's memory, written without binding.
    let victim = plugin
        .call("add_memory", json!({"user": "Victim bank pin hint", "user_id": "victim", "infer": false}), &unbound)
        .await;
    assert!(victim.ok(), "{victim:?}");
    let victim_id = victim.json["results"][0]["id"].as_str().unwrap().to_owned();

    // Bound as end user A, the LLM asks for the victim: everything lands on / reads from A.
    let as_a = |tool: &'static str, params: Value| {
        let plugin = &plugin;
        let creds = &creds;
        async move { plugin.call_as(tool, params, creds, "end-user-A").await }
    };
    let added = as_a("add_memory", json!({"user": "A note about tea", "user_id": "victim", "infer": false})).await;
    assert!(added.ok(), "{added:?}");
    let found = as_a("search_memory", json!({"query": "bank pin hint tea", "user_id": "victim"})).await;
    let texts: Vec<&str> =
        found.json["results"].as_array().unwrap().iter().map(|m| m["memory"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["A note about tea"], "{found:?}");
    let listed = as_a("get_all_memories", json!({"user_id": "victim"})).await;
    assert_eq!(listed.json["messages"]["user_id"], "end-user-A");
    assert_eq!(listed.json["results"].as_array().unwrap().len(), 1);
    for (tool, params) in [
        ("get_memory", json!({"memory_id": victim_id})),
        ("get_memory_history", json!({"memory_id": victim_id, "user_id": "victim"})),
        ("update_memory", json!({"memory_id": victim_id, "text": "owned", "user_id": "victim"})),
        ("delete_memory", json!({"memory_id": victim_id, "user_id": "victim"})),
    ] {
        let answer = as_a(tool, params).await;
        assert_eq!(answer.json["status"], "ERROR", "{tool}: {answer:?}");
        assert!(answer.message().contains("not found"), "{tool}: {answer:?}");
    }
    let wiped = as_a("delete_all_memories", json!({"user_id": "victim"})).await;
    assert!(wiped.ok(), "{wiped:?}");

    // In the database: A's note was written under A and wiped; the victim's memory is intact.
    let memories = db.memories().await;
    assert_eq!(memories, vec![("victim".to_owned(), "Victim bank pin hint".to_owned())]);
    plugin.stop(Duration::from_secs(30)).await;
    let password = pgstore::service_var("MEM0_TEST_PG_PASSWORD").unwrap_or_default();
    assert_clean_log(&plugin.stderr(), &[API_KEY, &password]);
}

/// Over stdio with the real binary, bound to the Dify end user (async writes, PostgreSQL journal):
/// another end user holding the victim's write id learns nothing from `get_write_status`, and the
/// history of the victim's deleted memory stays readable by the victim, and by no one else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_status_and_a_deleted_memorys_history_answer_their_owner_only_over_stdio() {
    let Some(url) = pgstore::pg_url() else { return };
    let model = Model::start(Duration::ZERO).await;
    let collection = pgstore::unique_collection("owner");
    let mut creds = reliability::credentials(&model.base_url(), pgvector(&url, &collection), true);
    creds["bind_user_to_dify_user"] = json!(true);
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = Plugin::spawn(dir.path(), &[]);
    let applied = |write_id: String, end_user: &'static str| {
        let (plugin, creds) = (&plugin, &creds);
        async move {
            for _ in 0..400 {
                let state = plugin.call_as("get_write_status", json!({"write_id": write_id}), creds, end_user).await;
                if state.json["results"]["state"] == "applied" {
                    return state.json["results"]["result"].clone();
                }
                assert_ne!(state.json["results"]["state"], "failed", "{state:?}");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("write {write_id} was not applied");
        }
    };

    let added =
        plugin.call_as("add_memory", json!({"user": "Victim bank pin hint", "infer": false}), &creds, "victim").await;
    assert!(added.accepted(), "{added:?}");
    let add_write = added.write_id().unwrap();
    let result = applied(add_write.clone(), "victim").await;
    let memory_id = result["results"][0]["id"].as_str().unwrap().to_owned();

    // another end user with the write id (whatever user_id the LLM writes) reads nothing
    for params in [json!({"write_id": add_write}), json!({"write_id": add_write, "user_id": "victim"})] {
        let spy = plugin.call_as("get_write_status", params, &creds, "end-user-A").await;
        assert_eq!(spy.json["status"], "ERROR", "{spy:?}");
        assert_eq!(spy.message(), format!("Write not found: {add_write}"));
        assert!(!spy.json.to_string().contains("bank pin") && !spy.json.to_string().contains(&memory_id));
    }

    let deleted = plugin.call_as("delete_memory", json!({"memory_id": memory_id}), &creds, "victim").await;
    applied(deleted.write_id().expect("an accepted delete"), "victim").await;
    let history = plugin.call_as("get_memory_history", json!({"memory_id": memory_id}), &creds, "victim").await;
    assert!(history.ok(), "{history:?}");
    let events: Vec<&str> =
        history.json["results"].as_array().unwrap().iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["ADD", "DELETE"]);
    let spy = plugin
        .call_as("get_memory_history", json!({"memory_id": memory_id, "user_id": "victim"}), &creds, "end-user-A")
        .await;
    assert_eq!(spy.json["status"], "ERROR", "{spy:?}");
    assert!(spy.message().contains("not found") && !spy.json.to_string().contains("bank pin"), "{spy:?}");
    plugin.stop(Duration::from_secs(30)).await;
}
