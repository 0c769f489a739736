//! Accepted writes: recorded in the engine's journal before they are acknowledged, then applied
//! in the background by the engine's writer — also writes left unfinished by an earlier process
//! or by another process sharing the journal. Transient failures are retried with backoff;
//! permanent ones are recorded with their reason.

use super::constants::{
    MAX_WRITE_ATTEMPTS, WRITE_LEASE, WRITE_LEASE_RENEWAL, WRITE_POLL_INTERVAL, WRITE_RETRY_BASE_DELAY,
    WRITE_RETRY_MAX_DELAY,
};
use super::engine::Engine;
use super::planning::GraphFailure;
use super::service::ServiceError;
use super::writer::{lock, Writer};
use crate::domain::operations::{WriteCommand, WriteResult};
use crate::domain::write_plan::{SavedStep, WritePlan};
use crate::ports::journal::ClaimedWrite;
use crate::ports::memory_api::{WriteId, WriteState};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, error, info, warn, Instrument};

/// Applies one command now (sync mode), serialized with the other writes of its owner.
pub async fn apply_now(engine: &Engine, command: &WriteCommand) -> Result<WriteResult, ServiceError> {
    engine.ready().await.map_err(ServiceError::from)?;
    let lock = engine.scope_lock(&command.ordering_key());
    let _guard = lock.lock().await;
    engine.service().execute(command).await
}

/// Timing of a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterTiming {
    /// Lease of a claimed write.
    pub lease: Duration,
    /// Lease renewal period (shorter than the lease).
    pub renewal: Duration,
    /// Poll period when idle.
    pub poll: Duration,
    /// Delay before the first retry of a write that failed transiently; doubles each attempt,
    /// up to [`WRITE_RETRY_MAX_DELAY`].
    pub retry_base: Duration,
    /// Attempts of one write before a transient failure is recorded as final.
    pub max_attempts: u32,
}

impl WriterTiming {
    /// The delay before the attempt after `attempt` (1-based) failed transiently.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.retry_base.saturating_mul(factor).min(WRITE_RETRY_MAX_DELAY)
    }
}

impl Default for WriterTiming {
    fn default() -> Self {
        Self {
            lease: WRITE_LEASE,
            renewal: WRITE_LEASE_RENEWAL,
            poll: WRITE_POLL_INTERVAL,
            retry_base: WRITE_RETRY_BASE_DELAY,
            max_attempts: MAX_WRITE_ATTEMPTS,
        }
    }
}

/// Runs the writer of `engine` until it is stopped: claims due writes (oldest first, one per
/// owner at a time), applies each holding one of the shared `slots`, renews leases meanwhile.
pub async fn run_writer(engine: Arc<Engine>, slots: Arc<Semaphore>, timing: WriterTiming) {
    let writer = engine.writer();
    let renewal = {
        let engine = engine.clone();
        tokio::spawn(async move { renew_leases(engine, timing).await })
    };
    let mut counted_at: Option<Instant> = None;
    while !writer.stopping.load(Ordering::SeqCst) {
        if let Err(e) = engine.ready().await {
            warn!(error = %e, "journal not reachable; accepted writes wait");
            sleep_or_wake(writer, timing.poll).await;
            continue;
        }
        // Count the journal again now and then: other processes sharing it accept and finish
        // writes this engine's count does not see. Skipped while accepts are in progress.
        if counted_at.is_none_or(|at| at.elapsed() >= timing.poll) {
            match engine.admission().recount_if_idle(engine.service().backends().journal.as_ref()).await {
                Some(Ok(_)) => counted_at = Some(Instant::now()),
                Some(Err(e)) => warn!(error = %e, "could not count the accepted writes"),
                None => {}
            }
        }
        let free = slots.available_permits().clamp(1, 16);
        match engine.service().backends().journal.claim(free, timing.lease).await {
            Ok(batch) if batch.is_empty() => sleep_or_wake(writer, timing.poll).await,
            Ok(batch) => {
                // Claimed writes are in flight from now on, so their leases are renewed even
                // while they wait for a slot (else another process would take them over and
                // both would apply them).
                lock(&writer.in_flight).extend(batch.iter().map(|claimed| claimed.id.clone()));
                for claimed in batch {
                    let Ok(slot) = slots.clone().acquire_owned().await else { return };
                    let engine = engine.clone();
                    let span = tracing::info_span!("write", id = %claimed.id.0, op = claimed.command.name());
                    tokio::spawn(
                        async move {
                            let _slot = slot;
                            apply_claimed(&engine, &claimed, timing).await;
                            let writer = engine.writer();
                            lock(&writer.in_flight).remove(&claimed.id);
                            writer.idle.notify_waiters();
                            writer.wake();
                        }
                        .instrument(span),
                    );
                }
            }
            // The process is stopping (e.g. the runtime is shutting down): not worth a warning.
            Err(e) if writer.stopping.load(Ordering::SeqCst) => debug!(error = %e, "claim interrupted by the stop"),
            Err(e) => {
                warn!(error = %e, "could not claim accepted writes");
                sleep_or_wake(writer, timing.poll).await;
            }
        }
    }
    renewal.abort();
    debug!("writer stopped");
}

async fn sleep_or_wake(writer: &Writer, period: Duration) {
    let _ = tokio::time::timeout(period, writer.wake.notified()).await;
}

async fn renew_leases(engine: Arc<Engine>, timing: WriterTiming) {
    loop {
        tokio::time::sleep(timing.renewal).await;
        let ids: Vec<WriteId> = lock(&engine.writer().in_flight).iter().cloned().collect();
        if ids.is_empty() {
            continue;
        }
        if let Err(e) = engine.service().backends().journal.extend(&ids, timing.lease).await {
            warn!(error = %e, "could not renew write leases");
        }
    }
}

/// Plans (or reuses the saved plan), applies and records the outcome of one claimed write.
async fn apply_claimed(engine: &Engine, claimed: &ClaimedWrite, timing: WriterTiming) {
    let journal = &engine.service().backends().journal;
    let outcome = {
        let lock = engine.scope_lock(&claimed.command.ordering_key());
        let _guard = lock.lock().await;
        // A transient graph failure is retried while attempts remain and nobody waits for the
        // outcome now; otherwise the graph part is reported as degraded.
        let retried = claimed.attempts + 1 < timing.max_attempts && !engine.writer().awaited(&claimed.id);
        let on_graph_failure = if retried { GraphFailure::Retry } else { GraphFailure::Degrade };
        plan_and_apply(engine, claimed, on_graph_failure).await
    };
    let attempt = claimed.attempts + 1;
    let admission = engine.admission();
    let writer = engine.writer();
    let recorded = match outcome {
        Ok(result) => {
            info!(attempt, "accepted write applied");
            let kept = WriteState::Applied { result: Box::new(result.clone()) };
            let finish = admission.finish(journal.as_ref(), &claimed.id, &kept);
            let recorded = finish.instrument(tracing::debug_span!("app.finish")).await;
            writer.deliver(&claimed.id, Ok(result));
            recorded
        }
        // A sync caller waiting for this write gets its error now, as before journaling (the
        // write ends failed: the answer says it was not done); once the caller has been told
        // "still running", transient failures are retried like any accepted write's.
        Err(e) if e.is_transient() && attempt < timing.max_attempts && !writer.awaited(&claimed.id) => {
            let delay = timing.retry_delay(attempt);
            warn!(attempt, error = %e, ?delay, "accepted write failed; will retry");
            journal.retry_later(&claimed.id, &e.to_string(), delay).await
        }
        Err(e) => {
            error!(attempt, error = %e, "accepted write failed permanently");
            let failed = WriteState::Failed { error: e.to_string(), attempts: attempt };
            let recorded = admission.finish(journal.as_ref(), &claimed.id, &failed).await;
            writer.deliver(&claimed.id, Err(e));
            recorded
        }
    };
    if let Err(e) = recorded {
        // The lease will expire and the write will be applied again from its saved plan.
        warn!(error = %e, "could not record the outcome of a write");
    }
}

/// Resumes a write from the last step its journal holds: a whole plan is applied as is; facts
/// already extracted go straight to the update decision (a later failure never costs them, and the
/// model is not asked for them again); otherwise the write is planned from the start. The vector
/// changes are applied (again, harmlessly, on a retry) before the graph part of an add is planned,
/// so a graph outage never holds them back. Each decision is journaled before it is applied.
async fn plan_and_apply(
    engine: &Engine,
    claimed: &ClaimedWrite,
    on_graph_failure: GraphFailure,
) -> Result<WriteResult, ServiceError> {
    let service = engine.service();
    let saved: Option<SavedStep> = claimed.plan.clone().transpose().map_err(ServiceError::Internal)?;
    let mut plan: WritePlan = match saved {
        Some(SavedStep::Planned(plan)) => *plan,
        Some(SavedStep::Extracted(facts)) => {
            let plan = service.plan_from(&claimed.command, Some(&facts)).await?;
            save_step(engine, claimed, &SavedStep::Planned(Box::new(plan.clone()))).await?;
            plan
        }
        None => {
            let extracted = service.extract(&claimed.command).await?;
            if let Some(facts) = &extracted {
                save_step(engine, claimed, &SavedStep::Extracted(facts.clone())).await?;
            }
            let plan = service.plan_from(&claimed.command, extracted.as_ref()).await?;
            save_step(engine, claimed, &SavedStep::Planned(Box::new(plan.clone()))).await?;
            plan
        }
    };
    service.apply_changes(&plan).await?;
    if service.plan_graph(&mut plan, on_graph_failure).await? {
        save_step(engine, claimed, &SavedStep::Planned(Box::new(plan.clone()))).await?;
    }
    service.finish(&plan, on_graph_failure).await
}

async fn save_step(engine: &Engine, claimed: &ClaimedWrite, step: &SavedStep) -> Result<(), ServiceError> {
    let journal = &engine.service().backends().journal;
    journal.save_plan(&claimed.id, step).instrument(tracing::debug_span!("app.save_plan")).await?;
    Ok(())
}
