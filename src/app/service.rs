//! The memory use cases over one set of backends: add, search, get, get_all, update, delete,
//! delete_all, history. No runtime policy here (see `api`); writes are in `planning`; every call runs to completion.

use super::graph_memory::GraphMemory;
use crate::domain::extraction_settings::ExtractionSettings;
use crate::domain::fusion::ScoreParts;
use crate::domain::history::{self, HistoryEntry};
use crate::domain::json_answer::UnreadableAnswer;
use crate::domain::memory::{ContentHash, MemoryError, MemoryId, MemoryRecord, MemoryText, ScoredMemory};
use crate::domain::operations::{ListReport, ListRequest, MemoryRef, SearchReport, SearchRequest};
use crate::domain::scope::Scope;
use crate::ports::backends::Backends;
use crate::ports::embedder::{EmbedError, EmbedPurpose};
use crate::ports::graph_store::GraphError;
use crate::ports::llm::LlmError;
use crate::ports::memory_api::ApiError;
use crate::ports::store::StoreError;
use crate::ports::vector_store::ListQuery;
use std::collections::HashMap;
use tracing::{warn, Instrument};

/// Why a use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The chat model failed.
    #[error("LLM: {0}")]
    Llm(#[from] LlmError),
    /// The embedding model failed.
    #[error("embedder: {0}")]
    Embed(#[from] EmbedError),
    /// A store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Graph memory failed where its failure fails the call (deleting a scope's graph, or a
    /// transient failure of a write that is retried).
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// The memory does not exist in the given scope.
    #[error("Memory not found: {0}")]
    NotFound(MemoryId),
    /// The model's answer to one step of a write stayed unreadable after every attempt.
    #[error("{step}: {answer} (after {attempts} attempts)")]
    UnreadableAnswer {
        /// The step (`fact extraction`, `update decision`).
        step: &'static str,
        /// Calls made.
        attempts: u32,
        /// The last answer, quoted in part.
        answer: UnreadableAnswer,
    },
    /// The request holds a value the memory cannot take (e.g. a text over the limit).
    #[error("{0}")]
    Invalid(#[from] MemoryError),
    /// A bug: data that should be well-formed was not.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Llm(cause) => ApiError::Model(cause),
            ServiceError::Embed(cause) => ApiError::Embedder(cause),
            ServiceError::Store(cause) => ApiError::Store(cause),
            ServiceError::Graph(cause) => ApiError::Graph(cause),
            ServiceError::NotFound(id) => ApiError::NotFound(id),
            ServiceError::UnreadableAnswer { step, attempts, answer } => {
                ApiError::UnreadableAnswer { step, attempts, answer }
            }
            ServiceError::Invalid(cause) => ApiError::InvalidMemory(cause),
            ServiceError::Internal(what) => ApiError::Internal(what),
        }
    }
}

impl ServiceError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Llm(e) => e.is_transient(),
            ServiceError::Embed(e) => e.is_transient(),
            ServiceError::Store(e) => e.is_transient(),
            ServiceError::Graph(e) => e.is_transient(),
            ServiceError::NotFound(_)
            | ServiceError::Invalid(_)
            | ServiceError::UnreadableAnswer { .. }
            | ServiceError::Internal(_) => false,
        }
    }
}

/// Prompt overrides from the credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts {
    /// Replaces the fact extraction instructions.
    pub fact_extraction: Option<String>,
    /// Replaces the update decision instructions.
    pub update_memory: Option<String>,
    /// The language extracted facts are written in (`language`), when forced.
    pub language: Option<String>,
}

/// The memory use cases over one set of backends.
pub struct MemoryService {
    backends: Backends,
    prompts: Prompts,
    graph: Option<GraphMemory>,
    extraction: ExtractionSettings,
}

impl MemoryService {
    /// A service over `backends`. Graph memory, when configured, decides with the service's
    /// model and embedder (no model: no graph memory; the backend factory refuses that setup).
    pub fn new(backends: Backends, prompts: Prompts) -> Self {
        let graph = match (&backends.graph, &backends.llm) {
            (Some(graph), Some(llm)) => Some(GraphMemory::new(graph.clone(), llm.clone(), backends.embedder.clone())),
            _ => None,
        };
        Self { backends, prompts, graph, extraction: ExtractionSettings::default() }
    }

    /// The same service with the write path's model settings (from the LLM block).
    pub fn with_extraction(mut self, extraction: ExtractionSettings) -> Self {
        self.extraction = extraction;
        self
    }

    /// The write path's model settings.
    pub fn extraction(&self) -> &ExtractionSettings {
        &self.extraction
    }

    /// Graph memory, when configured.
    pub fn graph(&self) -> Option<&GraphMemory> {
        self.graph.as_ref()
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// The prompt overrides.
    pub fn prompts(&self) -> &Prompts {
        &self.prompts
    }

    pub(super) async fn existing_by_hash<'a>(
        &self,
        scope: &Scope,
        texts: impl Iterator<Item = &'a MemoryText>,
    ) -> Result<HashMap<ContentHash, MemoryRecord>, ServiceError> {
        let hashes: Vec<_> = texts.map(MemoryText::hash).collect();
        let lookup = self.backends.vector_store.find_by_hash(scope, &hashes);
        let found = lookup.instrument(tracing::debug_span!("app.find_by_hash")).await?;
        Ok(found.into_iter().map(|r| (r.hash.clone(), r)).collect())
    }

    pub(super) async fn embed<'a>(
        &self,
        texts: impl Iterator<Item = &'a str>,
        purpose: EmbedPurpose,
    ) -> Result<Vec<Vec<f32>>, ServiceError> {
        let texts: Vec<String> = texts.map(str::to_owned).collect();
        let vectors =
            self.backends.embedder.embed(&texts, purpose).instrument(tracing::debug_span!("app.embed")).await?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::Protocol(format!("{} vectors for {} texts", vectors.len(), texts.len())).into());
        }
        Ok(vectors)
    }

    /// The scope's memories most similar to the query, reranked when asked and configured.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchReport, ServiceError> {
        let graph = async {
            match &self.graph {
                Some(g) => Some(g.search(request.query.as_str(), &request.scope, request.limit.get()).await),
                None => None,
            }
        };
        let memories = async {
            let vector = self.embed(std::iter::once(request.query.as_str()), EmbedPurpose::Search).await?.remove(0);
            let reranker = self.backends.reranker.as_ref().filter(|_| request.rerank);
            let fetch = if reranker.is_some() { (request.limit.get() * 3).max(20) } else { request.limit.get() };
            let retrieve = super::retrieval::retrieve(self.backends.vector_store.as_ref(), &request, vector, fetch);
            let mut found = retrieve.instrument(tracing::debug_span!("app.retrieve")).await?;
            let now = self.backends.clock.now();
            found.retain(|m| {
                request.scope.contains(&m.record.scope)
                    && request.filter.as_ref().is_none_or(|f| f.matches(&m.record))
                    && (request.show_expired || !m.record.is_expired(now))
            });
            if let Some(threshold) = request.threshold {
                found.retain(|m| m.score.value() >= threshold.get());
            }
            if let Some(reranker) = reranker {
                found = rerank(reranker.as_ref(), request.query.as_str(), found, request.limit.get()).await;
            }
            found.truncate(request.limit.get());
            if !request.explain {
                found.iter_mut().for_each(|m| m.parts = None);
            }
            Ok::<_, ServiceError>(found)
        };
        let (memories, graph) = futures::join!(memories, graph);
        let mut report = SearchReport { results: memories?, ..SearchReport::default() };
        match graph {
            Some(Ok(relations)) => report.relations = Some(relations),
            Some(Err(e)) => report.graph_degraded = Some(e.to_string()),
            None => {}
        }
        Ok(report)
    }

    /// One memory, if it exists and the reference admits it.
    pub async fn get(&self, target: &MemoryRef) -> Result<Option<MemoryRecord>, ServiceError> {
        Ok(self.backends.vector_store.get(target.id).await?.filter(|r| target.admits(r)))
    }

    /// The scope's memories, newest first, and its relations when graph memory is configured.
    pub async fn get_all(&self, request: ListRequest) -> Result<ListReport, ServiceError> {
        let store = &self.backends.vector_store;
        let query =
            ListQuery { scope: request.scope.clone(), filter: request.filter.clone(), limit: request.limit.get() };
        let memories = store.list(&query);
        let graph = async {
            match &self.graph {
                Some(g) => Some(g.list(&request.scope, request.limit.get()).await),
                None => None,
            }
        };
        let (memories, graph) = futures::join!(memories, graph);
        let mut results = memories?;
        let now = self.backends.clock.now();
        results.retain(|r| request.scope.contains(&r.scope) && (request.show_expired || !r.is_expired(now)));
        let mut report = ListReport { results, ..ListReport::default() };
        match graph {
            Some(Ok(relations)) => report.relations = Some(relations),
            Some(Err(e)) => report.graph_degraded = Some(e.to_string()),
            None => {}
        }
        Ok(report)
    }

    /// A memory's history, oldest first. With a scope, the memory must exist in it.
    pub async fn history(&self, target: &MemoryRef) -> Result<Vec<HistoryEntry>, ServiceError> {
        let Some(scope) = &target.scope else { return Ok(self.backends.history.history(target.id).await?) };
        let owned = match self.backends.vector_store.get(target.id).await? {
            Some(record) => target.admits(&record),
            // deleted: its rows say whose it was
            None => {
                let rows = self.backends.history.history(target.id).await?;
                if history::visible_to(&rows, scope) {
                    return Ok(rows);
                }
                false
            }
        };
        if !owned {
            return Err(ServiceError::NotFound(target.id));
        }
        Ok(self.backends.history.history(target.id).await?)
    }
}

async fn rerank(
    reranker: &dyn crate::ports::reranker::Reranker,
    query: &str,
    found: Vec<ScoredMemory>,
    top_n: usize,
) -> Vec<ScoredMemory> {
    let documents: Vec<String> = found.iter().map(|m| m.record.text.as_str().to_owned()).collect();
    match reranker.rerank(query, &documents, top_n).await {
        Ok(hits) => hits
            .into_iter()
            .filter_map(|hit| {
                found.get(hit.index).map(|m| ScoredMemory {
                    rerank_score: Some(hit.score),
                    parts: m.parts.map(|p| ScoreParts { rerank: Some(hit.score), ..p }),
                    ..m.clone()
                })
            })
            .collect(),
        Err(e) => {
            warn!(error = %e, "reranker failed; keeping vector order");
            found
        }
    }
}
