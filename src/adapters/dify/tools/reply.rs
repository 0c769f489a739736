//! The JSON message of a tool reply: `{"status", "messages", "results"}` plus the optional
//! top-level extras `relations`, `write_id` and `degraded`, and the item shapes inside `results`.

use crate::domain::fusion::ScoreParts;
use crate::domain::graph::{GraphChanges, Relation};
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{format_timestamp, MemoryRecord, Metadata, ScoredMemory};
use crate::domain::message::Conversation;
use crate::domain::operations::MemoryChange;
use crate::ports::memory_api::{Degraded, WriteId};
use serde_json::{json, Map, Value};

/// `status` of a reply that did what was asked (possibly degraded or accepted).
pub(super) const SUCCESS: &str = "SUCCESS";
/// `status` of a reply that failed.
pub(super) const ERROR: &str = "ERROR";

/// Builder of the JSON message of a reply, keys in the documented order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonReply(Map<String, Value>);

impl JsonReply {
    /// `{"status": "SUCCESS", "messages": messages, "results": results}`.
    pub(super) fn success(messages: Value, results: Value) -> Self {
        Self::new(SUCCESS, messages, results)
    }

    /// `{"status": "ERROR", "messages": message, "results": empty}`.
    pub(super) fn error(message: &str, empty_results: Value) -> Self {
        Self::new(ERROR, Value::String(message.to_owned()), empty_results)
    }

    fn new(status: &str, messages: Value, results: Value) -> Self {
        let mut map = Map::new();
        map.insert("status".into(), Value::String(status.into()));
        map.insert("messages".into(), messages);
        map.insert("results".into(), results);
        Self(map)
    }

    /// Adds `write_id` (an accepted async write).
    pub(super) fn write_id(mut self, id: &WriteId) -> Self {
        self.0.insert("write_id".into(), Value::String(id.0.clone()));
        self
    }

    /// Adds `degraded: {"reason": …}` when the read was degraded.
    pub(super) fn degraded(mut self, degraded: Option<&Degraded>) -> Self {
        if let Some(d) = degraded {
            self.0.insert("degraded".into(), json!({ "reason": d.reason }));
        }
        self
    }

    /// Adds `relations` when graph memory returned some.
    pub(super) fn relations(mut self, relations: Option<Value>) -> Self {
        if let Some(r) = relations {
            self.0.insert("relations".into(), r);
        }
        self
    }

    /// Adds `graph_degraded: {"reason": …}` when graph memory failed beside a complete vector result.
    pub(super) fn graph_degraded(mut self, reason: Option<&str>) -> Self {
        if let Some(reason) = reason {
            self.0.insert("graph_degraded".into(), json!({ "reason": reason }));
        }
        self
    }

    /// The finished JSON object.
    pub(super) fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// `metadata` as items show it: `null` when empty (as Mem0 does), else the object.
fn metadata_json(metadata: &Metadata) -> Value {
    if metadata.is_empty() {
        Value::Null
    } else {
        Value::Object(metadata.as_map().clone())
    }
}

/// A score rounded to six decimals, so `0.87` does not print as `0.8700000047683716`.
pub(super) fn round_score(score: f32) -> f64 {
    (f64::from(score) * 1e6).round() / 1e6
}

fn score_json(score: f32) -> Value {
    json!(round_score(score))
}

/// A memory as get / get_all / update show it: `id, memory, metadata, created_at, updated_at`.
pub(super) fn memory_item(record: &MemoryRecord) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(record.id.to_string()));
    map.insert("memory".into(), Value::String(record.text.as_str().to_owned()));
    map.insert("metadata".into(), metadata_json(&record.metadata));
    map.insert("created_at".into(), Value::String(format_timestamp(&record.created_at)));
    map.insert("updated_at".into(), Value::String(format_timestamp(&record.updated_at)));
    observed_item(&mut map, record);
    map
}

/// `observed_at` and `expiration_date`, when the memory has them.
fn observed_item(map: &mut Map<String, Value>, record: &MemoryRecord) {
    if let Some(observed) = &record.observed_at {
        map.insert("observed_at".into(), Value::String(format_timestamp(observed)));
    }
    if let Some(expires) = &record.expires_at {
        map.insert("expiration_date".into(), Value::String(format_timestamp(expires)));
    }
}

/// A search hit: `id, memory, score, metadata, created_at, updated_at` (+ `rerank_score`).
pub(super) fn scored_item(hit: &ScoredMemory) -> Value {
    let record = &hit.record;
    let mut map = Map::new();
    map.insert("id".into(), Value::String(record.id.to_string()));
    map.insert("memory".into(), Value::String(record.text.as_str().to_owned()));
    map.insert("score".into(), score_json(hit.score.value()));
    if let Some(rerank) = hit.rerank_score {
        map.insert("rerank_score".into(), score_json(rerank));
    }
    if let Some(parts) = &hit.parts {
        map.insert("explain".into(), explain_json(parts));
    }
    map.insert("metadata".into(), metadata_json(&record.metadata));
    map.insert("created_at".into(), Value::String(format_timestamp(&record.created_at)));
    map.insert("updated_at".into(), Value::String(format_timestamp(&record.updated_at)));
    observed_item(&mut map, record);
    Value::Object(map)
}

/// The parts of a hybrid score (`explain: true`): `score = semantic_weight × semantic +
/// lexical_weight × lexical`; `bm25` is the raw keyword score, `rerank` the reranker's.
fn explain_json(parts: &ScoreParts) -> Value {
    let mut map = Map::new();
    map.insert("semantic".into(), score_json(parts.semantic));
    map.insert("lexical".into(), score_json(parts.lexical));
    map.insert("bm25".into(), score_json(parts.bm25));
    map.insert("semantic_weight".into(), score_json(parts.semantic_weight));
    map.insert("lexical_weight".into(), score_json(parts.lexical_weight));
    if let Some(rerank) = parts.rerank {
        map.insert("rerank".into(), score_json(rerank));
    }
    Value::Object(map)
}

/// One change of a synchronous add: `id, memory, event` (+ `previous_memory` for UPDATE).
pub(super) fn change_item(change: &MemoryChange) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(change.id.to_string()));
    map.insert("memory".into(), Value::String(change.memory.clone()));
    map.insert("event".into(), Value::String(event_name(change).to_owned()));
    if let Some(previous) = &change.previous_memory {
        map.insert("previous_memory".into(), Value::String(previous.clone()));
    }
    Value::Object(map)
}

/// `ADD`, `UPDATE`, `DELETE` or `NONE`.
pub(super) fn event_name(change: &MemoryChange) -> &'static str {
    use crate::domain::operations::ChangeEvent;
    match change.event {
        ChangeEvent::Add => "ADD",
        ChangeEvent::Update => "UPDATE",
        ChangeEvent::Delete => "DELETE",
        ChangeEvent::None => "NONE",
    }
}

/// A history row: `id, memory_id, old_memory, new_memory, event, created_at, updated_at,
/// is_deleted, actor_id, role` (Mem0's history columns).
pub(super) fn history_item(entry: &HistoryEntry) -> Value {
    let text = |t: &Option<crate::domain::memory::MemoryText>| {
        t.as_ref().map_or(Value::Null, |t| Value::String(t.as_str().to_owned()))
    };
    json!({
        "id": entry.id.to_string(),
        "memory_id": entry.memory_id.to_string(),
        "old_memory": text(&entry.old_memory),
        "new_memory": text(&entry.new_memory),
        "event": entry.event.as_str(),
        "created_at": format_timestamp(&entry.created_at),
        "updated_at": format_timestamp(&entry.updated_at),
        "is_deleted": entry.is_deleted,
        "actor_id": entry.actor_id.as_ref().map(|a| a.as_str()),
        "role": entry.role,
    })
}

/// A graph relation: `{"source", "relationship", "destination"}`.
pub(super) fn relation_item(relation: &Relation) -> Value {
    json!({
        "source": relation.source,
        "relationship": relation.relationship,
        "destination": relation.destination,
    })
}

/// Relations found by a search or listing.
pub(super) fn relations_json(relations: &[Relation]) -> Value {
    Value::Array(relations.iter().map(relation_item).collect())
}

/// The graph changes of an add: `{"added_entities": [...], "deleted_entities": [...]}`.
pub(super) fn graph_changes_json(changes: &GraphChanges) -> Value {
    json!({
        "added_entities": relations_json(&changes.added_entities),
        "deleted_entities": relations_json(&changes.deleted_entities),
    })
}

/// Characters of one input a reply repeats; the rest is cut, with [`echo`]'s marker.
pub(super) const ECHO_CHARS: usize = 2_000;

/// An input as a reply repeats it: whole up to [`ECHO_CHARS`] characters, else its start and a
/// marker saying how long it was (a reply never grows with the input).
pub(super) fn echo(text: &str) -> Value {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(ECHO_CHARS).collect();
    match chars.next() {
        None => Value::String(head),
        Some(_) => Value::String(format!("{head}… [cut: {} characters in all]", text.chars().count())),
    }
}

/// A JSON input (metadata) as a reply repeats it: as is when short, else [`echo`] of its text.
pub(super) fn echo_json(value: &Value) -> Value {
    let text = value.to_string();
    if text.chars().count() <= ECHO_CHARS {
        value.clone()
    } else {
        echo(&text)
    }
}

/// The messages of an add as `[{"role", "content"}]`, each content cut by [`echo`].
pub(super) fn conversation_json(conversation: &Conversation) -> Value {
    Value::Array(
        conversation
            .messages()
            .iter()
            .map(|m| json!({ "role": m.role.as_str(), "content": echo(&m.content) }))
            .collect(),
    )
}
