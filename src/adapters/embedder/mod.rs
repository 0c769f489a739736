//! Embedding model adapters ([`crate::ports::embedder::Embedder`]).

pub mod openai;
