//! Inbound port: what the plugin runtime and the command line ask of the memory engine.

use crate::domain::credentials::CredentialSet;
use crate::domain::history::HistoryEntry;
use crate::domain::json_answer::UnreadableAnswer;
use crate::domain::memory::{MemoryError, MemoryId, MemoryRecord};
use crate::domain::operations::{
    AddReport, AddRequest, DeleteAllReport, ListReport, ListRequest, MemoryRef, SearchReport, SearchRequest,
    UpdateRequest, WriteResult,
};
use crate::domain::scope::Scope;
use crate::ports::embedder::EmbedError;
use crate::ports::graph_store::GraphError;
use crate::ports::llm::LlmError;
use crate::ports::store::StoreError;
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
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// Applied, with the operation's result.
    Applied {
        /// The result, as the synchronous call would have returned it.
        result: Box<WriteResult>,
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

/// Why an operation failed. A backend's failure keeps its cause (the model's, the embedder's, a
/// store's, graph memory's), so a caller can tell what failed and whether a retry may help
/// ([`ApiError::is_transient`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Credentials are invalid (names the credential and key).
    #[error("{0}")]
    Configuration(String),
    /// The request is invalid (names the parameter).
    #[error("{0}")]
    InvalidRequest(String),
    /// A value of the request cannot be a memory (e.g. a text over the limit).
    #[error("{0}")]
    InvalidMemory(#[from] MemoryError),
    /// No such memory in the given scope.
    #[error("Memory not found: {0}")]
    NotFound(MemoryId),
    /// Too many writes are waiting.
    #[error("busy: {0} writes are already waiting; retry shortly")]
    Busy(usize),
    /// The chat model failed.
    #[error("LLM: {0}")]
    Model(#[from] LlmError),
    /// The embedding model failed.
    #[error("embedder: {0}")]
    Embedder(#[from] EmbedError),
    /// A store (vector store, history, journal) failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Graph memory failed where its failure fails the operation.
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The model's answer to one step of a write stayed unreadable after every attempt.
    #[error("{step}: {answer} (after {attempts} attempts)")]
    UnreadableAnswer {
        /// The step (`fact extraction`, `update decision`).
        step: &'static str,
        /// Calls made.
        attempts: u32,
        /// The last answer, quoted in part.
        answer: UnreadableAnswer,
    },
    /// An earlier attempt of this write failed; the journal kept its reason as text.
    #[error("{0}")]
    FailedEarlier(String),
    /// The write could not be recorded, so it was not accepted (nothing will apply it).
    #[error("the write was not accepted: {0}")]
    NotAccepted(#[source] Box<ApiError>),
    /// A long write is still running; repeating the request finishes it.
    #[error("the {operation} is still running (write {}); repeat it to finish", write.0)]
    StillRunning {
        /// The operation.
        operation: &'static str,
        /// The running write.
        write: WriteId,
    },
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
    /// A bug: data that should be well-formed was not.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// True when repeating the request later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Busy(_) | ApiError::Timeout { .. } | ApiError::StillRunning { .. } => true,
            ApiError::Model(e) => e.is_transient(),
            ApiError::Embedder(e) => e.is_transient(),
            ApiError::Store(e) => e.is_transient(),
            ApiError::Graph(e) => e.is_transient(),
            ApiError::NotAccepted(cause) => cause.is_transient(),
            ApiError::Configuration(_)
            | ApiError::InvalidRequest(_)
            | ApiError::InvalidMemory(_)
            | ApiError::NotFound(_)
            | ApiError::UnreadableAnswer { .. }
            | ApiError::FailedEarlier(_)
            | ApiError::ShuttingDown
            | ApiError::Internal(_) => false,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_keeps_its_cause_and_says_whether_a_retry_may_help() {
        let down = StoreError::Unavailable { store: "write journal", message: "connection refused".into() };
        let not_accepted = ApiError::NotAccepted(Box::new(down.clone().into()));
        assert!(not_accepted.is_transient(), "the journal being down may pass");
        assert_eq!(
            not_accepted.to_string(),
            "the write was not accepted: the write journal is unavailable: connection refused"
        );
        assert_eq!(std::error::Error::source(&not_accepted).map(ToString::to_string), Some(down.to_string()));

        let refused = ApiError::Model(LlmError::Unauthorized { status: 401, message: "bad key".into() });
        assert!(!refused.is_transient(), "a refused key stays refused");
        let graph = ApiError::Graph(GraphError::Model {
            purpose: "graph extraction",
            cause: LlmError::Timeout(Duration::from_secs(30)),
        });
        assert!(graph.is_transient(), "a model that timed out may answer later");
        assert!(ApiError::Busy(3).is_transient());
        assert!(!ApiError::NotFound(MemoryId::from_uuid(uuid::Uuid::nil())).is_transient());
    }
}
