//! Chat model adapters ([`crate::ports::llm::Llm`]).

pub mod openai;
