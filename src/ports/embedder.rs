//! Outbound port: a text embedding model.

use async_trait::async_trait;
use std::time::Duration;

/// What the embedding is for (some providers embed queries and documents differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbedPurpose {
    /// A memory being stored.
    Add,
    /// A search query.
    Search,
    /// A memory being rewritten.
    Update,
}

/// Why an embedding call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// No answer in time.
    #[error("the embedding model did not answer within {0:?}")]
    Timeout(Duration),
    /// HTTP 429 after all retries.
    #[error("the embedding provider is rate limiting requests (HTTP 429): {0}")]
    RateLimited(String),
    /// HTTP 401/403.
    #[error("the embedding provider rejected the credentials (HTTP {status}): {message}")]
    Unauthorized {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// Another HTTP error.
    #[error("the embedding provider answered HTTP {status}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// Could not connect.
    #[error("could not reach the embedding provider: {0}")]
    Transport(String),
    /// The answer was malformed, or vectors had the wrong size.
    #[error("unexpected answer from the embedding provider: {0}")]
    Protocol(String),
    /// A local model failed.
    #[error("the local embedding model failed: {0}")]
    Model(String),
    /// The model cannot be reached from here, or its host refused the request (not HTTP).
    #[error("the embedding model is not available: {0}")]
    Unavailable(String),
}

impl EmbedError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            EmbedError::Timeout(_) | EmbedError::RateLimited(_) | EmbedError::Transport(_) => true,
            EmbedError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A text embedding model.
#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// Embeds each text; the result has one vector per text, each of [`Embedder::dimensions`] floats.
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// The size of the vectors this model produces.
    fn dimensions(&self) -> usize;

    /// True when the model can be reached only while an inbound call is being handled (see
    /// [`crate::ports::llm::Llm::bound_to_call`]).
    fn bound_to_call(&self) -> bool {
        false
    }
}
