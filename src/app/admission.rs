//! Admission of accepted writes: each engine keeps its own count of the unfinished writes in its
//! journal and checks it against the capacity on every accept, so that an accept costs one
//! journal insert and no count query.
//!
//! The count is taken from the journal ([`Admission::recount`]) before the first accept,
//! whenever the count says the journal is full (writes finished by another process sharing the
//! journal then free their places), and periodically by the engine's writer when no accept or
//! finish is in progress (writes accepted by other processes are then counted). Between two counts it follows this process's own accepts
//! and finishes. A count runs alone: it waits for the accepts and finishes in progress and holds
//! new ones back, so the number it takes is exact. The count never falls below the unfinished
//! writes of this process: a place is reserved before the insert and kept when the insert fails
//! or is abandoned (the insert may have landed; the next count corrects it).

use crate::ports::journal::{NewWrite, Recorded, WriteJournal};
use crate::ports::memory_api::{WriteId, WriteState};
use crate::ports::store::StoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::RwLock;

/// Why a write was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The journal holds `capacity` or more unfinished writes (the number counted).
    #[error("{0} accepted writes are waiting")]
    Busy(u64),
    /// The journal could not be counted or written.
    #[error(transparent)]
    Journal(#[from] StoreError),
}

/// The count of unfinished writes of one engine's journal, bounded by a capacity.
pub struct Admission {
    capacity: u64,
    /// Shared by accepts and finishes, exclusive for a count.
    gate: RwLock<()>,
    pending: AtomicU64,
    counted: AtomicBool,
}

impl Admission {
    /// An admission of at most `capacity` unfinished writes; nothing counted yet.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity as u64,
            gate: RwLock::new(()),
            pending: AtomicU64::new(0),
            counted: AtomicBool::new(false),
        }
    }

    /// The unfinished writes as this process counts them, once counted.
    pub fn pending(&self) -> Option<u64> {
        self.counted.load(Ordering::SeqCst).then(|| self.pending.load(Ordering::SeqCst))
    }

    /// Durably records `write` in `journal` if the capacity allows it, else answers
    /// [`AdmitError::Busy`]; counts the journal first when not counted yet or full by the count.
    /// A write the journal did not record (a repeat, a taken id) gives its place back.
    pub async fn record(&self, journal: &dyn WriteJournal, write: NewWrite<'_>) -> Result<Recorded, AdmitError> {
        {
            let _shared = self.gate.read().await;
            if self.counted.load(Ordering::SeqCst) && self.reserve() {
                return self.recorded(journal.record(write).await);
            }
        }
        let _alone = self.gate.write().await;
        let waiting = self.count(journal).await?;
        if !self.reserve() {
            return Err(AdmitError::Busy(waiting));
        }
        self.recorded(journal.record(write).await)
    }

    /// Keeps the place reserved for a write the journal recorded (or may have: on an error the
    /// next count corrects it) and frees it for one it did not.
    fn recorded(&self, outcome: Result<Recorded, StoreError>) -> Result<Recorded, AdmitError> {
        let recorded = outcome?;
        if recorded != Recorded::New {
            self.release();
        }
        Ok(recorded)
    }

    /// Records the final outcome of a write in `journal`; its place is freed once recorded.
    pub async fn finish(
        &self,
        journal: &dyn WriteJournal,
        id: &WriteId,
        outcome: &WriteState,
    ) -> Result<(), StoreError> {
        let _shared = self.gate.read().await;
        journal.finish(id, outcome).await?;
        if !matches!(outcome, WriteState::Pending { .. }) {
            self.release();
        }
        Ok(())
    }

    /// Counts the unfinished writes of `journal` again (alone) and returns the number.
    pub async fn recount(&self, journal: &dyn WriteJournal) -> Result<u64, StoreError> {
        let _alone = self.gate.write().await;
        self.count(journal).await
    }

    /// Counts the unfinished writes of `journal` again unless accepts or finishes are in
    /// progress (it never waits for them, so a slow journal call cannot hold accepts back
    /// behind it); `None` when skipped.
    pub async fn recount_if_idle(&self, journal: &dyn WriteJournal) -> Option<Result<u64, StoreError>> {
        let _alone = self.gate.try_write().ok()?;
        Some(self.count(journal).await)
    }

    /// Takes the journal's count; the caller holds the gate exclusively.
    async fn count(&self, journal: &dyn WriteJournal) -> Result<u64, StoreError> {
        let waiting = journal.unfinished().await?;
        self.pending.store(waiting, Ordering::SeqCst);
        self.counted.store(true, Ordering::SeqCst);
        Ok(waiting)
    }

    /// Frees a place.
    fn release(&self) {
        let _ = self.pending.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }

    /// Takes a place if one is free.
    fn reserve(&self) -> bool {
        self.pending.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < self.capacity).then_some(n + 1)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::MemoryId;
    use crate::domain::message::Conversation;
    use crate::domain::operations::AddRequest;
    use crate::domain::operations::{DeleteAllReport, WriteCommand, WriteResult};
    use crate::domain::scope::Scope;
    use crate::domain::write_plan::SavedStep;
    use crate::ports::journal::ClaimedWrite;
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A journal that only keeps which writes are unfinished; inserts can be slowed or failed.
    #[derive(Default)]
    struct Rows {
        pending: Mutex<HashMap<String, bool>>,
        insert_delay: Duration,
        failing: AtomicBool,
        counts: AtomicUsize,
    }

    impl Rows {
        fn unfinished_now(&self) -> u64 {
            self.pending.lock().unwrap().values().filter(|p| **p).count() as u64
        }
        /// Another process accepting (`true`) or finishing (`false`) a write.
        fn elsewhere(&self, id: &str, pending: bool) {
            self.pending.lock().unwrap().insert(id.to_owned(), pending);
        }
    }

    #[async_trait]
    impl WriteJournal for Rows {
        async fn ensure_ready(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn record(&self, write: NewWrite<'_>) -> Result<Recorded, StoreError> {
            tokio::time::sleep(self.insert_delay).await;
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable { store: "test journal", message: "down".into() });
            }
            let mut rows = self.pending.lock().unwrap();
            if let Some(earlier) = write.repeat_of.iter().find(|id| rows.contains_key(&id.0)) {
                return Ok(Recorded::Repeat(earlier.clone()));
            }
            if rows.contains_key(&write.id.0) {
                return Ok(Recorded::IdTaken);
            }
            rows.insert(write.id.0.clone(), true);
            Ok(Recorded::New)
        }
        async fn claim(&self, _max: usize, _lease: Duration) -> Result<Vec<ClaimedWrite>, StoreError> {
            Ok(Vec::new())
        }
        async fn extend(&self, _ids: &[WriteId], _lease: Duration) -> Result<(), StoreError> {
            Ok(())
        }
        async fn save_plan(&self, _id: &WriteId, _plan: &SavedStep) -> Result<(), StoreError> {
            Ok(())
        }
        async fn finish(&self, id: &WriteId, _outcome: &WriteState) -> Result<(), StoreError> {
            self.pending.lock().unwrap().insert(id.0.clone(), false);
            Ok(())
        }
        async fn retry_later(&self, _id: &WriteId, _error: &str, _delay: Duration) -> Result<(), StoreError> {
            Ok(())
        }
        async fn status(&self, _id: &WriteId) -> Result<Option<WriteState>, StoreError> {
            Ok(None)
        }
        async fn command(&self, _id: &WriteId) -> Result<Option<WriteCommand>, StoreError> {
            Ok(None)
        }
        async fn unfinished(&self) -> Result<u64, StoreError> {
            self.counts.fetch_add(1, Ordering::SeqCst);
            Ok(self.unfinished_now())
        }
        async fn forget(&self, _: &Scope, _: &[MemoryId]) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn command() -> WriteCommand {
        WriteCommand::Add(AddRequest {
            conversation: Conversation::from_turn("I like tea", None),
            scope: Scope::parse(Some("alice"), None, None).unwrap(),
            metadata: Default::default(),
            infer: true,
            actor_id: None,
            observed_at: None,
            expires_at: None,
            idempotency_key: None,
        })
    }

    fn new_write<'a>(id: &'a WriteId, command: &'a WriteCommand, repeat_of: &'a [WriteId]) -> NewWrite<'a> {
        NewWrite { id, repeat_of, ordering_key: "alice", command, held_for: None }
    }

    fn id(n: usize) -> WriteId {
        WriteId(format!("w{n}"))
    }

    fn applied() -> WriteState {
        WriteState::Applied { result: Box::new(WriteResult::DeleteAll(DeleteAllReport::default())) }
    }

    #[tokio::test]
    async fn the_count_follows_accepts_and_finishes_without_asking_the_journal_again() {
        let rows = Rows::default();
        let admission = Admission::new(10);
        assert_eq!(admission.pending(), None);
        for n in 0..3 {
            admission.record(&rows, new_write(&id(n), &command(), &[])).await.unwrap();
        }
        assert_eq!(admission.pending(), Some(3));
        admission.finish(&rows, &id(0), &applied()).await.unwrap();
        admission.finish(&rows, &id(1), &WriteState::Failed { error: "bad key".into(), attempts: 1 }).await.unwrap();
        // A final outcome frees a place; a pending one does not.
        admission.finish(&rows, &id(2), &WriteState::Pending { attempts: 1, last_error: None }).await.unwrap();
        assert_eq!(admission.pending(), Some(1));
        assert_eq!(rows.counts.load(Ordering::SeqCst), 1, "only the first accept counts the journal");
    }

    #[tokio::test]
    async fn a_write_the_journal_did_not_record_gives_its_place_back() {
        let rows = Rows::default();
        let admission = Admission::new(10);
        admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        let repeat = admission.record(&rows, new_write(&id(1), &command(), &[id(0)])).await.unwrap();
        assert_eq!(repeat, Recorded::Repeat(id(0)));
        let taken = admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        assert_eq!(taken, Recorded::IdTaken);
        assert_eq!(admission.pending(), Some(1), "only the write recorded holds a place");
    }

    #[tokio::test]
    async fn a_resumed_journal_is_counted_before_the_first_accept() {
        let rows = Rows::default();
        for n in 0..3 {
            rows.elsewhere(&format!("left-{n}"), true);
        }
        let admission = Admission::new(4);
        admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        assert!(matches!(admission.record(&rows, new_write(&id(1), &command(), &[])).await, Err(AdmitError::Busy(4))));
        assert_eq!(rows.unfinished_now(), 4);
        assert_eq!(admission.pending(), Some(4));
    }

    #[tokio::test]
    async fn a_failed_insert_keeps_its_place_until_the_next_count() {
        let rows = Rows::default();
        let admission = Admission::new(10);
        admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        rows.failing.store(true, Ordering::SeqCst);
        assert!(matches!(
            admission.record(&rows, new_write(&id(1), &command(), &[])).await,
            Err(AdmitError::Journal(_))
        ));
        // The insert may have landed although it failed: the count errs on the full side.
        assert_eq!(admission.pending(), Some(2));
        assert_eq!(admission.recount(&rows).await.unwrap(), 1);
        assert_eq!(admission.pending(), Some(1));
    }

    #[tokio::test]
    async fn a_full_count_asks_the_journal_so_writes_finished_elsewhere_free_places() {
        let rows = Rows::default();
        let admission = Admission::new(2);
        admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        admission.record(&rows, new_write(&id(1), &command(), &[])).await.unwrap();
        assert!(matches!(admission.record(&rows, new_write(&id(2), &command(), &[])).await, Err(AdmitError::Busy(2))));
        // Another process sharing the journal applied one of them.
        rows.elsewhere("w0", false);
        admission.record(&rows, new_write(&id(3), &command(), &[])).await.unwrap();
        assert_eq!(admission.pending(), Some(2));
        assert_eq!(rows.unfinished_now(), 2);
    }

    #[tokio::test]
    async fn a_recount_sees_writes_accepted_elsewhere() {
        let rows = Rows::default();
        let admission = Admission::new(3);
        admission.record(&rows, new_write(&id(0), &command(), &[])).await.unwrap();
        rows.elsewhere("other-1", true);
        rows.elsewhere("other-2", true);
        assert_eq!(admission.recount(&rows).await.unwrap(), 3);
        assert!(matches!(admission.record(&rows, new_write(&id(1), &command(), &[])).await, Err(AdmitError::Busy(3))));
    }

    #[tokio::test]
    async fn an_idle_recount_is_skipped_while_an_accept_is_in_progress() {
        let rows = Arc::new(Rows { insert_delay: Duration::from_millis(200), ..Rows::default() });
        let admission = Arc::new(Admission::new(10));
        admission.recount(rows.as_ref()).await.unwrap();
        let accept = {
            let (rows, admission) = (rows.clone(), admission.clone());
            tokio::spawn(async move { admission.record(rows.as_ref(), new_write(&id(0), &command(), &[])).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(admission.recount_if_idle(rows.as_ref()).await.is_none());
        accept.await.unwrap().unwrap();
        rows.elsewhere("other", true);
        assert_eq!(admission.recount_if_idle(rows.as_ref()).await.unwrap().unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_accepts_finishes_and_recounts_never_overshoot_the_capacity() {
        const CAPACITY: usize = 10;
        let rows = Arc::new(Rows { insert_delay: Duration::from_millis(5), ..Rows::default() });
        let admission = Arc::new(Admission::new(CAPACITY));
        // Two already finished places are freed while the accepts run; recounts run among them.
        for n in 0..2 {
            admission.record(rows.as_ref(), new_write(&id(1000 + n), &command(), &[])).await.unwrap();
        }
        let mut tasks = Vec::new();
        for n in 0..60 {
            let (rows, admission) = (rows.clone(), admission.clone());
            tasks.push(tokio::spawn(async move {
                match n {
                    20 | 40 => admission.finish(rows.as_ref(), &id(1000 + n / 20 - 1), &applied()).await.map(|_| None),
                    n if n % 14 == 0 => admission.recount(rows.as_ref()).await.map(|_| None),
                    n if n % 7 == 0 => admission.recount_if_idle(rows.as_ref()).await.transpose().map(|_| None),
                    n => match admission.record(rows.as_ref(), new_write(&id(n), &command(), &[])).await {
                        Ok(recorded) => Ok(Some(recorded == Recorded::New)),
                        Err(AdmitError::Busy(_)) => Ok(Some(false)),
                        Err(AdmitError::Journal(e)) => Err(e),
                    },
                }
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() == Some(true) {
                accepted += 1;
            }
            assert!(rows.unfinished_now() <= CAPACITY as u64);
        }
        // Never more than the capacity, and every place (two freed by finishes) was used.
        assert_eq!(rows.unfinished_now(), CAPACITY as u64);
        assert_eq!(accepted, CAPACITY);
        assert_eq!(admission.pending(), Some(CAPACITY as u64));
    }
}
