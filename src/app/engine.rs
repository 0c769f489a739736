//! One engine: the memory service of one credential set with its stores' readiness, per-owner
//! write locks, admission count and background writer.

use super::admission::Admission;
use super::service::MemoryService;
use super::writer::Writer;
use crate::ports::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OnceCell;

/// The memory service of one credential set, with its per-scope write locks.
pub struct Engine {
    service: MemoryService,
    ready: OnceCell<()>,
    scope_locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    admission: Admission,
    writer: Writer,
}

impl Engine {
    /// An engine over `service`, accepting writes against `admission`, its writer not started.
    pub fn new(service: MemoryService, admission: Admission) -> Self {
        Self {
            service,
            ready: OnceCell::new(),
            scope_locks: Mutex::new(HashMap::new()),
            admission,
            writer: Writer::new(),
        }
    }

    /// The use cases.
    pub fn service(&self) -> &MemoryService {
        &self.service
    }

    /// The background writer of this engine.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The count of unfinished writes in the journal, against which writes are accepted.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Prepares the stores once (tables, indexes); retried on the next call after a failure.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.ready
            .get_or_try_init(|| async {
                let backends = self.service.backends();
                backends.vector_store.ensure_ready().await?;
                backends.history.ensure_ready().await?;
                backends.journal.ensure_ready().await?;
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }

    /// The lock that serializes writes with one ordering key (see `WriteCommand::ordering_key`).
    pub fn scope_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.scope_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = key.to_owned();
        if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        if locks.len() > 1024 {
            locks.retain(|_, weak| weak.strong_count() > 0);
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }
}
