//! One engine per distinct credential set, keyed by the credentials' fingerprint; the least
//! recently used engine is dropped (closing its connections) when too many are open.

use super::admission::Admission;
use super::constants::MAX_ENGINES;
use super::engine::Engine;
use super::service::{MemoryService, Prompts};
use super::writes::{run_writer, WriterTiming};
use crate::domain::credentials::{CredentialSet, LLM};
use crate::domain::extraction_settings::ExtractionSettings;
use crate::ports::backends::{BackendFactory, BuildError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::info;

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
            language: credentials.language.clone(),
        };
        let extraction = match &credentials.llm {
            Some(block) => ExtractionSettings::from_config(&block.config)
                .map_err(|message| BuildError::Config { field: LLM, message })?,
            None => ExtractionSettings::default(),
        };
        let service = MemoryService::new(backends, prompts).with_extraction(extraction);
        let engine = Arc::new(Engine::new(service, Admission::new(self.queue_capacity)));
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
