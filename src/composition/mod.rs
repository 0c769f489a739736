//! The composition root's wiring (used by `main.rs` only): the one settings loader
//! ([`environment::load`]) and what is built from its snapshot — the [`BuildContext`] of every
//! provider, the application's tunables ([`app_settings`]), the plugin runtime's settings and the
//! console's access key.

pub mod app_settings;
pub mod environment;

use mem0_dify::adapters::dify::{RuntimeSettings, SettingsError};
use mem0_dify::adapters::factory::DefaultBackendFactory;
use mem0_dify::adapters::registry::{BuildContext, Environment};
use mem0_dify::app::api::MemoryApp;
use std::sync::Arc;

/// The variables of the process and `.env`, read once, and everything wired from them.
pub struct Composition {
    env: Environment,
}

impl Composition {
    /// Reads the process environment and `.env` (the process wins).
    pub fn load() -> Result<Self, environment::DotEnvError> {
        Ok(Self { env: environment::load()? })
    }

    /// The snapshot (the zero-setup credentials read it).
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// A variable of the snapshot; `None` when unset or blank.
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name)
    }

    /// The plugin runtime's settings (transport, heartbeat, workers, …).
    pub fn runtime_settings(&self) -> Result<RuntimeSettings, SettingsError> {
        RuntimeSettings::from_lookup(|name| self.env.var(name))
    }

    /// The memory application with the tunables of the snapshot, building its backends with one
    /// [`BuildContext`] (data directory and provider fallbacks from the same snapshot).
    pub fn start_app(&self) -> Result<Arc<MemoryApp>, app_settings::EnvError> {
        let settings = app_settings::app_settings(&self.env)?;
        let context = BuildContext::from_environment(self.env.clone());
        Ok(Arc::new(MemoryApp::start(Arc::new(DefaultBackendFactory::with_context(context)), settings)))
    }
}
