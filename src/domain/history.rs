//! The change history of a memory.

use super::memory::{MemoryId, MemoryText};
use super::scope::EntityId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened to a memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HistoryEvent {
    /// It was created.
    Add,
    /// Its text changed.
    Update,
    /// It was deleted.
    Delete,
}

impl HistoryEvent {
    /// The event as stored and shown (`ADD`, `UPDATE`, `DELETE`).
    pub fn as_str(&self) -> &'static str {
        match self {
            HistoryEvent::Add => "ADD",
            HistoryEvent::Update => "UPDATE",
            HistoryEvent::Delete => "DELETE",
        }
    }

    /// Parses a stored event name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "ADD" => Some(Self::Add),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// One row of a memory's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The row's identifier.
    pub id: Uuid,
    /// The memory it is about.
    pub memory_id: MemoryId,
    /// The text before the change (`None` for ADD).
    pub old_memory: Option<MemoryText>,
    /// The text after the change (`None` for DELETE).
    pub new_memory: Option<MemoryText>,
    /// What happened.
    pub event: HistoryEvent,
    /// When the memory was created.
    pub created_at: DateTime<Utc>,
    /// When this change happened.
    pub updated_at: DateTime<Utc>,
    /// True for the DELETE row.
    pub is_deleted: bool,
    /// Who caused it, if known.
    pub actor_id: Option<EntityId>,
    /// The role of the message behind it, if known.
    pub role: Option<String>,
}

impl HistoryEntry {
    /// The ADD row of a new memory.
    pub fn added(id: Uuid, memory_id: MemoryId, text: MemoryText, created_at: DateTime<Utc>) -> Self {
        Self::row(id, memory_id, None, Some(text), HistoryEvent::Add, created_at, created_at)
    }

    /// The UPDATE row of a changed memory.
    pub fn updated(
        id: Uuid,
        memory_id: MemoryId,
        old: MemoryText,
        new: MemoryText,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::row(id, memory_id, Some(old), Some(new), HistoryEvent::Update, created_at, now)
    }

    /// The DELETE row of a removed memory.
    pub fn deleted(
        id: Uuid,
        memory_id: MemoryId,
        old: MemoryText,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::row(id, memory_id, Some(old), None, HistoryEvent::Delete, created_at, now)
    }

    fn row(
        id: Uuid,
        memory_id: MemoryId,
        old_memory: Option<MemoryText>,
        new_memory: Option<MemoryText>,
        event: HistoryEvent,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            memory_id,
            old_memory,
            new_memory,
            event,
            created_at,
            updated_at,
            is_deleted: event == HistoryEvent::Delete,
            actor_id: None,
            role: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_the_right_event_and_flags() {
        let now = Utc::now();
        let mid = MemoryId::from_uuid(Uuid::nil());
        let text = MemoryText::parse("t", "x").unwrap();
        let del = HistoryEntry::deleted(Uuid::nil(), mid, text.clone(), now, now);
        assert!(del.is_deleted && del.new_memory.is_none() && del.event == HistoryEvent::Delete);
        let add = HistoryEntry::added(Uuid::nil(), mid, text, now);
        assert!(!add.is_deleted && add.old_memory.is_none());
        assert_eq!(HistoryEvent::parse("UPDATE"), Some(HistoryEvent::Update));
        assert_eq!(HistoryEvent::parse("nope"), None);
    }
}
