//! Vector store adapters.

pub mod embedded;
