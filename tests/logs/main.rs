//! The tests that search every log line for secrets, in a binary of their own: they install a
//! process-global TRACE subscriber ([`log_capture`]), which would capture (and slow down) every
//! other test of the same process, and only one such subscriber can be installed per process.
//!
//! They share the fake servers of the `it` crate (`tests/it/support/`), included here whole.

#[allow(dead_code, unused_imports)]
#[path = "../it/support/mod.rs"]
mod support;

mod log_capture;
mod model_provider_logs;
mod openai_logs;
