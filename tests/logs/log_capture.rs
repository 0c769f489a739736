//! Captures every log line the test binary writes, down to TRACE, so tests can search it for secrets.
//!
//! The subscriber is process-global: it is installed once, in the `logs` test binary only, and
//! every test of that binary searches what all of them logged.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The process-wide TRACE subscriber (no colours) writing here, installed by the first call;
    /// every later call returns the same capture.
    pub fn install() -> Self {
        static INSTALLED: OnceLock<Captured> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                let captured = Captured::default();
                let writer = captured.clone();
                let subscriber = tracing_subscriber::fmt()
                    .with_max_level(tracing::Level::TRACE)
                    .with_ansi(false)
                    .with_writer(move || writer.clone())
                    .finish();
                tracing::subscriber::set_global_default(subscriber).unwrap();
                captured
            })
            .clone()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
