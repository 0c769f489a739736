//! The console's REST API (JSON; documented in `docs/console.md`): routes a request to the memory
//! API with the console's credentials and turns the outcome into an HTTP response.
//!
//! Every `/api/` route needs the access key. Writes run in sync mode whatever the credentials say,
//! so what the console shows after an edit is what is stored.

use super::access::{key_of, AccessGuard, Denied};
use super::http::{HttpRequest, HttpResponse};
use super::lines::{read_lines, to_line, LineError};
use super::page;
use super::present::{history_json, memory_json, scored_json};
use crate::adapters::history::read_mem0_history;
use crate::domain::credentials::CredentialSet;
use crate::domain::memory::{MemoryId, MemoryText, Metadata};
use crate::domain::operations::{Limit, ListRequest, MemoryRef, Query, SearchRequest, UpdateRequest};
use crate::domain::scope::Scope;
use crate::ports::memory_admin::{EraseReceipt, ImportReport, MemoryAdmin};
use crate::ports::memory_api::{ApiError, Degraded, ReadOutcome, WriteOutcome};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// Memories listed or exported when the request does not say.
pub const DEFAULT_LIST_LIMIT: i64 = 100;
/// Search results when the request does not say.
pub const DEFAULT_SEARCH_LIMIT: i64 = 20;

/// What a console serves with: the access key and the engine's credentials.
#[derive(Clone)]
pub struct ConsoleAccess {
    /// The access key requests must carry (secret: never logged).
    pub key: String,
    /// The engine the console reads and writes.
    pub credentials: CredentialSet,
}

impl std::fmt::Debug for ConsoleAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAccess").field("key", &"***").finish_non_exhaustive()
    }
}

/// The console: the memory application's use cases and the failed-key counter.
pub struct Console {
    api: Arc<dyn MemoryAdmin>,
    guard: AccessGuard,
}

impl Console {
    /// A console over `api`.
    pub fn new(api: Arc<dyn MemoryAdmin>) -> Self {
        Self { api, guard: AccessGuard::new() }
    }

    /// Answers one request. `access` is `Err` (with why) when the console is not set up; the page
    /// is still served, the API answers 503.
    pub async fn handle(&self, request: &HttpRequest, access: Result<&ConsoleAccess, String>) -> HttpResponse {
        let path = request.path.trim_end_matches('/');
        if request.method == "GET" && (path.is_empty() || path == "/console") {
            return page::response(request);
        }
        let Some(route) = path.strip_prefix("/api") else {
            return HttpResponse::error(404, "not_found", format!("no such page: {}", request.path));
        };
        let access = match access {
            Ok(access) => access,
            Err(why) => return HttpResponse::error(503, "not_configured", why),
        };
        match self.guard.check(key_of(request), &access.key, Instant::now()) {
            Ok(()) => {}
            Err(denied @ Denied::WrongKey) => return HttpResponse::error(401, "unauthorized", denied),
            Err(denied @ Denied::Limited(secs)) => {
                return HttpResponse::error(429, "rate_limited", denied).with_header("Retry-After", &secs.to_string())
            }
        }
        let mut credentials = access.credentials.clone();
        credentials.async_mode = false;
        let call = Call { api: self.api.as_ref(), credentials: &credentials, request };
        let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
        let result = match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["scopes"]) => call.scopes().await,
            ("GET", ["memories"]) => call.list().await,
            ("GET", ["search"]) => call.search().await,
            ("GET", ["memories", id]) => call.get(id).await,
            ("PUT", ["memories", id]) => call.update(id).await,
            ("DELETE", ["memories", id]) => call.delete(id).await,
            ("GET", ["memories", id, "history"]) => call.history(id).await,
            ("POST", ["erase"]) => call.erase().await,
            ("GET", ["export"]) => call.export().await,
            ("POST", ["import"]) => call.import().await,
            ("POST", ["import-mem0-history"]) => call.import_mem0_history().await,
            (
                _,
                ["scopes"]
                | ["memories"]
                | ["search"]
                | ["memories", _]
                | ["memories", _, "history"]
                | ["erase"]
                | ["export"]
                | ["import"]
                | ["import-mem0-history"],
            ) => Err(Failure::new(405, "method_not_allowed", format!("{} is not allowed on {}", request.method, path))),
            _ => Err(Failure::new(404, "not_found", format!("no such API route: {} {}", request.method, path))),
        };
        result.unwrap_or_else(|f| HttpResponse::error(f.status, f.code, f.message))
    }
}

/// A request that failed, as it is answered.
struct Failure {
    status: u16,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: u16, code: &'static str, message: impl std::fmt::Display) -> Self {
        Self { status, code, message: message.to_string() }
    }

    fn bad(message: impl std::fmt::Display) -> Self {
        Self::new(400, "bad_request", message)
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        let (status, code) = match &error {
            ApiError::InvalidRequest(_) | ApiError::InvalidMemory(_) => (400, "bad_request"),
            ApiError::NotFound(_) => (404, "not_found"),
            ApiError::Configuration(_) => (500, "configuration"),
            ApiError::Internal(_) => (500, "internal"),
            ApiError::Busy(_) | ApiError::ShuttingDown | ApiError::StillRunning { .. } => (503, "busy"),
            ApiError::Model(_)
            | ApiError::Embedder(_)
            | ApiError::Store(_)
            | ApiError::Graph(_)
            | ApiError::UnreadableAnswer { .. }
            | ApiError::FailedEarlier(_)
            | ApiError::NotAccepted(_) => (502, "backend"),
            ApiError::Timeout { .. } => (504, "timeout"),
        };
        Self::new(status, code, error)
    }
}

fn degraded(degraded: Degraded) -> Failure {
    Failure::new(503, "degraded", format!("the read did not complete: {}", degraded.reason))
}

fn complete<T>(outcome: ReadOutcome<T>) -> Result<T, Failure> {
    match outcome.degraded {
        Some(d) => Err(degraded(d)),
        None => Ok(outcome.value),
    }
}

type Answer = Result<HttpResponse, Failure>;

/// One API call: the engine, its credentials and the request.
struct Call<'a> {
    api: &'a dyn MemoryAdmin,
    credentials: &'a CredentialSet,
    request: &'a HttpRequest,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.request.query.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// The scope named by `user_id`, `agent_id`, `run_id`, or `None` when none is given.
    fn optional_scope(&self) -> Result<Option<Scope>, Failure> {
        if ["user_id", "agent_id", "run_id"].iter().all(|name| self.param(name).is_none()) {
            return Ok(None);
        }
        self.scope().map(Some)
    }

    /// The scope named by `user_id`, `agent_id`, `run_id` (at least one).
    fn scope(&self) -> Result<Scope, Failure> {
        Scope::parse(self.param("user_id"), self.param("agent_id"), self.param("run_id"))
            .map_err(|e| Failure::bad(format!("scope (query user_id, agent_id, run_id): {e}")))
    }

    fn limit(&self, default: i64) -> Result<Limit, Failure> {
        let value = match self.param("limit") {
            None => default,
            Some(raw) => {
                raw.parse::<i64>().map_err(|_| Failure::bad(format!("limit: expected a whole number, got {raw:?}")))?
            }
        };
        Limit::new("limit", value).map_err(Failure::bad)
    }

    fn target(&self, id: &str) -> Result<MemoryRef, Failure> {
        let id = MemoryId::parse(id).map_err(|e| Failure::bad(format!("memory id: {e}")))?;
        Ok(MemoryRef { id, scope: Some(self.scope()?) })
    }

    fn body_json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.request.body)
            .map_err(|e| Failure::bad(format!("the body must be a JSON object: {e}")))
    }

    async fn list(&self) -> Answer {
        let request = ListRequest {
            scope: self.scope()?,
            filter: None,
            limit: self.limit(DEFAULT_LIST_LIMIT)?,
            show_expired: true,
        };
        let report = complete(self.api.get_all(self.credentials, request).await?)?;
        let items: Vec<Value> = report.results.iter().map(memory_json).collect();
        Ok(HttpResponse::json(200, &json!({"memories": items})))
    }

    async fn search(&self) -> Answer {
        let raw = self.param("q").ok_or_else(|| Failure::bad("q: the search text is required"))?;
        let request = SearchRequest {
            query: Query::parse(raw).map_err(Failure::bad)?,
            scope: self.scope()?,
            filter: None,
            limit: self.limit(DEFAULT_SEARCH_LIMIT)?,
            threshold: None,
            rerank: false,
            retrieval: Default::default(),
            explain: false,
            show_expired: true,
        };
        let report = complete(self.api.search(self.credentials, request).await?)?;
        let items: Vec<Value> = report.results.iter().map(scored_json).collect();
        Ok(HttpResponse::json(200, &json!({"memories": items})))
    }

    async fn get(&self, id: &str) -> Answer {
        let target = self.target(id)?;
        let id = target.id;
        match complete(self.api.get(self.credentials, target).await?)? {
            Some(record) => Ok(HttpResponse::json(200, &json!({"memory": memory_json(&record)}))),
            None => Err(ApiError::NotFound(id).into()),
        }
    }

    async fn update(&self, id: &str) -> Answer {
        let target = self.target(id)?;
        let body = self.body_json()?;
        let text =
            body.get("text").and_then(Value::as_str).ok_or_else(|| Failure::bad("text: a string is required"))?;
        let text = MemoryText::parse("text", text).map_err(Failure::bad)?;
        let metadata = match body.get("metadata") {
            None | Some(Value::Null) => Metadata::default(),
            Some(value) => Metadata::parse(value.clone()).map_err(|e| Failure::bad(format!("metadata: {e}")))?,
        };
        let request = UpdateRequest { target, text, metadata, expires_at: None };
        match self.api.update(self.credentials, request).await? {
            WriteOutcome::Done(record) => Ok(HttpResponse::json(200, &json!({"memory": memory_json(&record)}))),
            WriteOutcome::Accepted(w) | WriteOutcome::Running(w) => Ok(still_running(&w.0)),
        }
    }

    async fn delete(&self, id: &str) -> Answer {
        let target = self.target(id)?;
        match self.api.delete(self.credentials, target).await? {
            WriteOutcome::Done(id) => Ok(HttpResponse::json(200, &json!({"deleted": id.to_string()}))),
            WriteOutcome::Accepted(w) | WriteOutcome::Running(w) => Ok(still_running(&w.0)),
        }
    }

    async fn history(&self, id: &str) -> Answer {
        let target = self.target(id)?;
        let entries = complete(self.api.history(self.credentials, target).await?)?;
        let items: Vec<Value> = entries.iter().map(history_json).collect();
        Ok(HttpResponse::json(200, &json!({"history": items})))
    }

    /// Every owner with memories, with how many.
    async fn scopes(&self) -> Answer {
        let counts = self.api.scopes(self.credentials).await?;
        let items: Vec<Value> = counts
            .iter()
            .map(|c| {
                let mut item = scope_json(&c.scope);
                item["memories"] = json!(c.memories);
                item
            })
            .collect();
        Ok(HttpResponse::json(200, &json!({"scopes": items})))
    }

    /// Erases the scope entirely; the body must be `{"confirm": true}`.
    async fn erase(&self) -> Answer {
        let scope = self.scope()?;
        let body = self.body_json()?;
        if body.get("confirm") != Some(&Value::Bool(true)) {
            return Err(Failure::bad("confirm: must be true to erase a scope"));
        }
        let receipt = self.api.erase(self.credentials, scope).await?;
        Ok(HttpResponse::json(200, &json!({"receipt": receipt_json(&receipt)})))
    }

    /// The scope's memories (every owner's without a scope) with their history, one JSON object
    /// per line.
    async fn export(&self) -> Answer {
        let scope = self.optional_scope()?;
        let memories = self.api.export(self.credentials, scope).await?;
        let mut out = Vec::new();
        for memory in &memories {
            out.extend_from_slice(to_line(memory).as_bytes());
            out.push(b'\n');
        }
        Ok(HttpResponse::new(200, "application/x-ndjson; charset=utf-8", out)
            .with_header("Content-Disposition", "attachment; filename=\"memories.jsonl\""))
    }

    /// Imports JSON Lines as export writes them, line by line; the whole body is checked before
    /// anything is stored. Stopped at the first line that fails, naming it (lines before it are
    /// stored: importing the file again finishes the job).
    async fn import(&self) -> Answer {
        let lines = read_lines(&self.request.body).map_err(|e| match e {
            LineError::TooLong { .. } => Failure::new(413, "line_too_long", e),
            LineError::Invalid { .. } => Failure::bad(e),
        })?;
        let mut report = ImportReport::default();
        for (line, memory) in lines {
            let rows = memory.history.len();
            let outcome = self.api.import(self.credentials, memory).await.map_err(|e| {
                let failure = Failure::from(e);
                Failure::new(failure.status, failure.code, format!("line {line}: {}", failure.message))
            })?;
            report.count(outcome, rows);
        }
        let body = json!({"imported": {"stored": report.stored, "unchanged": report.unchanged, "history_rows": report.history_rows}});
        Ok(HttpResponse::json(200, &body))
    }

    /// Imports the change history of a Mem0 `history.db` sent as the body.
    async fn import_mem0_history(&self) -> Answer {
        if self.request.body.is_empty() {
            return Err(Failure::bad("the body must be a Mem0 history.db file"));
        }
        let path = std::env::temp_dir().join(format!("mem0-dify-history-{}.db", uuid::Uuid::new_v4().simple()));
        let body = self.request.body.clone();
        let read = tokio::task::spawn_blocking(move || {
            std::fs::write(&path, body).map_err(|e| format!("cannot keep the upload: {e}"))?;
            let rows = read_mem0_history(&path).map_err(|e| e.to_string());
            let _ = std::fs::remove_file(&path);
            rows
        })
        .await
        .map_err(|e| Failure::new(500, "internal", e))?;
        let rows = read.map_err(Failure::bad)?;
        let offered = self.api.import_history(self.credentials, rows).await?;
        Ok(HttpResponse::json(200, &json!({"imported": {"history_rows": offered}})))
    }
}

fn receipt_json(receipt: &EraseReceipt) -> Value {
    json!({
        "scope": scope_json(&receipt.scope),
        "memories_deleted": receipt.memories,
        "history_rows_deleted": receipt.history_rows,
        "journal_entries_deleted": receipt.journal_entries,
        "graph_erased": receipt.graph_erased,
        "started_at": crate::domain::memory::format_timestamp(&receipt.started_at),
        "finished_at": crate::domain::memory::format_timestamp(&receipt.finished_at),
    })
}

fn scope_json(scope: &Scope) -> Value {
    Value::Object(scope.pairs().map(|(k, v)| (k.to_owned(), Value::String(v.as_str().to_owned()))).collect())
}

fn still_running(write_id: &str) -> HttpResponse {
    HttpResponse::json(202, &json!({"write_id": write_id, "state": "running"}))
}
