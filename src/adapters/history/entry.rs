//! Reading stored history columns back into a [`HistoryEntry`] (shared by the SQL stores).

use crate::adapters::stored_time::parse_stored_timestamp;
use crate::domain::history::{HistoryEntry, HistoryEvent};
use crate::domain::memory::{MemoryId, MemoryText};
use crate::domain::scope::{EntityId, Scope};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The stored columns of one history row, as read.
pub(super) struct StoredRow {
    /// `id`.
    pub id: Uuid,
    /// `memory_id`.
    pub memory_id: MemoryId,
    /// `old_memory`.
    pub old_memory: Option<String>,
    /// `new_memory`.
    pub new_memory: Option<String>,
    /// `event`.
    pub event: Option<String>,
    /// `created_at`.
    pub created_at: Option<DateTime<Utc>>,
    /// `updated_at` (NULL in Mem0 2.x batch ADD rows).
    pub updated_at: Option<DateTime<Utc>>,
    /// `is_deleted`.
    pub is_deleted: Option<bool>,
    /// `actor_id`.
    pub actor_id: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `user_id`, `agent_id`, `run_id`: the memory's scope (our columns beside Mem0's).
    pub owner: [Option<String>; 3],
}

impl StoredRow {
    /// The entry; the error names the row and the column.
    pub(super) fn into_entry(self) -> Result<HistoryEntry, String> {
        let id = self.id;
        let event = self
            .event
            .as_deref()
            .and_then(HistoryEvent::parse)
            .ok_or_else(|| format!("history row {id}: event {:?} is not ADD, UPDATE or DELETE", self.event))?;
        let created_at = self
            .created_at
            .or(self.updated_at)
            .ok_or_else(|| format!("history row {id}: created_at is missing or unreadable"))?;
        let text = |value: Option<String>| value.and_then(|v| MemoryText::parse("memory", &v).ok());
        Ok(HistoryEntry {
            id,
            memory_id: self.memory_id,
            old_memory: text(self.old_memory),
            new_memory: text(self.new_memory),
            event,
            created_at,
            updated_at: self.updated_at.unwrap_or(created_at),
            is_deleted: self.is_deleted.unwrap_or(event == HistoryEvent::Delete),
            actor_id: self.actor_id.and_then(|a| EntityId::parse("actor_id", &a).ok()),
            role: self.role.filter(|r| !r.trim().is_empty()),
            owner: {
                let [user, agent, run] = &self.owner;
                Scope::parse(user.as_deref(), agent.as_deref(), run.as_deref()).ok()
            },
        })
    }
}

/// Parses a timestamp column stored as text.
pub(super) fn text_time(raw: Option<String>) -> Option<DateTime<Utc>> {
    raw.as_deref().and_then(parse_stored_timestamp)
}

/// The `user_id`, `agent_id` and `run_id` columns of a row about a memory of `owner`.
pub(super) fn owner_columns(owner: Option<&Scope>) -> [Option<String>; 3] {
    let id = |value: Option<&crate::domain::scope::EntityId>| value.map(|v| v.as_str().to_owned());
    match owner {
        Some(scope) => [id(scope.user_id()), id(scope.agent_id()), id(scope.run_id())],
        None => [None, None, None],
    }
}
