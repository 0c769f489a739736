//! The typed outputs of each tool: the variables a Dify workflow binds (`{{#node.count#}}`),
//! declared by each tool's `output_schema` and sent as `variable` messages beside the JSON and
//! text messages.
//!
//! Every output of a tool is present in every reply, with an empty value (`""`, `0`, `false`,
//! `[]`, `{}`) on errors and degraded reads, so that downstream nodes never see a missing value.

use super::reply::{event_name, round_score, ERROR, SUCCESS};
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{format_timestamp, MemoryRecord, Metadata, ScoredMemory};
use crate::domain::operations::{AddReport, ChangeEvent, MemoryChange};
use crate::domain::scope::Scope;
use crate::ports::memory_api::{Degraded, WriteState};
use serde::Serialize;
use serde_json::{Map, Value};

/// `state` of a write reply: applied before the answer.
pub(super) const STATE_DONE: &str = "done";
/// `state` of a write reply: recorded, applied in the background.
pub(super) const STATE_ACCEPTED: &str = "accepted";
/// `state` of a write reply: a sync write still running past its ceiling.
pub(super) const STATE_RUNNING: &str = "running";
/// `state` of an add with nothing to remember.
pub(super) const STATE_SKIPPED: &str = "skipped";

/// One variable message: a root-level workflow variable and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The variable's name (a property of the tool's `output_schema`).
    pub name: String,
    /// Its value.
    pub value: Value,
}

/// Where the ids of a scope came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScopeSource {
    /// No scope (an error before one was read).
    #[default]
    #[serde(rename = "")]
    None,
    /// The `user_id` / `agent_id` / `run_id` parameters.
    Parameters,
    /// The Dify end user of the call: no id was given, or `bind_user_to_dify_user` is on.
    DifyEndUser,
}

/// The scope a call used: `{"user_id", "agent_id", "run_id", "source"}` (`""` for an id not set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ScopeOutput {
    /// The user the memories belong to.
    pub user_id: String,
    /// The agent, if any.
    pub agent_id: String,
    /// The run, if any.
    pub run_id: String,
    /// `parameters`, `dify_end_user`, or `""` when no scope was read.
    pub source: ScopeSource,
}

impl ScopeOutput {
    /// The ids of `scope`, read from `source`.
    pub fn new(scope: &Scope, source: ScopeSource) -> Self {
        let mut out = Self { source, ..Self::default() };
        for (key, id) in scope.pairs() {
            let slot = match key {
                "user_id" => &mut out.user_id,
                "agent_id" => &mut out.agent_id,
                _ => &mut out.run_id,
            };
            *slot = id.as_str().to_owned();
        }
        out
    }
}

/// A memory as the `memories` / `memory` outputs show it. Dates are RFC 3339, `""` when unset.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct MemoryOutput {
    /// Its id (`""` for no memory).
    pub id: String,
    /// Its text.
    pub memory: String,
    /// Its metadata (`{}` when none).
    pub metadata: Map<String, Value>,
    /// When it was stored.
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When the conversation it came from happened.
    pub observed_at: String,
    /// When it expires.
    pub expiration_date: String,
}

impl MemoryOutput {
    /// The output of `record`.
    pub fn new(record: &MemoryRecord) -> Self {
        let date = |at: Option<&chrono::DateTime<chrono::Utc>>| at.map(format_timestamp).unwrap_or_default();
        Self {
            id: record.id.to_string(),
            memory: record.text.as_str().to_owned(),
            metadata: metadata_map(&record.metadata),
            created_at: format_timestamp(&record.created_at),
            updated_at: format_timestamp(&record.updated_at),
            observed_at: date(record.observed_at.as_ref()),
            expiration_date: date(record.expires_at.as_ref()),
        }
    }
}

/// A search hit: the memory and its `score` (similarity in `[0, 1]`, higher is more relevant).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitOutput {
    /// The memory.
    #[serde(flatten)]
    pub memory: MemoryOutput,
    /// Its relevance to the query.
    pub score: f64,
}

impl HitOutput {
    /// The output of `hit`.
    pub fn new(hit: &ScoredMemory) -> Self {
        Self { memory: MemoryOutput::new(&hit.record), score: round_score(hit.score.value()) }
    }
}

/// One change of an add: `{"id", "memory", "event", "previous_memory"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventOutput {
    /// The memory's id.
    pub id: String,
    /// Its text after the change (before it, for DELETE).
    pub memory: String,
    /// `ADD`, `UPDATE`, `DELETE` or `NONE`.
    pub event: String,
    /// The text before an UPDATE, else `""`.
    pub previous_memory: String,
}

impl EventOutput {
    /// The output of `change`.
    pub fn new(change: &MemoryChange) -> Self {
        Self {
            id: change.id.to_string(),
            memory: change.memory.clone(),
            event: event_name(change).to_owned(),
            previous_memory: change.previous_memory.clone().unwrap_or_default(),
        }
    }
}

/// A history row: `{"id", "memory_id", "event", "old_memory", "new_memory", "created_at", "is_deleted"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryOutput {
    /// The row's id.
    pub id: String,
    /// The memory it is about.
    pub memory_id: String,
    /// `ADD`, `UPDATE` or `DELETE`.
    pub event: String,
    /// The text before (`""` for ADD).
    pub old_memory: String,
    /// The text after (`""` for DELETE).
    pub new_memory: String,
    /// When the change happened.
    pub created_at: String,
    /// True for the row of a deletion.
    pub is_deleted: bool,
}

impl HistoryOutput {
    /// The output of `entry`.
    pub fn new(entry: &HistoryEntry) -> Self {
        let text = |t: &Option<crate::domain::memory::MemoryText>| t.as_ref().map(|t| t.as_str().to_owned());
        Self {
            id: entry.id.to_string(),
            memory_id: entry.memory_id.to_string(),
            event: entry.event.as_str().to_owned(),
            old_memory: text(&entry.old_memory).unwrap_or_default(),
            new_memory: text(&entry.new_memory).unwrap_or_default(),
            created_at: format_timestamp(&entry.created_at),
            is_deleted: entry.is_deleted,
        }
    }
}

/// `status` and `error` of every tool: `SUCCESS` and `""`, or `ERROR` and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `SUCCESS` or `ERROR`.
    pub status: &'static str,
    /// Why it failed, `""` on success.
    pub error: String,
}

impl Default for Status {
    fn default() -> Self {
        Self { status: SUCCESS, error: String::new() }
    }
}

impl Status {
    /// The status of a failed call.
    pub fn failed(message: &str) -> Self {
        Self { status: ERROR, error: message.to_owned() }
    }
}

/// Whether a read was degraded (a backend failed or was too slow) and why (`""` when not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Degradation {
    /// True when the results are empty because the read could not finish.
    pub degraded: bool,
    /// Why, `""` when not degraded.
    pub degraded_reason: String,
}

impl Degradation {
    /// The degradation of a read outcome.
    pub fn of(degraded: Option<&Degraded>) -> Self {
        degraded.map_or_else(Self::default, |d| Self { degraded: true, degraded_reason: d.reason.clone() })
    }
}

/// `search_memory`: the hits, a prompt-ready `context`, their `count`, and the scope searched.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SearchOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// The hits, most relevant first.
    pub memories: Vec<HitOutput>,
    /// One line per hit with its date, most relevant first, within `max_context_chars`.
    pub context: String,
    /// Hits returned.
    pub count: usize,
    /// Degradation.
    #[serde(flatten)]
    pub degradation: Degradation,
    /// The scope searched.
    pub scope: ScopeOutput,
}

/// `add_memory`: what became of the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct AddOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// `done`, `accepted`, `running`, `skipped`, or `""` on error.
    pub state: String,
    /// The write's id (`get_write_status`), `""` when none was recorded.
    pub write_id: String,
    /// The memories touched (a done add), else `[]`.
    pub events: Vec<EventOutput>,
    /// Memories added.
    pub added: usize,
    /// Memories updated.
    pub updated: usize,
    /// Memories deleted.
    pub deleted: usize,
    /// The scope written.
    pub scope: ScopeOutput,
}

impl AddOutputs {
    /// The counts and events of a done add.
    pub fn done(report: &AddReport) -> Self {
        let count = |event: ChangeEvent| report.results.iter().filter(|c| c.event == event).count();
        Self {
            state: STATE_DONE.into(),
            events: report.results.iter().map(EventOutput::new).collect(),
            added: count(ChangeEvent::Add),
            updated: count(ChangeEvent::Update),
            deleted: count(ChangeEvent::Delete),
            ..Self::default()
        }
    }
}

/// `get_all_memories`: the memories of the scope and their count.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ListOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// The memories, newest first.
    pub memories: Vec<MemoryOutput>,
    /// Memories returned.
    pub count: usize,
    /// Degradation.
    #[serde(flatten)]
    pub degradation: Degradation,
    /// The scope listed.
    pub scope: ScopeOutput,
}

/// `get_memory`: the memory (all fields `""` when not found or degraded).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct GetOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// The memory.
    pub memory: MemoryOutput,
    /// True when the memory was found.
    pub found: bool,
    /// Degradation.
    #[serde(flatten)]
    pub degradation: Degradation,
}

/// `get_memory_history`: the changes of one memory, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct HistoryOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// The history rows.
    pub history: Vec<HistoryOutput>,
    /// Rows returned.
    pub count: usize,
    /// Degradation.
    #[serde(flatten)]
    pub degradation: Degradation,
}

/// `update_memory`, `delete_memory`, `delete_all_memories`: what became of the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct WriteOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// `done`, `accepted`, `running`, or `""` on error.
    pub state: String,
    /// The write's id (`get_write_status`), `""` for a write done before the answer.
    pub write_id: String,
}

/// `get_write_status`: the state of an accepted write and, once applied, its result.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct WriteStatusOutputs {
    /// Status.
    #[serde(flatten)]
    pub status: Status,
    /// `pending`, `applied`, `failed`, or `""` when unknown.
    pub state: String,
    /// The result of an applied write (`{}` otherwise; a list result is under `results`).
    pub result: Map<String, Value>,
    /// Why a failed write failed, else `""`.
    pub write_error: String,
}

impl WriteStatusOutputs {
    /// The outputs of a known write.
    pub fn of(state: &WriteState) -> Self {
        let (name, result, write_error) = match state {
            WriteState::Pending { .. } => ("pending", Map::new(), String::new()),
            WriteState::Applied { result } => match serde_json::to_value(result) {
                Ok(Value::Object(map)) => ("applied", map, String::new()),
                other => {
                    let value = other.unwrap_or_else(|e| Value::String(format!("the result cannot be shown: {e}")));
                    ("applied", Map::from_iter([("results".to_owned(), value)]), String::new())
                }
            },
            WriteState::Failed { error, .. } => ("failed", Map::new(), error.clone()),
        };
        Self { state: name.into(), result, write_error, ..Self::default() }
    }
}

/// The outputs of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutputs {
    /// `search_memory`.
    Search(SearchOutputs),
    /// `add_memory`.
    Add(AddOutputs),
    /// `get_all_memories`.
    List(ListOutputs),
    /// `get_memory`.
    Get(GetOutputs),
    /// `get_memory_history`.
    History(HistoryOutputs),
    /// `update_memory`, `delete_memory`, `delete_all_memories`.
    Write(WriteOutputs),
    /// `get_write_status`.
    WriteStatus(WriteStatusOutputs),
    /// An unknown tool: no outputs.
    None,
}

impl ToolOutputs {
    /// The variables, one per output, in declaration order.
    pub fn variables(&self) -> Vec<Variable> {
        let value = match self {
            Self::Search(o) => serde_json::to_value(o),
            Self::Add(o) => serde_json::to_value(o),
            Self::List(o) => serde_json::to_value(o),
            Self::Get(o) => serde_json::to_value(o),
            Self::History(o) => serde_json::to_value(o),
            Self::Write(o) => serde_json::to_value(o),
            Self::WriteStatus(o) => serde_json::to_value(o),
            Self::None => Ok(Value::Null),
        };
        match value {
            Ok(Value::Object(map)) => map.into_iter().map(|(name, value)| Variable { name, value }).collect(),
            // Maps of strings and numbers always serialize; nothing to send otherwise.
            _ => Vec::new(),
        }
    }
}

fn metadata_map(metadata: &Metadata) -> Map<String, Value> {
    metadata.as_map().clone()
}
