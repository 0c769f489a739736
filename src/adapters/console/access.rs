//! The console's access key check: a constant-time comparison, and a limit on failed attempts
//! (after [`MAX_FAILURES`] wrong keys within [`FAILURE_WINDOW`] every request is refused until the
//! window has passed). Failures are logged without the key.

use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong keys accepted within one window before every request is refused.
pub const MAX_FAILURES: u32 = 10;
/// The window of the failure count.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The request header carrying the key (`Authorization: Bearer <key>` is also read).
pub const KEY_HEADER: &str = "x-console-key";
/// Shortest access key accepted in the settings.
pub const MIN_KEY_LEN: usize = 16;

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No key, or a wrong one.
    #[error("a valid access key is required (header X-Console-Key or Authorization: Bearer)")]
    WrongKey,
    /// Too many wrong keys lately.
    #[error("too many wrong access keys; retry in {0} s")]
    Limited(u64),
}

/// Compares two secrets in time that does not depend on where they differ (both are hashed
/// first, so the length does not show either).
pub fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts failed attempts (shared by every request of the process).
#[derive(Debug, Default)]
pub struct AccessGuard {
    failures: Mutex<Option<(Instant, u32)>>,
}

impl AccessGuard {
    /// A guard with no failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `given` against `expected` at `now`; records a failure when wrong.
    pub fn check(&self, given: Option<&str>, expected: &str, now: Instant) -> Result<(), Denied> {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((since, count)) = *failures {
            let elapsed = now.saturating_duration_since(since);
            if elapsed >= FAILURE_WINDOW {
                *failures = None;
            } else if count >= MAX_FAILURES {
                tracing::warn!(failures = count, "console request refused: too many wrong access keys");
                return Err(Denied::Limited((FAILURE_WINDOW - elapsed).as_secs().max(1)));
            }
        }
        if given.is_some_and(|g| same_secret(g, expected)) && !expected.is_empty() {
            return Ok(());
        }
        let (since, count) = failures.unwrap_or((now, 0));
        *failures = Some((since, count + 1));
        tracing::warn!(key_given = given.is_some(), failures = count + 1, "console request with a wrong access key");
        Err(Denied::WrongKey)
    }
}

/// The key a request carries: `X-Console-Key`, else `Authorization: Bearer …`.
pub fn key_of(request: &super::http::HttpRequest) -> Option<&str> {
    request
        .header(KEY_HEADER)
        .or_else(|| request.header("authorization").and_then(|a| a.strip_prefix("Bearer ")))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_secret("abcdefghijklmnoq", "abcdefghijklmnop"));
        assert!(!same_secret("abc", "abcdefghijklmnop"));
        assert!(!same_secret("", "x"));
    }

    #[test]
    fn wrong_keys_are_limited_then_the_window_resets() {
        let guard = AccessGuard::new();
        let start = Instant::now();
        assert_eq!(guard.check(Some("right-key-123456"), "right-key-123456", start), Ok(()));
        for _ in 0..MAX_FAILURES {
            assert_eq!(guard.check(Some("wrong"), "right-key-123456", start), Err(Denied::WrongKey));
        }
        assert_eq!(guard.check(None, "right-key-123456", start), Err(Denied::Limited(60)));
        // even the right key waits for the window (a guess must not be confirmed while limited)
        assert!(matches!(guard.check(Some("right-key-123456"), "right-key-123456", start), Err(Denied::Limited(_))));
        let later = start + FAILURE_WINDOW;
        assert_eq!(guard.check(Some("right-key-123456"), "right-key-123456", later), Ok(()));
    }

    #[test]
    fn an_empty_expected_key_admits_nobody() {
        assert_eq!(AccessGuard::new().check(Some(""), "", Instant::now()), Err(Denied::WrongKey));
    }
}
