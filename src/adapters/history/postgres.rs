//! [`HistoryStore`] in PostgreSQL: table `<collection>_history` beside the pgvector collection,
//! with Mem0's history columns (mem0-behaviour.md §2.8) plus an insertion sequence.

use super::entry::{owner_columns, StoredRow};
use crate::adapters::postgres::checkout::checkout;
use crate::adapters::postgres::ddl;
use crate::adapters::postgres::errors::from_pg;
use crate::adapters::postgres::identifier::CollectionName;
use crate::adapters::vector::pgvector::PgVectorStore;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{MemoryId, MemoryText};
use crate::domain::scope::Scope;
use crate::ports::history_store::HistoryStore;
use crate::ports::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio::sync::OnceCell;
use tokio_postgres::Row;
use uuid::Uuid;

const STORE: &str = "PostgreSQL history store";

/// History rows in `<collection>_history`.
pub struct PostgresHistoryStore {
    pool: Pool,
    table: String,
    index: String,
    ready: OnceCell<()>,
}

impl PostgresHistoryStore {
    /// A store over `pool` for the collection's history table. Nothing is contacted until first use.
    pub fn new(pool: Pool, collection: &CollectionName) -> Self {
        Self {
            pool,
            table: collection.quoted("_history"),
            index: collection.quoted("_history_memory_idx"),
            ready: OnceCell::new(),
        }
    }

    /// The history store of a pgvector store: same database, same pool, `<collection>_history`.
    pub fn beside(vector_store: &PgVectorStore) -> Self {
        Self::new(vector_store.pool().clone(), &vector_store.config().collection_name)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        ddl::run_once(&self.ready, &self.pool, STORE, || {
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    id uuid PRIMARY KEY,
                    memory_id uuid NOT NULL,
                    old_memory text,
                    new_memory text,
                    event text NOT NULL,
                    created_at timestamptz,
                    updated_at timestamptz,
                    is_deleted boolean NOT NULL DEFAULT false,
                    actor_id text,
                    role text,
                    user_id text,
                    agent_id text,
                    run_id text,
                    seq bigint GENERATED ALWAYS AS IDENTITY
                );
                ALTER TABLE {table} ADD COLUMN IF NOT EXISTS user_id text, ADD COLUMN IF NOT EXISTS agent_id text,
                    ADD COLUMN IF NOT EXISTS run_id text;
                CREATE INDEX IF NOT EXISTS {index} ON {table} (memory_id, updated_at, seq)",
                table = self.table,
                index = self.index
            )
        })
        .await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.ready().await?;
        checkout(&self.pool, STORE).await
    }
}

#[async_trait]
impl HistoryStore for PostgresHistoryStore {
    async fn ensure_ready(&self) -> Result<(), StoreError> {
        self.ready().await
    }

    async fn append(&self, entries: &[HistoryEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let sql = format!(
            "INSERT INTO {} (id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, \
             actor_id, role, user_id, agent_id, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (id) DO NOTHING",
            self.table
        );
        let statement = tx.prepare_cached(&sql).await.map_err(pg)?;
        for e in entries {
            let text = |t: &Option<MemoryText>| t.as_ref().map(|t| t.as_str().to_owned());
            let [user_id, agent_id, run_id] = owner_columns(e.owner.as_ref());
            tx.execute(
                &statement,
                &[
                    &e.id,
                    &e.memory_id.as_uuid(),
                    &text(&e.old_memory),
                    &text(&e.new_memory),
                    &e.event.as_str(),
                    &e.created_at,
                    &e.updated_at,
                    &e.is_deleted,
                    &e.actor_id.as_ref().map(|a| a.as_str().to_owned()),
                    &e.role,
                    &user_id,
                    &agent_id,
                    &run_id,
                ],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn history(&self, id: MemoryId) -> Result<Vec<HistoryEntry>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT id, memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted, actor_id, role, \
             user_id, agent_id, run_id FROM {} WHERE memory_id = $1 ORDER BY updated_at ASC NULLS FIRST, seq ASC",
            self.table
        );
        let statement = client.prepare_cached(&sql).await.map_err(pg)?;
        let rows = client.query(&statement, &[&id.as_uuid()]).await.map_err(pg)?;
        rows.iter().map(entry).collect()
    }

    async fn erase(&self, scope: &Scope, memory_ids: &[MemoryId]) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let ids: Vec<Uuid> = memory_ids.iter().map(MemoryId::as_uuid).collect();
        let owner: Vec<String> = scope.pairs().map(|(_, id)| id.as_str().to_owned()).collect();
        let mut condition: Vec<String> = Vec::new();
        for (n, (key, _)) in scope.pairs().enumerate() {
            condition.push(format!("{key} = ${}", n + 2));
        }
        let sql = format!("DELETE FROM {} WHERE memory_id = ANY($1) OR ({})", self.table, condition.join(" AND "));
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&ids];
        params.extend(owner.iter().map(|o| o as &(dyn tokio_postgres::types::ToSql + Sync)));
        client.execute(&sql, &params).await.map_err(pg)
    }
}

fn entry(row: &Row) -> Result<HistoryEntry, StoreError> {
    let stored = StoredRow {
        id: row.try_get::<_, Uuid>(0).map_err(pg)?,
        memory_id: MemoryId::from_uuid(row.try_get::<_, Uuid>(1).map_err(pg)?),
        old_memory: row.try_get(2).map_err(pg)?,
        new_memory: row.try_get(3).map_err(pg)?,
        event: row.try_get(4).map_err(pg)?,
        created_at: row.try_get::<_, Option<DateTime<Utc>>>(5).map_err(pg)?,
        updated_at: row.try_get::<_, Option<DateTime<Utc>>>(6).map_err(pg)?,
        is_deleted: row.try_get(7).map_err(pg)?,
        actor_id: row.try_get(8).map_err(pg)?,
        role: row.try_get(9).map_err(pg)?,
        owner: [row.try_get(10).map_err(pg)?, row.try_get(11).map_err(pg)?, row.try_get(12).map_err(pg)?],
    };
    stored.into_entry().map_err(|message| StoreError::Corrupt { store: STORE, message })
}

fn pg(error: tokio_postgres::Error) -> StoreError {
    from_pg(STORE, &error)
}
