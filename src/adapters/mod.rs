//! Adapters: the implementations of the outbound ports (hosted models over HTTP, stores, …).

pub mod config;
pub mod embedder;
pub mod http;
pub mod llm;
