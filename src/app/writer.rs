//! The handle to an engine's background writer (`super::writes::run_writer`): wake it, see what it
//! has in flight, stop it and wait for what it is applying.

use super::service::ServiceError;
use crate::domain::operations::WriteResult;
use crate::ports::memory_api::WriteId;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// The background writer of one engine.
pub struct Writer {
    /// Woken when a write is recorded or finished.
    pub(super) wake: Notify,
    /// Set by [`Writer::stop`]: claim nothing more.
    pub(super) stopping: AtomicBool,
    /// The writes this process has claimed and not finished.
    pub(super) in_flight: Mutex<HashSet<WriteId>>,
    /// Notified whenever a write in flight finishes.
    pub(super) idle: Notify,
    /// Sync callers waiting for the outcome of their write.
    waiters: Mutex<HashMap<WriteId, oneshot::Sender<Result<WriteResult, ServiceError>>>>,
}

impl Writer {
    /// A writer that is not running yet.
    pub fn new() -> Self {
        Self {
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            in_flight: Mutex::new(HashSet::new()),
            idle: Notify::new(),
            waiters: Mutex::new(HashMap::new()),
        }
    }

    /// The final outcome of write `id` when this process records it (a sync caller waits on it).
    pub fn outcome_of(&self, id: &WriteId) -> oneshot::Receiver<Result<WriteResult, ServiceError>> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.waiters).insert(id.clone(), sender);
        receiver
    }

    /// True while a sync caller waits for write `id`.
    pub(super) fn awaited(&self, id: &WriteId) -> bool {
        lock(&self.waiters).contains_key(id)
    }

    /// No one waits for write `id` any more.
    pub fn forget(&self, id: &WriteId) {
        lock(&self.waiters).remove(id);
    }

    /// Hands the final outcome of write `id` to its waiting caller, if any.
    pub(super) fn deliver(&self, id: &WriteId, outcome: Result<WriteResult, ServiceError>) {
        if let Some(sender) = lock(&self.waiters).remove(id) {
            let _ = sender.send(outcome);
        }
    }

    /// Wakes the writer: a write was just recorded.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Writes this process is applying now.
    pub fn in_flight(&self) -> usize {
        lock(&self.in_flight).len()
    }

    /// Stops claiming new writes; waits up to `deadline` for the ones being applied.
    pub async fn stop(&self, deadline: Duration) -> usize {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(deadline, wait).await;
        self.in_flight()
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// Locks a mutex, taking over a poisoned one (the data are plain sets, always consistent).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
