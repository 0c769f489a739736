//! Why the plugin runtime could not run (shared by the transports and the entry point).

use super::declaration::DeclarationError;
use super::settings::SettingsError;

/// Why the runtime could not run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The environment is misconfigured.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The plugin declarations (needed for remote registration) are missing or invalid.
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
    /// The daemon refused the remote registration; retrying would not help.
    #[error("the daemon refused the registration: {0}")]
    Rejected(String),
    /// Signal handlers could not be installed.
    #[error("cannot listen for stop signals: {0}")]
    Signals(#[source] std::io::Error),
}
