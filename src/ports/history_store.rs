//! Outbound port: the change history of memories.

use super::store::StoreError;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::MemoryId;
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
}
