//! Embedding model adapters ([`crate::ports::embedder::Embedder`]).

pub mod base;
pub mod openai;
