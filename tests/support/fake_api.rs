//! A fake memory engine for the plugin runtime tests (shared by `examples/fake_plugin.rs`).
//!
//! Behaviour is chosen by the request, so a test driving the plugin from outside can reach every
//! path:
//! - scope `user_id` `"fail"` → backend error; `"panic"` → panics; `"huge"` → `get_all` returns
//!   `limit` memories of 20 000 characters each;
//! - search query `"slow:<ms>"` → answers after `<ms>` milliseconds, echoing the query;
//! - a provider named `"broken"` in any credential block → `validate` reports that block;
//! - `get`/`update`/`delete`/`history` know only [`KNOWN_MEMORY_ID`], `write_status` only
//!   [`KNOWN_WRITE_ID`];
//! - async-mode writes are accepted at once and finish 300 ms later; `shutdown` waits for them and
//!   reports on stderr (`fake-api: shutdown …`) so tests can see the drain.
#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use mem0_dify::domain::credentials::CredentialSet;
use mem0_dify::domain::history::HistoryEntry;
use mem0_dify::domain::memory::{MemoryId, MemoryRecord, MemoryText, Metadata, ScoredMemory, Similarity};
use mem0_dify::domain::operations::{
    AddReport, AddRequest, ChangeEvent, DeleteAllReport, ListReport, ListRequest, MemoryChange, MemoryRef,
    SearchReport, SearchRequest, UpdateRequest, WriteResult,
};
use mem0_dify::domain::scope::Scope;
use mem0_dify::ports::memory_api::{
    ApiError, CheckResult, MemoryApi, ReadOutcome, WriteId, WriteOutcome, WriteRef, WriteState,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use uuid::Uuid;

/// The only memory id the fake knows.
pub const KNOWN_MEMORY_ID: &str = "5b0c8c6e-3f7d-4a55-9a0e-2f7a1c0d9e11";
/// The only write id `write_status` knows (applied).
pub const KNOWN_WRITE_ID: &str = "w-known";
/// Text of the known memory.
pub const KNOWN_MEMORY_TEXT: &str = "Likes green tea";

/// The fake engine.
#[derive(Default)]
pub struct FakeMemoryApi {
    pending: tokio::sync::Mutex<JoinSet<()>>,
    applied: Arc<AtomicUsize>,
}

/// One call per tool (in the order of `TOOL_NAMES`) with parameters this engine answers with SUCCESS.
pub fn successful_tool_calls() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let calls = vec![
        ("add_memory", json!({"user": "I like green tea", "user_id": "alice"})),
        ("search_memory", json!({"query": "tea", "user_id": "alice"})),
        ("get_all_memories", json!({"user_id": "alice"})),
        ("get_memory", json!({"memory_id": KNOWN_MEMORY_ID})),
        ("update_memory", json!({"memory_id": KNOWN_MEMORY_ID, "text": "Loves green tea"})),
        ("delete_memory", json!({"memory_id": KNOWN_MEMORY_ID})),
        ("delete_all_memories", json!({"user_id": "alice"})),
        ("get_memory_history", json!({"memory_id": KNOWN_MEMORY_ID})),
        ("get_write_status", json!({"write_id": KNOWN_WRITE_ID})),
    ];
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), mem0_dify::adapters::dify::tools::TOOL_NAMES);
    calls
}

fn known_id() -> MemoryId {
    MemoryId::parse(KNOWN_MEMORY_ID).expect("valid uuid")
}

fn record(id: MemoryId, text: &str, scope: Scope) -> MemoryRecord {
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("valid date");
    let text = MemoryText::parse("memory", text).expect("valid text");
    MemoryRecord::new(id, text, Metadata::default(), scope, at)
}

fn user_of(scope: &Scope) -> &str {
    scope.user_id().map(|u| u.as_str()).unwrap_or_default()
}

fn trouble(scope: &Scope) -> Result<(), ApiError> {
    match user_of(scope) {
        "fail" => Err(ApiError::Internal("fake backend failure for user fail".into())),
        "panic" => panic!("fake panic for user panic"),
        _ => Ok(()),
    }
}

fn default_scope() -> Scope {
    Scope::parse(Some("alice"), None, None).expect("valid scope")
}

impl FakeMemoryApi {
    /// A fresh fake.
    pub fn new() -> Self {
        Self::default()
    }

    async fn accept(&self) -> WriteId {
        let applied = Arc::clone(&self.applied);
        self.pending.lock().await.spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            applied.fetch_add(1, Ordering::SeqCst);
        });
        WriteId(Uuid::new_v4().to_string())
    }

    async fn write<T>(&self, creds: &CredentialSet, done: T) -> WriteOutcome<T> {
        if creds.async_mode {
            WriteOutcome::Accepted(self.accept().await)
        } else {
            WriteOutcome::Done(done)
        }
    }
}

#[async_trait]
impl MemoryApi for FakeMemoryApi {
    async fn add(&self, creds: &CredentialSet, request: AddRequest) -> Result<WriteOutcome<AddReport>, ApiError> {
        trouble(&request.scope)?;
        let text = request.conversation.messages().first().map(|m| m.content.clone()).unwrap_or_default();
        let change = MemoryChange { id: known_id(), memory: text, event: ChangeEvent::Add, previous_memory: None };
        Ok(self
            .write(creds, AddReport { results: vec![change], relations: None, graph_degraded: None, llm_calls: 1 })
            .await)
    }

    async fn search(&self, _: &CredentialSet, request: SearchRequest) -> Result<ReadOutcome<SearchReport>, ApiError> {
        trouble(&request.scope)?;
        let query = request.query.as_str().to_owned();
        if let Some(ms) = query.strip_prefix("slow:").and_then(|ms| ms.parse::<u64>().ok()) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let found = ScoredMemory {
            record: record(known_id(), &format!("{KNOWN_MEMORY_TEXT} (query {query})"), request.scope.clone()),
            score: Similarity::from_cosine(0.9),
            rerank_score: None,
            parts: None,
        };
        Ok(ReadOutcome::complete(SearchReport { results: vec![found], relations: None, graph_degraded: None }))
    }

    async fn get_all(&self, _: &CredentialSet, request: ListRequest) -> Result<ReadOutcome<ListReport>, ApiError> {
        trouble(&request.scope)?;
        let results = if user_of(&request.scope) == "huge" {
            let big = "m".repeat(20_000);
            (0..request.limit.get())
                .map(|_| record(MemoryId::from_uuid(Uuid::new_v4()), &big, request.scope.clone()))
                .collect()
        } else {
            vec![record(known_id(), KNOWN_MEMORY_TEXT, request.scope.clone())]
        };
        Ok(ReadOutcome::complete(ListReport { results, relations: None, graph_degraded: None }))
    }

    async fn get(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Option<MemoryRecord>>, ApiError> {
        let found = (target.id == known_id()).then(|| record(known_id(), KNOWN_MEMORY_TEXT, default_scope()));
        Ok(ReadOutcome::complete(found.filter(|r| target.admits(r))))
    }

    async fn update(
        &self,
        creds: &CredentialSet,
        request: UpdateRequest,
    ) -> Result<WriteOutcome<MemoryRecord>, ApiError> {
        if request.target.id != known_id() {
            return Err(ApiError::NotFound(request.target.id));
        }
        let updated = record(known_id(), request.text.as_str(), default_scope());
        Ok(self.write(creds, updated).await)
    }

    async fn delete(&self, creds: &CredentialSet, target: MemoryRef) -> Result<WriteOutcome<MemoryId>, ApiError> {
        if target.id != known_id() {
            return Err(ApiError::NotFound(target.id));
        }
        Ok(self.write(creds, target.id).await)
    }

    async fn delete_all(&self, creds: &CredentialSet, scope: Scope) -> Result<WriteOutcome<DeleteAllReport>, ApiError> {
        trouble(&scope)?;
        Ok(self.write(creds, DeleteAllReport { deleted: 1 }).await)
    }

    async fn history(&self, _: &CredentialSet, target: MemoryRef) -> Result<ReadOutcome<Vec<HistoryEntry>>, ApiError> {
        let rows = if target.id == known_id() {
            let r = record(known_id(), KNOWN_MEMORY_TEXT, default_scope());
            vec![HistoryEntry::added(Uuid::nil(), known_id(), r.text.clone(), r.created_at)]
        } else {
            Vec::new()
        };
        Ok(ReadOutcome::complete(rows))
    }

    async fn write_status(&self, _: &CredentialSet, target: WriteRef) -> Result<Option<WriteState>, ApiError> {
        Ok((target.id.0 == KNOWN_WRITE_ID)
            .then(|| WriteState::Applied { result: Box::new(WriteResult::DeleteAll(DeleteAllReport { deleted: 1 })) }))
    }

    async fn validate(&self, creds: &CredentialSet) -> Result<Vec<CheckResult>, ApiError> {
        let blocks = [&creds.llm, &creds.embedder, &creds.vector_store, &creds.graph_store, &creds.reranker];
        Ok(blocks
            .into_iter()
            .flatten()
            .map(|b| CheckResult {
                credential: b.field.to_owned(),
                error: (b.provider == "broken").then(|| format!("provider {:?} cannot be reached", b.provider)),
            })
            .collect())
    }

    async fn shutdown(&self, deadline: Duration) {
        let mut pending = self.pending.lock().await;
        let waiting = pending.len();
        let _ = tokio::time::timeout(deadline, async { while pending.join_next().await.is_some() {} }).await;
        eprintln!(
            "fake-api: shutdown deadline={:?} waited_for={} applied={}",
            deadline,
            waiting,
            self.applied.load(Ordering::SeqCst)
        );
    }
}

/// The fake has no console use cases: each answers that it is not available.
#[async_trait]
impl mem0_dify::ports::memory_admin::MemoryAdmin for FakeMemoryApi {
    async fn scopes(&self, _: &CredentialSet) -> Result<Vec<mem0_dify::domain::scope::ScopeCount>, ApiError> {
        Err(no_console())
    }
    async fn erase(
        &self,
        _: &CredentialSet,
        _: Scope,
    ) -> Result<mem0_dify::ports::memory_admin::EraseReceipt, ApiError> {
        Err(no_console())
    }
    async fn export(
        &self,
        _: &CredentialSet,
        _: Option<Scope>,
    ) -> Result<Vec<mem0_dify::ports::memory_admin::PortableMemory>, ApiError> {
        Err(no_console())
    }
    async fn import(
        &self,
        _: &CredentialSet,
        _: mem0_dify::ports::memory_admin::PortableMemory,
    ) -> Result<mem0_dify::ports::memory_admin::Imported, ApiError> {
        Err(no_console())
    }
    async fn import_history(&self, _: &CredentialSet, _: Vec<HistoryEntry>) -> Result<u64, ApiError> {
        Err(no_console())
    }
}

fn no_console() -> ApiError {
    ApiError::Configuration("the fake engine has no console".into())
}
