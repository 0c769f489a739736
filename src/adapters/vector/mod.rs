//! Vector store adapters ([`crate::ports::vector_store::VectorStore`]).

pub mod embedded;
pub mod pgvector;
