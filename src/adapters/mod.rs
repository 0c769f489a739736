//! Adapters: implementations of the ports and the inbound Dify plugin runtime.

pub mod dify;
