//! The console's use cases ([`MemoryAdmin`]) on the memory application: owners with counts,
//! erasing an owner entirely (memories, history, graph, journal), export and import.

use super::api::MemoryApp;
use super::engine::Engine;
use crate::domain::credentials::CredentialSet;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::domain::scope::{Scope, ScopeCount};
use crate::ports::embedder::{EmbedError, EmbedPurpose};
use crate::ports::memory_admin::{EraseReceipt, Imported, MemoryAdmin, PortableMemory};
use crate::ports::memory_api::{ApiError, MemoryApi, WriteOutcome};
use crate::ports::vector_store::ListQuery;
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;

/// Most memories one owner's erase or export handles in one call.
pub const MAX_SCOPE_MEMORIES: usize = 100_000;
/// History rows appended per store call by a history import.
const HISTORY_BATCH: usize = 500;

impl MemoryApp {
    /// The engine of these credentials with its stores prepared.
    async fn ready_engine(&self, credentials: &CredentialSet) -> Result<Arc<Engine>, ApiError> {
        let engine = self.engine(credentials).await?;
        engine.ready().await?;
        Ok(engine)
    }
}

/// The memories stored under exactly `owner` or inside it, newest first.
async fn memories_of(engine: &Engine, scope: &Scope) -> Result<Vec<MemoryRecord>, ApiError> {
    let query = ListQuery { scope: scope.clone(), filter: None, limit: MAX_SCOPE_MEMORIES };
    let listed = engine.service().backends().vector_store.list(&query).await?;
    Ok(listed.into_iter().filter(|r| scope.contains(&r.scope)).collect())
}

#[async_trait]
impl MemoryAdmin for MemoryApp {
    async fn scopes(&self, credentials: &CredentialSet) -> Result<Vec<ScopeCount>, ApiError> {
        let engine = self.ready_engine(credentials).await?;
        Ok(engine.service().backends().vector_store.scopes().await?)
    }

    async fn erase(&self, credentials: &CredentialSet, scope: Scope) -> Result<EraseReceipt, ApiError> {
        let engine = self.ready_engine(credentials).await?;
        let clock = engine.service().backends().clock.clone();
        let started_at = clock.now();
        let ids: Vec<MemoryId> = memories_of(&engine, &scope).await?.iter().map(|r| r.id).collect();
        // The memories and the graph go through the journal like any delete_all (ordered after
        // the owner's pending writes), waited for whatever the credentials' mode.
        let mut sync = credentials.clone();
        sync.async_mode = false;
        let memories = match self.delete_all(&sync, scope.clone()).await? {
            WriteOutcome::Done(report) => report.deleted,
            WriteOutcome::Accepted(write) | WriteOutcome::Running(write) => {
                return Err(ApiError::StillRunning { operation: "erase", write })
            }
        };
        let backends = engine.service().backends();
        let history_rows = backends.history.erase(&scope, &ids).await?;
        let journal_entries = backends.journal.forget(&scope, &ids).await?;
        let receipt = EraseReceipt {
            scope,
            memories,
            history_rows,
            journal_entries,
            graph_erased: backends.graph.is_some(),
            started_at,
            finished_at: clock.now(),
        };
        tracing::info!(memories, history_rows, journal_entries, "scope erased");
        Ok(receipt)
    }

    async fn export(&self, credentials: &CredentialSet, scope: Option<Scope>) -> Result<Vec<PortableMemory>, ApiError> {
        let engine = self.ready_engine(credentials).await?;
        let owners = match scope {
            Some(scope) => vec![scope],
            None => {
                let counts = engine.service().backends().vector_store.scopes().await?;
                counts.into_iter().map(|c| c.scope).collect()
            }
        };
        let history = &engine.service().backends().history;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for owner in &owners {
            for record in memories_of(&engine, owner).await? {
                if seen.insert(record.id) {
                    let rows = history.history(record.id).await?;
                    out.push(PortableMemory { record, history: rows });
                }
            }
        }
        Ok(out)
    }

    async fn import(&self, credentials: &CredentialSet, memory: PortableMemory) -> Result<Imported, ApiError> {
        let PortableMemory { record, history } = memory;
        if let Some(row) = history.iter().find(|h| h.memory_id != record.id) {
            return Err(ApiError::InvalidRequest(format!(
                "history row {} is about memory {}, not {}",
                row.id, row.memory_id, record.id
            )));
        }
        let engine = self.ready_engine(credentials).await?;
        let lock = engine.scope_lock(&record.scope.owner_key());
        let _serialized = lock.lock().await;
        let backends = engine.service().backends();
        let outcome = match backends.vector_store.get(record.id).await? {
            Some(stored) if stored.scope != record.scope => {
                return Err(ApiError::InvalidRequest(format!("memory {}: this id belongs to another owner", record.id)))
            }
            Some(stored) if stored == record => Imported::Unchanged,
            _ => {
                let text = [record.text.as_str().to_owned()];
                let vector = backends
                    .embedder
                    .embed(&text, EmbedPurpose::Add)
                    .await?
                    .pop()
                    .ok_or_else(|| EmbedError::Protocol("the embedder returned no vector".into()))?;
                backends.vector_store.insert(&[(record.clone(), vector)]).await?;
                Imported::Stored
            }
        };
        let rows: Vec<HistoryEntry> =
            history.into_iter().map(|h| if h.owner.is_some() { h } else { h.owned_by(&record.scope) }).collect();
        backends.history.append(&rows).await?;
        Ok(outcome)
    }

    async fn import_history(&self, credentials: &CredentialSet, rows: Vec<HistoryEntry>) -> Result<u64, ApiError> {
        let engine = self.ready_engine(credentials).await?;
        let backends = engine.service().backends();
        let mut offered = 0u64;
        for batch in rows.chunks(HISTORY_BATCH) {
            let mut owned = Vec::with_capacity(batch.len());
            for row in batch {
                // rows of a memory stored here take its owner, so its owner sees them
                let owner = match &row.owner {
                    Some(_) => None,
                    None => backends.vector_store.get(row.memory_id).await?.map(|r| r.scope),
                };
                owned.push(match owner {
                    Some(scope) => row.clone().owned_by(&scope),
                    None => row.clone(),
                });
            }
            backends.history.append(&owned).await?;
            offered += owned.len() as u64;
        }
        Ok(offered)
    }
}
