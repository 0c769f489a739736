//! The error type shared by the storage ports (vector, history, graph, journal).

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store is unreachable or the call timed out; retrying later may succeed.
    #[error("the {store} is unavailable: {message}")]
    Unavailable {
        /// Which store.
        store: &'static str,
        /// Cause.
        message: String,
    },
    /// The store rejected the request (schema, dimension, permission…); retrying will not help.
    #[error("the {store} rejected the request: {message}")]
    Rejected {
        /// Which store.
        store: &'static str,
        /// Cause.
        message: String,
    },
    /// Stored data could not be read back.
    #[error("the {store} returned data that cannot be read: {message}")]
    Corrupt {
        /// Which store.
        store: &'static str,
        /// Cause.
        message: String,
    },
}

impl StoreError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}
