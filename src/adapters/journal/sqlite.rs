//! The journal of accepted writes in a SQLite file (for stores that are not PostgreSQL).
//!
//! Several processes may share the file: every claim runs in an immediate (write-locked)
//! transaction, so two processes never claim the same write or two writes of one owner.

use super::rules::{claimable, forgotten, kept, saved_step, state_of, step_json, ClaimCandidate, StoredState};
use crate::domain::memory::MemoryId;
use crate::domain::operations::WriteCommand;
use crate::domain::scope::Scope;
use crate::domain::write_plan::SavedStep;
use crate::ports::journal::{ClaimedWrite, NewWrite, Recorded, WriteJournal};
use crate::ports::memory_api::{WriteId, WriteState};
use crate::ports::store::StoreError;
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STORE: &str = "write journal";

/// A journal in a SQLite file.
#[derive(Clone)]
pub struct SqliteJournal {
    path: PathBuf,
    connection: Arc<Mutex<Option<Connection>>>,
}

impl SqliteJournal {
    /// A journal kept in the file at `path` (created with its folder on first use).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self { path: path.as_ref().to_owned(), connection: Arc::new(Mutex::new(None)) }
    }

    /// Runs `work` on the connection in a blocking thread, opening the file when needed.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let slot = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(open(&path)?);
            }
            let connection = guard.as_mut().ok_or_else(|| unavailable("no connection"))?;
            work(connection).map_err(to_store_error)
        })
        .await
        .map_err(|e| unavailable(&e.to_string()))?
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| unavailable(&format!("cannot create {}: {e}", dir.display())))?;
    }
    let connection = Connection::open(path).map_err(to_store_error)?;
    connection.busy_timeout(Duration::from_secs(10)).map_err(to_store_error)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS write_journal (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                ordering_key TEXT NOT NULL,
                command TEXT NOT NULL,
                plan TEXT,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                result TEXT,
                due_at INTEGER NOT NULL,
                lease_until INTEGER,
                created_at INTEGER NOT NULL,
                finished_at INTEGER);
             CREATE INDEX IF NOT EXISTS write_journal_pending ON write_journal(state, seq);",
        )
        .map_err(to_store_error)?;
    Ok(connection)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn unavailable(message: &str) -> StoreError {
    StoreError::Unavailable { store: STORE, message: message.to_owned() }
}

fn to_store_error(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(code.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            unavailable(&e.to_string())
        }
        rusqlite::Error::SqliteFailure(code, _) if code.code == rusqlite::ErrorCode::CannotOpen => {
            unavailable(&e.to_string())
        }
        other => StoreError::Rejected { store: STORE, message: other.to_string() },
    }
}

fn json_text(value: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

#[async_trait]
impl WriteJournal for SqliteJournal {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.with(|c| {
            // Outcomes are kept a week for status look-ups.
            let week_ago = now_ms() - 7 * 24 * 3600 * 1000;
            c.execute("DELETE FROM write_journal WHERE state <> 'pending' AND finished_at < ?1", params![week_ago])
                .map(|_| ())
        })
        .await
    }

    async fn record(&self, write: NewWrite<'_>) -> Result<Recorded, StoreError> {
        let (id, key, command) =
            (write.id.0.clone(), write.ordering_key.to_owned(), json_text(write.command).map_err(to_store_error)?);
        let repeat_of: Vec<String> = write.repeat_of.iter().map(|id| id.0.clone()).collect();
        let held_ms: Option<i64> = write.held_for.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        // One call on the connection: the earlier recording of the same add if one did not
        // fail, else the insert (a conflict on the id inserts nothing).
        self.with(move |c| {
            for earlier in repeat_of {
                let state: Option<String> = c
                    .query_row("SELECT state FROM write_journal WHERE id = ?1", params![earlier], |row| row.get(0))
                    .optional()?;
                if state.is_some_and(|state| state != "failed") {
                    return Ok(Recorded::Repeat(WriteId(earlier)));
                }
            }
            let now = now_ms();
            let inserted = c.execute(
                "INSERT INTO write_journal (id, ordering_key, command, due_at, created_at, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT(id) DO NOTHING",
                params![id, key, command, now, held_ms.map(|ms| now.saturating_add(ms))],
            )?;
            Ok(if inserted == 1 { Recorded::New } else { Recorded::IdTaken })
        })
        .await
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<ClaimedWrite>, StoreError> {
        let lease_ms = lease.as_millis() as i64;
        let rows = self
            .with(move |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let now = now_ms();
                let candidates: Vec<(ClaimCandidate, String, Option<String>, u32)> = {
                    let mut statement = tx.prepare(
                        "SELECT id, ordering_key, due_at, lease_until, command, plan, attempts
                         FROM write_journal WHERE state = 'pending' ORDER BY seq",
                    )?;
                    let mapped = statement.query_map([], |row| {
                        Ok((
                            ClaimCandidate {
                                id: row.get(0)?,
                                key: row.get(1)?,
                                due: row.get::<_, i64>(2)? <= now,
                                leased: row.get::<_, Option<i64>>(3)?.is_some_and(|t| t > now),
                            },
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                        ))
                    })?;
                    mapped.collect::<rusqlite::Result<_>>()?
                };
                let chosen = claimable(candidates.iter().map(|(c, ..)| c), max);
                let mut claimed = Vec::new();
                for (candidate, command, plan, attempts) in candidates {
                    if chosen.contains(&candidate.id) {
                        tx.execute(
                            "UPDATE write_journal SET lease_until = ?1 WHERE id = ?2",
                            params![now + lease_ms, candidate.id],
                        )?;
                        claimed.push((candidate.id, command, plan, attempts));
                    }
                }
                tx.commit()?;
                Ok(claimed)
            })
            .await?;
        rows.into_iter()
            .map(|(id, command, plan, attempts)| {
                let command = serde_json::from_str(&command)
                    .map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {id}: {e}") })?;
                let plan = plan
                    .map(|p| serde_json::from_str::<Value>(&p))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt { store: STORE, message: format!("plan of write {id}: {e}") })?
                    .map(saved_step);
                Ok(ClaimedWrite { id: WriteId(id), command, plan, attempts })
            })
            .collect()
    }

    async fn extend(&self, ids: &[WriteId], lease: Duration) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(|i| i.0.clone()).collect();
        let lease_ms = lease.as_millis() as i64;
        self.with(move |c| {
            let until = now_ms() + lease_ms;
            for id in ids {
                c.execute(
                    "UPDATE write_journal SET lease_until = ?1 WHERE id = ?2 AND state = 'pending'",
                    params![until, id],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn save_plan(&self, id: &WriteId, plan: &SavedStep) -> Result<(), StoreError> {
        let (id, plan) = (id.0.clone(), step_json(STORE, plan)?.to_string());
        self.with(move |c| c.execute("UPDATE write_journal SET plan = ?1 WHERE id = ?2", params![plan, id]).map(|_| ()))
            .await
    }

    async fn finish(&self, id: &WriteId, outcome: &WriteState) -> Result<(), StoreError> {
        let (state, result, error) = match outcome {
            WriteState::Applied { result } => ("applied", Some(kept(STORE, result)?.to_string()), None),
            WriteState::Failed { error, .. } => ("failed", None, Some(error.clone())),
            WriteState::Pending { .. } => return Ok(()),
        };
        let id = id.0.clone();
        self.with(move |c| {
            c.execute(
                "UPDATE write_journal SET state = ?1, result = ?2, last_error = COALESCE(?3, last_error),
                 lease_until = NULL, finished_at = ?4, attempts = attempts + 1 WHERE id = ?5",
                params![state, result, error, now_ms(), id],
            )
            .map(|_| ())
        })
        .await
    }

    async fn retry_later(&self, id: &WriteId, error: &str, delay: Duration) -> Result<(), StoreError> {
        let (id, error, delay_ms) = (id.0.clone(), error.to_owned(), delay.as_millis() as i64);
        self.with(move |c| {
            c.execute(
                "UPDATE write_journal SET attempts = attempts + 1, last_error = ?1, due_at = ?2, lease_until = NULL
                 WHERE id = ?3",
                params![error, now_ms() + delay_ms, id],
            )
            .map(|_| ())
        })
        .await
    }

    async fn status(&self, id: &WriteId) -> Result<Option<WriteState>, StoreError> {
        let key = id.0.clone();
        let row = self
            .with(move |c| {
                c.query_row(
                    "SELECT state, attempts, last_error, result, command FROM write_journal WHERE id = ?1",
                    params![key],
                    |row| {
                        Ok(StoredState {
                            state: row.get(0)?,
                            attempts: row.get(1)?,
                            last_error: row.get(2)?,
                            result: row.get(3)?,
                            command: row.get(4)?,
                        })
                    },
                )
                .optional()
            })
            .await?;
        row.map(|stored| {
            state_of(stored).map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {}: {e}", id.0) })
        })
        .transpose()
    }

    async fn command(&self, id: &WriteId) -> Result<Option<WriteCommand>, StoreError> {
        let key = id.0.clone();
        let text = self
            .with(move |c| {
                c.query_row("SELECT command FROM write_journal WHERE id = ?1", params![key], |row| {
                    row.get::<_, String>(0)
                })
                .optional()
            })
            .await?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {}: {e}", id.0) })
        })
        .transpose()
    }

    async fn forget(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let (scope, memory_ids) = (scope.clone(), memory_ids.to_vec());
        self.with(move |c| {
            let tx = c.transaction()?;
            let finished: Vec<(String, String)> = {
                let mut select = tx.prepare("SELECT id, command FROM write_journal WHERE state <> 'pending'")?;
                let rows = select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let read = finished.into_iter().map(|(id, text)| {
                let command = serde_json::from_str::<WriteCommand>(&text).map_err(|e| e.to_string());
                (id, command)
            });
            let mut removed = 0;
            for id in forgotten(read, &scope, &memory_ids) {
                removed += tx.execute("DELETE FROM write_journal WHERE id = ?1 AND state <> 'pending'", params![id])?;
            }
            tx.commit()?;
            Ok(removed as u64)
        })
        .await
    }

    async fn unfinished(&self) -> Result<u64, StoreError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM write_journal WHERE state = 'pending'", [], |r| r.get(0))).await
    }
}
