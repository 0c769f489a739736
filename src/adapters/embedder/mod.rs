//! Embedding model adapters.

#[cfg(feature = "local-embedder")]
pub mod local;
