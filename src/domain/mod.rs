//! The domain: memory values and the pure logic of Mem0 (fact extraction, reconciliation,
//! filters, history). No I/O, no clock, no randomness: callers pass time and ids in.

pub mod answer_schemas;
pub mod call_limits;
pub mod credentials;
pub mod extraction_settings;
pub mod fact_screen;
pub mod facts;
pub mod filter;
pub mod fusion;
pub mod graph;
pub mod history;
pub mod json_answer;
pub mod lexical;
pub mod memory;
pub mod message;
pub mod model_tools;
pub mod operations;
pub mod reconcile;
pub mod runaway;
pub mod scope;
pub mod score_parts;
pub mod strict_json;
pub mod write_plan;
