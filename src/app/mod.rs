//! The application: memory use cases ([`service`]) and the runtime policies of the user's guide
//! (async accept, timeout degrade, concurrency limits) behind the inbound port ([`api`]).

pub mod admin;
pub mod admission;
pub mod api;
pub mod constants;
pub mod engine;
pub mod engines;
pub mod extraction;
pub mod graph_memory;
pub mod model_calls;
pub mod planning;
pub mod repeats;
pub mod retrieval;
pub mod service;
pub mod writer;
pub mod writes;

#[cfg(test)]
mod service_tests;

#[cfg(test)]
mod api_tests;
