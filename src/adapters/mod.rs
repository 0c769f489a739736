//! Adapters: implementations of the ports against real services.

pub mod graph;
