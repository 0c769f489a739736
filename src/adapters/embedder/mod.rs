//! Embedding model adapters ([`crate::ports::embedder::Embedder`]).

#[cfg(feature = "local-embedder")]
pub mod local;
pub mod openai;
