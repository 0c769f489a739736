//! The integration tests that run alone, as they did when each was a binary of its own: they load
//! the machine or the shared PostgreSQL (a 200k-row table, hundreds of concurrent sessions) or
//! measure time (a crash and its recovery, a database outage), so they must not share the machine
//! with the other tests (`tests/it/`, a separate binary that cargo runs before or after this one)
//! nor with each other: each holds [`alone`] for its whole run.
//!
//! They share the code of the `it` crate (`tests/it/support/`), included here whole.

#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

mod pgvector_lexical_fill_outage;
mod pgvector_store;
mod reliability_crash;
mod reliability_load;
mod reliability_pg_outage;

/// Held by each test of this binary for its whole run, so they run one at a time (the test
/// harness runs a binary's tests in parallel).
async fn alone() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
}
