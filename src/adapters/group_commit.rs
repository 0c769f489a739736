//! Group commit: the items of concurrent writers written together, in one transaction.
//!
//! A caller queues its items, then either finds them written by a commit another caller ran, or —
//! when no commit is running — runs one itself with every item queued so far (its own and those
//! queued while the previous commit ran) and hands each caller of that batch the outcome. A call
//! returns only once the commit holding its items is done, so what a caller is told is as durable
//! as before, while N writes arriving together cost one commit (one `fsync`) instead of N.
//!
//! Blocking: meant for the blocking pool (SQLite), where a waiting caller parks its thread.

use crate::ports::store::StoreError;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The queue and the outcomes of one writer's group commits. `T` is one item (a row to write).
pub(crate) struct GroupCommit<T> {
    state: Mutex<State<T>>,
    written: Condvar,
}

struct State<T> {
    /// Items waiting for the next commit, in arrival order.
    queued: Vec<T>,
    /// The tickets of the callers whose items are queued.
    waiting: Vec<u64>,
    next_ticket: u64,
    /// True while a caller runs a commit.
    committing: bool,
    /// Outcomes of finished commits not yet collected by their callers.
    outcomes: HashMap<u64, Result<(), StoreError>>,
}

impl<T> Default for GroupCommit<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                queued: Vec::new(),
                waiting: Vec::new(),
                next_ticket: 0,
                committing: false,
                outcomes: HashMap::new(),
            }),
            written: Condvar::new(),
        }
    }
}

impl<T> GroupCommit<T> {
    /// Writes `items` with `commit`, possibly together with other callers' items (then `commit`
    /// of whichever caller runs that commit gets them all; every caller's `commit` must write the
    /// same way). Returns the outcome of the commit that held `items`.
    pub(crate) fn write(
        &self,
        items: Vec<T>,
        commit: impl FnOnce(Vec<T>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queued.extend(items);
        state.waiting.push(ticket);
        loop {
            if let Some(outcome) = state.outcomes.remove(&ticket) {
                return outcome;
            }
            if !state.committing {
                break;
            }
            state = self.written.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        // No commit is running and ours is not written yet: this caller commits the queue.
        state.committing = true;
        let batch = std::mem::take(&mut state.queued);
        let tickets = std::mem::take(&mut state.waiting);
        drop(state);
        tracing::trace!(callers = tickets.len(), items = batch.len(), "group commit");
        let mut finished = Finished { group: self, tickets, outcome: None };
        let outcome = commit(batch);
        finished.outcome = Some(outcome);
        drop(finished);
        self.lock().outcomes.remove(&ticket).unwrap_or_else(|| Err(lost()))
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands a commit's outcome to its callers and lets the next commit start — also when the commit
/// panicked (then the callers are told it failed), so no caller waits forever.
struct Finished<'a, T> {
    group: &'a GroupCommit<T>,
    tickets: Vec<u64>,
    outcome: Option<Result<(), StoreError>>,
}

impl<T> Drop for Finished<'_, T> {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or_else(|| Err(lost()));
        let mut state = self.group.lock();
        for ticket in self.tickets.drain(..) {
            state.outcomes.insert(ticket, outcome.clone());
        }
        state.committing = false;
        drop(state);
        self.group.written.notify_all();
    }
}

fn lost() -> StoreError {
    StoreError::Unavailable { store: "group commit", message: "the commit holding this write did not finish".into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;

    #[test]
    fn a_lone_write_is_committed_by_its_caller() {
        let group = GroupCommit::default();
        let mut seen = Vec::new();
        group
            .write(vec![1, 2], |batch| {
                seen = batch;
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![1, 2]);
    }

    #[test]
    fn writes_queued_during_a_commit_share_the_next_one_and_each_caller_gets_its_outcome() {
        let group = Arc::new(GroupCommit::<u32>::default());
        let commits = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let first_started = Arc::new(Barrier::new(2));
        // The first caller's commit holds the writer while four more callers queue their items.
        let first = {
            let (group, commits, started) = (group.clone(), commits.clone(), first_started.clone());
            std::thread::spawn(move || {
                group.write(vec![0], |batch| {
                    started.wait();
                    std::thread::sleep(Duration::from_millis(300));
                    commits.lock().unwrap().push(batch);
                    Ok(())
                })
            })
        };
        first_started.wait();
        let others: Vec<_> = (1..=4)
            .map(|n| {
                let (group, commits) = (group.clone(), commits.clone());
                std::thread::spawn(move || {
                    group.write(vec![n], |batch| {
                        let failed = batch.contains(&3);
                        commits.lock().unwrap().push(batch);
                        if failed {
                            Err(StoreError::Unavailable { store: "test", message: "disk full".into() })
                        } else {
                            Ok(())
                        }
                    })
                })
            })
            .collect();
        assert!(first.join().unwrap().is_ok());
        let outcomes: Vec<_> = others.into_iter().map(|t| t.join().unwrap()).collect();
        let commits = commits.lock().unwrap().clone();
        assert_eq!(commits[0], vec![0]);
        let mut rest: Vec<u32> = commits[1..].concat();
        rest.sort_unstable();
        assert_eq!(rest, vec![1, 2, 3, 4], "every item written exactly once");
        assert!(commits.len() < 5, "the four queued writes shared commits: {commits:?}");
        // Every caller whose items were in the failed commit is told so; the others are not.
        for (n, outcome) in (1..=4).zip(&outcomes) {
            let in_failed = commits.iter().any(|c| c.contains(&3) && c.contains(&n));
            assert_eq!(outcome.is_err(), in_failed, "caller {n}: {outcome:?}");
        }
    }

    #[test]
    fn a_commit_that_panics_fails_its_callers_and_frees_the_writer() {
        let group = Arc::new(GroupCommit::<u32>::default());
        let panicked = {
            let group = group.clone();
            std::thread::spawn(move || group.write(vec![1], |_| panic!("bug in the commit")))
        };
        assert!(panicked.join().is_err());
        let mut seen = Vec::new();
        group
            .write(vec![2], |batch| {
                seen = batch;
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![2], "the next caller commits, and only its own items");
    }
}
