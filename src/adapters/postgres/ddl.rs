//! Creating the plugin's tables: DDL runs in a transaction holding one advisory lock, so plugin
//! processes sharing a database never race to create the same table or index.

use super::errors::{from_pg, from_pool};
use crate::ports::store::StoreError;
use deadpool_postgres::{Pool, Transaction};
use tokio::sync::OnceCell;

/// The advisory lock key every DDL transaction of this plugin takes.
pub const DDL_LOCK: &str = "mem0-dify:ddl";

/// Takes the DDL lock until the end of `tx`.
pub async fn lock(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&DDL_LOCK]).await.map(|_| ())
}

/// Runs the statements `ddl` gives under the DDL lock, once per `done`: the first call runs them,
/// later calls return at once (a failed run is tried again by the next call). `store` names the
/// store in errors.
pub async fn run_once(
    done: &OnceCell<()>,
    pool: &Pool,
    store: &'static str,
    ddl: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    let pg = |e: tokio_postgres::Error| from_pg(store, &e);
    done.get_or_try_init(|| async {
        let mut client = pool.get().await.map_err(|e| from_pool(store, e))?;
        let tx = client.transaction().await.map_err(pg)?;
        lock(&tx).await.map_err(pg)?;
        tx.batch_execute(&ddl()).await.map_err(pg)?;
        tx.commit().await.map_err(pg)
    })
    .await
    .map(|_| ())
}
