//! Inbound port: what the memory console asks of the engine beyond the tools' operations — which
//! owners have memories, erasing an owner entirely, moving memories out and in.

use super::memory_api::{ApiError, MemoryApi};
use crate::domain::credentials::CredentialSet;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::MemoryRecord;
use crate::domain::scope::{Scope, ScopeCount};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// What an erase removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EraseReceipt {
    /// The scope erased.
    pub scope: Scope,
    /// Memories deleted.
    pub memories: u64,
    /// History rows deleted (those of the erased memories and every row owned inside the scope).
    pub history_rows: u64,
    /// Finished journal entries about the scope deleted.
    pub journal_entries: u64,
    /// True when a graph memory is configured and the scope's graph was deleted.
    pub graph_erased: bool,
    /// When the erase started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

/// A memory as exported and imported: the record and its history, without its vector (the
/// importing side embeds with its own embedder).
#[derive(Debug, Clone, PartialEq)]
pub struct PortableMemory {
    /// The memory.
    pub record: MemoryRecord,
    /// Its history, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// What happened to one imported memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// It was not stored yet (or differed): stored, embedded by this installation's embedder.
    Stored,
    /// The same memory was already stored: nothing changed (its history rows were still added
    /// where missing).
    Unchanged,
}

/// What an import did, memory by memory in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Memories stored (new or changed).
    pub stored: u64,
    /// Memories already stored as they are in the file.
    pub unchanged: u64,
    /// History rows offered (rows already present are left as they are).
    pub history_rows: u64,
}

impl ImportReport {
    /// Counts one memory's outcome.
    pub fn count(&mut self, outcome: Imported, history_rows: usize) {
        match outcome {
            Imported::Stored => self.stored += 1,
            Imported::Unchanged => self.unchanged += 1,
        }
        self.history_rows += history_rows as u64;
    }
}

/// The console's use cases.
#[async_trait]
pub trait MemoryAdmin: MemoryApi {
    /// Every owner with memories, with how many.
    async fn scopes(&self, credentials: &CredentialSet) -> Result<Vec<ScopeCount>, ApiError>;

    /// Erases a scope entirely: its memories, their history, its graph and the finished journal
    /// entries about it. Repeating an erase is harmless.
    async fn erase(&self, credentials: &CredentialSet, scope: Scope) -> Result<EraseReceipt, ApiError>;

    /// The memories of `scope` (every owner's when `None`), newest first, with their history.
    async fn export(&self, credentials: &CredentialSet, scope: Option<Scope>) -> Result<Vec<PortableMemory>, ApiError>;

    /// Stores one exported memory under its own id (idempotent: importing it again changes
    /// nothing). A memory whose id another owner holds is refused.
    async fn import(&self, credentials: &CredentialSet, memory: PortableMemory) -> Result<Imported, ApiError>;

    /// Adds history rows made elsewhere (a Mem0 `history.db`); rows already present are kept.
    /// Returns how many were offered.
    async fn import_history(&self, credentials: &CredentialSet, rows: Vec<HistoryEntry>) -> Result<u64, ApiError>;
}
