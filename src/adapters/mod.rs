//! Adapters: implementations of the ports, the inbound Dify plugin runtime and the command line.

pub mod cli;
pub mod config;
pub mod console;
pub mod dify;
pub mod embedder;
pub mod factory;
pub mod graph;
pub(crate) mod group_commit;
pub mod history;
pub mod http;
pub mod journal;
pub mod llm;
pub mod postgres;
pub mod registry;
pub mod rerank;
pub mod span_timings;
pub mod storage;
pub mod stored_time;
pub mod system_clock;
pub mod vector;
pub mod vendors;
