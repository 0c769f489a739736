//! A PostgreSQL cluster of one test's own, for tests that stop and start the server: it is made by
//! `scripts/services/postgres.sh` (as the shared test database is) with its own run directory and
//! port, so halting it cannot disturb any other test. It is stopped and deleted when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running private cluster.
pub struct PrivateCluster {
    run_dir: tempfile::TempDir,
    port: u16,
    /// The database URL (role `mem0`, database `mem0test`, pgvector installed).
    pub url: String,
    /// The role's password.
    pub password: String,
}

impl PrivateCluster {
    /// Starts a fresh cluster on a free loopback port. `None` (after saying so) when
    /// `MEM0_SKIP_SERVICE_TESTS=1`; a cluster that cannot be started fails the test.
    pub fn start() -> Option<Self> {
        if std::env::var("MEM0_SKIP_SERVICE_TESTS").as_deref() == Ok("1") {
            eprintln!("skipping: no private PostgreSQL cluster with MEM0_SKIP_SERVICE_TESTS=1");
            return None;
        }
        let run_dir = tempfile::Builder::new().prefix("mem0-private-pg-").tempdir().expect("a run directory");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut cluster = Self { run_dir, port, url: String::new(), password: String::new() };
        let exports = cluster.script("start");
        let var = |name: &str| {
            exports
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("postgres.sh start printed no {name}:\n{exports}"))
                .to_owned()
        };
        cluster.url = var("MEM0_TEST_PG_URL");
        cluster.password = var("MEM0_TEST_PG_PASSWORD");
        Some(cluster)
    }

    /// Stops the server, keeping the data (`postgres.sh halt`).
    pub fn halt(&self) {
        self.script("halt");
    }

    /// Starts the halted server again on the same port and data (`postgres.sh restart`).
    pub fn restart(&self) {
        self.script("restart");
    }

    /// Runs `postgres.sh <command>` on this cluster; returns its stdout, panics with its stderr on failure.
    fn script(&self, command: &str) -> String {
        let output = self.command(command).output().expect("run scripts/services/postgres.sh");
        assert!(
            output.status.success(),
            "postgres.sh {command} failed (MEM0_RUN_DIR={}, port {}): {}",
            self.run_dir().display(),
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn command(&self, command: &str) -> Command {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/services/postgres.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script).arg(command).env("MEM0_RUN_DIR", self.run_dir()).env("MEM0_PG_PORT", self.port.to_string());
        cmd
    }

    fn run_dir(&self) -> &Path {
        self.run_dir.path()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        // Best effort: a failure here must not hide the test's own panic.
        match self.command("stop").output() {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!("postgres.sh stop failed: {}", String::from_utf8_lossy(&output.stderr)),
            Err(e) => eprintln!("postgres.sh stop could not run: {e}"),
        }
    }
}
