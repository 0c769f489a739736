//! Adapters: implementations of the ports over real services.

pub mod history;
pub mod postgres;
pub mod stored_time;
pub mod vector;
