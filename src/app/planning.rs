//! Writes in two steps: a plan (everything decided, LLM calls and embeddings done, ids chosen)
//! and its application. A plan is plain data that the journal saves, so a write interrupted
//! half-way is finished by applying the same plan again: every step is idempotent (inserts and
//! history rows by fixed ids, updates overwrite, deletes ignore what is gone).

use super::constants::CANDIDATES_PER_FACT;
use super::service::{MemoryService, ServiceError};
use crate::domain::extraction_settings::ExtractionMode;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{ContentHash, MemoryError, MemoryId, MemoryRecord, MemoryText};
use crate::domain::message::Role;
use crate::domain::operations::{
    AddReport, AddRequest, ChangeEvent, DeleteAllReport, MemoryChange, MemoryRef, UpdateRequest, WriteCommand,
    WriteResult,
};
use crate::domain::reconcile::{Candidates, Operation};
use crate::domain::scope::Scope;
use crate::domain::write_plan::{ExtractedFacts, GraphStep, PlanKind, PlannedChange, WritePlan};
use crate::ports::embedder::EmbedPurpose;
use crate::ports::vector_store::{ListQuery, VectorQuery};
use chrono::Utc;
use futures::future::try_join_all;
use std::collections::HashMap;
use tracing::{info, warn, Instrument};

/// What a graph failure does to the write it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFailure {
    /// A transient failure fails the write, which is retried later from its journaled plan.
    Retry,
    /// Any failure is reported as degraded; the vector part is applied (last attempt, or a
    /// caller waiting for the outcome now).
    Degrade,
}

impl MemoryService {
    /// Plans and applies a write; returns its result. Graph failures are reported as degraded
    /// (nothing retries this write later).
    pub async fn execute(&self, command: &WriteCommand) -> Result<WriteResult, ServiceError> {
        let mut plan = self.plan(command).await?;
        self.apply_changes(&plan).await?;
        self.plan_graph(&mut plan, GraphFailure::Degrade).await?;
        self.finish(&plan, GraphFailure::Degrade).await
    }

    /// Remembers a conversation (plan and apply in one go).
    pub async fn add(&self, request: AddRequest) -> Result<AddReport, ServiceError> {
        match self.execute(&WriteCommand::Add(request)).await? {
            WriteResult::Add(report) => Ok(report),
            other => Err(ServiceError::Internal(format!("an add answered {other:?}"))),
        }
    }

    /// Plans the graph part of an add whose graph step is pending. Returns whether the plan
    /// changed (and so must be journaled again). A transient failure fails the call under
    /// [`GraphFailure::Retry`]; any other failure is kept in the plan as [`GraphStep::Failed`].
    pub async fn plan_graph(&self, plan: &mut WritePlan, on_failure: GraphFailure) -> Result<bool, ServiceError> {
        let PlanKind::Add { transcript, graph: step @ GraphStep::Pending, .. } = &mut plan.kind else {
            return Ok(false);
        };
        *step = match self.graph() {
            Some(graph) if !transcript.trim().is_empty() => match graph.plan(transcript, &plan.scope).await {
                Ok(decided) if decided.is_empty() => GraphStep::Skipped,
                Ok(decided) => GraphStep::Planned { plan: decided },
                Err(e) if e.is_transient() && on_failure == GraphFailure::Retry => {
                    warn!(error = %e, "graph memory could not be planned; the write will be retried");
                    return Err(e.into());
                }
                Err(e) => {
                    warn!(error = %e, "graph memory could not be planned; vector memories are written");
                    GraphStep::Failed { reason: e.to_string() }
                }
            },
            _ => GraphStep::Skipped,
        };
        Ok(true)
    }

    /// The first step of an add that asks the model for facts, when it has one: the facts, to be
    /// journaled before the next step so a later failure never costs them (see [`Self::plan_from`]).
    /// `None` for every other write.
    pub async fn extract(&self, command: &WriteCommand) -> Result<Option<ExtractedFacts>, ServiceError> {
        match command {
            WriteCommand::Add(request) if self.extracts(request) => Ok(Some(self.extract_facts(request).await?)),
            _ => Ok(None),
        }
    }

    /// Plans a write whose facts were already extracted (none: plans it whole).
    pub async fn plan_from(
        &self,
        command: &WriteCommand,
        extracted: Option<&ExtractedFacts>,
    ) -> Result<WritePlan, ServiceError> {
        match (command, extracted) {
            (WriteCommand::Add(request), Some(extracted)) => {
                let planned = self.plan_facts(request, extracted).await?;
                Ok(self.add_plan(request, planned))
            }
            _ => self.plan(command).await,
        }
    }

    fn extracts(&self, request: &AddRequest) -> bool {
        !request.conversation.is_empty() && request.infer && self.backends().llm.is_some()
    }

    /// Decides a write: LLM calls, embeddings and ids, but no change to any store.
    pub async fn plan(&self, command: &WriteCommand) -> Result<WritePlan, ServiceError> {
        match command {
            WriteCommand::Add(request) => self.plan_add(request).await,
            WriteCommand::Update(request) => self.plan_update(request).await,
            WriteCommand::Delete(target) => self.plan_delete(target).await,
            WriteCommand::DeleteAll(scope) => {
                Ok(WritePlan { scope: scope.clone(), kind: PlanKind::DeleteAll, changes: vec![], history: vec![] })
            }
        }
    }

    async fn plan_add(&self, request: &AddRequest) -> Result<WritePlan, ServiceError> {
        let planned = if request.conversation.is_empty() {
            (Vec::new(), Vec::new(), 0)
        } else if self.extracts(request) {
            let extracted = self.extract_facts(request).await?;
            self.plan_facts(request, &extracted).await?
        } else {
            self.plan_verbatim(request).await?
        };
        Ok(self.add_plan(request, planned))
    }

    /// infer=false: every message becomes a memory (an identical text already stored is NONE).
    async fn plan_verbatim(&self, request: &AddRequest) -> Result<Planned, ServiceError> {
        let mut texts: Vec<(MemoryText, Role)> = Vec::new();
        for message in request.conversation.messages().iter().filter(|m| m.role != Role::System) {
            let text = match MemoryText::parse("message", &message.content) {
                Ok(text) => text,
                Err(MemoryError::EmptyText { .. }) => continue,
                // Over the limit: refused, never dropped in silence.
                Err(e) => return Err(ServiceError::Invalid(e)),
            };
            if !texts.iter().any(|(t, _)| *t == text) {
                texts.push((text, message.role));
            }
        }
        let existing = self.existing_by_hash(&request.scope, texts.iter().map(|(t, _)| t)).await?;
        let mut unchanged = Vec::new();
        texts.retain(|(text, _)| match existing.get(&text.hash()) {
            Some(record) => {
                unchanged.push(change(record.id, &record.text, ChangeEvent::None, None));
                false
            }
            None => true,
        });
        if texts.is_empty() {
            return Ok((Vec::new(), unchanged, 0));
        }
        let vectors = self.embed(texts.iter().map(|(t, _)| t.as_str()), EmbedPurpose::Add).await?;
        let now = self.now();
        let changes = texts
            .into_iter()
            .zip(vectors)
            .map(|((text, role), vector)| {
                let mut record =
                    MemoryRecord::new(self.new_memory_id(), text, request.metadata.clone(), request.scope.clone(), now)
                        .observed(request.observed_at)
                        .expiring(request.expires_at);
                record.role = Some(role.as_str().to_owned());
                record.actor_id = request.actor_id.clone();
                PlannedChange::Insert { record, vector }
            })
            .collect();
        Ok((changes, unchanged, 0))
    }

    /// infer=true, step one: the facts of the conversation (see [`super::extraction`]).
    async fn extract_facts(&self, request: &AddRequest) -> Result<ExtractedFacts, ServiceError> {
        let Some(llm) = self.backends().llm.clone() else {
            return Err(ServiceError::Internal("fact extraction without a model".into()));
        };
        self.extract_with(llm.as_ref(), request).await
    }

    /// infer=true, step two: hash dedup, then reconciliation (skipped when nothing related is stored).
    async fn plan_facts(&self, request: &AddRequest, extracted: &ExtractedFacts) -> Result<Planned, ServiceError> {
        let Some(llm) = self.backends().llm.clone() else {
            return Err(ServiceError::Internal("update decision without a model".into()));
        };
        let facts = extracted.facts.clone();
        let mut llm_calls = extracted.llm_calls;

        // Facts already stored word for word need no decision.
        let existing = self.existing_by_hash(&request.scope, facts.iter()).await?;
        let mut unchanged = Vec::new();
        let mut fresh = Vec::new();
        for fact in facts {
            match existing.get(&fact.hash()) {
                Some(record) => unchanged.push(change(record.id, &record.text, ChangeEvent::None, None)),
                None => fresh.push(fact),
            }
        }
        if fresh.is_empty() {
            return Ok((Vec::new(), unchanged, llm_calls));
        }
        let vectors = self.embed(fresh.iter().map(MemoryText::as_str), EmbedPurpose::Add).await?;
        let candidates = match self.extraction().mode {
            ExtractionMode::TwoPass => self.candidates(&request.scope, &vectors).await?,
            ExtractionMode::Additive => Candidates::default(),
        };
        let (operations, calls) = self.decide_with(llm.as_ref(), &candidates, &fresh).await?;
        llm_calls += calls;
        let known: HashMap<ContentHash, Vec<f32>> = fresh.iter().map(MemoryText::hash).zip(vectors).collect();
        let changes = self.changes_for(request, &candidates, operations, known).await?;
        Ok((changes, unchanged, llm_calls))
    }

    /// The scope's memories most similar to each fact, deduplicated, numbered for the model.
    async fn candidates(&self, scope: &Scope, vectors: &[Vec<f32>]) -> Result<Candidates, ServiceError> {
        let store = &self.backends().vector_store;
        let queries: Vec<VectorQuery> = vectors
            .iter()
            .map(|vector| VectorQuery {
                vector: vector.clone(),
                scope: scope.clone(),
                filter: None,
                limit: CANDIDATES_PER_FACT,
            })
            .collect();
        let searches = try_join_all(queries.iter().map(|q| store.search(q)));
        let found = searches.instrument(tracing::debug_span!("app.candidates")).await?;
        Ok(Candidates::new(found.into_iter().flatten().map(|s| s.record).filter(|r| scope.contains(&r.scope))))
    }

    /// Turns decided operations into concrete changes (embedding texts the facts did not cover).
    async fn changes_for(
        &self,
        request: &AddRequest,
        candidates: &Candidates,
        operations: Vec<Operation>,
        mut known: HashMap<ContentHash, Vec<f32>>,
    ) -> Result<Vec<PlannedChange>, ServiceError> {
        let missing: Vec<MemoryText> = operations
            .iter()
            .filter_map(|op| match op {
                Operation::Add { text } | Operation::Update { text, .. } if !known.contains_key(&text.hash()) => {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        if !missing.is_empty() {
            let vectors = self.embed(missing.iter().map(MemoryText::as_str), EmbedPurpose::Add).await?;
            known.extend(missing.iter().map(MemoryText::hash).zip(vectors));
        }
        let stored: HashMap<MemoryId, &MemoryRecord> = candidates.records().iter().map(|r| (r.id, r)).collect();
        let now = self.now();
        let mut changes = Vec::new();
        for operation in operations {
            match operation {
                Operation::Add { text } => {
                    let vector = known.get(&text.hash()).cloned().unwrap_or_default();
                    let record = MemoryRecord::new(
                        self.new_memory_id(),
                        text,
                        request.metadata.clone(),
                        request.scope.clone(),
                        now,
                    )
                    .observed(request.observed_at)
                    .expiring(request.expires_at);
                    changes.push(PlannedChange::Insert { record, vector });
                }
                Operation::Update { target, previous, text } => {
                    let Some(old) = stored.get(&target) else { continue };
                    let vector = known.get(&text.hash()).cloned();
                    let record =
                        old.revised(text, &request.metadata, now).observed(request.observed_at.or(old.observed_at));
                    changes.push(PlannedChange::Update { record, vector, previous });
                }
                Operation::Delete { target, .. } => {
                    let Some(old) = stored.get(&target) else { continue };
                    changes.push(PlannedChange::Delete { record: (*old).clone() });
                }
            }
        }
        Ok(changes)
    }

    async fn plan_update(&self, request: &UpdateRequest) -> Result<WritePlan, ServiceError> {
        let old = self.get(&request.target).await?.ok_or(ServiceError::NotFound(request.target.id))?;
        let record = old
            .revised(request.text.clone(), &request.metadata, self.now())
            .expiring(request.expires_at.or(old.expires_at));
        let vector = self.embed(std::iter::once(record.text.as_str()), EmbedPurpose::Update).await?.pop();
        let change = PlannedChange::Update { record, vector, previous: old.text.clone() };
        Ok(WritePlan {
            scope: old.scope.clone(),
            kind: PlanKind::Update,
            history: vec![self.history_row(&change)],
            changes: vec![change],
        })
    }

    async fn plan_delete(&self, target: &MemoryRef) -> Result<WritePlan, ServiceError> {
        let old = self.get(target).await?.ok_or(ServiceError::NotFound(target.id))?;
        let change = PlannedChange::Delete { record: old.clone() };
        Ok(WritePlan {
            scope: old.scope,
            kind: PlanKind::Delete,
            history: vec![self.history_row(&change)],
            changes: vec![change],
        })
    }

    /// Applies a plan's vector changes and history rows; safe to repeat. The rest of the write
    /// (its graph part, or a scope's deletion) is done by [`Self::finish`].
    pub async fn apply_changes(&self, plan: &WritePlan) -> Result<(), ServiceError> {
        self.apply_vector_changes(plan).instrument(tracing::debug_span!("app.apply")).await
    }

    async fn apply_vector_changes(&self, plan: &WritePlan) -> Result<(), ServiceError> {
        let store = &self.backends().vector_store;
        let inserts: Vec<(MemoryRecord, Vec<f32>)> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                PlannedChange::Insert { record, vector } => Some((record.clone(), vector.clone())),
                _ => None,
            })
            .collect();
        for change in &plan.changes {
            match change {
                PlannedChange::Insert { .. } => {}
                PlannedChange::Update { record, vector, .. } => store.update(record, vector.clone()).await?,
                PlannedChange::Delete { record } => {
                    store.delete(record.id).await?;
                }
            }
        }
        if !inserts.is_empty() {
            store.insert(&inserts).await?;
        }
        if !plan.history.is_empty() {
            self.backends().history.append(&plan.history).await?;
        }
        Ok(())
    }

    /// Finishes a write whose changes are applied and whose graph step is decided (see
    /// [`Self::plan_graph`]): applies the graph part or deletes the scope; safe to repeat.
    /// Returns the write's result.
    pub async fn finish(&self, plan: &WritePlan, on_graph_failure: GraphFailure) -> Result<WriteResult, ServiceError> {
        let results: Vec<MemoryChange> = plan.changes.iter().map(report_row).collect();
        match &plan.kind {
            PlanKind::Add { unchanged, llm_calls, graph, .. } => {
                let mut report = AddReport {
                    results: unchanged.iter().cloned().chain(results).collect(),
                    llm_calls: *llm_calls,
                    ..AddReport::default()
                };
                self.apply_graph(graph, &plan.scope, on_graph_failure, &mut report).await?;
                info!(changes = plan.changes.len(), llm_calls, "add applied");
                Ok(WriteResult::Add(report))
            }
            PlanKind::Update => match plan.changes.first() {
                Some(PlannedChange::Update { record, .. }) => Ok(WriteResult::Update(record.clone())),
                _ => Err(ServiceError::Internal("update plan without its change".into())),
            },
            PlanKind::Delete => match plan.changes.first() {
                Some(PlannedChange::Delete { record }) => Ok(WriteResult::Delete { id: record.id }),
                _ => Err(ServiceError::Internal("delete plan without its change".into())),
            },
            PlanKind::DeleteAll => Ok(WriteResult::DeleteAll(self.delete_all(&plan.scope).await?)),
        }
    }

    /// Applies the graph part of an add into its report. A transient failure fails the write
    /// under [`GraphFailure::Retry`] (its vector part, already applied, is applied again
    /// harmlessly on the retry); otherwise failures are reported as degraded.
    async fn apply_graph(
        &self,
        step: &GraphStep,
        scope: &Scope,
        on_failure: GraphFailure,
        report: &mut AddReport,
    ) -> Result<(), ServiceError> {
        let graph = match (step, self.graph()) {
            (GraphStep::Planned { plan }, Some(graph)) => graph.apply(plan, scope),
            (GraphStep::Failed { reason }, _) => {
                report.graph_degraded = Some(reason.clone());
                return Ok(());
            }
            (GraphStep::Pending, Some(_)) => {
                return Err(ServiceError::Internal("the graph part of the add was not planned".into()))
            }
            // Planned while graph memory was configured, resumed without it: nothing to write to.
            (GraphStep::Planned { .. }, None) => {
                report.graph_degraded = Some("graph memory is no longer configured".into());
                return Ok(());
            }
            (GraphStep::Skipped | GraphStep::Pending, None) | (GraphStep::Skipped, Some(_)) => return Ok(()),
        };
        match graph.await {
            Ok(changes) => report.relations = Some(changes),
            Err(e) if e.is_transient() && on_failure == GraphFailure::Retry => {
                warn!(error = %e, "graph memory failed; the write will be retried");
                return Err(e.into());
            }
            Err(e) => {
                warn!(error = %e, "graph memory failed; vector memories were written");
                report.graph_degraded = Some(e.to_string());
            }
        }
        Ok(())
    }

    /// Deletes every memory inside the scope (each recorded in its history) and the scope's
    /// graph; touches nothing outside the scope, never resets a collection.
    pub async fn delete_all(&self, scope: &Scope) -> Result<DeleteAllReport, ServiceError> {
        const PAGE: usize = 500;
        let store = &self.backends().vector_store;
        let mut deleted = 0u64;
        loop {
            let page = store.list(&ListQuery { scope: scope.clone(), filter: None, limit: PAGE }).await?;
            let page: Vec<_> = page.into_iter().filter(|r| scope.contains(&r.scope)).collect();
            if page.is_empty() {
                break;
            }
            let now = self.now();
            let history: Vec<HistoryEntry> = page
                .iter()
                .map(|r| {
                    let id = self.backends().ids.new_id();
                    HistoryEntry::deleted(id, r.id, r.text.clone(), r.created_at, now).owned_by(&r.scope)
                })
                .collect();
            self.backends().history.append(&history).await?;
            let removed = try_join_all(page.iter().map(|r| store.delete(r.id))).await?;
            let removed_now = removed.iter().filter(|d| **d).count() as u64;
            deleted += removed_now;
            if removed_now == 0 {
                break;
            }
        }
        deleted += store.delete_scope(scope).await?;
        if let Some(graph) = self.graph() {
            graph.delete_scope(scope).await?;
        }
        info!(deleted, "scope deleted");
        Ok(DeleteAllReport { deleted })
    }

    /// The plan of an add from its planned changes.
    fn add_plan(&self, request: &AddRequest, (changes, unchanged, llm_calls): Planned) -> WritePlan {
        let graph_configured = self.graph().is_some();
        let transcript = request.conversation.transcript();
        let history = changes.iter().map(|change| self.history_row(change)).collect();
        // (the graph step is decided by `MemoryService::plan_graph`, journaled before any apply)
        WritePlan {
            scope: request.scope.clone(),
            kind: PlanKind::Add {
                graph: if graph_configured && !transcript.trim().is_empty() {
                    GraphStep::Pending
                } else {
                    GraphStep::Skipped
                },
                unchanged,
                transcript,
                llm_calls,
            },
            changes,
            history,
        }
    }

    /// The history row of a planned change, with its id fixed.
    fn history_row(&self, change: &PlannedChange) -> HistoryEntry {
        let id = self.backends().ids.new_id();
        let row = match change {
            PlannedChange::Insert { record, .. } => {
                HistoryEntry::added(id, record.id, record.text.clone(), record.created_at)
            }
            PlannedChange::Update { record, previous, .. } => HistoryEntry::updated(
                id,
                record.id,
                previous.clone(),
                record.text.clone(),
                record.created_at,
                record.updated_at,
            ),
            PlannedChange::Delete { record } => {
                HistoryEntry::deleted(id, record.id, record.text.clone(), record.created_at, self.now())
            }
        };
        let (PlannedChange::Insert { record, .. }
        | PlannedChange::Update { record, .. }
        | PlannedChange::Delete { record, .. }) = change;
        row.owned_by(&record.scope)
    }

    /// The time stamped on what a write creates.
    fn now(&self) -> chrono::DateTime<Utc> {
        self.backends().clock.now()
    }

    /// The id of a new memory.
    fn new_memory_id(&self) -> MemoryId {
        MemoryId::from_uuid(self.backends().ids.new_id())
    }
}

type Planned = (Vec<PlannedChange>, Vec<MemoryChange>, u32);

fn report_row(change: &PlannedChange) -> MemoryChange {
    match change {
        PlannedChange::Insert { record, .. } => change_of(record, ChangeEvent::Add, None),
        PlannedChange::Update { record, previous, .. } => change_of(record, ChangeEvent::Update, Some(previous)),
        PlannedChange::Delete { record } => change_of(record, ChangeEvent::Delete, None),
    }
}

fn change_of(record: &MemoryRecord, event: ChangeEvent, previous: Option<&MemoryText>) -> MemoryChange {
    change(record.id, &record.text, event, previous)
}

fn change(id: MemoryId, text: &MemoryText, event: ChangeEvent, previous: Option<&MemoryText>) -> MemoryChange {
    MemoryChange {
        id,
        memory: text.as_str().to_owned(),
        event,
        previous_memory: previous.map(|p| p.as_str().to_owned()),
    }
}
