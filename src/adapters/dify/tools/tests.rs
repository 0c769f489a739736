//! Tool layer tests against a hand-written fake engine that records what it is asked and
//! answers with scripted outcomes.

use super::*;
use crate::domain::graph::{GraphChanges, Relation};
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata, ScoredMemory, Similarity};
use crate::domain::message::{Message, Role};
use crate::domain::operations::{
    AddReport, AddRequest, ChangeEvent, DeleteAllReport, ListReport, ListRequest, MemoryChange, SearchReport,
    SearchRequest, UpdateRequest, WriteResult, SEARCH_DEFAULT_TOP_K,
};
use crate::domain::scope::Scope;
use crate::ports::memory_api::{CheckResult, Degraded, ReadOutcome, WriteId, WriteRef, WriteState};
use crate::ports::store::StoreError;
use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;
use uuid::Uuid;

const ID: &str = "0b6f1f5e-4a5a-4b8e-9c1e-2f5a7f0e9d11";
const ID2: &str = "7c1d2e3f-1111-4a2b-8c3d-4e5f6a7b8c9d";
const T1: &str = "2025-01-02T03:04:05.000000+00:00";
const T2: &str = "2025-02-03T04:05:06.000000+00:00";

/// A request the fake engine received.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Add(AddRequest),
    Search(SearchRequest),
    GetAll(ListRequest),
    Get(MemoryRef),
    Update(UpdateRequest),
    Delete(MemoryRef),
    DeleteAll(Scope),
    History(MemoryRef),
    WriteStatus(WriteRef),
}

type Scripted<T> = Mutex<Option<Result<T, ApiError>>>;

/// The fake engine: every method records its request and returns its scripted outcome
/// (or a Backend error saying it was not scripted).
#[derive(Default)]
struct FakeApi {
    seen: Mutex<Vec<Seen>>,
    add: Scripted<WriteOutcome<AddReport>>,
    search: Scripted<ReadOutcome<SearchReport>>,
    get_all: Scripted<ReadOutcome<ListReport>>,
    get: Scripted<ReadOutcome<Option<MemoryRecord>>>,
    update: Scripted<WriteOutcome<MemoryRecord>>,
    delete: Scripted<WriteOutcome<MemoryId>>,
    delete_all: Scripted<WriteOutcome<DeleteAllReport>>,
    history: Scripted<ReadOutcome<Vec<HistoryEntry>>>,
    write_status: Scripted<Option<WriteState>>,
}

fn script<T>(slot: &Scripted<T>, value: Result<T, ApiError>) {
    *slot.lock().unwrap() = Some(value);
}

impl FakeApi {
    fn record<T>(&self, seen: Seen, slot: &Scripted<T>) -> Result<T, ApiError> {
        self.seen.lock().unwrap().push(seen);
        slot.lock().unwrap().take().unwrap_or_else(|| {
            Err(ApiError::Store(StoreError::Unavailable { store: "vector store", message: "unscripted call".into() }))
        })
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn only_seen(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "expected exactly one engine call, got {seen:?}");
        seen[0].clone()
    }
}

#[async_trait]
impl MemoryApi for FakeApi {
    async fn add(&self, _: &CredentialSet, request: AddRequest) -> Result<WriteOutcome<AddReport>, ApiError> {
        self.record(Seen::Add(request), &self.add)
    }
    async fn search(&self, _: &CredentialSet, request: SearchRequest) -> Result<ReadOutcome<SearchReport>, ApiError> {
        self.record(Seen::Search(request), &self.search)
    }
    async fn get_all(&self, _: &CredentialSet, request: ListRequest) -> Result<ReadOutcome<ListReport>, ApiError> {
        self.record(Seen::GetAll(request), &self.get_all)
    }
    async fn get(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Option<MemoryRecord>>, ApiError> {
        self.record(Seen::Get(target), &self.get)
    }
    async fn update(&self, _: &CredentialSet, request: UpdateRequest) -> Result<WriteOutcome<MemoryRecord>, ApiError> {
        self.record(Seen::Update(request), &self.update)
    }
    async fn delete(&self, _: &CredentialSet, target: MemoryRef) -> Result<WriteOutcome<MemoryId>, ApiError> {
        self.record(Seen::Delete(target), &self.delete)
    }
    async fn delete_all(&self, _: &CredentialSet, scope: Scope) -> Result<WriteOutcome<DeleteAllReport>, ApiError> {
        self.record(Seen::DeleteAll(scope), &self.delete_all)
    }
    async fn history(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Vec<HistoryEntry>>, ApiError> {
        self.record(Seen::History(target), &self.history)
    }
    async fn write_status(&self, _: &CredentialSet, target: WriteRef) -> Result<Option<WriteState>, ApiError> {
        self.record(Seen::WriteStatus(target), &self.write_status)
    }
    async fn validate(&self, _: &CredentialSet) -> Result<Vec<CheckResult>, ApiError> {
        Err(ApiError::Internal("not used by the tools".into()))
    }
    async fn shutdown(&self, _: Duration) {}
}

// ---------------------------------------------------------------- fixtures

fn creds() -> CredentialSet {
    CredentialSet::from_map(&Map::new()).unwrap()
}

fn bound_creds() -> CredentialSet {
    CredentialSet::from_map(json!({"bind_user_to_dify_user": true}).as_object().unwrap()).unwrap()
}

fn end_user(name: &str) -> InvokeContext {
    InvokeContext { end_user: Some(name.into()) }
}

fn mid(id: &str) -> MemoryId {
    MemoryId::parse(id).unwrap()
}

fn scope(user: Option<&str>, agent: Option<&str>, run: Option<&str>) -> Scope {
    Scope::parse(user, agent, run).unwrap()
}

fn record(id: &str, text: &str, metadata: Value, owner: Scope) -> MemoryRecord {
    let mut r = MemoryRecord::new(
        mid(id),
        MemoryText::parse("text", text).unwrap(),
        Metadata::parse(metadata).unwrap(),
        owner,
        Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
    );
    r.updated_at = Utc.with_ymd_and_hms(2025, 2, 3, 4, 5, 6).unwrap();
    r
}

fn alice_record() -> MemoryRecord {
    record(ID, "Likes green tea", json!({"topic": "food"}), scope(Some("alice"), None, None))
}

fn write_id() -> WriteId {
    WriteId("w-1".into())
}

fn degraded() -> Option<Degraded> {
    Some(Degraded { reason: "search did not finish within 60s".into() })
}

async fn call(api: &FakeApi, tool: &str, params: Value) -> ToolReply {
    call_as(api, &creds(), &InvokeContext::default(), tool, params).await
}

async fn call_as(
    api: &FakeApi,
    credentials: &CredentialSet,
    ctx: &InvokeContext,
    tool: &str,
    params: Value,
) -> ToolReply {
    let map = params.as_object().cloned().unwrap();
    invoke_tool(api, credentials, tool, &map, ctx).await
}

/// Asserts an ERROR reply with exactly this message and the tool's empty results, and that
/// the engine was not called when `engine_called` is false.
fn assert_error(reply: &ToolReply, message: &str, empty: Value) {
    assert_eq!(reply.json, json!({"status": "ERROR", "messages": message, "results": empty}), "{}", reply.text);
    assert!(reply.is_error());
    assert!(reply.text.ends_with(message), "text {:?} should end with {message:?}", reply.text);
    assert!(reply.text.starts_with("Failed to "), "{}", reply.text);
}

// ---------------------------------------------------------------- add_memory

#[tokio::test]
async fn add_async_accepts_with_a_write_id() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    let reply = call(
        &api,
        "add_memory",
        json!({"user": " I like green tea ", "assistant": "Noted!", "user_id": "alice", "agent_id": "", "run_id": null}),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": [{"role": "user", "content": "I like green tea"}, {"role": "assistant", "content": "Noted!"}],
            "results": [{"id": "", "memory": "", "event": "ACCEPT"}],
            "write_id": "w-1"
        })
    );
    assert_eq!(reply.text, "Asynchronous memory addition has been accepted (write id w-1).");
    let Seen::Add(request) = api.only_seen() else { panic!("expected an add") };
    assert_eq!(
        request.conversation.messages(),
        &[Message::new(Role::User, "I like green tea"), Message::new(Role::Assistant, "Noted!")]
    );
    assert_eq!(request.scope, scope(Some("alice"), None, None));
    assert!(request.infer);
    assert!(request.metadata.is_empty());
    assert_eq!(request.actor_id, None);
}

#[tokio::test]
async fn add_sync_returns_the_changes_flat_with_relations() {
    let api = FakeApi::default();
    let report = AddReport {
        results: vec![
            MemoryChange {
                id: mid(ID),
                memory: "Likes green tea".into(),
                event: ChangeEvent::Add,
                previous_memory: None,
            },
            MemoryChange {
                id: mid(ID2),
                memory: "Lives in Lisbon".into(),
                event: ChangeEvent::Update,
                previous_memory: Some("Lives in Porto".into()),
            },
        ],
        relations: Some(GraphChanges {
            added_entities: vec![Relation {
                source: "alice".into(),
                relationship: "lives_in".into(),
                destination: "lisbon".into(),
            }],
            deleted_entities: vec![],
        }),
        graph_degraded: None,
        llm_calls: 2,
    };
    script(&api.add, Ok(WriteOutcome::Done(report)));
    let reply = call(
        &api,
        "add_memory",
        json!({"user": "I moved to Lisbon", "user_id": "alice", "metadata": "{\"source\": \"chat\"}", "infer": "true"}),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": [{"role": "user", "content": "I moved to Lisbon"}],
            "results": [
                {"id": ID, "memory": "Likes green tea", "event": "ADD"},
                {"id": ID2, "memory": "Lives in Lisbon", "event": "UPDATE", "previous_memory": "Lives in Porto"}
            ],
            "relations": {
                "added_entities": [{"source": "alice", "relationship": "lives_in", "destination": "lisbon"}],
                "deleted_entities": []
            }
        })
    );
    assert!(reply.text.starts_with("Memory added synchronously."), "{}", reply.text);
    assert!(reply.text.contains(&format!("- UPDATE: Lives in Lisbon [{ID2}] (was: Lives in Porto)")), "{}", reply.text);
    let Seen::Add(request) = api.only_seen() else { panic!("expected an add") };
    assert_eq!(request.metadata, Metadata::parse(json!({"source": "chat"})).unwrap());
}

#[tokio::test]
async fn add_sync_without_graph_has_no_relations_key() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Done(AddReport::default())));
    let reply = call(&api, "add_memory", json!({"user": "hello", "user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({"status": "SUCCESS", "messages": [{"role": "user", "content": "hello"}], "results": []})
    );
    assert_eq!(reply.text, "Memory added synchronously. No new facts were found.");
}

#[tokio::test]
async fn add_passes_infer_false_and_object_metadata() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    call(&api, "add_memory", json!({"user": "x", "user_id": "alice", "infer": false, "metadata": {"k": [1, 2]}})).await;
    let Seen::Add(request) = api.only_seen() else { panic!("expected an add") };
    assert!(!request.infer);
    assert_eq!(request.metadata, Metadata::parse(json!({"k": [1, 2]})).unwrap());
}

#[tokio::test]
async fn add_drops_an_assistant_turn_that_repeats_the_user() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    let reply = call(&api, "add_memory", json!({"user": "same", "assistant": " same ", "user_id": "alice"})).await;
    assert_eq!(reply.json["messages"], json!([{"role": "user", "content": "same"}]));
}

#[tokio::test]
async fn add_of_blank_messages_is_skipped_without_calling_the_engine() {
    let api = FakeApi::default();
    for params in [
        json!({"user": "  ", "assistant": "", "user_id": "alice"}),
        json!({"user_id": "alice"}),
        json!({"user": null, "user_id": "alice", "output_format": "v1.1"}),
    ] {
        let reply = call(&api, "add_memory", params).await;
        assert_eq!(
            reply.json,
            json!({"status": "SUCCESS", "messages": [], "results": [{"id": "", "memory": "", "event": "SKIP"}]})
        );
        assert_eq!(reply.text, "Skipped memory addition for empty messages.");
    }
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn add_rejects_bad_input_naming_the_parameter() {
    let cases = [
        (json!({"user": "x"}), "user_id is required"),
        (json!({"user": "x", "user_id": "  "}), "user_id is required"),
        (json!({"user": "x", "user_id": {"id": 1}}), "user_id must be a string, got an object"),
        (json!({"user": ["x"], "user_id": "alice"}), "user must be a string, got a list"),
        (json!({"user": "x", "user_id": "a\u{1}b"}), "user_id must not contain control characters"),
        (json!({"user": "x", "user_id": "alice", "agent_id": "x".repeat(300)}), "agent_id is 300 characters long; at most 256 are allowed"),
        (json!({"user": "x", "user_id": "alice", "infer": "sometimes"}), "infer must be true or false, got \"sometimes\""),
        // One limit for memory text, infer on or off (was: SUCCESS "no new facts" and nothing stored).
        (json!({"user": "x".repeat(20_001), "user_id": "alice", "infer": false}), "user is 20001 characters long; at most 20000 are allowed"),
        (json!({"user": "x".repeat(20_001), "user_id": "alice"}), "user is 20001 characters long; at most 20000 are allowed"),
        (json!({"user": "x", "assistant": "y".repeat(20_002), "user_id": "alice", "infer": false}), "assistant is 20002 characters long; at most 20000 are allowed"),
        (
            json!({"user": "x", "user_id": "alice", "metadata": "[1, 2]"}),
            "metadata must be a JSON object such as {\"topic\": \"food\"}, got a list",
        ),
        (
            json!({"user": "x", "user_id": "alice", "metadata": {"user_id": "bob"}}),
            "metadata key \"user_id\" is reserved; reserved keys are [\"id\", \"data\", \"memory\", \"hash\", \"created_at\", \"updated_at\", \"observed_at\", \"expiration_date\", \"user_id\", \"agent_id\", \"run_id\", \"actor_id\", \"role\"]",
        ),
    ];
    for (params, message) in cases {
        let api = FakeApi::default();
        let reply = call(&api, "add_memory", params.clone()).await;
        assert_error(&reply, message, json!([]));
        assert_eq!(reply.text, format!("Failed to add memory: {message}"));
        assert!(api.seen().is_empty(), "{params}");
    }
}

#[tokio::test]
async fn add_rejects_metadata_that_is_not_json_unlike_the_python_plugin() {
    let api = FakeApi::default();
    let reply = call(&api, "add_memory", json!({"user": "x", "user_id": "alice", "metadata": "{topic: food}"})).await;
    assert!(reply.is_error());
    let message = reply.json["messages"].as_str().unwrap();
    assert_eq!(
        message,
        "metadata is not valid JSON (key must be a string at line 1 column 2); \
         expected a JSON object such as {\"topic\": \"food\"}"
    );
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn add_reports_engine_errors() {
    let api = FakeApi::default();
    script(&api.add, Err(ApiError::Busy(64)));
    let reply = call(&api, "add_memory", json!({"user": "x", "user_id": "alice"})).await;
    assert_error(&reply, "busy: 64 writes are already waiting; retry shortly", json!([]));
}

// ---------------------------------------------------------------- search_memory

fn hit(id: &str, text: &str, score: f32, rerank: Option<f32>) -> ScoredMemory {
    ScoredMemory {
        record: record(id, text, json!({}), scope(Some("alice"), None, None)),
        score: Similarity::from_cosine(score),
        rerank_score: rerank,
        parts: None,
    }
}

#[tokio::test]
async fn search_returns_scored_items_best_first() {
    let api = FakeApi::default();
    let report = SearchReport {
        results: vec![
            ScoredMemory {
                record: alice_record(),
                score: Similarity::from_cosine(0.87),
                rerank_score: Some(0.5),
                parts: None,
            },
            hit(ID2, "Lives in Lisbon", 0.25, None),
        ],
        relations: None,
        graph_degraded: None,
    };
    script(&api.search, Ok(ReadOutcome::complete(report)));
    let reply = call(&api, "search_memory", json!({"query": " tea? ", "user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": "tea?",
            "results": [
                {"id": ID, "memory": "Likes green tea", "score": 0.87, "rerank_score": 0.5,
                 "metadata": {"topic": "food"}, "created_at": T1, "updated_at": T2},
                {"id": ID2, "memory": "Lives in Lisbon", "score": 0.25,
                 "metadata": null, "created_at": T1, "updated_at": T2}
            ]
        })
    );
    assert_eq!(
        reply.text,
        "Query: tea?\n\n1. Memory: Likes green tea\n   Score: 0.87\n   Metadata: {\"topic\":\"food\"}\n2. Memory: Lives in Lisbon\n   Score: 0.25"
    );
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.query.as_str(), "tea?");
    assert_eq!(request.scope, scope(Some("alice"), None, None));
    assert_eq!(request.limit.get(), SEARCH_DEFAULT_TOP_K);
    assert_eq!(request.filter, None);
    assert_eq!(request.threshold, None);
    assert!(request.rerank);
}

#[tokio::test]
async fn search_passes_every_option() {
    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
    let reply = call(
        &api,
        "search_memory",
        json!({
            "query": "tea", "user_id": "alice", "agent_id": "bot", "run_id": "r1",
            "filters": "{\"topic\": \"food\"}", "top_k": "3", "threshold": "0.4", "rerank": "false"
        }),
    )
    .await;
    assert_eq!(reply.json, json!({"status": "SUCCESS", "messages": "tea", "results": []}));
    assert_eq!(reply.text, "Query: tea\n\nNo results found.");
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.scope, scope(Some("alice"), Some("bot"), Some("r1")));
    assert_eq!(request.filter, Some(crate::domain::filter::Filter::parse(&json!({"topic": "food"})).unwrap()));
    assert_eq!(request.limit.get(), 3);
    assert_eq!(request.threshold.map(|t| t.get()), Some(0.4));
    assert!(!request.rerank);
}

#[tokio::test]
async fn search_accepts_numbers_in_every_spelling() {
    for (top_k, expected) in [(json!(7), 7), (json!(7.0), 7), (json!("7"), 7), (json!(" 2 "), 2), (json!(""), 5)] {
        let api = FakeApi::default();
        script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
        let reply = call(
            &api,
            "search_memory",
            json!({"query": "q", "user_id": "alice", "top_k": top_k, "filters": {"n": {"gte": 2}}}),
        )
        .await;
        assert!(!reply.is_error(), "{}", reply.text);
        let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
        assert_eq!(request.limit.get(), expected);
        assert!(request.filter.is_some());
    }
}

#[tokio::test]
async fn search_with_relations_shows_them() {
    let api = FakeApi::default();
    let relation = Relation { source: "alice".into(), relationship: "likes".into(), destination: "tea".into() };
    script(
        &api.search,
        Ok(ReadOutcome::complete(SearchReport {
            results: vec![],
            relations: Some(vec![relation]),
            graph_degraded: None,
        })),
    );
    let reply = call(&api, "search_memory", json!({"query": "q", "user_id": "alice"})).await;
    assert_eq!(reply.json["relations"], json!([{"source": "alice", "relationship": "likes", "destination": "tea"}]));
    assert!(reply.text.ends_with("Relations:\n- alice --likes--> tea"), "{}", reply.text);
}

#[tokio::test]
async fn search_degraded_is_success_with_a_marker() {
    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome { value: SearchReport::default(), degraded: degraded() }));
    let reply = call(&api, "search_memory", json!({"query": "q", "user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": "q", "results": [],
            "degraded": {"reason": "search did not finish within 60s"}
        })
    );
    assert_eq!(reply.text, "Query: q\n\nSearch degraded (search did not finish within 60s); no results returned.");
}

#[tokio::test]
async fn search_rejects_bad_input_naming_the_parameter() {
    let base = json!({"query": "q", "user_id": "alice"});
    let with = |key: &str, value: Value| {
        let mut params = base.clone();
        params[key] = value;
        params
    };
    let cases = [
        (json!({"user_id": "alice"}), "query is required".to_owned()),
        (json!({"query": "  ", "user_id": "alice"}), "query is required".to_owned()),
        (json!({"query": "x".repeat(8001), "user_id": "alice"}), "query must be 1 to 8000 characters".to_owned()),
        (json!({"query": "q"}), "user_id is required".to_owned()),
        (with("top_k", json!("five")), "top_k must be a number, got \"five\"".to_owned()),
        (with("top_k", json!(0)), "top_k must be a whole number from 1 to 1000, got 0".to_owned()),
        (with("top_k", json!(2.5)), "top_k must be a whole number from 1 to 1000, got 2.5".to_owned()),
        (with("top_k", json!(5000)), "top_k must be a whole number from 1 to 1000, got 5000".to_owned()),
        (with("top_k", json!(true)), "top_k must be a number, got true".to_owned()),
        (with("threshold", json!(1.5)), "threshold must be a number from 0 to 1, got 1.5".to_owned()),
        (with("threshold", json!("high")), "threshold must be a number, got \"high\"".to_owned()),
        (with("rerank", json!("perhaps")), "rerank must be true or false, got \"perhaps\"".to_owned()),
        (
            with("filters", json!("[1]")),
            "filters must be a JSON object such as {\"category\": \"food\"}; got [1]".to_owned(),
        ),
        (
            with("filters", json!({"n": {"like": 1}})),
            "filters.n: unknown operator \"like\"; allowed: eq, ne, in, nin, gt, gte, lt, lte, contains, icontains"
                .to_owned(),
        ),
    ];
    for (params, message) in cases {
        let api = FakeApi::default();
        let reply = call(&api, "search_memory", params.clone()).await;
        assert_error(&reply, &message, json!([]));
        assert!(api.seen().is_empty(), "{params}");
    }
    let api = FakeApi::default();
    let reply = call(&api, "search_memory", with("filters", json!("{\"a\": "))).await;
    let message = reply.json["messages"].as_str().unwrap();
    assert!(message.starts_with("filters is not valid JSON ("), "{message}");
}

#[tokio::test]
async fn search_reports_engine_errors() {
    let api = FakeApi::default();
    script(&api.search, Err(ApiError::Configuration("local_embedder_json: unknown provider \"x\"".into())));
    let reply = call(&api, "search_memory", json!({"query": "q", "user_id": "alice"})).await;
    assert_error(&reply, "local_embedder_json: unknown provider \"x\"", json!([]));
    assert_eq!(reply.text, "Failed to search memory: local_embedder_json: unknown provider \"x\"");
}

// ---------------------------------------------------------------- get_all_memories

#[tokio::test]
async fn get_all_lists_the_scope() {
    let api = FakeApi::default();
    script(
        &api.get_all,
        Ok(ReadOutcome::complete(ListReport { results: vec![alice_record()], relations: None, graph_degraded: None })),
    );
    let reply = call(&api, "get_all_memories", json!({"user_id": "alice", "agent_id": "bot"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": {"user_id": "alice", "agent_id": "bot", "limit": 100},
            "results": [{"id": ID, "memory": "Likes green tea", "metadata": {"topic": "food"},
                         "created_at": T1, "updated_at": T2}]
        })
    );
    assert_eq!(
        reply.text,
        format!(
            "Found 1 memories\n\n1. ID: {ID}\n   Memory: Likes green tea\n   Metadata: {{\"topic\":\"food\"}}\n   Created: {T1}\n   Updated: {T2}"
        )
    );
    let Seen::GetAll(request) = api.only_seen() else { panic!("expected get_all") };
    assert_eq!(request.scope, scope(Some("alice"), Some("bot"), None));
    assert_eq!(request.limit.get(), 100);
    assert_eq!(request.filter, None);
}

#[tokio::test]
async fn get_all_passes_limit_and_filters_and_echoes_them() {
    let api = FakeApi::default();
    script(&api.get_all, Ok(ReadOutcome::complete(ListReport::default())));
    let reply = call(
        &api,
        "get_all_memories",
        json!({"user_id": "alice", "limit": "20", "filters": "{\"OR\": [{\"topic\": \"food\"}, {\"topic\": \"travel\"}]}"}),
    )
    .await;
    assert_eq!(
        reply.json["messages"],
        json!({"user_id": "alice", "limit": 20, "filters": {"OR": [{"topic": "food"}, {"topic": "travel"}]}})
    );
    assert_eq!(reply.text, "Found 0 memories");
    let Seen::GetAll(request) = api.only_seen() else { panic!("expected get_all") };
    assert_eq!(request.limit.get(), 20);
    assert!(request.filter.is_some());
}

#[tokio::test]
async fn get_all_degraded_is_success_with_a_marker() {
    let api = FakeApi::default();
    script(&api.get_all, Ok(ReadOutcome { value: ListReport::default(), degraded: degraded() }));
    let reply = call(&api, "get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"user_id": "alice", "limit": 100}, "results": [],
            "degraded": {"reason": "search did not finish within 60s"}
        })
    );
    assert!(reply.text.starts_with("Listing degraded ("), "{}", reply.text);
}

#[tokio::test]
async fn get_all_rejects_bad_input() {
    for (params, message) in [
        (json!({}), "user_id is required"),
        (json!({"agent_id": "bot"}), "user_id is required"),
        (json!({"user_id": "alice", "limit": -1}), "limit must be a whole number from 1 to 1000, got -1"),
        (json!({"user_id": "alice", "limit": "lots"}), "limit must be a number, got \"lots\""),
        (json!({"user_id": "alice", "filters": {}}), ""),
    ] {
        let api = FakeApi::default();
        script(&api.get_all, Ok(ReadOutcome::complete(ListReport::default())));
        let reply = call(&api, "get_all_memories", params.clone()).await;
        if message.is_empty() {
            // `{}` means "no filter", not an error.
            assert!(!reply.is_error(), "{}", reply.text);
            continue;
        }
        assert_error(&reply, message, json!([]));
        assert!(api.seen().is_empty(), "{params}");
    }
}

// ---------------------------------------------------------------- get_memory

#[tokio::test]
async fn get_returns_the_memory() {
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))));
    let reply = call(&api, "get_memory", json!({"memory_id": format!(" {ID} ")})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": {"memory_id": ID},
            "results": {"id": ID, "memory": "Likes green tea", "metadata": {"topic": "food"},
                        "created_at": T1, "updated_at": T2}
        })
    );
    assert_eq!(
        reply.text,
        format!("Memory Details:\nID: {ID}\nMemory: Likes green tea\nMetadata: {{\"topic\":\"food\"}}\nCreated: {T1}\nUpdated: {T2}")
    );
    assert_eq!(api.only_seen(), Seen::Get(MemoryRef { id: mid(ID), scope: None }));
}

#[tokio::test]
async fn get_passes_the_scope_of_the_lookup() {
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))));
    let reply = call(&api, "get_memory", json!({"memory_id": ID, "user_id": "alice", "run_id": ""})).await;
    assert_eq!(reply.json["messages"], json!({"memory_id": ID, "user_id": "alice"}));
    assert_eq!(api.only_seen(), Seen::Get(MemoryRef { id: mid(ID), scope: Some(scope(Some("alice"), None, None)) }));
}

#[tokio::test]
async fn get_of_a_missing_memory_is_not_found() {
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome::complete(None)));
    let reply = call(&api, "get_memory", json!({"memory_id": ID})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));
}

#[tokio::test]
async fn get_of_another_users_memory_is_not_found() {
    let api = FakeApi::default();
    // Even if an engine returned it, a memory outside the requested scope is never shown.
    script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))));
    let reply = call(&api, "get_memory", json!({"memory_id": ID, "user_id": "bob"})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));
    let api = FakeApi::default();
    script(&api.get, Err(ApiError::NotFound(mid(ID))));
    let reply = call(&api, "get_memory", json!({"memory_id": ID, "user_id": "bob"})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));
}

#[tokio::test]
async fn get_degraded_is_not_not_found() {
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome { value: None, degraded: degraded() }));
    let reply = call(&api, "get_memory", json!({"memory_id": ID})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"memory_id": ID}, "results": {},
            "degraded": {"reason": "search did not finish within 60s"}
        })
    );
    assert!(reply.text.contains("degraded") && !reply.text.contains("not found"), "{}", reply.text);
}

#[tokio::test]
async fn id_tools_reject_bad_ids() {
    for tool in ["get_memory", "update_memory", "delete_memory", "get_memory_history"] {
        let cases = [
            (json!({"text": "t"}), "memory_id is required".to_owned()),
            (
                json!({"memory_id": "12", "text": "t"}),
                "memory_id must be a UUID such as 3f2b…-…, got \"12\"".to_owned(),
            ),
            (json!({"memory_id": 12, "text": "t"}), "memory_id must be a UUID such as 3f2b…-…, got \"12\"".to_owned()),
            (
                json!({"memory_id": ID, "text": "t", "agent_id": ["a"]}),
                "agent_id must be a string, got a list".to_owned(),
            ),
        ];
        for (params, message) in cases {
            let api = FakeApi::default();
            let reply = call(&api, tool, params.clone()).await;
            let empty = if tool == "get_memory_history" { json!([]) } else { json!({}) };
            assert_error(&reply, &message, empty);
            assert!(api.seen().is_empty(), "{tool} {params}");
        }
    }
}

// ---------------------------------------------------------------- update_memory

#[tokio::test]
async fn update_async_accepts_with_a_write_id() {
    let api = FakeApi::default();
    script(&api.update, Ok(WriteOutcome::Accepted(write_id())));
    let reply = call(
        &api,
        "update_memory",
        json!({"memory_id": ID, "text": " Likes black tea ", "metadata": "{\"mood\": \"happy\"}", "user_id": "alice"}),
    )
    .await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": {"memory_id": ID, "user_id": "alice", "text": "Likes black tea", "metadata": {"mood": "happy"}},
            "results": {"message": "Memory update has been accepted"},
            "write_id": "w-1"
        })
    );
    assert_eq!(reply.text, "Asynchronous memory update has been accepted (write id w-1).");
    let Seen::Update(request) = api.only_seen() else { panic!("expected an update") };
    assert_eq!(request.target, MemoryRef { id: mid(ID), scope: Some(scope(Some("alice"), None, None)) });
    assert_eq!(request.text.as_str(), "Likes black tea");
    assert_eq!(request.metadata, Metadata::parse(json!({"mood": "happy"})).unwrap());
}

#[tokio::test]
async fn update_sync_returns_the_updated_memory() {
    let api = FakeApi::default();
    let updated = record(ID, "Likes black tea", json!({"topic": "food"}), scope(Some("alice"), None, None));
    script(&api.update, Ok(WriteOutcome::Done(updated)));
    let reply = call(&api, "update_memory", json!({"memory_id": ID, "text": "Likes black tea"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": {"memory_id": ID, "text": "Likes black tea"},
            "results": {"message": "Memory updated successfully!", "id": ID, "memory": "Likes black tea",
                        "metadata": {"topic": "food"}, "created_at": T1, "updated_at": T2}
        })
    );
    assert_eq!(reply.text, format!("Memory {ID} updated to 'Likes black tea' successfully!"));
}

#[tokio::test]
async fn update_of_a_missing_memory_is_not_found() {
    let api = FakeApi::default();
    script(&api.update, Err(ApiError::NotFound(mid(ID))));
    let reply = call(&api, "update_memory", json!({"memory_id": ID, "text": "t"})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));
    assert_eq!(reply.text, format!("Failed to update memory: Memory not found: {ID}"));
}

#[tokio::test]
async fn update_rejects_bad_input() {
    for (params, message) in [
        (json!({"memory_id": ID}), "text is required".to_owned()),
        (json!({"memory_id": ID, "text": "   "}), "text is required".to_owned()),
        (
            json!({"memory_id": ID, "text": "x".repeat(20_001)}),
            "text is 20001 characters long; at most 20000 are allowed".to_owned(),
        ),
        (
            json!({"memory_id": ID, "text": "t", "metadata": "\"just text\""}),
            "metadata must be a JSON object such as {\"topic\": \"food\"}, got \"just text\"".to_owned(),
        ),
    ] {
        let api = FakeApi::default();
        let reply = call(&api, "update_memory", params.clone()).await;
        assert_error(&reply, &message, json!({}));
        assert!(api.seen().is_empty(), "{params}");
    }
}

// ---------------------------------------------------------------- delete_memory

#[tokio::test]
async fn delete_async_and_sync() {
    let api = FakeApi::default();
    script(&api.delete, Ok(WriteOutcome::Accepted(write_id())));
    let reply = call(&api, "delete_memory", json!({"memory_id": ID, "agent_id": "bot"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"memory_id": ID, "agent_id": "bot"},
            "results": {"message": "Memory deletion has been accepted"}, "write_id": "w-1"
        })
    );
    assert_eq!(reply.text, "Asynchronous memory deletion has been accepted (write id w-1).");
    assert_eq!(api.only_seen(), Seen::Delete(MemoryRef { id: mid(ID), scope: Some(scope(None, Some("bot"), None)) }));

    let api = FakeApi::default();
    script(&api.delete, Ok(WriteOutcome::Done(mid(ID))));
    let reply = call(&api, "delete_memory", json!({"memory_id": ID})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"memory_id": ID},
            "results": {"message": "Memory deleted successfully!", "id": ID}
        })
    );
    assert_eq!(reply.text, format!("Memory {ID} deleted successfully!"));
}

#[tokio::test]
async fn delete_of_a_missing_memory_is_not_found() {
    let api = FakeApi::default();
    script(&api.delete, Err(ApiError::NotFound(mid(ID))));
    let reply = call(&api, "delete_memory", json!({"memory_id": ID, "user_id": "bob"})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));
}

// ---------------------------------------------------------------- delete_all_memories

#[tokio::test]
async fn delete_all_async_and_sync() {
    let api = FakeApi::default();
    script(&api.delete_all, Ok(WriteOutcome::Accepted(write_id())));
    let reply = call(&api, "delete_all_memories", json!({"user_id": "alice", "run_id": "r1"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"filters": {"user_id": "alice", "run_id": "r1"}},
            "results": {"message": "Batch memory deletion has been accepted"}, "write_id": "w-1"
        })
    );
    assert_eq!(reply.text, "Asynchronous batch memory deletion has been accepted (write id w-1).");
    assert_eq!(api.only_seen(), Seen::DeleteAll(scope(Some("alice"), None, Some("r1"))));

    let api = FakeApi::default();
    script(&api.delete_all, Ok(WriteOutcome::Done(DeleteAllReport { deleted: 3 })));
    let reply = call(&api, "delete_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"filters": {"user_id": "alice"}},
            "results": {"message": "Memories deleted successfully!", "deleted": 3}
        })
    );
    assert_eq!(reply.text, "All memories deleted successfully with filters: {\"user_id\":\"alice\"} (3 deleted).");
}

#[tokio::test]
async fn delete_all_needs_a_user() {
    let api = FakeApi::default();
    let reply = call(&api, "delete_all_memories", json!({"agent_id": "bot"})).await;
    assert_error(&reply, "user_id is required", json!({}));
    assert_eq!(reply.text, "Failed to delete memories: user_id is required");
    assert!(api.seen().is_empty());
}

#[tokio::test]
async fn delete_all_reports_shutdown() {
    let api = FakeApi::default();
    script(&api.delete_all, Err(ApiError::ShuttingDown));
    let reply = call(&api, "delete_all_memories", json!({"user_id": "alice"})).await;
    assert_error(&reply, "the plugin is shutting down", json!({}));
}

// ---------------------------------------------------------------- get_memory_history

fn history_rows() -> Vec<HistoryEntry> {
    let t1 = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    let t2 = Utc.with_ymd_and_hms(2025, 2, 3, 4, 5, 6).unwrap();
    let old = MemoryText::parse("t", "Likes green tea").unwrap();
    let new = MemoryText::parse("t", "Likes black tea").unwrap();
    vec![
        HistoryEntry::added(Uuid::nil(), mid(ID), old.clone(), t1),
        HistoryEntry::updated(Uuid::max(), mid(ID), old, new, t1, t2),
    ]
}

#[tokio::test]
async fn history_lists_the_changes() {
    let api = FakeApi::default();
    script(&api.history, Ok(ReadOutcome::complete(history_rows())));
    let reply = call(&api, "get_memory_history", json!({"memory_id": ID, "user_id": "alice"})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS",
            "messages": {"memory_id": ID, "user_id": "alice"},
            "results": [
                {"id": Uuid::nil().to_string(), "memory_id": ID, "old_memory": null, "new_memory": "Likes green tea",
                 "event": "ADD", "created_at": T1, "updated_at": T1, "is_deleted": false, "actor_id": null, "role": null},
                {"id": Uuid::max().to_string(), "memory_id": ID, "old_memory": "Likes green tea",
                 "new_memory": "Likes black tea", "event": "UPDATE", "created_at": T1, "updated_at": T2,
                 "is_deleted": false, "actor_id": null, "role": null}
            ]
        })
    );
    assert_eq!(
        reply.text,
        format!(
            "Found 2 history records for memory {ID}\n\n1. ADD at {T1}\n   New: Likes green tea\n\n2. UPDATE at {T2}\n   Old: Likes green tea\n   New: Likes black tea"
        )
    );
    assert_eq!(
        api.only_seen(),
        Seen::History(MemoryRef { id: mid(ID), scope: Some(scope(Some("alice"), None, None)) })
    );
}

#[tokio::test]
async fn history_degraded_and_not_found() {
    let api = FakeApi::default();
    script(&api.history, Ok(ReadOutcome { value: vec![], degraded: degraded() }));
    let reply = call(&api, "get_memory_history", json!({"memory_id": ID})).await;
    assert_eq!(
        reply.json,
        json!({
            "status": "SUCCESS", "messages": {"memory_id": ID}, "results": [],
            "degraded": {"reason": "search did not finish within 60s"}
        })
    );
    assert!(reply.text.starts_with(&format!("History of memory {ID} degraded")), "{}", reply.text);

    let api = FakeApi::default();
    script(&api.history, Err(ApiError::NotFound(mid(ID))));
    let reply = call(&api, "get_memory_history", json!({"memory_id": ID, "user_id": "bob"})).await;
    assert_error(&reply, &format!("Memory not found: {ID}"), json!([]));
}

// ---------------------------------------------------------------- binding, unknown tools, names

#[tokio::test]
async fn bound_user_replaces_user_id_in_every_tool() {
    let creds = bound_creds();
    let ctx = end_user("dify-user-7");
    let bound = |agent: Option<&str>| scope(Some("dify-user-7"), agent, None);

    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    // The LLM's user_id is overridden; a missing user_id is no error.
    call_as(&api, &creds, &ctx, "add_memory", json!({"user": "x", "user_id": "mallory", "agent_id": "bot"})).await;
    let Seen::Add(request) = api.only_seen() else { panic!("expected an add") };
    assert_eq!(request.scope, bound(Some("bot")));

    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
    let reply = call_as(&api, &creds, &ctx, "search_memory", json!({"query": "q"})).await;
    assert!(!reply.is_error(), "{}", reply.text);
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.scope, bound(None));

    let api = FakeApi::default();
    script(&api.get_all, Ok(ReadOutcome::complete(ListReport::default())));
    let reply = call_as(&api, &creds, &ctx, "get_all_memories", json!({"user_id": "alice"})).await;
    assert_eq!(reply.json["messages"]["user_id"], "dify-user-7");

    // Id-based tools are confined to the end user even when no id is given.
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))));
    let reply = call_as(&api, &creds, &ctx, "get_memory", json!({"memory_id": ID})).await;
    assert_eq!(api.only_seen(), Seen::Get(MemoryRef { id: mid(ID), scope: Some(bound(None)) }));
    assert_error(&reply, &format!("Memory not found: {ID}"), json!({}));

    for (tool, params) in [
        ("update_memory", json!({"memory_id": ID, "text": "t", "user_id": "alice"})),
        ("delete_memory", json!({"memory_id": ID})),
        ("get_memory_history", json!({"memory_id": ID})),
        ("delete_all_memories", json!({"user_id": "alice"})),
    ] {
        let api = FakeApi::default();
        call_as(&api, &creds, &ctx, tool, params).await;
        let expected_ref = MemoryRef { id: mid(ID), scope: Some(bound(None)) };
        match api.only_seen() {
            Seen::Update(request) => assert_eq!(request.target, expected_ref),
            Seen::Delete(target) | Seen::History(target) => assert_eq!(target, expected_ref),
            Seen::DeleteAll(wiped) => assert_eq!(wiped, bound(None)),
            other => panic!("unexpected call {other:?}"),
        }
    }
}

#[tokio::test]
async fn binding_needs_the_option_and_an_end_user() {
    // Option off: the parameter wins even when the daemon names an end user.
    let api = FakeApi::default();
    script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
    call_as(&api, &creds(), &end_user("dify-user-7"), "search_memory", json!({"query": "q", "user_id": "alice"})).await;
    let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
    assert_eq!(request.scope, scope(Some("alice"), None, None));

    // Option on but no end user in the request: the parameter is used, and still required.
    for ctx in [InvokeContext::default(), end_user("  ")] {
        let api = FakeApi::default();
        script(&api.search, Ok(ReadOutcome::complete(SearchReport::default())));
        call_as(&api, &bound_creds(), &ctx, "search_memory", json!({"query": "q", "user_id": "alice"})).await;
        let Seen::Search(request) = api.only_seen() else { panic!("expected a search") };
        assert_eq!(request.scope, scope(Some("alice"), None, None));
        let api = FakeApi::default();
        let reply = call_as(&api, &bound_creds(), &ctx, "search_memory", json!({"query": "q"})).await;
        assert_error(&reply, "user_id is required", json!([]));
    }

    // An unusable end user id is reported as such.
    let api = FakeApi::default();
    let reply = call_as(&api, &bound_creds(), &end_user("a\u{7}b"), "search_memory", json!({"query": "q"})).await;
    assert_error(
        &reply,
        "the Dify end user id cannot be used as user_id: user_id must not contain control characters",
        json!([]),
    );
}

#[tokio::test]
async fn ids_may_arrive_as_numbers_and_unknown_parameters_are_ignored() {
    let api = FakeApi::default();
    script(&api.get_all, Ok(ReadOutcome::complete(ListReport::default())));
    let reply = call(&api, "get_all_memories", json!({"user_id": 42, "run_id": 7.5, "hallucinated": {"x": 1}})).await;
    assert!(!reply.is_error(), "{}", reply.text);
    let Seen::GetAll(request) = api.only_seen() else { panic!("expected get_all") };
    assert_eq!(request.scope, scope(Some("42"), None, Some("7.5")));
}

#[tokio::test]
async fn unknown_tools_name_the_eight() {
    let api = FakeApi::default();
    let reply = call(&api, "remember_everything", json!({})).await;
    let message = "Unknown tool \"remember_everything\"; the tools are add_memory, search_memory, get_all_memories, \
                   get_memory, update_memory, delete_memory, delete_all_memories, get_memory_history, get_write_status";
    assert_eq!(reply.json, json!({"status": "ERROR", "messages": message, "results": []}));
    assert_eq!(reply.text, message);
    assert!(api.seen().is_empty());
}

#[test]
fn every_tool_is_found_by_its_exact_name() {
    for name in TOOL_NAMES {
        assert_eq!(entry(name).map(|e| e.name), Some(name));
    }
    assert!(entry("Add_Memory").is_none());
    assert_eq!(TOOL_NAMES.iter().collect::<HashSet<_>>().len(), TOOL_NAMES.len(), "names are unique");
}

#[tokio::test]
async fn every_tool_answers_engine_failures_with_its_empty_results() {
    let params = json!({"memory_id": ID, "text": "t", "user": "u", "user_id": "alice", "query": "q", "write_id": "w"});
    for tool in TOOL_NAMES {
        // Nothing scripted: the fake engine fails with a store's error, quoted with its cause.
        let api = FakeApi::default();
        let reply = call(&api, tool, params.clone()).await;
        let empty = match tool {
            "add_memory" | "search_memory" | "get_all_memories" | "get_memory_history" => json!([]),
            _ => json!({}),
        };
        assert_error(&reply, "the vector store is unavailable: unscripted call", empty);
        assert_eq!(api.seen().len(), 1, "{tool}");
    }
}

#[tokio::test]
async fn timeouts_are_reported_with_the_operation() {
    let api = FakeApi::default();
    script(&api.add, Err(ApiError::Timeout { operation: "add", after: Duration::from_secs(120) }));
    let reply = call(&api, "add_memory", json!({"user": "x", "user_id": "alice"})).await;
    assert_error(&reply, "add did not finish within 120s", json!([]));
}

#[tokio::test]
async fn write_status_reports_applied_pending_failed_and_unknown_writes() {
    let api = FakeApi::default();
    script(
        &api.write_status,
        Ok(Some(WriteState::Applied { result: Box::new(WriteResult::DeleteAll(DeleteAllReport { deleted: 2 })) })),
    );
    let reply = call(&api, "get_write_status", json!({"write_id": " w-1 "})).await;
    assert_eq!(
        reply.json,
        json!({"status": "SUCCESS", "messages": {"write_id": "w-1"}, "results": {"state": "applied", "result": {"deleted": 2}}})
    );
    assert_eq!(reply.text, "Write w-1 has been applied.");
    assert_eq!(api.only_seen(), Seen::WriteStatus(WriteRef { id: WriteId("w-1".into()), scope: None }));

    let api = FakeApi::default();
    script(&api.write_status, Ok(Some(WriteState::Pending { attempts: 2, last_error: Some("HTTP 429".into()) })));
    let reply = call(&api, "get_write_status", json!({"write_id": "w-2"})).await;
    assert_eq!(reply.json["results"], json!({"state": "pending", "attempts": 2, "last_error": "HTTP 429"}));
    assert!(reply.text.contains("last error: HTTP 429"));

    let api = FakeApi::default();
    script(&api.write_status, Ok(Some(WriteState::Failed { error: "bad key".into(), attempts: 2 })));
    let reply = call(&api, "get_write_status", json!({"write_id": "w-3"})).await;
    assert_eq!(reply.json["results"], json!({"state": "failed", "error": "bad key", "attempts": 2}));

    let api = FakeApi::default();
    script(&api.write_status, Ok(None));
    let reply = call(&api, "get_write_status", json!({"write_id": "w-4"})).await;
    assert_error(&reply, "Write not found: w-4", json!({}));

    let api = FakeApi::default();
    let reply = call(&api, "get_write_status", json!({})).await;
    assert!(reply.is_error() && reply.json["messages"].as_str().unwrap().contains("write_id"));
    assert!(api.seen().is_empty());
}

/// Replies repeat a bounded part of the input, with a marker, and always carry the write id: a
/// ~6 MB add (metadata of 6 MB, a user text at the limit) answers in a few KB. An over-long
/// `user` is refused naming the field and the limit.
#[tokio::test]
async fn replies_echo_a_bounded_part_of_the_input_and_keep_the_write_id() {
    let api = FakeApi::default();
    script(&api.add, Ok(WriteOutcome::Accepted(write_id())));
    let big = "m".repeat(6_000_000);
    let user = "u".repeat(20_000);
    let reply = call(&api, "add_memory", json!({"user": user, "user_id": "alice", "metadata": {"blob": big}})).await;
    let size = reply.json.to_string().len();
    assert!(size < 8_000, "reply of {size} bytes");
    assert!(reply.json["write_id"].is_string(), "{}", reply.json["write_id"]);
    let content = reply.json["messages"][0]["content"].as_str().unwrap();
    assert!(content.ends_with("… [cut: 20000 characters in all]"), "{}", &content[content.len() - 40..]);

    let api = FakeApi::default();
    script(&api.update, Ok(WriteOutcome::Accepted(write_id())));
    let reply =
        call(&api, "update_memory", json!({"memory_id": ID, "text": "t", "metadata": {"blob": "m".repeat(3_000_000)}}))
            .await;
    assert!(reply.json.to_string().len() < 8_000 && reply.json["write_id"].is_string(), "{}", reply.json["write_id"]);
    assert!(reply.json["messages"]["metadata"].as_str().unwrap().contains("[cut: "), "marker");

    let api = FakeApi::default();
    let reply =
        call(&api, "add_memory", json!({"user": "x".repeat(6_000_000), "user_id": "alice", "infer": false})).await;
    assert_error(&reply, "user is 6000000 characters long; at most 20000 are allowed", json!([]));
    assert!(api.seen().is_empty());
}

// ---------------------------------------------------------------- U+0000 (issue 12, item 9)

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field_before_anything_is_accepted() {
    let nul = "contains the character U+0000 (NUL), which memories cannot hold";
    let cases = [
        ("add_memory", json!({"user": "I like\u{0} tea", "user_id": "alice"}), "user", json!([])),
        ("add_memory", json!({"user": "x", "assistant": "\u{0}", "user_id": "alice"}), "assistant", json!([])),
        (
            "add_memory",
            json!({"user": "x", "user_id": "alice", "infer": false, "metadata": {"t": "a\u{0}"}}),
            "metadata.t",
            json!([]),
        ),
        (
            "add_memory",
            json!({"user": "x", "user_id": "alice", "metadata": "{\"t\": [\"\\u0000\"]}"}),
            "metadata.t[0]",
            json!([]),
        ),
        ("update_memory", json!({"memory_id": ID, "text": "tea\u{0}", "user_id": "alice"}), "text", json!({})),
        ("update_memory", json!({"memory_id": ID, "text": "tea", "metadata": {"k": "\u{0}"}}), "metadata.k", json!({})),
        (
            "search_memory",
            json!({"query": "tea", "user_id": "alice", "filters": {"t": "\u{0}"}}),
            "filters.t",
            json!([]),
        ),
    ];
    for (tool, params, field, empty) in cases {
        let api = FakeApi::default();
        let reply = call(&api, tool, params.clone()).await;
        assert!(reply.is_error(), "{tool} {params}: {}", reply.text);
        let message = reply.json["messages"].as_str().unwrap_or_default().to_owned();
        assert!(message.starts_with(&format!("{field} ")) && message.contains("U+0000"), "{tool} {params}: {message}");
        if field.starts_with("filters") {
            assert!(message.contains("memories cannot hold"), "{message}");
        } else {
            assert!(message.contains(nul), "{message}");
        }
        assert_eq!(reply.json["results"], empty);
        assert!(api.seen().is_empty(), "{tool} {params} reached the engine");
    }
}

// ---------------------------------------------------------------- owner checks (issue 12, item 4)

#[tokio::test]
async fn write_status_is_confined_to_the_owner_given_or_bound() {
    let api = FakeApi::default();
    script(&api.write_status, Ok(None));
    call(&api, "get_write_status", json!({"write_id": "w-1", "user_id": "alice"})).await;
    let alice = Some(scope(Some("alice"), None, None));
    assert_eq!(api.only_seen(), Seen::WriteStatus(WriteRef { id: WriteId("w-1".into()), scope: alice }));

    // bound: the end user, whatever user_id the LLM wrote
    let api = FakeApi::default();
    script(&api.write_status, Ok(None));
    let params = json!({"write_id": "w-1", "user_id": "victim"});
    let reply = call_as(&api, &bound_creds(), &end_user("mallory"), "get_write_status", params).await;
    let mallory = Some(scope(Some("mallory"), None, None));
    assert_eq!(api.only_seen(), Seen::WriteStatus(WriteRef { id: WriteId("w-1".into()), scope: mallory }));
    assert_eq!(reply.json["status"], "ERROR");
    assert_eq!(reply.json["messages"], "Write not found: w-1");
}

#[tokio::test]
async fn under_binding_a_lookup_by_id_always_names_an_owner() {
    let required = "user_id is required: bind_user_to_dify_user is on and Dify named no end user for this call";
    for (tool, params, empty) in [
        ("get_memory", json!({"memory_id": ID}), json!({})),
        ("update_memory", json!({"memory_id": ID, "text": "t"}), json!({})),
        ("delete_memory", json!({"memory_id": ID}), json!({})),
        ("get_memory_history", json!({"memory_id": ID}), json!([])),
        ("get_write_status", json!({"write_id": "w-1"}), json!({})),
    ] {
        let api = FakeApi::default();
        let reply = call_as(&api, &bound_creds(), &InvokeContext::default(), tool, params.clone()).await;
        assert!(reply.is_error(), "{tool}: {}", reply.text);
        assert_eq!(reply.json["messages"], required, "{tool}");
        assert_eq!(reply.json["results"], empty, "{tool}");
        assert!(api.seen().is_empty(), "{tool} reached the engine unconfined");
    }
    // without binding, an id alone is enough (Mem0's behaviour)
    let api = FakeApi::default();
    script(&api.get, Ok(ReadOutcome::complete(Some(alice_record()))));
    assert!(!call(&api, "get_memory", json!({"memory_id": ID})).await.is_error());
}

#[path = "outputs_tests.rs"]
mod outputs_tests;
