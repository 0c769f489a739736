//! How the console shows memories and history rows in JSON: the tools' fields plus the owner
//! (`user_id`, `agent_id`, `run_id`), so an export line says whose memory it is.

use crate::domain::history::HistoryEntry;
use crate::domain::memory::{format_timestamp, MemoryRecord, ScoredMemory};
use serde_json::{json, Value};

/// A memory: `id, memory, metadata, created_at, updated_at`, its owner's ids, and
/// `observed_at` / `expiration_date` when set.
pub fn memory_json(record: &MemoryRecord) -> Value {
    let mut value = json!({
        "id": record.id.to_string(),
        "memory": record.text.as_str(),
        "metadata": Value::Object(record.metadata.as_map().clone()),
        "created_at": format_timestamp(&record.created_at),
        "updated_at": format_timestamp(&record.updated_at),
    });
    for (name, id) in record.scope.pairs() {
        value[name] = Value::String(id.as_str().to_owned());
    }
    if let Some(at) = &record.observed_at {
        value["observed_at"] = Value::String(format_timestamp(at));
    }
    if let Some(at) = &record.expires_at {
        value["expiration_date"] = Value::String(format_timestamp(at));
    }
    value
}

/// A search hit: the memory and its `score`.
pub fn scored_json(hit: &ScoredMemory) -> Value {
    let mut value = memory_json(&hit.record);
    value["score"] = json!((f64::from(hit.score.value()) * 1e6).round() / 1e6);
    value
}

/// A history row with Mem0's column names.
pub fn history_json(entry: &HistoryEntry) -> Value {
    json!({
        "id": entry.id.to_string(),
        "memory_id": entry.memory_id.to_string(),
        "old_memory": entry.old_memory.as_ref().map(|t| t.as_str()),
        "new_memory": entry.new_memory.as_ref().map(|t| t.as_str()),
        "event": entry.event.as_str(),
        "created_at": format_timestamp(&entry.created_at),
        "updated_at": format_timestamp(&entry.updated_at),
        "is_deleted": entry.is_deleted,
    })
}
