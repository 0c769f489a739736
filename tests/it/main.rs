//! The integration tests, one crate (one binary to build and link): a module per area, named as
//! the test binary it used to be (`cargo test --test it qdrant_store::`), and the code they share
//! in [`support`].
//!
//! Two kinds of test live in binaries of their own:
//! - `tests/logs/`: the tests that install a process-global TRACE subscriber to search every log
//!   line for secrets (any other test in the same process would log into it);
//! - `tests/serial/`: the tests that must run alone (a 200k-row table, hundreds of sessions, a
//!   crash and an outage timed): beside other tests they starve them and are disturbed by them.
//!
//! A test that cannot run here (the real Dify daemon, a missing service) records itself with
//! [`support::not_run`], and `scripts/test.sh` counts it as skipped, never as passed.

mod support;

mod architecture;
mod console;
mod declarations;
mod dify_models;
mod dify_real_daemon;
mod dify_runtime;
mod embedded_store;
mod graph_neo4j;
mod history_stores;
mod journal;
mod local_embedder;
mod memory_scenarios;
mod model_answers;
mod model_providers;
mod openai_adapters;
mod pgvector_lexical_fill;
mod pgvector_store;
mod pinecone_store;
mod qdrant_store;
mod reliability_fuzz;
mod reliability_isolation;
mod reliability_llm_faults;
mod reliability_secrets;
mod reliability_shared_journal;
mod rerankers;
mod sigv4_check;
mod span_timings;
mod structured_answers;
mod zero_setup;
