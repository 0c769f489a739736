//! The plugin runtime over a fake memory engine, for the runtime's protocol tests
//! (`tests/it/dify_runtime.rs` packages this binary as `bin/linux-amd64/mem0-dify`).
//!
//! Usage: `fake_plugin serve` (the launcher `main.py` passes `serve`), configured by the same
//! environment as the real plugin (`INSTALL_METHOD`, `REMOTE_INSTALL_*`, `HEARTBEAT_INTERVAL`, …).

#[path = "../tests/it/support/fake_api.rs"]
mod fake_api;

/// The real plugin's settings loader (process environment over `.env`).
#[path = "../src/composition/environment.rs"]
mod environment;

use mem0_dify::adapters::dify::{init_stderr_logging, serve, RuntimeSettings, SERVE_DEFAULT_LOG};
use std::sync::Arc;

#[tokio::main]
async fn main() {
    init_stderr_logging(SERVE_DEFAULT_LOG);
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    if command != "serve" {
        eprintln!("usage: fake_plugin serve");
        std::process::exit(2);
    }
    let env = match environment::load() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("fake_plugin: {e}");
            std::process::exit(2);
        }
    };
    let settings = match RuntimeSettings::from_lookup(|name| env.var(name)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake_plugin: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(Arc::new(fake_api::FakeMemoryApi::new()), settings).await {
        eprintln!("fake_plugin: {e}");
        std::process::exit(1);
    }
}
