//! Validated requests of the eight memory operations and their reports.

use super::filter::Filter;
use super::graph::{GraphChanges, Relation};
use super::memory::{MemoryId, MemoryRecord, MemoryText, Metadata, ScoredMemory};
use super::message::Conversation;
use super::scope::{EntityId, Scope};
use serde::{Deserialize, Serialize};

/// Results a search returns when the caller gives no limit (the guide's `SEARCH_DEFAULT_TOP_K`).
pub const SEARCH_DEFAULT_TOP_K: usize = 5;
/// Memories `get_all` returns when the caller gives no limit.
pub const LIST_DEFAULT_LIMIT: usize = 100;
/// Largest limit accepted by search and get_all.
pub const MAX_LIMIT: usize = 1000;
/// Longest search query accepted, in characters.
pub const MAX_QUERY_LEN: usize = 8_000;

/// Why a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A limit outside `1..=MAX_LIMIT`.
    #[error("{field} must be a whole number from 1 to {MAX_LIMIT}, got {got}")]
    BadLimit {
        /// The field.
        field: &'static str,
        /// What was given.
        got: String,
    },
    /// A threshold outside `[0, 1]`.
    #[error("threshold must be a number from 0 to 1, got {0}")]
    BadThreshold(String),
    /// An empty or too long query.
    #[error("query must be 1 to {MAX_QUERY_LEN} characters")]
    BadQuery,
}

/// Add: remember what a conversation says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddRequest {
    /// The messages (blank ones already removed).
    pub conversation: Conversation,
    /// Whose memory it is.
    pub scope: Scope,
    /// Metadata attached to every memory written.
    pub metadata: Metadata,
    /// true: extract facts with the LLM and reconcile; false: store the messages as given.
    pub infer: bool,
    /// Who is speaking (stored with infer=false memories).
    pub actor_id: Option<EntityId>,
    /// When the conversation happened (`timestamp`), when given: kept as each memory's
    /// `observed_at`, and the date relative dates are resolved against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the memories written expire (`expiration_date`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The caller's id of this add (`idempotency_key`): adds of one scope with the same key
    /// within the repeat window are applied once. Without it, the same messages count as a repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A validated search query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(String);

impl Query {
    /// Validates a query.
    pub fn parse(raw: &str) -> Result<Self, RequestError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_QUERY_LEN {
            return Err(RequestError::BadQuery);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The query text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated result limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(usize);

impl Limit {
    /// Validates a limit for `field`.
    pub fn new(field: &'static str, value: i64) -> Result<Self, RequestError> {
        if value < 1 || value as u64 > MAX_LIMIT as u64 {
            return Err(RequestError::BadLimit { field, got: value.to_string() });
        }
        Ok(Self(value as usize))
    }

    /// The limit.
    pub fn get(&self) -> usize {
        self.0
    }
}

/// A validated similarity threshold in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold(f32);

impl Threshold {
    /// Validates a threshold.
    pub fn new(value: f64) -> Result<Self, RequestError> {
        if !(0.0..=1.0).contains(&value) {
            return Err(RequestError::BadThreshold(value.to_string()));
        }
        Ok(Self(value as f32))
    }

    /// The threshold.
    pub fn get(&self) -> f32 {
        self.0
    }
}

/// Search: the scope's memories most similar to a query.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// The query.
    pub query: Query,
    /// Whose memories (always AND-ed with the filter).
    pub scope: Scope,
    /// Extra conditions on metadata.
    pub filter: Option<Filter>,
    /// How many results at most.
    pub limit: Limit,
    /// Drop results scoring below this.
    pub threshold: Option<Threshold>,
    /// Use the reranker when one is configured.
    pub rerank: bool,
    /// Which signals rank the results (hybrid by default).
    pub retrieval: super::fusion::Retrieval,
    /// Add each hit's score components to the reply.
    pub explain: bool,
    /// Include memories past their expiration date.
    pub show_expired: bool,
}

/// Get all: the scope's memories, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    /// Whose memories.
    pub scope: Scope,
    /// Extra conditions on metadata.
    pub filter: Option<Filter>,
    /// How many at most.
    pub limit: Limit,
    /// Include memories past their expiration date.
    pub show_expired: bool,
}

/// A memory named by id, optionally confined to a scope (another owner → not found).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRef {
    /// The memory.
    pub id: MemoryId,
    /// When given, the memory must belong to this scope.
    pub scope: Option<Scope>,
}

impl MemoryRef {
    /// True when `record` may be seen through this reference.
    pub fn admits(&self, record: &MemoryRecord) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(&record.scope))
    }
}

/// Update: replace a memory's text (re-embedded), optionally merging metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// Which memory.
    pub target: MemoryRef,
    /// Its new text.
    pub text: MemoryText,
    /// Metadata merged into the memory's own.
    pub metadata: Metadata,
    /// A new expiration date, when given (the memory's own is kept otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A write as it is journaled and applied in the background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", content = "request", rename_all = "snake_case")]
pub enum WriteCommand {
    /// Add.
    Add(AddRequest),
    /// Update.
    Update(UpdateRequest),
    /// Delete one memory.
    Delete(MemoryRef),
    /// Delete every memory of a scope.
    DeleteAll(Scope),
}

impl WriteCommand {
    /// The operation's name (`add`, `update`, `delete`, `delete_all`).
    pub fn name(&self) -> &'static str {
        match self {
            WriteCommand::Add(_) => "add",
            WriteCommand::Update(_) => "update",
            WriteCommand::Delete(_) => "delete",
            WriteCommand::DeleteAll(_) => "delete_all",
        }
    }

    /// True when a caller confined to `scope` may see this write: the write names its owner (the
    /// scope of an add or a delete-all, the scope given with an update or a delete) and `scope`
    /// contains it. A write recorded without an owner is visible only to unconfined callers.
    pub fn visible_to(&self, scope: &Scope) -> bool {
        let owner = match self {
            WriteCommand::Add(request) => Some(&request.scope),
            WriteCommand::DeleteAll(owner) => Some(owner),
            WriteCommand::Update(request) => request.target.scope.as_ref(),
            WriteCommand::Delete(target) => target.scope.as_ref(),
        };
        owner.is_some_and(|owner| scope.contains(owner))
    }

    /// True when the write is about a memory of `scope` or one of `memory_ids` (what an erase of
    /// the scope removes from the journal).
    pub fn concerns(&self, scope: &Scope, memory_ids: &[MemoryId]) -> bool {
        let target = match self {
            WriteCommand::Update(request) => Some(request.target.id),
            WriteCommand::Delete(target) => Some(target.id),
            WriteCommand::Add(_) | WriteCommand::DeleteAll(_) => None,
        };
        self.visible_to(scope) || target.is_some_and(|id| memory_ids.contains(&id))
    }

    /// Writes with the same key are applied one after another, in the order accepted: all
    /// writes of one user (else agent, else run), or of one memory when no scope is given.
    pub fn ordering_key(&self) -> String {
        let by_target = |target: &MemoryRef| match &target.scope {
            Some(scope) => scope.owner_key(),
            None => format!("m:{}", target.id),
        };
        match self {
            WriteCommand::Add(request) => request.scope.owner_key(),
            WriteCommand::DeleteAll(scope) => scope.owner_key(),
            WriteCommand::Update(request) => by_target(&request.target),
            WriteCommand::Delete(target) => by_target(target),
        }
    }
}

/// What an add did to one memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeEvent {
    /// A new memory.
    Add,
    /// An existing memory changed.
    Update,
    /// An existing memory was removed.
    Delete,
    /// Already known; nothing changed.
    None,
}

/// One memory an add touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryChange {
    /// The memory's id.
    pub id: MemoryId,
    /// Its text after the change (before it, for DELETE).
    pub memory: String,
    /// What happened.
    pub event: ChangeEvent,
    /// The stored text before an UPDATE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_memory: Option<String>,
}

/// The outcome of an add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddReport {
    /// The memories touched.
    pub results: Vec<MemoryChange>,
    /// Graph changes, when graph memory is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relations: Option<GraphChanges>,
    /// Set when graph memory is configured but failed; the vector memories were still written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_degraded: Option<String>,
    /// LLM calls made (for cost accounting).
    #[serde(default)]
    pub llm_calls: u32,
}

/// The outcome of a search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchReport {
    /// Memories, best first.
    pub results: Vec<ScoredMemory>,
    /// Related graph relations, when graph memory is configured.
    pub relations: Option<Vec<Relation>>,
    /// Set when graph memory is configured but failed.
    pub graph_degraded: Option<String>,
}

/// The outcome of get_all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListReport {
    /// Memories, newest first.
    pub results: Vec<MemoryRecord>,
    /// The scope's relations, when graph memory is configured.
    pub relations: Option<Vec<Relation>>,
    /// Set when graph memory is configured but failed.
    pub graph_degraded: Option<String>,
}

/// The outcome of delete_all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAllReport {
    /// How many memories were removed.
    pub deleted: u64,
}

/// What an applied write did: the result its tool answers, whichever way it was applied.
///
/// Serialized (untagged) as the synchronous call answers it — an add's report, the updated
/// memory, `{"id": …}` of the memory deleted, delete_all's report — which is how the journal
/// keeps it for `get_write_status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum WriteResult {
    /// What an add changed.
    Add(AddReport),
    /// The memory as updated.
    Update(MemoryRecord),
    /// The memory deleted.
    Delete {
        /// Its id.
        id: MemoryId,
    },
    /// What delete_all removed.
    DeleteAll(DeleteAllReport),
}

impl WriteResult {
    /// The result of `command` as the journal kept it (serialized, untagged): which variant it
    /// is follows from the command, not from the JSON's shape.
    pub fn from_kept(command: &WriteCommand, kept: serde_json::Value) -> Result<Self, serde_json::Error> {
        /// `{"id": …}`: what a delete answers.
        #[derive(Deserialize)]
        struct Deleted {
            id: MemoryId,
        }
        Ok(match command {
            WriteCommand::Add(_) => WriteResult::Add(serde_json::from_value(kept)?),
            WriteCommand::Update(_) => WriteResult::Update(serde_json::from_value(kept)?),
            WriteCommand::Delete(_) => WriteResult::Delete { id: serde_json::from_value::<Deleted>(kept)?.id },
            WriteCommand::DeleteAll(_) => WriteResult::DeleteAll(serde_json::from_value(kept)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_result_is_kept_as_the_sync_call_answers_it() {
        let id = MemoryId::from_uuid(uuid::Uuid::from_u128(7));
        let json = |result: &WriteResult| serde_json::to_value(result).unwrap_or_default();
        assert_eq!(json(&WriteResult::Delete { id }), serde_json::json!({"id": id.to_string()}));
        assert_eq!(json(&WriteResult::DeleteAll(DeleteAllReport { deleted: 3 })), serde_json::json!({"deleted": 3}));
        let report = AddReport::default();
        assert_eq!(json(&WriteResult::Add(report.clone())), serde_json::to_value(&report).unwrap_or_default());
    }

    #[test]
    fn a_write_is_visible_to_the_scopes_containing_its_owner() {
        let scope = |user: Option<&str>, agent: Option<&str>| Scope::parse(user, agent, None).unwrap();
        let alice_bot = scope(Some("alice"), Some("bot"));
        let id = MemoryId::from_uuid(uuid::Uuid::nil());
        let delete = |owner: Option<Scope>| WriteCommand::Delete(MemoryRef { id, scope: owner });
        let wipe = WriteCommand::DeleteAll(alice_bot.clone());
        assert!(wipe.visible_to(&scope(Some("alice"), None)));
        assert!(wipe.visible_to(&alice_bot));
        assert!(!wipe.visible_to(&scope(Some("bob"), None)));
        assert!(!wipe.visible_to(&scope(Some("alice"), Some("other"))));
        assert!(delete(Some(scope(Some("alice"), None))).visible_to(&scope(Some("alice"), None)));
        assert!(!delete(Some(scope(Some("alice"), None))).visible_to(&alice_bot));
        assert!(!delete(None).visible_to(&scope(Some("alice"), None)), "a write without an owner is no one's");
    }

    #[test]
    fn limits_thresholds_and_queries_are_bounded() {
        assert!(Limit::new("top_k", 0).is_err());
        assert_eq!(Limit::new("top_k", 5).unwrap().get(), 5);
        assert_eq!(
            Limit::new("limit", 5000).unwrap_err().to_string(),
            "limit must be a whole number from 1 to 1000, got 5000"
        );
        assert!(Threshold::new(1.2).is_err());
        assert!(Query::parse("  ").is_err());
        assert_eq!(Query::parse(" tea ").unwrap().as_str(), "tea");
    }
}
