//! The journal of accepted writes in PostgreSQL: table `<collection>_journal` beside the
//! pgvector collection, so that the writes and the memories live (and are backed up) together.
//!
//! Several plugin processes may share it: claims are serialized by a transaction-scoped advisory
//! lock on the table, so no two processes claim the same write or two writes of one owner.

use super::rules::{claimable, forgotten, kept, saved_step, state_of, step_json, ClaimCandidate, StoredState};
use crate::adapters::postgres::checkout::checkout;
use crate::adapters::postgres::ddl;
use crate::adapters::postgres::errors::from_pg;
use crate::adapters::postgres::identifier::CollectionName;
use crate::adapters::vector::pgvector::PgVectorStore;
use crate::domain::memory::MemoryId;
use crate::domain::operations::WriteCommand;
use crate::domain::scope::Scope;
use crate::domain::write_plan::SavedStep;
use crate::ports::journal::{ClaimedWrite, NewWrite, Recorded, WriteJournal};
use crate::ports::memory_api::{WriteId, WriteState};
use crate::ports::store::StoreError;
use async_trait::async_trait;
use deadpool_postgres::Pool;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::OnceCell;
use tracing::Instrument;

const STORE: &str = "PostgreSQL write journal";
/// Connections of the pool kept for recording accepted writes, beside the store's pool.
pub const ACCEPT_CONNECTIONS: usize = 2;

/// Accepted writes in `<collection>_journal`.
pub struct PostgresJournal {
    pool: Pool,
    /// Records accepted writes: a pool of its own, so that an accept never waits for a
    /// connection the background writers hold.
    accept_pool: Pool,
    table: String,
    claim_lock: String,
    ready: OnceCell<()>,
}

impl PostgresJournal {
    /// A journal over `pool` for the collection (accepts included). Nothing is contacted until
    /// first use.
    pub fn new(pool: Pool, collection: &CollectionName) -> Self {
        Self::with_accept_pool(pool.clone(), pool, collection)
    }

    /// A journal over `pool` that records accepted writes through `accept_pool`.
    pub fn with_accept_pool(pool: Pool, accept_pool: Pool, collection: &CollectionName) -> Self {
        Self {
            pool,
            accept_pool,
            table: collection.quoted("_journal"),
            claim_lock: format!("mem0-dify:journal:{}", collection.as_str()),
            ready: OnceCell::new(),
        }
    }

    /// The journal of a pgvector store: same database and pool, plus [`ACCEPT_CONNECTIONS`]
    /// connections of its own for accepts (opened on first use).
    pub fn beside(vector_store: &PgVectorStore) -> Self {
        let config = vector_store.config();
        let shared = vector_store.pool().clone();
        // The store's pool was built from the same settings, so this cannot fail in practice;
        // if it did, accepts would share the store's pool.
        let accept_pool = config.connection.pool(ACCEPT_CONNECTIONS).unwrap_or_else(|_| shared.clone());
        Self::with_accept_pool(shared, accept_pool, &config.collection_name)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.client_of(&self.pool).await
    }

    /// A connection of `pool`, once the table exists.
    async fn client_of(&self, pool: &Pool) -> Result<deadpool_postgres::Object, StoreError> {
        ddl::run_once(&self.ready, &self.pool, STORE, || {
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id text NOT NULL UNIQUE,
                    ordering_key text NOT NULL,
                    command jsonb NOT NULL,
                    plan jsonb,
                    state text NOT NULL DEFAULT 'pending',
                    attempts integer NOT NULL DEFAULT 0,
                    last_error text,
                    result jsonb,
                    due_at timestamptz NOT NULL DEFAULT now(),
                    lease_until timestamptz,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz);
                 CREATE INDEX IF NOT EXISTS {i} ON {t} (ordering_key, seq) WHERE state = 'pending';
                 DELETE FROM {t} WHERE state <> 'pending' AND finished_at < now() - interval '7 days'",
                t = self.table,
                i = self.table.replace("_journal\"", "_journal_pending_idx\""),
            )
        })
        .await?;
        checkout(pool, STORE).await
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let sql = sql.replace("{t}", &self.table);
        client.execute(&sql, params).instrument(tracing::trace_span!("pg.query")).await.map_err(pg)
    }
}

fn pg(error: tokio_postgres::Error) -> StoreError {
    from_pg(STORE, &error)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[async_trait]
impl WriteJournal for PostgresJournal {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.client().await.map(|_| ())
    }

    async fn record(&self, write: NewWrite<'_>) -> Result<Recorded, StoreError> {
        let command = serde_json::to_value(write.command)
            .map_err(|e| StoreError::Rejected { store: STORE, message: e.to_string() })?;
        let client = self.client_of(&self.accept_pool).await?;
        // One statement: the earlier recording of the same add if one did not fail, else the
        // insert (a conflict on the id inserts nothing).
        let sql = format!(
            "WITH earlier AS (SELECT id FROM {t} WHERE id = ANY($4) AND state <> 'failed' \
                              ORDER BY array_position($4, id) LIMIT 1), \
                  inserted AS (INSERT INTO {t} (id, ordering_key, command, lease_until) \
                               SELECT $1, $2, $3, now() + make_interval(secs => $5::float8) \
                               WHERE NOT EXISTS (SELECT 1 FROM earlier) \
                               ON CONFLICT (id) DO NOTHING RETURNING id) \
             SELECT (SELECT id FROM earlier), EXISTS (SELECT 1 FROM inserted)",
            t = self.table
        );
        let repeat_of: Vec<&str> = write.repeat_of.iter().map(|id| id.0.as_str()).collect();
        let held_for: Option<f64> = write.held_for.map(|d| d.as_secs_f64());
        let row = async {
            // Prepared once per connection: an accept is then one round trip.
            let statement = client.prepare_cached(&sql).await.map_err(pg)?;
            client
                .query_one(&statement, &[&write.id.0, &write.ordering_key, &command, &repeat_of, &held_for])
                .await
                .map_err(pg)
        }
        .instrument(tracing::trace_span!("pg.query"))
        .await?;
        Ok(match (row.get::<_, Option<String>>(0), row.get::<_, bool>(1)) {
            (Some(earlier), _) => Recorded::Repeat(WriteId(earlier)),
            (None, true) => Recorded::New,
            (None, false) => Recorded::IdTaken,
        })
    }

    async fn claim(&self, max: usize, lease: Duration) -> Result<Vec<ClaimedWrite>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&self.claim_lock]).await.map_err(pg)?;
        // The oldest pending write of each owner; only those may be claimed.
        let heads = tx
            .query(
                &format!(
                    "SELECT DISTINCT ON (ordering_key) id, ordering_key, due_at <= now(), \
                     COALESCE(lease_until > now(), false), seq \
                     FROM {} WHERE state = 'pending' ORDER BY ordering_key, seq",
                    self.table
                ),
                &[],
            )
            .await
            .map_err(pg)?;
        let mut candidates: Vec<(i64, ClaimCandidate)> = heads
            .iter()
            .map(|row| {
                (row.get(4), ClaimCandidate { id: row.get(0), key: row.get(1), due: row.get(2), leased: row.get(3) })
            })
            .collect();
        candidates.sort_by_key(|(seq, _)| *seq);
        let chosen: Vec<String> = claimable(candidates.iter().map(|(_, c)| c), max).into_iter().collect();
        if chosen.is_empty() {
            tx.commit().await.map_err(pg)?;
            return Ok(Vec::new());
        }
        let rows = tx
            .query(
                &format!(
                    "UPDATE {} SET lease_until = now() + $2 * interval '1 millisecond' WHERE id = ANY($1) \
                     RETURNING id, command, plan, attempts, seq",
                    self.table
                ),
                &[&chosen, &millis(lease)],
            )
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        let mut claimed: Vec<(i64, ClaimedWrite)> = rows
            .iter()
            .map(|row| {
                let id: String = row.get(0);
                let command = serde_json::from_value(row.get::<_, Value>(1))
                    .map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {id}: {e}") })?;
                let attempts: i32 = row.get(3);
                let plan = row.get::<_, Option<Value>>(2).map(saved_step);
                let write = ClaimedWrite { id: WriteId(id), command, plan, attempts: attempts.max(0) as u32 };
                Ok((row.get::<_, i64>(4), write))
            })
            .collect::<Result<_, StoreError>>()?;
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, w)| w).collect())
    }

    async fn extend(&self, ids: &[WriteId], lease: Duration) -> Result<(), StoreError> {
        let ids: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
        self.execute(
            "UPDATE {t} SET lease_until = now() + $2 * interval '1 millisecond' WHERE id = ANY($1) AND state = 'pending'",
            &[&ids, &millis(lease)],
        )
        .await
        .map(|_| ())
    }

    async fn save_plan(&self, id: &WriteId, plan: &SavedStep) -> Result<(), StoreError> {
        let plan = step_json(STORE, plan)?;
        self.execute("UPDATE {t} SET plan = $2 WHERE id = $1", &[&id.0, &plan]).await.map(|_| ())
    }

    async fn finish(&self, id: &WriteId, outcome: &WriteState) -> Result<(), StoreError> {
        let (state, result, error) = match outcome {
            WriteState::Applied { result } => ("applied", Some(kept(STORE, result)?), None),
            WriteState::Failed { error, .. } => ("failed", None, Some(error.clone())),
            WriteState::Pending { .. } => return Ok(()),
        };
        self.execute(
            "UPDATE {t} SET state = $2, result = $3, last_error = COALESCE($4, last_error), lease_until = NULL, \
             finished_at = now(), attempts = attempts + 1 WHERE id = $1",
            &[&id.0, &state, &result, &error],
        )
        .await
        .map(|_| ())
    }

    async fn retry_later(&self, id: &WriteId, error: &str, delay: Duration) -> Result<(), StoreError> {
        self.execute(
            "UPDATE {t} SET attempts = attempts + 1, last_error = $2, \
             due_at = now() + $3 * interval '1 millisecond', lease_until = NULL WHERE id = $1",
            &[&id.0, &error, &millis(delay)],
        )
        .await
        .map(|_| ())
    }

    async fn status(&self, id: &WriteId) -> Result<Option<WriteState>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT state, attempts, last_error, result::text, command::text FROM {} WHERE id = $1",
                    self.table
                ),
                &[&id.0],
            )
            .await
            .map_err(pg)?;
        row.map(|r| {
            let attempts: i32 = r.get(1);
            let stored = StoredState {
                state: r.get(0),
                attempts: attempts.max(0) as u32,
                last_error: r.get(2),
                result: r.get(3),
                command: r.get(4),
            };
            state_of(stored).map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {}: {e}", id.0) })
        })
        .transpose()
    }

    async fn command(&self, id: &WriteId) -> Result<Option<WriteCommand>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT command FROM {} WHERE id = $1", self.table), &[&id.0])
            .await
            .map_err(pg)?;
        row.map(|r| {
            serde_json::from_value(r.get::<_, Value>(0))
                .map_err(|e| StoreError::Corrupt { store: STORE, message: format!("write {}: {e}", id.0) })
        })
        .transpose()
    }

    async fn forget(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT id, command FROM {} WHERE state <> 'pending'", self.table), &[])
            .await
            .map_err(pg)?;
        let finished = rows.iter().map(|r| {
            let command = serde_json::from_value::<WriteCommand>(r.get::<_, Value>(1)).map_err(|e| e.to_string());
            (r.get::<_, String>(0), command)
        });
        let ids = forgotten(finished, scope, memory_ids);
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!("DELETE FROM {} WHERE id = ANY($1) AND state <> 'pending'", self.table);
        client.execute(&sql, &[&ids]).await.map_err(pg)
    }

    async fn unfinished(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(&format!("SELECT count(*) FROM {} WHERE state = 'pending'", self.table), &[])
            .await
            .map_err(pg)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }
}
