//! Where the tests find the real all-MiniLM-L6-v2 model: `MEM0_TEST_MINILM_DIR`, which
//! `scripts/test.sh` sets from `scripts/services/minilm.sh install`.

use std::path::PathBuf;

/// The model directory, or `None` when the tests are explicitly skipped
/// (`MEM0_SKIP_SERVICE_TESTS=1`); without either, the test fails saying how to get the model.
pub fn model_dir() -> Option<PathBuf> {
    match std::env::var("MEM0_TEST_MINILM_DIR") {
        Ok(dir) if !dir.trim().is_empty() => Some(PathBuf::from(dir)),
        _ if std::env::var("MEM0_SKIP_SERVICE_TESTS").as_deref() == Ok("1") => None,
        _ => panic!(
            "MEM0_TEST_MINILM_DIR is not set: run `export MEM0_TEST_MINILM_DIR=\"$(scripts/services/minilm.sh install)\"` \
             (or set MEM0_SKIP_SERVICE_TESTS=1 to skip)"
        ),
    }
}
