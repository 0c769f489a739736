//! Vector store adapters ([`crate::ports::vector_store::VectorStore`]).
//!
//! [`pgvector`] and the hosted stores ([`pinecone`], [`qdrant`]) keep Mem0's flat [`payload`]; the
//! hosted ones share the [`pushdown`] of a scope and filter into the store's own filter language and
//! the exact [`refine`]ment of candidates. [`embedded`] is the in-process default. Their registry
//! table is [`crate::adapters::storage::PROVIDERS`]: a store comes with its history and journal.

pub mod embedded;
pub mod payload;
pub mod pgvector;
pub mod pinecone;
pub mod pushdown;
pub mod qdrant;
pub mod refine;
