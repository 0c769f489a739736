//! History stores: where the change history of memories is kept.

mod entry;
pub mod postgres;
pub mod sqlite;

pub use sqlite::read_mem0_history;
