//! The memory console: a REST API and a web page to see, correct, export and erase what is
//! remembered (`docs/console.md`). Served inside Dify as the plugin's endpoint (the runtime
//! hands it the forwarded HTTP request) and outside Dify by `mem0-dify console` ([`server`]).

pub mod access;
pub mod http;
pub mod lines;
pub mod page;
pub mod present;
pub mod routes;
pub mod server;
pub mod settings;

pub use routes::{Console, ConsoleAccess};
