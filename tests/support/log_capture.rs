//! Captures every log line the test binary writes, down to TRACE, so tests can search it for secrets.
//!
//! The subscriber is process-global: a test binary that uses this must hold a single test.
//! Include with `#[path = "support/log_capture.rs"] mod log_capture;`.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Installs the process-wide TRACE subscriber (no colours) writing here.
    pub fn install() -> Self {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
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
