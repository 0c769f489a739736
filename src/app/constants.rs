//! The runtime constants of the user's guide, in one place.

use std::time::Duration;

pub use crate::domain::operations::SEARCH_DEFAULT_TOP_K;

/// Writes applied at the same time (the guide's `MAX_CONCURRENT_MEM_ADDS`); reads have their own limit.
pub const MAX_CONCURRENT_MEM_ADDS: usize = 5;
/// Reads served at the same time; they never queue behind writes.
pub const MAX_CONCURRENT_READS: usize = 32;
/// Accepted writes waiting to be applied before new ones are answered "busy".
pub const MAX_PENDING_WRITES: usize = 1000;
/// Ceiling of any one request in sync mode (the guide's `MAX_REQUEST_TIMEOUT`).
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Search ceiling before degrading to an empty result.
pub const SEARCH_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Get-all ceiling.
pub const GET_ALL_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Get ceiling.
pub const GET_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// History ceiling.
pub const HISTORY_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Overall ceiling of credential validation.
pub const VALIDATE_TIMEOUT: Duration = Duration::from_secs(25);
/// Attempts of one accepted write before a transient failure is recorded as final. With the
/// delays below, a write keeps being retried for about three minutes (an LLM or database outage
/// shorter than that loses nothing).
pub const MAX_WRITE_ATTEMPTS: u32 = 10;
/// First retry delay of an accepted write; doubles each attempt.
pub const WRITE_RETRY_BASE_DELAY: Duration = Duration::from_millis(500);
/// Longest delay between two attempts of an accepted write.
pub const WRITE_RETRY_MAX_DELAY: Duration = Duration::from_secs(60);
/// Candidates retrieved per fact for the update decision (as Mem0).
pub const CANDIDATES_PER_FACT: usize = 5;

/// Calls of one planning step (fact extraction, update decision): the first, and one repair request
/// carrying the parse error and the schema while the answer cannot be read; then the write fails,
/// quoting the answer.
pub const MODEL_ANSWER_ATTEMPTS: u32 = 2;
/// Engines (distinct credential sets) kept open at once; the least recently used is closed.
pub const MAX_ENGINES: usize = 16;
/// Accepted-write outcomes remembered for `write_status`.
pub const WRITE_STATUS_CAPACITY: usize = 10_000;

/// The operation timeouts, overridable for tests and by environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Search.
    pub search: Duration,
    /// Get all.
    pub get_all: Duration,
    /// Get.
    pub get: Duration,
    /// History.
    pub history: Duration,
    /// Sync-mode writes.
    pub sync_write: Duration,
    /// Validation.
    pub validate: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            search: SEARCH_OPERATION_TIMEOUT,
            get_all: GET_ALL_OPERATION_TIMEOUT,
            get: GET_OPERATION_TIMEOUT,
            history: HISTORY_OPERATION_TIMEOUT,
            sync_write: MAX_REQUEST_TIMEOUT,
            validate: VALIDATE_TIMEOUT,
        }
    }
}

/// How long a claimed write stays reserved for the worker that claimed it without renewal.
pub const WRITE_LEASE: Duration = Duration::from_secs(30);
/// How often a worker renews the leases of the writes it is applying.
pub const WRITE_LEASE_RENEWAL: Duration = Duration::from_secs(10);
/// How often a writer looks for due writes when nothing woke it (retries, other processes).
pub const WRITE_POLL_INTERVAL: Duration = Duration::from_secs(2);
