//! Adapters: implementations of the ports, the inbound Dify plugin runtime and the command line.

pub mod dify;
pub mod graph;
pub mod journal;
