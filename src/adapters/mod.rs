//! Adapters: the implementations of the outbound ports (hosted models over HTTP, stores, the journal, …).

pub mod config;
pub mod embedder;
pub mod http;
pub mod journal;
pub mod llm;
