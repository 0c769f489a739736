//! Chat model adapters ([`crate::ports::llm::Llm`]).

pub mod base;
pub mod openai;
