//! Ports: the traits the application needs from the outside world (outbound) and offers to it
//! (inbound, [`memory_api::MemoryApi`]). Ports depend only on the domain.

pub mod backends;
pub mod clock;
pub mod embedder;
pub mod graph_store;
pub mod history_store;
pub mod journal;
pub mod llm;
pub mod memory_admin;
pub mod memory_api;
pub mod reranker;
pub mod store;
pub mod vector_store;
