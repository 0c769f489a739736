//! The Dify plugin adapter: the runtime that speaks the plugin daemon's protocol over stdio
//! (installed packages) or TCP (remote debugging), the tool layer (parameters in,
//! `{status, messages, results}` out) with the fixed results it presents, and the `.difypkg`
//! packager.

pub mod backwards;
pub mod connection;
pub mod constants;
pub mod declaration;
pub mod endpoint;
pub mod line_writer;
pub mod models;
pub mod package;
pub mod protocol;
pub mod remote;
pub mod runtime;
pub mod runtime_error;
pub mod salvage;
pub mod serve;
pub mod settings;
pub mod stdio;
pub mod tools;

pub use package::{build_package, Arch, PackageError, PackageReport};
pub use runtime_error::RuntimeError;
pub use serve::{init_stderr_logging, serve, CLI_DEFAULT_LOG, SERVE_DEFAULT_LOG};
pub use settings::{RuntimeSettings, SettingsError};
