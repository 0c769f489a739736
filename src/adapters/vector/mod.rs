//! Vector store adapters ([`crate::ports::vector_store::VectorStore`]).
//!
//! [`pgvector`] and the hosted stores ([`pinecone`], [`qdrant`]) keep Mem0's flat [`payload`]; the
//! hosted ones share the [`pushdown`] of a scope and filter into the store's own filter language and
//! the exact [`refine`]ment of candidates. [`embedded`] is the in-process default.

pub mod embedded;
pub mod payload;
pub mod pgvector;
pub mod pinecone;
pub mod pushdown;
pub mod qdrant;
pub mod refine;

use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::vector_store::VectorStore;
use std::sync::Arc;

/// The `provider` names of the hosted stores built by [`build_hosted_store`].
pub const HOSTED_PROVIDERS: &[&str] = &["pinecone", "qdrant"];

/// Builds a hosted store (nothing is contacted yet); `None` when the block names another provider.
pub fn build_hosted_store(block: &ProviderBlock) -> Option<Result<Arc<dyn VectorStore>, BuildError>> {
    let provider = block.provider.as_str();
    if pinecone::PROVIDERS.contains(&provider) {
        return Some(pinecone::PineconeStore::from_block(block).map(|s| Arc::new(s) as Arc<dyn VectorStore>));
    }
    if qdrant::PROVIDERS.contains(&provider) {
        return Some(qdrant::QdrantStore::from_block(block).map(|s| Arc::new(s) as Arc<dyn VectorStore>));
    }
    None
}
