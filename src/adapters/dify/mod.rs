//! The Dify plugin adapter: the tool layer (parameters in, `{status, messages, results}` out)
//! and the fixed results it presents.

pub mod constants;
pub mod tools;
