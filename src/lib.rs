//! mem0-dify: Mem0-style long-term memory for LLM agents, as a Dify tool plugin.
//!
//! A hexagonal application: [`domain`] holds pure logic, [`ports`] the traits to the outside,
//! [`app`] the use cases and runtime policies, [`adapters`] the implementations (including the
//! Dify plugin runtime). Only the composition root (`main.rs` and `src/composition/`, in the binary)
//! wires adapters into the application.

#![warn(missing_docs, unreachable_pub)]

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
