//! One engine per distinct credential set, keyed by the credentials' fingerprint; the least
//! recently used engine is dropped (closing its connections) when too many are open.

use super::admission::Admission;
use super::constants::MAX_ENGINES;
use super::service::{MemoryService, Prompts};
use super::writes::{run_writer, Writer, WriterTiming};
use crate::domain::credentials::CredentialSet;
use crate::ports::backends::{BackendFactory, BuildError};
use crate::ports::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::sync::Semaphore;
use tracing::info;

/// The memory service of one credential set, with its per-scope write locks.
pub struct Engine {
    service: MemoryService,
    ready: OnceCell<()>,
    scope_locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    admission: Admission,
    writer: Writer,
}

impl Engine {
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

/// The engines, built on demand by a [`BackendFactory`], each with its background writer.
pub struct EngineRegistry {
    factory: Arc<dyn BackendFactory>,
    engines: tokio::sync::Mutex<Vec<(String, Arc<Engine>)>>,
    write_slots: Arc<Semaphore>,
    timing: WriterTiming,
    queue_capacity: usize,
}

impl EngineRegistry {
    /// A registry building engines with `factory`; their writers share `write_slots`; each
    /// engine accepts up to `queue_capacity` unfinished writes.
    pub fn new(
        factory: Arc<dyn BackendFactory>,
        write_slots: Arc<Semaphore>,
        timing: WriterTiming,
        queue_capacity: usize,
    ) -> Self {
        Self { factory, engines: tokio::sync::Mutex::new(Vec::new()), write_slots, timing, queue_capacity }
    }

    /// Every open engine.
    pub async fn all(&self) -> Vec<Arc<Engine>> {
        self.engines.lock().await.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The engine of these credentials, built (without contacting any backend) if new.
    pub async fn engine(&self, credentials: &CredentialSet) -> Result<Arc<Engine>, BuildError> {
        let fingerprint = credentials.fingerprint();
        let mut engines = self.engines.lock().await;
        if let Some(pos) = engines.iter().position(|(fp, _)| *fp == fingerprint) {
            let entry = engines.remove(pos);
            let engine = entry.1.clone();
            engines.push(entry);
            return Ok(engine);
        }
        let backends = self.factory.build(credentials).await?;
        let prompts = Prompts {
            fact_extraction: credentials.custom_fact_extraction_prompt.clone(),
            update_memory: credentials.custom_update_memory_prompt.clone(),
        };
        let engine = Arc::new(Engine {
            service: MemoryService::new(backends, prompts),
            ready: OnceCell::new(),
            scope_locks: Mutex::new(HashMap::new()),
            admission: Admission::new(self.queue_capacity),
            writer: Writer::new(),
        });
        if engines.len() >= MAX_ENGINES {
            let (_, evicted) = engines.remove(0);
            // Its unfinished writes stay in its journal and resume when it is used again.
            tokio::spawn(async move { evicted.writer().stop(Duration::ZERO).await });
        }
        tokio::spawn(run_writer(engine.clone(), self.write_slots.clone(), self.timing));
        info!(engine = &fingerprint[..12], "engine created");
        engines.push((fingerprint, engine.clone()));
        Ok(engine)
    }
}
