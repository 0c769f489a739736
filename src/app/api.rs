//! The inbound port implemented: engine selection by credentials plus the runtime policies of
//! the guide — async accept for writes, timeout-degrade for reads, separate read and write
//! limits, a ceiling on sync writes.

use super::admission::AdmitError;
use super::constants::{Timeouts, MAX_CONCURRENT_MEM_ADDS, MAX_CONCURRENT_READS, MAX_PENDING_WRITES};
use super::engine::Engine;
use super::engines::EngineRegistry;
use super::repeats::{repeat_ids, repeat_key, DEFAULT_REPEAT_WINDOW};
use super::service::ServiceError;
use super::writes::{apply_now, WriterTiming};
use crate::domain::credentials::{self, CredentialSet};
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryRecord};
use crate::domain::operations::{
    AddReport, AddRequest, DeleteAllReport, ListReport, ListRequest, MemoryRef, SearchReport, SearchRequest,
    UpdateRequest, WriteCommand, WriteResult,
};
use crate::domain::scope::Scope;
use crate::ports::backends::BackendFactory;
use crate::ports::embedder::EmbedPurpose;
use crate::ports::journal::{NewWrite, Recorded};
use crate::ports::llm::{ChatMessage, ChatRequest, ResponseFormat};
use crate::ports::memory_api::{
    ApiError, CheckResult, Degraded, MemoryApi, ReadOutcome, WriteId, WriteOutcome, WriteRef, WriteState,
};
use async_trait::async_trait;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tracing::{info, warn, Instrument};

/// How often a sync write that found the journal full tries again for a place.
const SYNC_BUSY_RETRY: Duration = Duration::from_millis(20);

/// How often a repeated sync add looks in the journal for the first write's outcome.
const REPEAT_POLL: Duration = Duration::from_millis(25);

/// The ids of a write about to be accepted: the id it is recorded under, and those under which
/// the same add was recorded if it was received before within the repeat window (the window
/// before first).
struct WriteIds {
    /// The ids to record it under, tried in order while the one tried is taken by a write that
    /// failed (a fresh id after the last).
    ids: Vec<WriteId>,
    repeat_of: Vec<WriteId>,
}

impl WriteIds {
    /// The id it is recorded under unless that one is taken.
    fn first(&self) -> &WriteId {
        &self.ids[0]
    }
}

/// What an accept did.
enum Accepted {
    /// Recorded a new write under this id.
    New(WriteId),
    /// Recorded nothing: the same add is write `id`, recorded within the repeat window.
    Repeat(WriteId),
}

/// The typed answer of a write operation, from the result of the write (applied here, or by
/// whichever process and read back from the journal).
trait WriteAnswer: Sized {
    /// The answer, when `result` is one of this operation's.
    fn from_result(result: WriteResult) -> Option<Self>;
}

impl WriteAnswer for AddReport {
    fn from_result(result: WriteResult) -> Option<Self> {
        if let WriteResult::Add(report) = result {
            Some(report)
        } else {
            None
        }
    }
}

impl WriteAnswer for MemoryRecord {
    fn from_result(result: WriteResult) -> Option<Self> {
        if let WriteResult::Update(record) = result {
            Some(record)
        } else {
            None
        }
    }
}

impl WriteAnswer for MemoryId {
    fn from_result(result: WriteResult) -> Option<Self> {
        if let WriteResult::Delete { id } = result {
            Some(id)
        } else {
            None
        }
    }
}

impl WriteAnswer for DeleteAllReport {
    fn from_result(result: WriteResult) -> Option<Self> {
        if let WriteResult::DeleteAll(report) = result {
            Some(report)
        } else {
            None
        }
    }
}

/// The answer of an applied write, or an error when it is another operation's.
fn answer<T: WriteAnswer>(result: WriteResult) -> Result<T, ApiError> {
    T::from_result(result).ok_or_else(|| ApiError::Internal("the write answered another operation's result".into()))
}

/// A new write id from the engine's id source.
fn fresh_id(engine: &Engine) -> WriteId {
    WriteId(engine.service().backends().ids.new_id().to_string())
}

/// The error of a write the journal did not take, with its cause.
fn not_accepted(cause: impl Into<ApiError>) -> ApiError {
    ApiError::NotAccepted(Box::new(cause.into()))
}

/// Tunables of the application (defaults from the guide).
#[derive(Debug, Clone, Copy)]
pub struct AppSettings {
    /// Operation ceilings.
    pub timeouts: Timeouts,
    /// Concurrent writes.
    pub write_concurrency: usize,
    /// Concurrent reads.
    pub read_concurrency: usize,
    /// Accepted writes that may wait.
    pub queue_capacity: usize,
    /// Lease, renewal, poll and retry policy of the background writers.
    pub writer: WriterTiming,
    /// How long the same add counts as a repeat, answered with the first write (zero: off).
    pub repeat_window: Duration,
}

impl Default for AppSettings {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            write_concurrency: MAX_CONCURRENT_MEM_ADDS,
            read_concurrency: MAX_CONCURRENT_READS,
            queue_capacity: MAX_PENDING_WRITES,
            writer: WriterTiming::default(),
            repeat_window: DEFAULT_REPEAT_WINDOW,
        }
    }
}

/// The memory application.
pub struct MemoryApp {
    registry: EngineRegistry,
    write_slots: Arc<Semaphore>,
    read_slots: Semaphore,
    stopping: AtomicBool,
    settings: AppSettings,
}

impl MemoryApp {
    /// Starts the application (spawns the write workers: call inside a tokio runtime).
    pub fn start(factory: Arc<dyn BackendFactory>, settings: AppSettings) -> Self {
        let write_slots = Arc::new(Semaphore::new(settings.write_concurrency.max(1)));
        let registry = EngineRegistry::new(factory, write_slots.clone(), settings.writer, settings.queue_capacity);
        Self {
            registry,
            write_slots,
            read_slots: Semaphore::new(settings.read_concurrency.max(1)),
            stopping: AtomicBool::new(false),
            settings,
        }
    }

    pub(super) async fn engine(&self, credentials: &CredentialSet) -> Result<Arc<Engine>, ApiError> {
        self.registry.engine(credentials).await.map_err(|e| ApiError::Configuration(e.to_string()))
    }

    /// A write: in async mode recorded in the journal and acknowledged at once; in sync mode, or
    /// when a model is reachable only during this call, applied within the ceiling.
    async fn write<T: WriteAnswer>(
        &self,
        credentials: &CredentialSet,
        command: WriteCommand,
    ) -> Result<WriteOutcome<T>, ApiError> {
        let op = command.name();
        self.write_now(credentials, command).instrument(tracing::debug_span!("app.write", op)).await
    }

    async fn write_now<T: WriteAnswer>(
        &self,
        credentials: &CredentialSet,
        command: WriteCommand,
    ) -> Result<WriteOutcome<T>, ApiError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(ApiError::ShuttingDown);
        }
        let engine = self.engine(credentials).await?;
        let ceiling = self.settings.timeouts.sync_write;
        let deadline = tokio::time::Instant::now() + ceiling;
        let ids = self.write_ids(&engine, &command);
        // models lent only for the duration of this call cannot serve a background writer
        if engine.service().backends().bound_to_call() {
            return self.apply_in_call(&engine, &command, &ids, deadline).await;
        }
        if credentials.async_mode {
            return match self.accept(&engine, &command, &ids, None).await? {
                Accepted::New(id) | Accepted::Repeat(id) => Ok(WriteOutcome::Accepted(id)),
            };
        }
        // Sync mode: journaled like an accepted write and applied by the writer, this call
        // waiting for the outcome up to the ceiling; past it the answer is the write id and
        // "still running" — the write goes on, it is never reported failed and then done.
        // A sync caller waits for a place in the journal (as it waited for a write slot) until
        // its ceiling, rather than being told "busy" at once.
        let outcome = engine.writer().outcome_of(ids.first());
        let accepted = loop {
            match self.accept(&engine, &command, &ids, None).await {
                Ok(accepted) => break accepted,
                Err(ApiError::Busy(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(SYNC_BUSY_RETRY).await;
                }
                Err(e) => {
                    engine.writer().forget(ids.first());
                    return Err(e);
                }
            }
        };
        let id = match accepted {
            Accepted::New(id) if id == *ids.first() => id,
            // A repeat, or a new write under another id: followed in the journal.
            Accepted::New(id) | Accepted::Repeat(id) => {
                engine.writer().forget(ids.first());
                return self.repeated(&engine, id, deadline).await;
            }
        };
        match tokio::time::timeout_at(deadline, outcome).await {
            Ok(Ok(Ok(result))) => answer(result).map(WriteOutcome::Done),
            Ok(Ok(Err(e))) => Err(e.into()),
            // Another caller of the same add (a concurrent repeat) now waits in our place:
            // follow the write in the journal.
            Ok(Err(_)) => self.repeated(&engine, id, deadline).await,
            Err(_) => {
                engine.writer().forget(&id);
                info!(write = %id.0, ?ceiling, "sync write still running past its ceiling");
                Ok(WriteOutcome::Running(id))
            }
        }
    }

    /// A write whose models are lent for this call only: applied in the calling task within the
    /// ceiling. It is recorded in the journal first, held by this call (leased: no writer claims
    /// it), so that a repeat of the same add finds it, and then finished with its outcome.
    async fn apply_in_call<T: WriteAnswer>(
        &self,
        engine: &Engine,
        command: &WriteCommand,
        ids: &WriteIds,
        deadline: tokio::time::Instant,
    ) -> Result<WriteOutcome<T>, ApiError> {
        let ceiling = self.settings.timeouts.sync_write;
        let id = match self.accept(engine, command, ids, Some(ceiling.saturating_mul(2))).await? {
            Accepted::New(id) => id,
            Accepted::Repeat(id) => return self.repeated(engine, id, deadline).await,
        };
        let run = async {
            let _slot = self.write_slots.acquire().await;
            apply_now(engine, command).await
        };
        let outcome = tokio::time::timeout_at(deadline, run).await;
        let state = match &outcome {
            Ok(Ok(result)) => WriteState::Applied { result: Box::new(result.clone()) },
            Ok(Err(e)) => WriteState::Failed { error: e.to_string(), attempts: 1 },
            Err(_) => WriteState::Failed { error: format!("the write did not finish within {ceiling:?}"), attempts: 1 },
        };
        let journal = &engine.service().backends().journal;
        if let Err(e) = engine.admission().finish(journal.as_ref(), &id, &state).await {
            warn!(write = %id.0, error = %e, "could not record the outcome of a write applied in its call");
        }
        match outcome {
            Err(_) => Err(ApiError::Timeout { operation: "write", after: ceiling }),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(result)) => answer(result).map(WriteOutcome::Done),
        }
    }

    /// The ids of `command`: an add that can repeat an earlier one has the id derived from it
    /// for the current window (the same in every process), other writes a fresh one.
    fn write_ids(&self, engine: &Engine, command: &WriteCommand) -> WriteIds {
        let now_ms = engine.service().backends().clock.now().timestamp_millis();
        match repeat_key(command).and_then(|key| repeat_ids(&key, self.settings.repeat_window, now_ms)) {
            Some(repeat) => WriteIds { ids: vec![repeat.current, repeat.retry], repeat_of: repeat.earlier.to_vec() },
            None => WriteIds { ids: vec![fresh_id(engine)], repeat_of: Vec::new() },
        }
    }

    /// The outcome of a sync add that repeats write `id`: its result once the journal has it
    /// (whichever process applies it), or "still running" at `deadline`.
    async fn repeated<T: WriteAnswer>(
        &self,
        engine: &Engine,
        id: WriteId,
        deadline: tokio::time::Instant,
    ) -> Result<WriteOutcome<T>, ApiError> {
        let journal = &engine.service().backends().journal;
        loop {
            match journal.status(&id).await {
                Ok(Some(WriteState::Applied { result })) => {
                    return answer(*result).map(WriteOutcome::Done);
                }
                Ok(Some(WriteState::Failed { error, .. })) => return Err(ApiError::FailedEarlier(error)),
                Ok(_) | Err(_) if tokio::time::Instant::now() >= deadline => return Ok(WriteOutcome::Running(id)),
                Ok(_) | Err(_) => tokio::time::sleep(REPEAT_POLL).await,
            }
        }
    }

    /// Records a write durably and wakes the engine's writer, unless it repeats an earlier
    /// write (same add within the repeat window, also when another process recorded it); a
    /// repeat of a write that failed is not one: it is recorded again under its next id (the
    /// window's retry id, then a fresh one). Nothing is acknowledged unrecorded.
    ///
    /// `held_for`: see [`NewWrite::held_for`].
    async fn accept(
        &self,
        engine: &Engine,
        command: &WriteCommand,
        ids: &WriteIds,
        held_for: Option<Duration>,
    ) -> Result<Accepted, ApiError> {
        let ordering_key = command.ordering_key();
        let fresh = fresh_id(engine);
        let mut accepted = None;
        for (n, id) in ids.ids.iter().chain([&fresh]).enumerate() {
            // The repeats are looked for once: a later id is tried only after the one before
            // it was found taken by a write that failed.
            let repeat_of = if n == 0 { &ids.repeat_of[..] } else { &[] };
            let write = NewWrite { id, repeat_of, ordering_key: &ordering_key, command, held_for };
            match self.admit(engine, write).await? {
                Recorded::New => accepted = Some(Accepted::New(id.clone())),
                Recorded::Repeat(earlier) => accepted = Some(Accepted::Repeat(earlier)),
                // Taken: by a write that failed (the next id is tried), or by the same add
                // recorded a moment ago by another caller.
                Recorded::IdTaken => match engine.service().backends().journal.status(id).await {
                    Ok(Some(WriteState::Failed { .. })) => continue,
                    Ok(Some(_)) => accepted = Some(Accepted::Repeat(id.clone())),
                    Ok(None) => {
                        return Err(not_accepted(ApiError::Internal(
                            "the journal holds the write id but not its write".into(),
                        )))
                    }
                    Err(e) => return Err(not_accepted(e)),
                },
            }
            break;
        }
        let accepted =
            accepted.ok_or_else(|| not_accepted(ApiError::Internal("every id of the write was taken".into())))?;
        match &accepted {
            Accepted::New(_) => engine.writer().wake(),
            Accepted::Repeat(id) => info!(write = %id.0, "the same add was received again within the repeat window"),
        }
        Ok(accepted)
    }

    /// One journal call recording `write` (or finding its repeat), bounded like a read.
    async fn admit(&self, engine: &Engine, write: NewWrite<'_>) -> Result<Recorded, ApiError> {
        let ceiling = self.settings.timeouts.get;
        let ready = tokio::time::timeout(ceiling, engine.ready()).await;
        match ready {
            Err(_) => {
                return Err(not_accepted(ApiError::Timeout { operation: "preparing the stores", after: ceiling }))
            }
            Ok(Err(e)) => return Err(not_accepted(e)),
            Ok(Ok(())) => {}
        }
        let journal = &engine.service().backends().journal;
        // The engine's count bounds the journal: a hard bound for this process, and at most the
        // writes other processes accepted since its last count can overshoot it.
        let record = engine.admission().record(journal.as_ref(), write).instrument(tracing::debug_span!("app.journal"));
        match tokio::time::timeout(ceiling, record).await {
            Err(_) => Err(not_accepted(ApiError::Timeout { operation: "recording the write", after: ceiling })),
            Ok(Err(AdmitError::Busy(waiting))) => Err(ApiError::Busy(waiting as usize)),
            Ok(Err(AdmitError::Journal(e))) => Err(not_accepted(e)),
            Ok(Ok(recorded)) => Ok(recorded),
        }
    }

    /// A read bounded by `ceiling`: on timeout or backend failure, the empty default, marked degraded.
    async fn read<T, F, Fut>(
        &self,
        credentials: &CredentialSet,
        ceiling: Duration,
        what: &'static str,
        run: F,
    ) -> Result<ReadOutcome<T>, ApiError>
    where
        T: Default,
        F: FnOnce(Arc<Engine>) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let engine = self.engine(credentials).instrument(tracing::debug_span!("app.engine")).await?;
        let bounded = async {
            let _slot = self.read_slots.acquire().await;
            engine.ready().await.map_err(ServiceError::from)?;
            run(engine.clone()).await
        };
        let reason = match tokio::time::timeout(
            ceiling,
            bounded.instrument(tracing::debug_span!("app.read", op = what)),
        )
        .await
        {
            Ok(Ok(value)) => return Ok(ReadOutcome::complete(value)),
            Ok(Err(ServiceError::NotFound(id))) => return Err(ApiError::NotFound(id)),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("{what} did not finish within {ceiling:?}"),
        };
        warn!(operation = what, %reason, "read degraded to an empty result");
        Ok(ReadOutcome { value: T::default(), degraded: Some(Degraded { reason }) })
    }
}

#[async_trait]
impl MemoryApi for MemoryApp {
    async fn add(&self, credentials: &CredentialSet, request: AddRequest) -> Result<WriteOutcome<AddReport>, ApiError> {
        self.write(credentials, WriteCommand::Add(request)).await
    }

    async fn search(
        &self,
        credentials: &CredentialSet,
        request: SearchRequest,
    ) -> Result<ReadOutcome<SearchReport>, ApiError> {
        let ceiling = self.settings.timeouts.search;
        self.read(credentials, ceiling, "search", |engine| async move { engine.service().search(request).await }).await
    }

    async fn get_all(
        &self,
        credentials: &CredentialSet,
        request: ListRequest,
    ) -> Result<ReadOutcome<ListReport>, ApiError> {
        let ceiling = self.settings.timeouts.get_all;
        self.read(credentials, ceiling, "get_all", |engine| async move { engine.service().get_all(request).await })
            .await
    }

    async fn get(
        &self,
        credentials: &CredentialSet,
        target: MemoryRef,
    ) -> Result<ReadOutcome<Option<MemoryRecord>>, ApiError> {
        let ceiling = self.settings.timeouts.get;
        self.read(credentials, ceiling, "get", |engine| async move { engine.service().get(&target).await }).await
    }

    async fn update(
        &self,
        credentials: &CredentialSet,
        request: UpdateRequest,
    ) -> Result<WriteOutcome<MemoryRecord>, ApiError> {
        self.write(credentials, WriteCommand::Update(request)).await
    }

    async fn delete(&self, credentials: &CredentialSet, target: MemoryRef) -> Result<WriteOutcome<MemoryId>, ApiError> {
        self.write(credentials, WriteCommand::Delete(target)).await
    }

    async fn delete_all(
        &self,
        credentials: &CredentialSet,
        scope: Scope,
    ) -> Result<WriteOutcome<DeleteAllReport>, ApiError> {
        self.write(credentials, WriteCommand::DeleteAll(scope)).await
    }

    async fn history(
        &self,
        credentials: &CredentialSet,
        target: MemoryRef,
    ) -> Result<ReadOutcome<Vec<HistoryEntry>>, ApiError> {
        let ceiling = self.settings.timeouts.history;
        self.read(credentials, ceiling, "history", |engine| async move { engine.service().history(&target).await })
            .await
    }

    async fn write_status(
        &self,
        credentials: &CredentialSet,
        target: WriteRef,
    ) -> Result<Option<WriteState>, ApiError> {
        let engine = self.engine(credentials).await?;
        engine.ready().await?;
        let journal = &engine.service().backends().journal;
        if let Some(scope) = &target.scope {
            // another owner's write is unknown to this caller, as another owner's memory is
            let command = journal.command(&target.id).await?;
            if !command.is_some_and(|c| c.visible_to(scope)) {
                return Ok(None);
            }
        }
        Ok(journal.status(&target.id).await?)
    }

    async fn validate(&self, credentials: &CredentialSet) -> Result<Vec<CheckResult>, ApiError> {
        let engine = self.engine(credentials).await?;
        let checks = run_checks(&engine);
        tokio::time::timeout(self.settings.timeouts.validate, checks).await.map_err(|_| ApiError::Timeout {
            operation: "credential validation",
            after: self.settings.timeouts.validate,
        })
    }

    async fn shutdown(&self, deadline: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let until = tokio::time::Instant::now() + deadline;
        let engines = self.registry.all().await;
        // Keep applying until every journal is empty or the deadline passes.
        while tokio::time::Instant::now() < until {
            let mut waiting = 0;
            for engine in &engines {
                waiting += engine.service().backends().journal.unfinished().await.unwrap_or(0);
            }
            if waiting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        let stops = engines.iter().map(|e| e.writer().stop(left));
        let unfinished: usize = futures::future::join_all(stops).await.into_iter().sum();
        if unfinished > 0 {
            warn!(unfinished, "stopping with writes in progress; they resume from the journal on the next start");
        } else {
            info!("accepted writes drained");
        }
    }
}

/// Really exercises every configured backend; one result per credential.
async fn run_checks(engine: &Engine) -> Vec<CheckResult> {
    let backends = engine.service().backends();
    let result = |credential: &str, error: Option<String>| CheckResult { credential: credential.to_owned(), error };
    let llm = async {
        let Some(llm) = &backends.llm else { return None };
        let request = ChatRequest {
            messages: vec![ChatMessage::user("Reply with the JSON object {\"ok\": true} and nothing else.")],
            response_format: ResponseFormat::JsonObject,
            tools: Vec::new(),
            ..ChatRequest::default()
        };
        Some(result(credentials::LLM, llm.chat(request).await.err().map(|e| e.to_string())))
    };
    let embedder = async {
        let store_dims = backends.vector_store.dimensions();
        let error = match backends.embedder.embed(&["credential check".to_owned()], EmbedPurpose::Search).await {
            Err(e) => Some(e.to_string()),
            Ok(vectors) => match vectors.first().map(Vec::len) {
                Some(dims) if dims == store_dims => None,
                Some(dims) => Some(format!(
                    "the embedder returns {dims}-dimensional vectors but the vector store is configured for {store_dims} \
                     (set embedding_dims / embedding_model_dims to the same value)"
                )),
                None => Some("the embedder returned no vector".to_owned()),
            },
        };
        result(credentials::EMBEDDER, error)
    };
    let store = async { result(credentials::VECTOR_STORE, engine.ready().await.err().map(|e| e.to_string())) };
    let graph = async {
        let graph = backends.graph.as_ref()?;
        Some(result(credentials::GRAPH_STORE, graph.store.ensure_ready().await.err().map(|e| e.to_string())))
    };
    let reranker = async {
        let reranker = backends.reranker.as_ref()?;
        let outcome = reranker.rerank("credential check", &["credential check".to_owned()], 1).await;
        Some(result(credentials::RERANKER, outcome.err().map(|e| e.to_string())))
    };
    let (llm, embedder, store, graph, reranker) = futures::join!(llm, embedder, store, graph, reranker);
    [llm, Some(embedder), Some(store), graph, reranker].into_iter().flatten().collect()
}
