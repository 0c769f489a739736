//! Outbound port: the change history of memories.

use super::store::StoreError;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::MemoryId;
use crate::domain::scope::Scope;
use async_trait::async_trait;

/// Where history rows are kept.
#[async_trait]
pub trait HistoryStore: Send + Sync + 'static {
    /// Creates tables if missing.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// Appends rows; a row whose id exists is left as it is (so replays are harmless).
    async fn append(&self, entries: &[HistoryEntry]) -> Result<(), StoreError>;

    /// All rows of a memory, oldest first.
    async fn history(&self, id: MemoryId) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Deletes the rows of `memory_ids` and every row whose owner is inside `scope` (an erased
    /// scope's history); returns how many rows went.
    async fn erase(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError>;
}
