//! The background fill of the lexical column: rows written without terms (a table from before the
//! keyword index, or rows Mem0 itself wrote) get them chunk by chunk, each chunk a transaction of
//! its own, in a task the store owns — never inside a request, whose ceiling would roll it back.
//!
//! - One fill per process, database and table (stores opening the same table share it); it stops
//!   when the last store holding it is dropped (or the runtime shuts down). A chunk cut short rolls
//!   back; the committed ones stay, so the next open resumes with the rows still without terms.
//! - Safe with several plugin processes on one table: a chunk locks its rows
//!   `FOR UPDATE SKIP LOCKED`, so fillers take disjoint rows and wait neither for each other nor
//!   for a writer. When no free row is left but some still have no terms (locked elsewhere), the
//!   fill looks again a little later; it is complete only when no row without terms is left.
//! - Errors (connection lost, server restarting) are logged and retried with a growing pause; the
//!   fill never stops on its own before it is complete.
//!
//! Until then [`LexicalFill::is_complete`] is false and the store reports no lexical index, so the
//! searches score keywords over vector candidates, as for stores without one, and no row is
//! missed for lack of terms.

use super::config::LexicalFillTuning;
use super::lexical;
use crate::adapters::postgres::errors::{from_pg, from_pool};
use crate::ports::store::StoreError;
use deadpool_postgres::Pool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;

const STORE: &str = "pgvector store";
/// First pause after an error; doubled after each further one, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How soon the fill looks again when the rows left without terms are all locked by others.
const LOCKED_RETRY: Duration = Duration::from_secs(1);
/// How often progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Whether every row of a table has its terms, and the task giving them to the rest.
pub(super) struct LexicalFill {
    complete: Arc<AtomicBool>,
    /// Dropped with the fill: the task sees its receiver close and stops.
    _stop: Option<oneshot::Sender<()>>,
}

impl LexicalFill {
    /// True once no row of the table is without terms (as of the fill's last look).
    pub(super) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// A table whose rows all have their terms: nothing to do.
    pub(super) fn done() -> Arc<Self> {
        Arc::new(Self { complete: Arc::new(AtomicBool::new(true)), _stop: None })
    }

    /// The fill of `table` in the database `target` (for the registry and logs; no password):
    /// the one this process already runs there, or a new one on `pool` (started at once on the
    /// current Tokio runtime).
    pub(super) fn start(pool: &Pool, target: &str, table: &str, tuning: LexicalFillTuning) -> Arc<Self> {
        static RUNNING: OnceLock<Mutex<HashMap<String, Weak<LexicalFill>>>> = OnceLock::new();
        let mut running = RUNNING.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
        let key = format!("{target} {table}");
        // A finished fill is not reused: rows without terms appeared since (written by Mem0).
        if let Some(fill) = running.get(&key).and_then(Weak::upgrade).filter(|f| !f.is_complete()) {
            return fill;
        }
        let (stop, stopped) = oneshot::channel();
        let fill = Arc::new(Self { complete: Arc::new(AtomicBool::new(false)), _stop: Some(stop) });
        let filler = Filler { pool: pool.clone(), table: table.to_owned(), tuning, complete: fill.complete.clone() };
        tokio::spawn(filler.run_until(stopped));
        running.retain(|_, weak| weak.strong_count() > 0);
        running.insert(key, Arc::downgrade(&fill));
        fill
    }
}

/// The task's side of a fill.
struct Filler {
    pool: Pool,
    table: String,
    tuning: LexicalFillTuning,
    complete: Arc<AtomicBool>,
}

/// What one look at the table found.
enum Step {
    /// This many rows got their terms.
    Filled(u64),
    /// No free row without terms; `true` when some are left (held by other transactions).
    NoneFree(bool),
    /// The table no longer exists (dropped behind the store's back).
    Gone,
}

impl Filler {
    /// Fills until complete or until `stopped` closes (the fill was dropped).
    async fn run_until(self, mut stopped: oneshot::Receiver<()>) {
        let table = self.table.clone();
        tokio::select! {
            biased;
            _ = &mut stopped => tracing::info!(
                table = %table,
                "pgvector store: lexical fill stopped before it was done (store closed); the next open resumes it"
            ),
            () = self.run() => {}
        }
    }

    async fn run(&self) {
        let table = self.table.as_str();
        tracing::info!(
            table = %table,
            chunk_rows = self.tuning.chunk_rows,
            "pgvector store: filling the lexical column of rows written without it, in the background; keyword \
             search scores vector candidates until it is done"
        );
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut filled = 0u64;
        let mut backoff = FIRST_BACKOFF;
        loop {
            let pause = match self.step().await {
                Ok(Step::Filled(rows)) => {
                    filled += rows;
                    backoff = FIRST_BACKOFF;
                    if last_report.elapsed() >= PROGRESS_EVERY {
                        last_report = Instant::now();
                        tracing::info!(
                            table = %table,
                            filled,
                            elapsed_s = started.elapsed().as_secs(),
                            "pgvector store: lexical fill progressing"
                        );
                    }
                    self.tuning.pause
                }
                Ok(Step::NoneFree(false)) => {
                    self.complete.store(true, Ordering::Release);
                    tracing::info!(
                        table = %table,
                        filled,
                        elapsed_s = started.elapsed().as_secs(),
                        "pgvector store: lexical fill done; keyword search uses the index"
                    );
                    return;
                }
                Ok(Step::NoneFree(true)) => {
                    tracing::debug!(
                        table = %table,
                        "pgvector store: rows left without terms are locked elsewhere; looking again soon"
                    );
                    backoff = FIRST_BACKOFF;
                    LOCKED_RETRY
                }
                Ok(Step::Gone) => {
                    tracing::warn!(table = %table, filled, "pgvector store: lexical fill stopped: the table no longer exists");
                    return;
                }
                Err(error) => {
                    tracing::warn!(
                        table = %table,
                        filled,
                        %error,
                        retry_in_s = backoff.as_secs(),
                        "pgvector store: lexical fill failed; retrying"
                    );
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                }
            };
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// One chunk in its own transaction; when no row is free, whether any is left.
    async fn step(&self) -> Result<Step, StoreError> {
        let mut client = self.pool.get().await.map_err(|e| from_pool(STORE, e))?;
        let tx = client.transaction().await.map_err(pg)?;
        let limit = i64::try_from(self.tuning.chunk_rows.max(1)).unwrap_or(i64::MAX);
        let rows = match lexical::fill_chunk(&tx, &self.table, limit).await {
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Step::Gone),
            other => other.map_err(pg)?,
        };
        tx.commit().await.map_err(pg)?;
        if rows > 0 {
            return Ok(Step::Filled(rows));
        }
        let left = lexical::has_rows_without_terms(&client, &self.table).await.map_err(pg)?;
        Ok(Step::NoneFree(left))
    }
}

fn pg(error: tokio_postgres::Error) -> StoreError {
    from_pg(STORE, &error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::postgres::ConnectionSettings;

    /// Stores of one process opening the same table of the same database share one fill; it ends
    /// when the last of them lets go.
    #[tokio::test]
    async fn one_fill_per_database_and_table_while_held() {
        // Nothing listens there: the fills only retry, which is all this test needs.
        let settings = ConnectionSettings::from_connection_string("postgresql://u@127.0.0.1:1/db", None).unwrap();
        let pool = settings.pool(1).unwrap();
        let tuning = LexicalFillTuning::default();
        let a = LexicalFill::start(&pool, "u@127.0.0.1:1/db", "\"t1\"", tuning);
        let b = LexicalFill::start(&pool, "u@127.0.0.1:1/db", "\"t1\"", tuning);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!a.is_complete());
        let other_table = LexicalFill::start(&pool, "u@127.0.0.1:1/db", "\"t2\"", tuning);
        let other_database = LexicalFill::start(&pool, "u@127.0.0.1:1/other", "\"t1\"", tuning);
        assert!(!Arc::ptr_eq(&a, &other_table) && !Arc::ptr_eq(&a, &other_database));
        let held = Arc::downgrade(&a);
        drop((a, b));
        assert!(held.upgrade().is_none(), "the fill outlived its stores");
        let again = LexicalFill::start(&pool, "u@127.0.0.1:1/db", "\"t1\"", tuning);
        assert!(!again.is_complete());
        assert!(LexicalFill::done().is_complete());
    }
}
