//! Tests that cannot run say so where the test command counts it: a line in the file named by
//! `MEM0_TEST_NOT_RUN_FILE` (set by `scripts/test.sh`, which reports these tests as skipped in its
//! summary line and takes them out of the passed count), and on stderr.

use std::io::Write;

/// Records that `test` did not run, and why. The caller returns right after.
pub fn not_run(test: &str, reason: &str) {
    eprintln!("NOT RUN: {test}: {reason}");
    let Ok(path) = std::env::var("MEM0_TEST_NOT_RUN_FILE") else { return };
    let line = format!("{test}: {}\n", reason.replace('\n', " "));
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!("cannot record the test that did not run in {path}: {e}");
    }
}
