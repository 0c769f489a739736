//! The memory use cases over one set of backends: add, search, get, get_all, update, delete,
//! delete_all, history. No runtime policy here (see `policy`); every call runs to completion.

use super::constants::CANDIDATES_PER_FACT;
use crate::domain::facts::{extraction_prompt, parse_facts, Focus};
use crate::domain::graph::GraphChanges;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, ScoredMemory};
use crate::domain::message::Conversation;
use crate::domain::operations::{
    AddReport, AddRequest, ChangeEvent, DeleteAllReport, ListReport, ListRequest, MemoryChange, MemoryRef,
    SearchReport, SearchRequest, UpdateRequest,
};
use crate::domain::reconcile::{decision_prompt, parse_decisions, Candidates, Operation};
use crate::domain::scope::Scope;
use crate::ports::backends::Backends;
use crate::ports::embedder::{EmbedError, EmbedPurpose};
use crate::ports::llm::{ChatMessage, ChatRequest, LlmError, ResponseFormat};
use crate::ports::store::StoreError;
use crate::ports::vector_store::{ListQuery, VectorQuery};
use chrono::Utc;
use futures::future::try_join_all;
use std::collections::HashMap;
use tracing::{debug, info, warn};
use uuid::Uuid;

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
    /// The memory does not exist in the given scope.
    #[error("Memory not found: {0}")]
    NotFound(MemoryId),
}

impl ServiceError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ServiceError::Llm(e) => e.is_transient(),
            ServiceError::Embed(e) => e.is_transient(),
            ServiceError::Store(e) => e.is_transient(),
            ServiceError::NotFound(_) => false,
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
}

/// The memory use cases over one set of backends.
pub struct MemoryService {
    backends: Backends,
    prompts: Prompts,
}

impl MemoryService {
    /// A service over `backends`.
    pub fn new(backends: Backends, prompts: Prompts) -> Self {
        Self { backends, prompts }
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.backends
    }

    /// Remembers a conversation. With `infer` and an LLM: extract facts, then reconcile with what
    /// the scope already holds; otherwise store each message as given. Graph memory, when
    /// configured, runs beside the vector path; its failure never loses the vector write.
    pub async fn add(&self, request: AddRequest) -> Result<AddReport, ServiceError> {
        if request.conversation.is_empty() {
            return Ok(AddReport::default());
        }
        let vector = async {
            match (&self.backends.llm, request.infer) {
                (Some(_), true) => self.add_inferred(&request).await,
                _ => self.add_verbatim(&request).await,
            }
        };
        let graph = self.graph_add(&request.conversation, &request.scope);
        let (vector, graph) = futures::join!(vector, graph);
        let mut report = vector?;
        match graph {
            Some(Ok(changes)) => report.relations = Some(changes),
            Some(Err(e)) => {
                warn!(error = %e, "graph memory failed; vector memories were written");
                report.graph_degraded = Some(e.to_string());
            }
            None => {}
        }
        Ok(report)
    }

    async fn graph_add(&self, conversation: &Conversation, scope: &Scope) -> Option<Result<GraphChanges, StoreError>> {
        let graph = self.backends.graph.as_ref()?;
        Some(graph.add(&conversation.transcript(), scope).await)
    }

    /// infer=false: every message becomes a memory (an identical text already stored is NONE).
    async fn add_verbatim(&self, request: &AddRequest) -> Result<AddReport, ServiceError> {
        let messages = request.conversation.messages();
        let mut texts = Vec::new();
        for message in messages.iter().filter(|m| m.role != crate::domain::message::Role::System) {
            if let Ok(text) = MemoryText::parse("message", &message.content) {
                texts.push((text, message.role));
            }
        }
        let existing = self.existing_by_hash(&request.scope, texts.iter().map(|(t, _)| t)).await?;
        let mut report = AddReport::default();
        let mut new_texts = Vec::new();
        for (text, role) in texts {
            match existing.get(&text.hash()) {
                Some(record) => report.results.push(change(record.id, &record.text, ChangeEvent::None, None)),
                None if new_texts.iter().any(|(t, _): &(MemoryText, _)| *t == text) => {}
                None => new_texts.push((text, role)),
            }
        }
        if new_texts.is_empty() {
            return Ok(report);
        }
        let vectors = self.embed(new_texts.iter().map(|(t, _)| t.as_str()), EmbedPurpose::Add).await?;
        let now = Utc::now();
        let records: Vec<(MemoryRecord, Vec<f32>)> = new_texts
            .into_iter()
            .zip(vectors)
            .map(|((text, role), vector)| {
                let mut record =
                    MemoryRecord::new(new_id(), text, request.metadata.clone(), request.scope.clone(), now);
                record.role = Some(role.as_str().to_owned());
                record.actor_id = request.actor_id.clone();
                (record, vector)
            })
            .collect();
        self.insert(&records).await?;
        report.results.extend(records.iter().map(|(r, _)| change(r.id, &r.text, ChangeEvent::Add, None)));
        Ok(report)
    }

    /// infer=true: extraction, then reconciliation (skipped when nothing related is stored).
    async fn add_inferred(&self, request: &AddRequest) -> Result<AddReport, ServiceError> {
        let Some(llm) = &self.backends.llm else { return self.add_verbatim(request).await };
        let focus = Focus::for_add(
            request.scope.user_id().is_some(),
            request.scope.agent_id().is_some(),
            &request.conversation,
        );
        let prompt = extraction_prompt(
            &request.conversation,
            focus,
            Utc::now().date_naive(),
            self.prompts.fact_extraction.as_deref(),
        );
        let answer = llm
            .chat(ChatRequest {
                messages: vec![ChatMessage::system(prompt.system), ChatMessage::user(prompt.user)],
                response_format: ResponseFormat::JsonObject,
                tools: Vec::new(),
            })
            .await?;
        let mut report = AddReport { llm_calls: 1, ..AddReport::default() };
        let facts = parse_facts(answer.content.as_deref().unwrap_or(""));
        debug!(facts = facts.len(), "facts extracted");
        if facts.is_empty() {
            return Ok(report);
        }

        // Facts already stored word for word need no decision.
        let existing = self.existing_by_hash(&request.scope, facts.iter()).await?;
        let mut fresh = Vec::new();
        for fact in facts {
            match existing.get(&fact.hash()) {
                Some(record) => report.results.push(change(record.id, &record.text, ChangeEvent::None, None)),
                None => fresh.push(fact),
            }
        }
        if fresh.is_empty() {
            return Ok(report);
        }
        let vectors = self.embed(fresh.iter().map(MemoryText::as_str), EmbedPurpose::Add).await?;
        let candidates = self.candidates(&request.scope, &vectors).await?;

        let operations = if candidates.is_empty() {
            fresh.iter().cloned().map(|text| Operation::Add { text }).collect()
        } else {
            let prompt = decision_prompt(&candidates, &fresh, self.prompts.update_memory.as_deref());
            let answer = llm
                .chat(ChatRequest {
                    messages: vec![ChatMessage::user(prompt)],
                    response_format: ResponseFormat::JsonObject,
                    tools: Vec::new(),
                })
                .await?;
            report.llm_calls += 1;
            parse_decisions(answer.content.as_deref().unwrap_or(""), &candidates)
        };
        let known_vectors: HashMap<_, _> = fresh.iter().map(|f| f.hash()).zip(vectors).collect();
        report.results.extend(self.apply(request, &candidates, operations, known_vectors).await?);
        Ok(report)
    }

    /// The scope's memories most similar to each fact, deduplicated, numbered for the model.
    async fn candidates(&self, scope: &Scope, vectors: &[Vec<f32>]) -> Result<Candidates, ServiceError> {
        let store = &self.backends.vector_store;
        let queries: Vec<VectorQuery> = vectors
            .iter()
            .map(|vector| VectorQuery {
                vector: vector.clone(),
                scope: scope.clone(),
                filter: None,
                limit: CANDIDATES_PER_FACT,
            })
            .collect();
        let found = try_join_all(queries.iter().map(|q| store.search(q))).await?;
        Ok(Candidates::new(found.into_iter().flatten().map(|s| s.record)))
    }

    /// Carries out decided operations and records their history.
    async fn apply(
        &self,
        request: &AddRequest,
        candidates: &Candidates,
        operations: Vec<Operation>,
        mut known_vectors: HashMap<crate::domain::memory::ContentHash, Vec<f32>>,
    ) -> Result<Vec<MemoryChange>, ServiceError> {
        let needs_embedding: Vec<MemoryText> = operations
            .iter()
            .filter_map(|op| match op {
                Operation::Add { text } | Operation::Update { text, .. }
                    if !known_vectors.contains_key(&text.hash()) =>
                {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        if !needs_embedding.is_empty() {
            let vectors = self.embed(needs_embedding.iter().map(MemoryText::as_str), EmbedPurpose::Add).await?;
            known_vectors.extend(needs_embedding.iter().map(|t| t.hash()).zip(vectors));
        }
        let now = Utc::now();
        let by_id: HashMap<MemoryId, &MemoryRecord> =
            (0..candidates.len()).filter_map(|i| candidates.get(&i.to_string())).map(|r| (r.id, r)).collect();
        let mut changes = Vec::new();
        let mut inserts = Vec::new();
        let mut history = Vec::new();
        for operation in operations {
            match operation {
                Operation::Add { text } => {
                    let vector = known_vectors.get(&text.hash()).cloned().unwrap_or_default();
                    let record =
                        MemoryRecord::new(new_id(), text, request.metadata.clone(), request.scope.clone(), now);
                    history.push(HistoryEntry::added(Uuid::new_v4(), record.id, record.text.clone(), now));
                    changes.push(change(record.id, &record.text, ChangeEvent::Add, None));
                    inserts.push((record, vector));
                }
                Operation::Update { target, previous, text } => {
                    let Some(old) = by_id.get(&target) else { continue };
                    let updated = old.revised(text, &request.metadata, now);
                    let vector = known_vectors.get(&updated.text.hash()).cloned();
                    self.backends.vector_store.update(&updated, vector).await?;
                    history.push(HistoryEntry::updated(
                        Uuid::new_v4(),
                        target,
                        previous.clone(),
                        updated.text.clone(),
                        old.created_at,
                        now,
                    ));
                    changes.push(change(target, &updated.text, ChangeEvent::Update, Some(&previous)));
                }
                Operation::Delete { target, text } => {
                    let Some(old) = by_id.get(&target) else { continue };
                    self.backends.vector_store.delete(target).await?;
                    history.push(HistoryEntry::deleted(Uuid::new_v4(), target, text.clone(), old.created_at, now));
                    changes.push(change(target, &text, ChangeEvent::Delete, None));
                }
            }
        }
        if !inserts.is_empty() {
            self.backends.vector_store.insert(&inserts).await?;
        }
        self.backends.history.append(&history).await?;
        info!(changes = changes.len(), "add applied");
        Ok(changes)
    }

    /// Inserts new memories and their ADD history rows.
    async fn insert(&self, records: &[(MemoryRecord, Vec<f32>)]) -> Result<(), ServiceError> {
        self.backends.vector_store.insert(records).await?;
        let history: Vec<HistoryEntry> = records
            .iter()
            .map(|(r, _)| HistoryEntry::added(Uuid::new_v4(), r.id, r.text.clone(), r.created_at))
            .collect();
        self.backends.history.append(&history).await?;
        Ok(())
    }

    async fn existing_by_hash<'a>(
        &self,
        scope: &Scope,
        texts: impl Iterator<Item = &'a MemoryText>,
    ) -> Result<HashMap<crate::domain::memory::ContentHash, MemoryRecord>, ServiceError> {
        let hashes: Vec<_> = texts.map(MemoryText::hash).collect();
        let found = self.backends.vector_store.find_by_hash(scope, &hashes).await?;
        Ok(found.into_iter().map(|r| (r.hash.clone(), r)).collect())
    }

    async fn embed<'a>(
        &self,
        texts: impl Iterator<Item = &'a str>,
        purpose: EmbedPurpose,
    ) -> Result<Vec<Vec<f32>>, ServiceError> {
        let texts: Vec<String> = texts.map(str::to_owned).collect();
        let vectors = self.backends.embedder.embed(&texts, purpose).await?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::Protocol(format!("{} vectors for {} texts", vectors.len(), texts.len())).into());
        }
        Ok(vectors)
    }

    /// The scope's memories most similar to the query, reranked when asked and configured.
    pub async fn search(&self, request: SearchRequest) -> Result<SearchReport, ServiceError> {
        let graph = async {
            match &self.backends.graph {
                Some(g) => Some(g.search(request.query.as_str(), &request.scope, request.limit.get()).await),
                None => None,
            }
        };
        let memories = async {
            let vector = self.embed(std::iter::once(request.query.as_str()), EmbedPurpose::Search).await?.remove(0);
            let reranker = self.backends.reranker.as_ref().filter(|_| request.rerank);
            let fetch = if reranker.is_some() { (request.limit.get() * 3).max(20) } else { request.limit.get() };
            let query =
                VectorQuery { vector, scope: request.scope.clone(), filter: request.filter.clone(), limit: fetch };
            let mut found = self.backends.vector_store.search(&query).await?;
            found.retain(|m| request.scope.contains(&m.record.scope));
            if let Some(threshold) = request.threshold {
                found.retain(|m| m.score.value() >= threshold.get());
            }
            if let Some(reranker) = reranker {
                found = rerank(reranker.as_ref(), request.query.as_str(), found, request.limit.get()).await;
            }
            found.truncate(request.limit.get());
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
            match &self.backends.graph {
                Some(g) => Some(g.list(&request.scope, request.limit.get()).await),
                None => None,
            }
        };
        let (memories, graph) = futures::join!(memories, graph);
        let mut results = memories?;
        results.retain(|r| request.scope.contains(&r.scope));
        let mut report = ListReport { results, ..ListReport::default() };
        match graph {
            Some(Ok(relations)) => report.relations = Some(relations),
            Some(Err(e)) => report.graph_degraded = Some(e.to_string()),
            None => {}
        }
        Ok(report)
    }

    /// Rewrites a memory's text (re-embedded) and merges metadata; keeps owner and creation time.
    pub async fn update(&self, request: UpdateRequest) -> Result<MemoryRecord, ServiceError> {
        let old = self.get(&request.target).await?.ok_or(ServiceError::NotFound(request.target.id))?;
        let now = Utc::now();
        let updated = old.revised(request.text, &request.metadata, now);
        let vector = self.embed(std::iter::once(updated.text.as_str()), EmbedPurpose::Update).await?.remove(0);
        self.backends.vector_store.update(&updated, Some(vector)).await?;
        let entry =
            HistoryEntry::updated(Uuid::new_v4(), old.id, old.text.clone(), updated.text.clone(), old.created_at, now);
        self.backends.history.append(&[entry]).await?;
        Ok(updated)
    }

    /// Deletes a memory and records it in its history.
    pub async fn delete(&self, target: &MemoryRef) -> Result<MemoryId, ServiceError> {
        let old = self.get(target).await?.ok_or(ServiceError::NotFound(target.id))?;
        self.backends.vector_store.delete(old.id).await?;
        let entry = HistoryEntry::deleted(Uuid::new_v4(), old.id, old.text, old.created_at, Utc::now());
        self.backends.history.append(&[entry]).await?;
        Ok(old.id)
    }

    /// Deletes every memory inside the scope (each recorded in its history) and the scope's
    /// graph; touches nothing outside the scope, never resets a collection.
    pub async fn delete_all(&self, scope: &Scope) -> Result<DeleteAllReport, ServiceError> {
        const PAGE: usize = 500;
        let store = &self.backends.vector_store;
        let mut deleted = 0u64;
        loop {
            let page = store.list(&ListQuery { scope: scope.clone(), filter: None, limit: PAGE }).await?;
            let page: Vec<_> = page.into_iter().filter(|r| scope.contains(&r.scope)).collect();
            if page.is_empty() {
                break;
            }
            let now = Utc::now();
            let history: Vec<HistoryEntry> = page
                .iter()
                .map(|r| HistoryEntry::deleted(Uuid::new_v4(), r.id, r.text.clone(), r.created_at, now))
                .collect();
            self.backends.history.append(&history).await?;
            let removed = try_join_all(page.iter().map(|r| store.delete(r.id))).await?;
            let removed_now = removed.iter().filter(|d| **d).count() as u64;
            deleted += removed_now;
            if removed_now == 0 {
                break;
            }
        }
        deleted += store.delete_scope(scope).await?;
        if let Some(graph) = &self.backends.graph {
            graph.delete_scope(scope).await?;
        }
        info!(deleted, "scope deleted");
        Ok(DeleteAllReport { deleted })
    }

    /// A memory's history, oldest first. With a scope, the memory must exist in it.
    pub async fn history(&self, target: &MemoryRef) -> Result<Vec<HistoryEntry>, ServiceError> {
        if target.scope.is_some() && self.get(target).await?.is_none() {
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
            .filter_map(|hit| found.get(hit.index).map(|m| ScoredMemory { rerank_score: Some(hit.score), ..m.clone() }))
            .collect(),
        Err(e) => {
            warn!(error = %e, "reranker failed; keeping vector order");
            found
        }
    }
}

fn new_id() -> MemoryId {
    MemoryId::from_uuid(Uuid::new_v4())
}

fn change(id: MemoryId, text: &MemoryText, event: ChangeEvent, previous: Option<&MemoryText>) -> MemoryChange {
    MemoryChange {
        id,
        memory: text.as_str().to_owned(),
        event,
        previous_memory: previous.map(|p| p.as_str().to_owned()),
    }
}
