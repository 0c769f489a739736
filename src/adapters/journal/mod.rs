//! Journals of accepted writes (see [`crate::ports::journal`]).

pub mod postgres;
pub mod rules;
pub mod sqlite;
