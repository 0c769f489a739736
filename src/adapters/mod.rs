//! Adapters: implementations of the ports, the inbound Dify plugin runtime and the command line.

pub mod config;
pub mod dify;
pub mod embedder;
pub mod http;
pub mod journal;
pub mod llm;
pub mod vendors;
