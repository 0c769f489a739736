//! Unit tests of the runtime policies (async accept, retries, busy, degrade, drain, resume)
//! with mocked model ports and small in-memory fakes of the stores and the journal.

use super::api::{AppSettings, MemoryApp};
use super::constants::Timeouts;
use super::writes::WriterTiming;
use crate::domain::credentials::CredentialSet;
use crate::domain::filter::Filter;
use crate::domain::graph::extraction::EXTRACT_TOOL;
use crate::domain::graph::resolve::EntityMatch;
use crate::domain::graph::{GraphChanges, GraphPlan, GraphSettings, Relation, StoredRelation};
use crate::domain::history::{HistoryEntry, HistoryEvent};
use crate::domain::memory::{ContentHash, MemoryId, MemoryRecord, ScoredMemory, Similarity};
use crate::domain::message::Conversation;
use crate::domain::operations::{
    AddReport, AddRequest, Limit, ListRequest, MemoryRef, Query, SearchRequest, WriteCommand, WriteResult,
};
use crate::domain::scope::{count_by_owner, Scope, ScopeCount};
use crate::domain::write_plan::SavedStep;
use crate::ports::backends::{BackendFactory, Backends, BuildError};
use crate::ports::clock::{Clock, IdSource};
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use crate::ports::graph_store::{GraphBackend, GraphStore};
use crate::ports::history_store::HistoryStore;
use crate::ports::journal::{ClaimedWrite, NewWrite, Recorded, WriteJournal};
use crate::ports::llm::ToolCall;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError};
use crate::ports::memory_api::{ApiError, MemoryApi, WriteId, WriteOutcome, WriteRef, WriteState};
use crate::ports::store::StoreError;
use crate::ports::vector_store::{ListQuery, VectorQuery, VectorStore};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An in-memory vector store (exact cosine).
#[derive(Default)]
struct FakeStore {
    rows: Mutex<Vec<(MemoryRecord, Vec<f32>)>>,
    delay: Duration,
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    dot / (norm(a) * norm(b))
}

fn visible(scope: &Scope, filter: Option<&Filter>, record: &MemoryRecord) -> bool {
    scope.contains(&record.scope) && filter.is_none_or(|f| f.matches(record))
}

#[async_trait]
impl VectorStore for FakeStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn dimensions(&self) -> usize {
        3
    }
    async fn insert(&self, items: &[(MemoryRecord, Vec<f32>)]) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        let mut rows = self.rows.lock().unwrap();
        for (record, vector) in items {
            rows.retain(|(r, _)| r.id != record.id);
            rows.push((record.clone(), vector.clone()));
        }
        Ok(())
    }
    async fn search(&self, query: &VectorQuery) -> Result<Vec<ScoredMemory>, StoreError> {
        tokio::time::sleep(self.delay).await;
        let rows = self.rows.lock().unwrap();
        let mut found: Vec<ScoredMemory> = rows
            .iter()
            .filter(|(r, _)| visible(&query.scope, query.filter.as_ref(), r))
            .map(|(r, v)| ScoredMemory {
                record: r.clone(),
                score: Similarity::from_cosine(cosine(v, &query.vector)),
                rerank_score: None,
                parts: None,
            })
            .collect();
        found.sort_by(|a, b| b.score.value().total_cmp(&a.score.value()));
        found.truncate(query.limit);
        Ok(found)
    }
    async fn get(&self, id: MemoryId) -> Result<Option<MemoryRecord>, StoreError> {
        Ok(self.rows.lock().unwrap().iter().find(|(r, _)| r.id == id).map(|(r, _)| r.clone()))
    }
    async fn list(&self, query: &ListQuery) -> Result<Vec<MemoryRecord>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .filter(|(r, _)| visible(&query.scope, query.filter.as_ref(), r))
            .map(|(r, _)| r.clone())
            .take(query.limit)
            .collect())
    }
    async fn find_by_hash(&self, scope: &Scope, hashes: &[ContentHash]) -> Result<Vec<MemoryRecord>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .iter()
            .filter(|(r, _)| scope.contains(&r.scope) && hashes.contains(&r.hash))
            .map(|(r, _)| r.clone())
            .collect())
    }
    async fn update(&self, record: &MemoryRecord, vector: Option<Vec<f32>>) -> Result<(), StoreError> {
        let mut rows = self.rows.lock().unwrap();
        if let Some(row) = rows.iter_mut().find(|(r, _)| r.id == record.id) {
            row.0 = record.clone();
            if let Some(v) = vector {
                row.1 = v;
            }
        }
        Ok(())
    }
    async fn delete(&self, id: MemoryId) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|(r, _)| r.id != id);
        Ok(rows.len() < before)
    }
    async fn delete_scope(&self, scope: &Scope) -> Result<u64, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|(r, _)| !scope.contains(&r.scope));
        Ok((before - rows.len()) as u64)
    }
    async fn scopes(&self) -> Result<Vec<ScopeCount>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(count_by_owner(rows.iter().map(|(r, _)| &r.scope)))
    }
}

#[derive(Default)]
struct FakeHistory(Mutex<Vec<HistoryEntry>>);

#[async_trait]
impl HistoryStore for FakeHistory {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn append(&self, entries: &[HistoryEntry]) -> Result<(), StoreError> {
        let mut rows = self.0.lock().unwrap();
        for e in entries {
            if !rows.iter().any(|r| r.id == e.id) {
                rows.push(e.clone());
            }
        }
        Ok(())
    }
    async fn history(&self, id: MemoryId) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self.0.lock().unwrap().iter().filter(|r| r.memory_id == id).cloned().collect())
    }
    async fn erase(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let mut rows = self.0.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| !memory_ids.contains(&r.memory_id) && !r.owner.as_ref().is_some_and(|o| scope.contains(o)));
        Ok((before - rows.len()) as u64)
    }
}

/// A clock stopped when it is made, and ids counted from 1: what a write plans is the same every
/// time it is planned from the same start.
pub(super) struct TestClock {
    now: chrono::DateTime<chrono::Utc>,
    next: std::sync::atomic::AtomicU64,
}

impl TestClock {
    /// Stopped at `now`, ids from 1.
    pub(super) fn starting_at(now: chrono::DateTime<chrono::Utc>) -> Self {
        Self { now, next: std::sync::atomic::AtomicU64::new(1) }
    }
}

impl Default for TestClock {
    fn default() -> Self {
        Self::starting_at(chrono::Utc::now())
    }
}

impl Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.now
    }
}

impl IdSource for TestClock {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(u128::from(self.next.fetch_add(1, Ordering::SeqCst)))
    }
}

/// An in-memory journal with the port's claim semantics (clock-based leases).
#[derive(Default)]
pub(super) struct FakeJournal(Mutex<Vec<JournalRow>>);

#[derive(Clone)]
struct JournalRow {
    id: WriteId,
    key: String,
    command: WriteCommand,
    plan: Option<SavedStep>,
    attempts: u32,
    state: WriteState,
    due: Instant,
    leased_until: Option<Instant>,
}

impl FakeJournal {
    /// Records `command` as a process that died would have left it: pending, for any writer.
    async fn leave(&self, id: &WriteId, command: &WriteCommand) {
        let key = command.ordering_key();
        let write = NewWrite { id, repeat_of: &[], ordering_key: &key, command, held_for: None };
        assert_eq!(self.record(write).await.unwrap(), Recorded::New);
    }
}

#[async_trait]
impl WriteJournal for FakeJournal {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn record(&self, write: NewWrite<'_>) -> Result<Recorded, StoreError> {
        let mut rows = self.0.lock().unwrap();
        // As the real journals: the first of the repeats that did not fail, else the insert;
        // an id already recorded changes nothing.
        let failed = |row: &JournalRow| matches!(row.state, WriteState::Failed { .. });
        for earlier in write.repeat_of {
            if rows.iter().any(|r| r.id == *earlier && !failed(r)) {
                return Ok(Recorded::Repeat(earlier.clone()));
            }
        }
        if rows.iter().any(|r| r.id == *write.id) {
            return Ok(Recorded::IdTaken);
        }
        rows.push(JournalRow {
            id: write.id.clone(),
            key: write.ordering_key.to_owned(),
            command: write.command.clone(),
            plan: None,
            attempts: 0,
            state: WriteState::Pending { attempts: 0, last_error: None },
            due: Instant::now(),
            leased_until: write.held_for.map(|held| Instant::now() + held),
        });
        Ok(Recorded::New)
    }
    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<ClaimedWrite>, StoreError> {
        let now = Instant::now();
        let mut rows = self.0.lock().unwrap();
        let mut blocked: Vec<String> = Vec::new();
        let mut claimed = Vec::new();
        for row in rows.iter_mut() {
            if !matches!(row.state, WriteState::Pending { .. }) || blocked.contains(&row.key) {
                continue;
            }
            blocked.push(row.key.clone());
            let leased = row.leased_until.is_some_and(|t| t > now);
            if leased || row.due > now || claimed.len() == max {
                continue;
            }
            row.leased_until = Some(now + lease);
            claimed.push(ClaimedWrite {
                id: row.id.clone(),
                command: row.command.clone(),
                plan: row.plan.clone().map(Ok),
                attempts: row.attempts,
            });
        }
        Ok(claimed)
    }
    async fn extend(&self, ids: &[WriteId], lease: Duration) -> Result<(), StoreError> {
        for row in self.0.lock().unwrap().iter_mut().filter(|r| ids.contains(&r.id)) {
            row.leased_until = Some(Instant::now() + lease);
        }
        Ok(())
    }
    async fn save_plan(&self, id: &WriteId, plan: &SavedStep) -> Result<(), StoreError> {
        self.with(id, |row| row.plan = Some(plan.clone()));
        Ok(())
    }
    async fn finish(&self, id: &WriteId, outcome: &WriteState) -> Result<(), StoreError> {
        self.with(id, |row| {
            row.state = outcome.clone();
            row.leased_until = None;
        });
        Ok(())
    }
    async fn retry_later(&self, id: &WriteId, error: &str, delay: Duration) -> Result<(), StoreError> {
        self.with(id, |row| {
            row.attempts += 1;
            row.state = WriteState::Pending { attempts: row.attempts, last_error: Some(error.to_owned()) };
            row.due = Instant::now() + delay;
            row.leased_until = None;
        });
        Ok(())
    }
    async fn status(&self, id: &WriteId) -> Result<Option<WriteState>, StoreError> {
        Ok(self.0.lock().unwrap().iter().find(|r| r.id == *id).map(|r| r.state.clone()))
    }
    async fn command(&self, id: &WriteId) -> Result<Option<WriteCommand>, StoreError> {
        Ok(self.0.lock().unwrap().iter().find(|r| r.id == *id).map(|r| r.command.clone()))
    }
    async fn unfinished(&self) -> Result<u64, StoreError> {
        Ok(self.0.lock().unwrap().iter().filter(|r| matches!(r.state, WriteState::Pending { .. })).count() as u64)
    }
    async fn forget(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let mut rows = self.0.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| matches!(r.state, WriteState::Pending { .. }) || !r.command.concerns(scope, memory_ids));
        Ok((before - rows.len()) as u64)
    }
}

impl FakeJournal {
    fn with(&self, id: &WriteId, f: impl FnOnce(&mut JournalRow)) {
        if let Some(row) = self.0.lock().unwrap().iter_mut().find(|r| r.id == *id) {
            f(row);
        }
    }
}

/// A chat model answering from a script of results, with an optional delay, counting calls.
struct ScriptedLlm {
    script: Mutex<Vec<Result<ChatResponse, LlmError>>>,
    delay: Duration,
    calls: AtomicUsize,
    /// Reachable only during a call: counts the calls made outside the caller's task.
    bound: bool,
    calls_outside_caller: AtomicUsize,
}

tokio::task_local! {
    /// Set by a test around its call: what a model lent for one call can see.
    static IN_CALL: ();
}

#[async_trait]
impl Llm for ScriptedLlm {
    async fn chat(&self, _request: ChatRequest) -> Result<ChatResponse, LlmError> {
        tokio::time::sleep(self.delay).await;
        self.calls.fetch_add(1, Ordering::SeqCst);
        if IN_CALL.try_with(|_| ()).is_err() {
            self.calls_outside_caller.fetch_add(1, Ordering::SeqCst);
        }
        let mut script = self.script.lock().unwrap();
        if script.is_empty() {
            return Ok(facts(&[]));
        }
        script.remove(0)
    }

    fn bound_to_call(&self) -> bool {
        self.bound
    }
}

fn facts(list: &[&str]) -> ChatResponse {
    ChatResponse { content: Some(json!({ "facts": list }).to_string()), ..ChatResponse::default() }
}

struct WordEmbedder;

#[async_trait]
impl Embedder for WordEmbedder {
    async fn embed(&self, texts: &[String], _purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| vec![t.len() as f32, t.contains("tea") as u8 as f32, 1.0]).collect())
    }
    fn dimensions(&self) -> usize {
        3
    }
}

/// A graph store whose entity lookups and writes answer scripted outcomes (the last one
/// repeats), counting the calls; it holds nothing.
#[derive(Default)]
struct FakeGraph {
    lookups: Mutex<Vec<Result<(), StoreError>>>,
    applies: Mutex<Vec<Result<(), StoreError>>>,
    lookup_calls: AtomicUsize,
    apply_calls: AtomicUsize,
}

impl FakeGraph {
    fn new(lookups: Vec<Result<(), StoreError>>, applies: Vec<Result<(), StoreError>>) -> Self {
        Self { lookups: Mutex::new(lookups), applies: Mutex::new(applies), ..Self::default() }
    }
}

/// The next scripted outcome; the last one is kept for every later call.
fn next_of<T: Clone>(script: &Mutex<Vec<T>>) -> T {
    let mut script = script.lock().unwrap();
    if script.len() > 1 {
        script.remove(0)
    } else {
        script.first().cloned().expect("a scripted outcome")
    }
}

#[async_trait]
impl GraphStore for FakeGraph {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn similar_entities(
        &self,
        _scope: &Scope,
        _vectors: &[Vec<f32>],
        _threshold: f64,
    ) -> Result<Vec<EntityMatch>, StoreError> {
        self.lookup_calls.fetch_add(1, Ordering::SeqCst);
        next_of(&self.lookups).map(|()| vec![])
    }
    async fn relations_touching(
        &self,
        _scope: &Scope,
        _names: &[String],
        _limit: usize,
    ) -> Result<Vec<StoredRelation>, StoreError> {
        Ok(vec![])
    }
    async fn apply(&self, plan: &GraphPlan, _scope: &Scope) -> Result<GraphChanges, StoreError> {
        self.apply_calls.fetch_add(1, Ordering::SeqCst);
        next_of(&self.applies)?;
        Ok(GraphChanges { added_entities: plan.merge.clone(), deleted_entities: vec![] })
    }
    async fn relations_near(
        &self,
        _scope: &Scope,
        _vectors: &[Vec<f32>],
        _threshold: f64,
        _limit: usize,
    ) -> Result<Vec<Relation>, StoreError> {
        Ok(vec![])
    }
    async fn list(&self, _scope: &Scope, _limit: usize) -> Result<Vec<Relation>, StoreError> {
        Ok(vec![])
    }
    async fn delete_scope(&self, _scope: &Scope) -> Result<(), StoreError> {
        Ok(())
    }
}

struct World {
    store: Arc<FakeStore>,
    journal: Arc<FakeJournal>,
    llm: Arc<ScriptedLlm>,
    graph: Option<Arc<FakeGraph>>,
    /// One clock for every engine built: ids never repeat across them.
    clock: Arc<TestClock>,
}

impl World {
    fn new(script: Vec<Result<ChatResponse, LlmError>>, llm_delay: Duration, store_delay: Duration) -> Self {
        Self {
            store: Arc::new(FakeStore { delay: store_delay, ..FakeStore::default() }),
            journal: Arc::new(FakeJournal::default()),
            llm: Arc::new(ScriptedLlm {
                script: Mutex::new(script),
                delay: llm_delay,
                calls: AtomicUsize::new(0),
                bound: false,
                calls_outside_caller: AtomicUsize::new(0),
            }),
            graph: None,
            clock: Arc::new(TestClock::default()),
        }
    }

    fn with_graph(mut self, graph: FakeGraph) -> Self {
        self.graph = Some(Arc::new(graph));
        self
    }
}

#[async_trait]
impl BackendFactory for World {
    async fn build(&self, _credentials: &CredentialSet) -> Result<Backends, BuildError> {
        Ok(Backends {
            llm: Some(self.llm.clone()),
            embedder: Arc::new(WordEmbedder),
            vector_store: self.store.clone(),
            history: Arc::new(FakeHistory::default()),
            journal: self.journal.clone(),
            // the word embedder makes any two short names alike: only identical ones are the same entity
            graph: self
                .graph
                .clone()
                .map(|g| GraphBackend { store: g, settings: GraphSettings { threshold: 0.9999, custom_prompt: None } }),
            reranker: None,
            clock: self.clock.clone(),
            ids: self.clock.clone(),
        })
    }
}

fn credentials(async_mode: bool) -> CredentialSet {
    let mut map = Map::new();
    map.insert("async_mode".into(), Value::Bool(async_mode));
    CredentialSet::from_map(&map).unwrap()
}

fn settings() -> AppSettings {
    AppSettings {
        timeouts: Timeouts { search: Duration::from_millis(300), ..Timeouts::default() },
        queue_capacity: 3,
        writer: WriterTiming {
            lease: Duration::from_secs(5),
            renewal: Duration::from_secs(1),
            poll: Duration::from_millis(20),
            ..WriterTiming::default()
        },
        ..AppSettings::default()
    }
}

fn start(world: Arc<World>) -> MemoryApp {
    MemoryApp::start(world, settings())
}

fn alice() -> Scope {
    Scope::parse(Some("alice"), None, None).unwrap()
}

fn add(text: &str) -> AddRequest {
    AddRequest {
        conversation: Conversation::from_turn(text, None),
        scope: alice(),
        metadata: Default::default(),
        infer: true,
        actor_id: None,
        observed_at: None,
        expires_at: None,
        idempotency_key: None,
    }
}

async fn wait_for(app: &MemoryApp, creds: &CredentialSet, id: &WriteId) -> WriteState {
    for _ in 0..400 {
        match app.write_status(creds, WriteRef { id: id.clone(), scope: None }).await.unwrap() {
            Some(WriteState::Pending { .. }) | None => tokio::time::sleep(Duration::from_millis(10)).await,
            Some(done) => return done,
        }
    }
    panic!("write {id:?} never finished");
}

#[tokio::test]
async fn async_adds_are_acknowledged_before_the_slow_model_answers_and_then_applied() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::from_millis(300), Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    let started = Instant::now();
    let outcome = app.add(&creds, add("I like tea")).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(150), "ack took {:?}", started.elapsed());
    let WriteOutcome::Accepted(id) = outcome else { panic!("expected ACCEPT") };
    let WriteState::Applied { result } = wait_for(&app, &creds, &id).await else { panic!("not applied") };
    let WriteResult::Add(report) = *result else { panic!("an add's result") };
    assert_eq!(report.results.len(), 1);
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn write_status_is_told_only_to_the_writes_owner() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    let WriteOutcome::Accepted(id) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    let WriteState::Applied { result } = wait_for(&app, &creds, &id).await else { panic!("not applied") };
    let status = |scope: Option<Scope>| app.write_status(&creds, WriteRef { id: id.clone(), scope });
    let user = |name: &str| Some(Scope::parse(Some(name), None, None).unwrap());
    // the owner (and a caller naming no owner, as without binding) sees it; anyone else does not
    assert_eq!(status(user("alice")).await.unwrap(), Some(WriteState::Applied { result: result.clone() }));
    assert_eq!(status(None).await.unwrap(), Some(WriteState::Applied { result }));
    assert_eq!(status(user("mallory")).await.unwrap(), None, "another user read the write");
    let other_agent = Some(Scope::parse(Some("alice"), Some("other-bot"), None).unwrap());
    assert_eq!(status(other_agent).await.unwrap(), None);
    let unknown = app.write_status(&creds, WriteRef { id: WriteId("nope".into()), scope: user("alice") });
    assert_eq!(unknown.await.unwrap(), None);
}

#[tokio::test]
async fn a_deleted_memorys_history_stays_readable_by_its_owner_only() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(false);
    let WriteOutcome::Done(report) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("sync add") };
    let id = report.results[0].id;
    let target = |user: &str| MemoryRef { id, scope: Some(Scope::parse(Some(user), None, None).unwrap()) };
    assert!(matches!(app.delete(&creds, target("alice")).await.unwrap(), WriteOutcome::Done(_)));
    let history = app.history(&creds, target("alice")).await.unwrap();
    assert!(history.degraded.is_none());
    let events: Vec<_> = history.value.iter().map(|r| r.event).collect();
    assert_eq!(events, [HistoryEvent::Add, HistoryEvent::Delete]);
    assert!(matches!(app.history(&creds, target("mallory")).await, Err(ApiError::NotFound(_))));
    let unscoped = app.history(&creds, MemoryRef { id, scope: None }).await.unwrap();
    assert_eq!(unscoped.value.len(), 2);
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_recorded() {
    let script = vec![
        Err(LlmError::RateLimited("slow down".into())),
        Ok(facts(&["Likes tea"])),
        Err(LlmError::Unauthorized { status: 401, message: "bad key".into() }),
    ];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    let WriteOutcome::Accepted(first) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert!(matches!(wait_for(&app, &creds, &first).await, WriteState::Applied { .. }));
    let WriteOutcome::Accepted(second) = app.add(&creds, add("I like cake")).await.unwrap() else { panic!() };
    let WriteState::Failed { error, .. } = wait_for(&app, &creds, &second).await else { panic!("expected failure") };
    assert!(error.contains("401"), "{error}");
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_full_journal_answers_busy() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(5), Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    for i in 0..3 {
        app.add(&creds, add(&format!("fact {i}"))).await.unwrap();
    }
    assert!(matches!(app.add(&creds, add("one more")).await, Err(ApiError::Busy(3))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_adds_fill_the_journal_exactly_to_its_capacity() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(5), Duration::ZERO));
    let app = Arc::new(start(world.clone()));
    let creds = credentials(true);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (app, creds) = (app.clone(), creds.clone());
            tokio::spawn(async move { app.add(&creds, add(&format!("fact {i}"))).await })
        })
        .collect();
    let (mut accepted, mut busy) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(WriteOutcome::Accepted(_)) => accepted += 1,
            Err(ApiError::Busy(3)) => busy += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((accepted, busy), (3, 17));
    assert_eq!(world.journal.unfinished().await.unwrap(), 3);
}

#[tokio::test]
async fn writes_left_by_a_dead_process_count_against_the_capacity() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(5), Duration::ZERO));
    for i in 0..2 {
        let command = WriteCommand::Add(add(&format!("left {i}")));
        let id = WriteId(format!("left-{i}"));
        world.journal.leave(&id, &command).await;
    }
    let app = start(world.clone());
    let creds = credentials(true);
    app.add(&creds, add("one")).await.unwrap();
    assert!(matches!(app.add(&creds, add("two")).await, Err(ApiError::Busy(3))));
}

#[tokio::test]
async fn applied_and_failed_writes_free_their_places() {
    let script = vec![
        Ok(facts(&["Likes tea"])),
        Err(LlmError::Unauthorized { status: 401, message: "bad key".into() }),
        Ok(facts(&["Likes cake"])),
    ];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    for round in 0..3 {
        let mut ids = Vec::new();
        for i in 0..3 {
            match app.add(&creds, add(&format!("round {round} fact {i}"))).await.unwrap() {
                WriteOutcome::Accepted(id) => ids.push(id),
                other => panic!("round {round}: {other:?}"),
            }
        }
        for id in &ids {
            wait_for(&app, &creds, id).await;
        }
    }
    assert_eq!(world.journal.unfinished().await.unwrap(), 0);
}

#[tokio::test]
async fn slow_reads_degrade_to_empty_results_with_a_reason() {
    let world = Arc::new(World::new(vec![], Duration::ZERO, Duration::from_secs(2)));
    let app = start(world);
    let request = SearchRequest {
        query: Query::parse("tea").unwrap(),
        scope: alice(),
        filter: None,
        limit: Limit::new("top_k", 5).unwrap(),
        threshold: None,
        rerank: false,
        retrieval: crate::domain::fusion::Retrieval::Hybrid,
        explain: false,
        show_expired: false,
    };
    let started = Instant::now();
    let outcome = app.search(&credentials(true), request).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(outcome.value.results.is_empty());
    assert!(outcome.degraded.unwrap().reason.contains("search did not finish"));
}

#[tokio::test]
async fn reads_do_not_queue_behind_slow_writes() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(3), Duration::ZERO));
    let app = start(world);
    let creds = credentials(true);
    for i in 0..3 {
        app.add(&creds, add(&format!("fact {i}"))).await.unwrap();
    }
    let listed = app
        .get_all(
            &creds,
            ListRequest { scope: alice(), filter: None, limit: Limit::new("limit", 10).unwrap(), show_expired: false },
        )
        .await
        .unwrap();
    assert!(listed.degraded.is_none());
}

#[tokio::test]
async fn sync_mode_applies_before_answering_and_reports_not_found() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let app = start(world);
    let creds = credentials(false);
    let WriteOutcome::Done(report) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert_eq!(report.results.len(), 1);
    let missing = MemoryId::parse("00000000-0000-4000-8000-000000000001").unwrap();
    let err = app.delete(&creds, MemoryRef { id: missing, scope: None }).await.unwrap_err();
    assert_eq!(err, ApiError::NotFound(missing));
}

#[tokio::test]
async fn with_a_model_lent_for_the_call_async_writes_run_in_the_calling_task() {
    let mut world = World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO);
    Arc::get_mut(&mut world.llm).unwrap().bound = true;
    let world = Arc::new(world);
    let app = start(world.clone());
    let creds = credentials(true);
    let outcome = IN_CALL.scope((), app.add(&creds, add("I like tea"))).await.unwrap();
    let WriteOutcome::Done(report) = outcome else { panic!("expected the write applied within the call") };
    assert_eq!(report.results.len(), 1);
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 1);
    assert_eq!(world.llm.calls_outside_caller.load(Ordering::SeqCst), 0, "the model was called outside the call");
    let rows = world.journal.0.lock().unwrap().clone();
    assert_eq!(rows.len(), 1, "the write is in the journal, for its repeats");
    assert!(matches!(rows[0].state, WriteState::Applied { .. }), "nothing was left for a background writer");
}

#[tokio::test]
async fn with_a_model_lent_for_the_call_a_repeated_add_is_applied_once() {
    let script = vec![
        Err(LlmError::Unauthorized { status: 401, message: "bad key".into() }),
        Ok(facts(&["Likes tea"])),
        Ok(facts(&["Likes tea"])),
    ];
    let mut world = World::new(script, Duration::ZERO, Duration::ZERO);
    Arc::get_mut(&mut world.llm).unwrap().bound = true;
    let world = Arc::new(world);
    let app = start(world.clone());
    let creds = credentials(true);
    let failure = IN_CALL.scope((), app.add(&creds, add("I like tea"))).await.unwrap_err();
    assert!(matches!(failure, ApiError::Model(LlmError::Unauthorized { .. })), "the first add fails: {failure:?}");
    let WriteOutcome::Done(first) = IN_CALL.scope((), app.add(&creds, add("I like tea"))).await.unwrap() else {
        panic!("a retry of a failed add is applied")
    };
    let WriteOutcome::Done(again) = IN_CALL.scope((), app.add(&creds, add("I like tea"))).await.unwrap() else {
        panic!("a repeat answers the first write's result")
    };
    assert_eq!(again, first);
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 2, "the model is not asked for the repeat");
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
    let states: Vec<WriteState> = world.journal.0.lock().unwrap().iter().map(|r| r.state.clone()).collect();
    assert!(matches!(states[..], [WriteState::Failed { .. }, WriteState::Applied { .. }]), "{states:?}");
}

#[tokio::test]
async fn writes_left_in_the_journal_by_a_dead_process_are_resumed() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let id = WriteId("left-behind".into());
    let command = WriteCommand::Add(add("I like tea"));
    world.journal.leave(&id, &command).await;
    let app = start(world.clone());
    let creds = credentials(true);
    // Any call creates the engine, whose writer finds the write.
    let status = wait_for(&app, &creds, &id).await;
    assert!(matches!(status, WriteState::Applied { .. }));
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn shutdown_drains_accepted_writes_and_then_refuses_new_ones() {
    let world = Arc::new(World::new(vec![], Duration::ZERO, Duration::from_millis(50)));
    let app = start(world.clone());
    let creds = credentials(true);
    for i in 0..3 {
        let request = AddRequest { infer: false, ..add(&format!("note {i}")) };
        app.add(&creds, request).await.unwrap();
    }
    assert!(world.journal.unfinished().await.unwrap() > 0, "the test needs writes still pending");
    app.shutdown(Duration::from_secs(5)).await;
    assert_eq!(world.journal.unfinished().await.unwrap(), 0);
    assert_eq!(world.store.rows.lock().unwrap().len(), 3);
    assert!(matches!(app.add(&creds, add("late")).await, Err(ApiError::ShuttingDown)));
}

#[tokio::test]
async fn concurrent_adds_of_one_fact_store_one_memory() {
    let script = (0..20).map(|_| Ok(facts(&["Likes tea"]))).collect();
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = Arc::new(start(world.clone()));
    let creds = credentials(false);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            let creds = creds.clone();
            tokio::spawn(async move { app.add(&creds, add("I like tea")).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------- retries applied once

fn with_key(text: &str, key: &str) -> AddRequest {
    AddRequest { idempotency_key: Some(key.into()), ..add(text) }
}

#[tokio::test]
async fn a_repeated_sync_add_answers_the_first_write_and_stores_nothing_new() {
    let world = Arc::new(World::new(
        vec![Ok(facts(&["Likes tea"])), Ok(facts(&["Likes tea"]))],
        Duration::ZERO,
        Duration::ZERO,
    ));
    let app = start(world.clone());
    let creds = credentials(false);
    let WriteOutcome::Done(first) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("sync add") };
    let WriteOutcome::Done(again) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("sync add") };
    assert_eq!(again, first, "the repeat answers the first write's result");
    assert_eq!(first.results[0].event, crate::domain::operations::ChangeEvent::Add);
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 1, "the model is not asked again");
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
    assert_eq!(world.journal.0.lock().unwrap().len(), 1, "one write in the journal");
}

#[tokio::test]
async fn a_repeated_async_add_answers_the_first_write_id() {
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    let WriteOutcome::Accepted(first) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    let WriteOutcome::Accepted(again) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert_eq!(again, first);
    assert!(matches!(wait_for(&app, &creds, &first).await, WriteState::Applied { .. }));
    // once applied, still the same write
    let WriteOutcome::Accepted(later) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert_eq!(later, first);
    assert_eq!(world.journal.0.lock().unwrap().len(), 1);
    // another user's identical add is its own write
    let bob = AddRequest { scope: Scope::parse(Some("bob"), None, None).unwrap(), ..add("I like tea") };
    let WriteOutcome::Accepted(other) = app.add(&creds, bob).await.unwrap() else { panic!() };
    assert_ne!(other, first);
}

#[tokio::test]
async fn the_idempotency_key_decides_what_is_a_repeat() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(5), Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(true);
    let WriteOutcome::Accepted(a) = app.add(&creds, with_key("I like tea", "turn-1")).await.unwrap() else { panic!() };
    let WriteOutcome::Accepted(b) = app.add(&creds, with_key("I like tea!", "turn-1")).await.unwrap() else { panic!() };
    let WriteOutcome::Accepted(c) = app.add(&creds, with_key("I like tea", "turn-2")).await.unwrap() else { panic!() };
    assert_eq!(a, b, "same key: a repeat, whatever the words");
    assert_ne!(a, c, "another key: another write");
}

#[tokio::test]
async fn without_a_window_or_after_a_failure_the_same_add_is_written_again() {
    let world = Arc::new(World::new(vec![], Duration::from_secs(5), Duration::ZERO));
    let app = MemoryApp::start(world.clone(), AppSettings { repeat_window: Duration::ZERO, ..settings() });
    let creds = credentials(true);
    let WriteOutcome::Accepted(a) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    let WriteOutcome::Accepted(b) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert_ne!(a, b);

    let script =
        vec![Err(LlmError::Unauthorized { status: 401, message: "bad key".into() }), Ok(facts(&["Likes tea"]))];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let WriteOutcome::Accepted(failed) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert!(matches!(wait_for(&app, &creds, &failed).await, WriteState::Failed { .. }));
    let WriteOutcome::Accepted(retry) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!() };
    assert_ne!(retry, failed, "a retry of a failed add is written again");
    assert!(matches!(wait_for(&app, &creds, &retry).await, WriteState::Applied { .. }));
}

#[tokio::test]
async fn a_sync_retry_of_a_failed_add_is_written_again_and_answered() {
    let script =
        vec![Err(LlmError::Unauthorized { status: 401, message: "bad key".into() }), Ok(facts(&["Likes tea"]))];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let failure = app.add(&credentials(false), add("I like tea")).await.unwrap_err();
    assert!(
        matches!(&failure, ApiError::Model(LlmError::Unauthorized { status: 401, .. })),
        "the sync caller gets the model's failure as it is: {failure:?}"
    );
    assert!(!failure.is_transient());
    let WriteOutcome::Done(retry) = app.add(&credentials(false), add("I like tea")).await.unwrap() else {
        panic!("the retry is applied within the ceiling")
    };
    assert_eq!(retry.results.len(), 1);
    let WriteOutcome::Done(again) = app.add(&credentials(false), add("I like tea")).await.unwrap() else {
        panic!("a repeat of the retry answers at once")
    };
    assert_eq!(again, retry, "the retry's own repeats find it");
    assert_eq!(world.journal.0.lock().unwrap().len(), 2, "the failed write and its retry");
}

/// The graph extraction answer: alice likes tea.
fn graph_extraction() -> ChatResponse {
    let arguments = json!({
        "entities": [{"name": "alice", "type": "person"}, {"name": "tea", "type": "drink"}],
        "relations": [{"source": "alice", "relationship": "likes", "destination": "tea"}]
    });
    ChatResponse { tool_calls: vec![ToolCall { name: EXTRACT_TOOL.into(), arguments }], ..ChatResponse::default() }
}

fn alice_likes_tea() -> Vec<Relation> {
    vec![Relation { source: "alice".into(), relationship: "likes".into(), destination: "tea".into() }]
}

fn graph_down() -> StoreError {
    StoreError::Unavailable { store: "graph store", message: "connection refused".into() }
}

/// Settings whose writer retries after 10 ms, at most 3 attempts.
fn quick_retries() -> AppSettings {
    let mut settings = settings();
    settings.writer.retry_base = Duration::from_millis(10);
    settings.writer.max_attempts = 3;
    settings
}

async fn applied_add(world: &Arc<World>, settings: AppSettings) -> AddReport {
    let app = MemoryApp::start(world.clone(), settings);
    let creds = credentials(true);
    let WriteOutcome::Accepted(id) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("accepted") };
    let WriteState::Applied { result } = wait_for(&app, &creds, &id).await else { panic!("not applied") };
    let WriteResult::Add(report) = *result else { panic!("an add's result") };
    report
}

#[tokio::test]
async fn a_transient_graph_write_failure_is_retried_from_the_journaled_plan() {
    let graph = FakeGraph::new(vec![Ok(())], vec![Err(graph_down()), Ok(())]);
    let script = vec![Ok(facts(&["Likes tea"])), Ok(graph_extraction())];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let report = applied_add(&world, quick_retries()).await;
    let graph = world.graph.as_ref().unwrap();
    assert_eq!(report.relations.unwrap().added_entities, alice_likes_tea());
    assert!(report.graph_degraded.is_none());
    // planned once (the model asked once for the facts and once for the graph), applied twice
    assert_eq!(graph.lookup_calls.load(Ordering::SeqCst), 1);
    assert_eq!(graph.apply_calls.load(Ordering::SeqCst), 2);
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 2);
    assert_eq!(world.store.rows.lock().unwrap().len(), 1, "the vector part applied again stays one memory");
}

#[tokio::test]
async fn a_transient_graph_planning_failure_resumes_after_the_vector_decision() {
    let graph = FakeGraph::new(vec![Err(graph_down()), Ok(())], vec![Ok(())]);
    let script = vec![Ok(facts(&["Likes tea"])), Ok(graph_extraction()), Ok(graph_extraction())];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let report = applied_add(&world, quick_retries()).await;
    let graph = world.graph.as_ref().unwrap();
    assert_eq!(report.relations.unwrap().added_entities, alice_likes_tea());
    assert!(report.graph_degraded.is_none());
    assert_eq!(graph.lookup_calls.load(Ordering::SeqCst), 2);
    // the facts once; the graph extraction again, as its planning had not finished
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 3, "the facts were not asked for again");
}

#[tokio::test]
async fn a_graph_that_stays_down_ends_the_write_applied_and_degraded() {
    let graph = FakeGraph::new(vec![Ok(())], vec![Err(graph_down())]);
    let script = vec![Ok(facts(&["Likes tea"])), Ok(graph_extraction())];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let report = applied_add(&world, quick_retries()).await;
    assert!(report.graph_degraded.unwrap().contains("connection refused"));
    assert_eq!(report.results.len(), 1);
    assert_eq!(world.graph.as_ref().unwrap().apply_calls.load(Ordering::SeqCst), 3, "every attempt was used");
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 2, "the model is asked once however often it is applied");
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_permanent_graph_failure_is_reported_at_once_and_not_retried() {
    let graph = FakeGraph::new(vec![Ok(())], vec![Ok(())]);
    let refused = LlmError::Unauthorized { status: 401, message: "bad key".into() };
    let script = vec![Ok(facts(&["Likes tea"])), Err(refused)];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let report = applied_add(&world, quick_retries()).await;
    assert!(report.graph_degraded.unwrap().contains("401"));
    let graph = world.graph.as_ref().unwrap();
    assert_eq!((graph.lookup_calls.load(Ordering::SeqCst), graph.apply_calls.load(Ordering::SeqCst)), (0, 0));
    assert_eq!(world.llm.calls.load(Ordering::SeqCst), 2);
    assert_eq!(world.store.rows.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_sync_add_reports_a_graph_failure_as_degraded_with_its_memories() {
    let graph = FakeGraph::new(vec![Ok(())], vec![Err(graph_down())]);
    let script = vec![Ok(facts(&["Likes tea"])), Ok(graph_extraction())];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let app = MemoryApp::start(world.clone(), quick_retries());
    let WriteOutcome::Done(report) = app.add(&credentials(false), add("I like tea")).await.unwrap() else {
        panic!("sync add")
    };
    assert_eq!(report.results.len(), 1);
    assert!(report.graph_degraded.unwrap().contains("connection refused"));
    assert_eq!(world.graph.as_ref().unwrap().apply_calls.load(Ordering::SeqCst), 1, "a waiting caller is not kept");
}

#[tokio::test]
async fn vector_memories_do_not_wait_for_a_graph_that_is_down() {
    let graph = FakeGraph::new(vec![Err(graph_down())], vec![Ok(())]);
    let script = vec![Ok(facts(&["Likes tea"])), Ok(graph_extraction())];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO).with_graph(graph));
    let mut slow_retries = quick_retries();
    slow_retries.writer.retry_base = Duration::from_secs(30);
    let app = MemoryApp::start(world.clone(), slow_retries);
    let creds = credentials(true);
    let WriteOutcome::Accepted(id) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("accepted") };
    for _ in 0..400 {
        if let Some(WriteState::Pending { attempts: 1.., .. }) =
            app.write_status(&creds, WriteRef { id: id.clone(), scope: None }).await.unwrap()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = app.write_status(&creds, WriteRef { id, scope: None }).await.unwrap();
    assert!(matches!(status, Some(WriteState::Pending { attempts: 1, .. })), "{status:?}");
    assert_eq!(world.store.rows.lock().unwrap().len(), 1, "the memory is stored while the graph is retried");
}

fn add_for(user: &str, text: &str) -> AddRequest {
    AddRequest { scope: Scope::parse(Some(user), None, None).unwrap(), ..add(text) }
}

#[tokio::test]
async fn an_erase_removes_the_scopes_memories_history_and_journal_and_nothing_else() {
    use crate::ports::memory_admin::MemoryAdmin;
    let script = vec![Ok(facts(&["Likes tea"])), Ok(facts(&["Plays chess"]))];
    let world = Arc::new(World::new(script, Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(false);
    let WriteOutcome::Done(tea) = app.add(&creds, add("I like tea")).await.unwrap() else { panic!("sync add") };
    let WriteOutcome::Done(chess) = app.add(&creds, add_for("bob", "I play chess")).await.unwrap() else {
        panic!("sync add")
    };
    let counts = app.scopes(&creds).await.unwrap();
    assert_eq!(counts.len(), 2, "{counts:?}");

    let receipt = app.erase(&credentials(true), alice()).await.unwrap();
    assert_eq!((receipt.memories, receipt.history_rows), (1, 2), "{receipt:?}"); // ADD, then the erase's DELETE
    assert_eq!(receipt.journal_entries, 2, "the add and the erase's delete_all: {receipt:?}");
    assert!(!receipt.graph_erased);
    let target = |id, user: &str| MemoryRef { id, scope: Some(Scope::parse(Some(user), None, None).unwrap()) };
    assert!(matches!(app.history(&creds, target(tea.results[0].id, "alice")).await, Err(ApiError::NotFound(_))));
    let counts = app.scopes(&creds).await.unwrap();
    assert_eq!(
        counts.iter().map(|c| c.scope.clone()).collect::<Vec<_>>(),
        [Scope::parse(Some("bob"), None, None).unwrap()]
    );
    let bob_history = app.history(&creds, target(chess.results[0].id, "bob")).await.unwrap();
    assert_eq!(bob_history.value.len(), 1, "another scope's history stays");
    let journal = world.journal.0.lock().unwrap();
    assert!(journal.iter().all(|row| !row.command.visible_to(&alice())), "no journal entry about alice is left");
    assert_eq!(journal.len(), 1, "bob's add stays");
}

#[tokio::test]
async fn an_import_is_idempotent_and_never_takes_another_owners_id() {
    use crate::ports::memory_admin::{Imported, MemoryAdmin};
    let world = Arc::new(World::new(vec![Ok(facts(&["Likes tea"]))], Duration::ZERO, Duration::ZERO));
    let app = start(world.clone());
    let creds = credentials(false);
    app.add(&creds, add("I like tea")).await.unwrap();
    let exported = app.export(&creds, Some(alice())).await.unwrap();
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].history.len(), 1);
    let memory = exported[0].clone();
    assert_eq!(app.import(&creds, memory.clone()).await.unwrap(), Imported::Unchanged);
    assert_eq!(app.history(&creds, MemoryRef { id: memory.record.id, scope: None }).await.unwrap().value.len(), 1);

    let mut changed = memory.clone();
    changed.record.text = crate::domain::memory::MemoryText::parse("memory", "Likes green tea").unwrap();
    changed.record.hash = changed.record.text.hash();
    assert_eq!(app.import(&creds, changed.clone()).await.unwrap(), Imported::Stored);
    assert_eq!(app.import(&creds, changed).await.unwrap(), Imported::Unchanged);

    let mut stolen = memory;
    stolen.record.scope = Scope::parse(Some("mallory"), None, None).unwrap();
    assert!(matches!(app.import(&creds, stolen).await, Err(ApiError::InvalidRequest(_))));
    let rows = world.store.rows.lock().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.scope, alice());
    assert_eq!(rows[0].0.text.as_str(), "Likes green tea");
}
