//! Why applying a write failed, as the writer records it and a waiting sync caller is told.

use super::service::ServiceError;
use crate::domain::memory::MemoryId;

/// Why applying a write failed, and whether to retry.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApplyError {
    /// What went wrong (no secrets).
    pub message: String,
    /// Whether a retry may succeed.
    pub transient: bool,
    /// Set when the target memory does not exist in the given scope.
    pub not_found: Option<MemoryId>,
}

impl From<ServiceError> for ApplyError {
    fn from(e: ServiceError) -> Self {
        let not_found = match &e {
            ServiceError::NotFound(id) => Some(*id),
            _ => None,
        };
        Self { transient: e.is_transient(), message: e.to_string(), not_found }
    }
}
