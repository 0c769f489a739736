//! Accepted writes: a bounded queue applied in the background by a fixed number of workers,
//! with retries of transient failures and an outcome per write id.

use super::constants::{MAX_WRITE_ATTEMPTS, WRITE_RETRY_BASE_DELAY, WRITE_STATUS_CAPACITY};
use super::engines::EngineRegistry;
use super::service::ServiceError;
use crate::domain::credentials::CredentialSet;
use crate::domain::memory::MemoryId;
use crate::domain::operations::WriteCommand;
use crate::ports::memory_api::{ApiError, WriteId, WriteState};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};
use tracing::{error, info, warn, Instrument};
use uuid::Uuid;

/// Why applying a write failed, and whether to retry.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApplyError {
    /// What went wrong (no secrets).
    pub message: String,
    /// Whether a retry may succeed.
    pub transient: bool,
    /// Set when the target memory does not exist in the given scope.
    pub not_found: Option<MemoryId>,
}

impl ApplyError {
    fn permanent(message: String) -> Self {
        Self { message, transient: false, not_found: None }
    }
}

impl From<ServiceError> for ApplyError {
    fn from(e: ServiceError) -> Self {
        let not_found = match &e {
            ServiceError::NotFound(id) => Some(*id),
            _ => None,
        };
        Self { transient: e.is_transient(), message: e.to_string(), not_found }
    }
}

/// Applies one command with the given engine registry; returns the JSON result.
pub async fn apply(
    registry: &EngineRegistry,
    credentials: &CredentialSet,
    command: &WriteCommand,
) -> Result<Value, ApplyError> {
    let engine = registry.engine(credentials).await.map_err(|e| ApplyError::permanent(e.to_string()))?;
    engine.ready().await.map_err(|e| ApplyError::from(ServiceError::from(e)))?;
    let service = engine.service();
    // Writes of one owner are applied one at a time, so concurrent adds never duplicate.
    let lock = engine.scope_lock(&command.ordering_key());
    let _guard = lock.lock().await;
    Ok(service.execute(command).await?)
}

struct Job {
    id: WriteId,
    credentials: CredentialSet,
    command: WriteCommand,
}

/// Outcomes of recent writes, oldest evicted first.
#[derive(Default)]
struct StatusBook {
    states: HashMap<WriteId, WriteState>,
    order: VecDeque<WriteId>,
}

impl StatusBook {
    fn set(&mut self, id: &WriteId, state: WriteState) {
        if self.states.insert(id.clone(), state).is_none() {
            self.order.push_back(id.clone());
            while self.order.len() > WRITE_STATUS_CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.states.remove(&old);
                }
            }
        }
    }
}

/// The background write queue.
pub struct WriteQueue {
    sender: mpsc::Sender<Job>,
    statuses: Arc<Mutex<StatusBook>>,
    pending: Arc<AtomicUsize>,
    drained: Arc<Notify>,
    closed: AtomicBool,
    capacity: usize,
}

impl WriteQueue {
    /// Starts `workers` background workers over a queue of `capacity` writes. Must be called
    /// inside a tokio runtime.
    pub fn start(registry: Arc<EngineRegistry>, workers: usize, capacity: usize, write_slots: Arc<Semaphore>) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Job>(capacity);
        let statuses = Arc::new(Mutex::new(StatusBook::default()));
        let pending = Arc::new(AtomicUsize::new(0));
        let drained = Arc::new(Notify::new());
        let dispatcher = {
            let statuses = statuses.clone();
            let pending = pending.clone();
            let drained = drained.clone();
            let workers = Arc::new(Semaphore::new(workers.max(1)));
            async move {
                loop {
                    let Ok(worker) = workers.clone().acquire_owned().await else { break };
                    let Some(job) = receiver.recv().await else { break };
                    let registry = registry.clone();
                    let statuses = statuses.clone();
                    let pending = pending.clone();
                    let drained = drained.clone();
                    let write_slots = write_slots.clone();
                    let span = tracing::info_span!("write", id = %job.id.0, op = job.command.name());
                    tokio::spawn(
                        async move {
                            let _worker = worker;
                            let state = run_job(&registry, &job, &statuses, &write_slots).await;
                            lock(&statuses).set(&job.id, state);
                            if pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                                drained.notify_waiters();
                            }
                        }
                        .instrument(span),
                    );
                }
            }
        };
        tokio::spawn(dispatcher);
        Self { sender, statuses, pending, drained, closed: AtomicBool::new(false), capacity }
    }

    /// Queues a write and returns its id at once; `Busy` when the queue is full.
    pub fn submit(&self, credentials: &CredentialSet, command: WriteCommand) -> Result<WriteId, ApiError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ApiError::ShuttingDown);
        }
        let id = WriteId(Uuid::new_v4().to_string());
        lock(&self.statuses).set(&id, WriteState::Pending { attempts: 0, last_error: None });
        self.pending.fetch_add(1, Ordering::SeqCst);
        let job = Job { id: id.clone(), credentials: credentials.clone(), command };
        match self.sender.try_send(job) {
            Ok(()) => Ok(id),
            Err(e) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                lock(&self.statuses).set(&id, WriteState::Failed { error: "not accepted: queue full".into() });
                match e {
                    mpsc::error::TrySendError::Full(_) => Err(ApiError::Busy(self.capacity)),
                    mpsc::error::TrySendError::Closed(_) => Err(ApiError::ShuttingDown),
                }
            }
        }
    }

    /// The state of a write, while it is remembered.
    pub fn status(&self, id: &WriteId) -> Option<WriteState> {
        lock(&self.statuses).states.get(id).cloned()
    }

    /// Accepted writes not yet finished.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Refuses new writes and waits up to `deadline` for the accepted ones; returns how many remain.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.closed.store(true, Ordering::SeqCst);
        let wait = async {
            loop {
                let notified = self.drained.notified();
                if self.pending() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(deadline, wait).await;
        let left = self.pending();
        if left > 0 {
            error!(left, "shutdown deadline passed with accepted writes unfinished");
        } else {
            info!("all accepted writes applied");
        }
        left
    }
}

async fn run_job(
    registry: &EngineRegistry,
    job: &Job,
    statuses: &Mutex<StatusBook>,
    write_slots: &Semaphore,
) -> WriteState {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let outcome = {
            let _slot = write_slots.acquire().await;
            apply(registry, &job.credentials, &job.command).await
        };
        match outcome {
            Ok(result) => {
                info!(attempt, "accepted write applied");
                return WriteState::Applied { result };
            }
            Err(e) if e.transient && attempt < MAX_WRITE_ATTEMPTS => {
                warn!(attempt, error = %e, "accepted write failed; retrying");
                lock(statuses)
                    .set(&job.id, WriteState::Pending { attempts: attempt, last_error: Some(e.message.clone()) });
                tokio::time::sleep(WRITE_RETRY_BASE_DELAY * 2u32.pow(attempt - 1)).await;
            }
            Err(e) => {
                error!(attempt, error = %e, "accepted write failed");
                return WriteState::Failed { error: e.message };
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
