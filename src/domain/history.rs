//! The change history of a memory.

use super::memory::{MemoryId, MemoryText};
use super::scope::{EntityId, Scope};
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
    /// The scope of the memory (beyond Mem0's columns): whose history it is, also once the memory
    /// is deleted. `None` for rows written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Scope>,
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
            owner: None,
        }
    }

    /// This row, recorded as part of the history of a memory of `owner`.
    pub fn owned_by(mut self, owner: &Scope) -> Self {
        self.owner = Some(owner.clone());
        self
    }
}

/// True when `rows`, the history of a memory no longer stored, may be shown to `scope`: its rows
/// name their owner and `scope` contains it (rows from before owners were kept name none).
pub fn visible_to(rows: &[HistoryEntry], scope: &Scope) -> bool {
    let mut owners = rows.iter().filter_map(|r| r.owner.as_ref()).peekable();
    owners.peek().is_some() && owners.all(|owner| scope.contains(owner))
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

    #[test]
    fn a_deleted_memorys_history_is_shown_to_its_owner_only() {
        let now = Utc::now();
        let mid = MemoryId::from_uuid(Uuid::nil());
        let text = MemoryText::parse("t", "x").unwrap();
        let alice = Scope::parse(Some("alice"), Some("bot"), None).unwrap();
        let user = |name: &str| Scope::parse(Some(name), None, None).unwrap();
        let old_row = HistoryEntry::added(Uuid::nil(), mid, text.clone(), now);
        let rows = [old_row.clone(), HistoryEntry::deleted(Uuid::max(), mid, text, now, now).owned_by(&alice)];
        assert!(visible_to(&rows, &user("alice")));
        assert!(visible_to(&rows, &alice));
        assert!(!visible_to(&rows, &user("bob")));
        assert!(!visible_to(&[old_row], &user("alice")), "rows that name no owner are no one's");
        assert!(!visible_to(&[], &user("alice")));
    }
}
