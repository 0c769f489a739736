//! Taking a connection from a pool, as a span of its own (`pg.checkout`), so the time spent waiting
//! for one (or opening it) shows apart from the statements' (`pg.query`).

use super::errors::from_pool;
use crate::ports::store::StoreError;
use deadpool_postgres::{Object, Pool};
use tracing::Instrument;

/// A connection of `pool`; a failure is `store`'s.
pub async fn checkout(pool: &Pool, store: &'static str) -> Result<Object, StoreError> {
    pool.get().instrument(tracing::trace_span!("pg.checkout")).await.map_err(|e| from_pool(store, e))
}
