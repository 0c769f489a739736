//! Outbound port: the journal of accepted writes, so that nothing accepted is ever lost.
//!
//! A write is recorded before it is acknowledged; workers (of this or another process sharing
//! the journal) claim it, save the plan they computed (so a replay applies the very same
//! changes), apply it and record the outcome. A claim is a lease: a write claimed by a process
//! that died becomes claimable again when the lease expires.

use super::memory_api::{WriteId, WriteState};
use super::store::StoreError;
use crate::domain::memory::MemoryId;
use crate::domain::operations::WriteCommand;
use crate::domain::scope::Scope;
use crate::domain::write_plan::SavedStep;
use async_trait::async_trait;
use std::time::Duration;

/// A write handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedWrite {
    /// Its id.
    pub id: WriteId,
    /// What to do.
    pub command: WriteCommand,
    /// The step saved by an earlier attempt, if any; one that cannot be read (saved by an
    /// incompatible version) comes as its reason, so the write is failed with it, not dropped.
    pub plan: Option<Result<SavedStep, String>>,
    /// Attempts before this one.
    pub attempts: u32,
}

/// A write to record: its id, and the ids under which the same add was recorded if it was
/// received before within the repeat window (empty for writes that are never deduplicated).
#[derive(Debug, Clone, Copy)]
pub struct NewWrite<'a> {
    /// The id it is recorded under.
    pub id: &'a WriteId,
    /// Ids of an earlier recording of the same add, the preferred first.
    pub repeat_of: &'a [WriteId],
    /// The owner whose writes are applied in order.
    pub ordering_key: &'a str,
    /// What to do.
    pub command: &'a WriteCommand,
    /// `Some`: the write is applied by its caller, who holds it this long (recorded leased, so
    /// no writer claims it meanwhile; claimable once the lease expires, as a write left by a
    /// process that died). `None`: left to the writers.
    pub held_for: Option<Duration>,
}

/// What recording a write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded now under its id.
    New,
    /// Not recorded: the write under this id (one of `repeat_of`, not failed) is the same add.
    Repeat(WriteId),
    /// Not recorded: a write is already recorded under its id and was not found among the
    /// repeats (it failed, or another process recorded it a moment ago).
    IdTaken,
}

/// The journal of accepted writes.
#[async_trait]
pub trait WriteJournal: Send + Sync + 'static {
    /// Creates the journal's tables if missing.
    async fn ensure_ready(&self) -> Result<(), StoreError>;

    /// Durably records an accepted write (before it is acknowledged) unless it repeats one of
    /// `write.repeat_of` that did not fail: the look-up and the insert are one journal call, so
    /// that deduplicating adds costs an accept nothing more than its insert.
    async fn record(&self, write: NewWrite<'_>) -> Result<Recorded, StoreError>;

    /// Claims up to `max` due writes for `lease`, oldest first, never two of one ordering key
    /// and never one whose key has an earlier unfinished write.
    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<ClaimedWrite>, StoreError>;

    /// Extends the leases of writes this process is still working on.
    async fn extend(&self, ids: &[WriteId], lease: Duration) -> Result<(), StoreError>;

    /// Saves the step (extracted facts or whole plan) a claimed write has reached.
    async fn save_plan(&self, id: &WriteId, plan: &SavedStep) -> Result<(), StoreError>;

    /// Records a final outcome (`Applied` or `Failed`).
    async fn finish(&self, id: &WriteId, outcome: &WriteState) -> Result<(), StoreError>;

    /// Releases a claimed write for another attempt after `delay`, noting the error.
    async fn retry_later(&self, id: &WriteId, error: &str, delay: Duration) -> Result<(), StoreError>;

    /// The state of a write, if the journal knows it.
    async fn status(&self, id: &WriteId) -> Result<Option<WriteState>, StoreError>;

    /// The command of a write, if the journal knows it (to check whose write it is).
    async fn command(&self, id: &WriteId) -> Result<Option<WriteCommand>, StoreError>;

    /// Writes recorded and not yet finished.
    async fn unfinished(&self) -> Result<u64, StoreError>;

    /// Deletes the finished writes about `scope` or one of `memory_ids` (see
    /// `WriteCommand::concerns`): what an erased scope said leaves the journal too. Pending
    /// writes are kept (they are applied, then erased with the next erase). Returns how many.
    async fn forget(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError>;
}
