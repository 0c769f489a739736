//! Adapters.
pub mod journal;
