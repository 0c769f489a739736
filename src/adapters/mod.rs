//! Adapters.

pub mod config_keys;
pub mod data_dir;
pub mod embedder;
pub mod vector;
