//! Vector stores: where memories and their embeddings live.

pub mod pgvector;
