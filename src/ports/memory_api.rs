//! Inbound port: what the plugin runtime and the command line ask of the memory engine.

use crate::domain::credentials::CredentialSet;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::domain::operations::{
    AddReport, AddRequest, DeleteAllReport, ListReport, ListRequest, MemoryRef, SearchReport, SearchRequest,
    UpdateRequest,
};
use crate::domain::scope::Scope;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The identifier of an accepted write, to look up its outcome later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WriteId(pub String);

/// An accepted write looked up by id, optionally confined to an owner: a write of another owner
/// is reported as unknown, as another owner's memory is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRef {
    /// The write.
    pub id: WriteId,
    /// When given, the write must be one of this scope (see `WriteCommand::visible_to`).
    pub scope: Option<Scope>,
}

/// The outcome of a write: done now (sync mode) or accepted for the background (async mode).
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome<T> {
    /// Applied; here is the result.
    Done(T),
    /// Recorded and queued; it will be applied in the background.
    Accepted(WriteId),
    /// A sync write that outlived its ceiling: recorded, still being applied; its outcome is
    /// found with the write id.
    Running(WriteId),
}

/// Why a read returned the empty default instead of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Degraded {
    /// What went wrong (timeout or backend error), without secrets.
    pub reason: String,
}

/// The outcome of a read: the value, possibly the empty default of a degraded read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOutcome<T> {
    /// The data (the empty default when degraded).
    pub value: T,
    /// Set when the read timed out or failed and `value` is the empty default.
    pub degraded: Option<Degraded>,
}

impl<T> ReadOutcome<T> {
    /// A complete read.
    pub fn complete(value: T) -> Self {
        Self { value, degraded: None }
    }
}

/// The state of an accepted write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum WriteState {
    /// Waiting or being retried.
    Pending {
        /// Attempts so far.
        attempts: u32,
        /// The last transient error, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
    },
    /// Applied; the JSON result of the operation.
    Applied {
        /// The result, as the synchronous call would have returned it.
        result: serde_json::Value,
    },
    /// Gave up; the permanent reason.
    Failed {
        /// Why (for an unreadable model answer, a short quote of it).
        error: String,
        /// Attempts made (absent in outcomes recorded by older versions: 0).
        #[serde(default)]
        attempts: u32,
    },
}

/// Context of one invocation, as the runtime knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeContext {
    /// The Dify end user the request is for, when the daemon says.
    pub end_user: Option<String>,
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Credentials are invalid (names the credential and key).
    #[error("{0}")]
    Configuration(String),
    /// The request is invalid (names the parameter).
    #[error("{0}")]
    InvalidRequest(String),
    /// No such memory in the given scope.
    #[error("Memory not found: {0}")]
    NotFound(MemoryId),
    /// Too many writes are waiting.
    #[error("busy: {0} writes are already waiting; retry shortly")]
    Busy(usize),
    /// A backend failed (sync mode or validation).
    #[error("{0}")]
    Backend(String),
    /// Took longer than the operation's ceiling.
    #[error("{operation} did not finish within {after:?}")]
    Timeout {
        /// The operation.
        operation: &'static str,
        /// The ceiling.
        after: Duration,
    },
    /// The process is stopping and accepts no new writes.
    #[error("the plugin is shutting down")]
    ShuttingDown,
}

/// What one validation check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The credential checked (e.g. `local_llm_json`).
    pub credential: String,
    /// `None` when fine, else what is wrong.
    pub error: Option<String>,
}

/// The memory engine as the outside world uses it.
#[async_trait]
pub trait MemoryApi: Send + Sync + 'static {
    /// Remembers a conversation.
    async fn add(&self, credentials: &CredentialSet, request: AddRequest) -> Result<WriteOutcome<AddReport>, ApiError>;
    /// Searches a scope.
    async fn search(
        &self,
        credentials: &CredentialSet,
        request: SearchRequest,
    ) -> Result<ReadOutcome<SearchReport>, ApiError>;
    /// Lists a scope.
    async fn get_all(
        &self,
        credentials: &CredentialSet,
        request: ListRequest,
    ) -> Result<ReadOutcome<ListReport>, ApiError>;
    /// One memory (`Ok(value: None)` = not found).
    async fn get(
        &self,
        credentials: &CredentialSet,
        target: MemoryRef,
    ) -> Result<ReadOutcome<Option<MemoryRecord>>, ApiError>;
    /// Rewrites one memory.
    async fn update(
        &self,
        credentials: &CredentialSet,
        request: UpdateRequest,
    ) -> Result<WriteOutcome<MemoryRecord>, ApiError>;
    /// Deletes one memory.
    async fn delete(&self, credentials: &CredentialSet, target: MemoryRef) -> Result<WriteOutcome<MemoryId>, ApiError>;
    /// Deletes a scope's memories (and graph), nothing else.
    async fn delete_all(
        &self,
        credentials: &CredentialSet,
        scope: Scope,
    ) -> Result<WriteOutcome<DeleteAllReport>, ApiError>;
    /// A memory's change history, oldest first.
    async fn history(
        &self,
        credentials: &CredentialSet,
        target: MemoryRef,
    ) -> Result<ReadOutcome<Vec<HistoryEntry>>, ApiError>;
    /// The state of an accepted write (`None` when unknown, or another owner's).
    async fn write_status(&self, credentials: &CredentialSet, target: WriteRef)
        -> Result<Option<WriteState>, ApiError>;
    /// Really checks every configured backend, within an overall timeout.
    async fn validate(&self, credentials: &CredentialSet) -> Result<Vec<CheckResult>, ApiError>;
    /// Stops accepting writes and waits up to `deadline` for accepted ones to finish.
    async fn shutdown(&self, deadline: Duration);
}
