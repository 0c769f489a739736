//! Errors of one HTTP exchange, their classification for retries, and their mapping to port errors.

use crate::ports::{embedder::EmbedError, llm::LlmError, reranker::RerankError};
use serde_json::Value;
use std::time::Duration;

/// Why an HTTP exchange failed. Messages are already redacted and truncated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No complete answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// HTTP 429.
    #[error("HTTP 429: {message}")]
    RateLimited {
        /// Provider's message.
        message: String,
        /// How long the provider asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// HTTP 401 or 403.
    #[error("HTTP {status}: {message}")]
    Unauthorized {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
    },
    /// Any other non-success status.
    #[error("HTTP {status}: {message}")]
    Status {
        /// Status code.
        status: u16,
        /// Provider's message.
        message: String,
        /// How long the provider asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The connection could not be made or broke.
    #[error("{message}")]
    Transport {
        /// What happened.
        message: String,
        /// True when no connection was established (the request surely never arrived).
        connect: bool,
    },
    /// A success status with a body that is not the expected JSON.
    #[error("{0}")]
    Decode(String),
}

impl HttpError {
    /// True for the failures worth another attempt: 408, 429, 5xx and connection failures.
    /// Timeouts are not retried: the caller's time budget is already spent.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::RateLimited { .. } => true,
            HttpError::Status { status, .. } => *status == 408 || *status >= 500,
            HttpError::Transport { connect, .. } => *connect,
            HttpError::Timeout(_) | HttpError::Unauthorized { .. } | HttpError::Decode(_) => false,
        }
    }

    /// The wait the provider asked for (`Retry-After` / `retry-after-ms`), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::RateLimited { retry_after, .. } | HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<HttpError> for LlmError {
    fn from(err: HttpError) -> Self {
        match err {
            HttpError::Timeout(d) => LlmError::Timeout(d),
            HttpError::RateLimited { message, .. } => LlmError::RateLimited(message),
            HttpError::Unauthorized { status, message } => LlmError::Unauthorized { status, message },
            HttpError::Status { status, message, .. } => LlmError::Http { status, message },
            HttpError::Transport { message, .. } => LlmError::Transport(message),
            HttpError::Decode(message) => LlmError::Protocol(message),
        }
    }
}

impl From<HttpError> for EmbedError {
    fn from(err: HttpError) -> Self {
        match err {
            HttpError::Timeout(d) => EmbedError::Timeout(d),
            HttpError::RateLimited { message, .. } => EmbedError::RateLimited(message),
            HttpError::Unauthorized { status, message } => EmbedError::Unauthorized { status, message },
            HttpError::Status { status, message, .. } => EmbedError::Http { status, message },
            HttpError::Transport { message, .. } => EmbedError::Transport(message),
            HttpError::Decode(message) => EmbedError::Protocol(message),
        }
    }
}

impl From<HttpError> for RerankError {
    fn from(err: HttpError) -> Self {
        RerankError(err.to_string())
    }
}

/// The human part of an error body: OpenAI / Anthropic `{"error":{"message"}}`, `{"error":"…"}`,
/// `{"message":"…"}`, FastAPI `{"detail":…}`; otherwise the body itself. Not yet redacted.
pub fn provider_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else { return text.to_owned() };
    let candidates = [
        json.pointer("/error/message"),
        json.get("error").filter(|e| e.is_string()),
        json.get("message"),
        json.get("detail"),
        json.pointer("/error"),
    ];
    let found = candidates.into_iter().flatten().next().map(|value| match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    found.unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_found_in_the_usual_shapes() {
        assert_eq!(provider_message(br#"{"error":{"message":"bad key","type":"x"}}"#), "bad key");
        assert_eq!(provider_message(br#"{"error":"overloaded"}"#), "overloaded");
        assert_eq!(provider_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(provider_message(br#"{"detail":[{"msg":"field required"}]}"#), r#"[{"msg":"field required"}]"#);
        assert_eq!(provider_message(br#"{"error":{"code":5}}"#), r#"{"code":5}"#);
        assert_eq!(provider_message(b"<html>502</html>"), "<html>502</html>");
        assert_eq!(provider_message(b"  "), "(empty body)");
    }

    #[test]
    fn retry_classification() {
        let status = |s| HttpError::Status { status: s, message: String::new(), retry_after: None };
        assert!(status(500).is_retryable() && status(503).is_retryable() && status(408).is_retryable());
        assert!(!status(400).is_retryable() && !status(404).is_retryable());
        assert!(HttpError::RateLimited { message: String::new(), retry_after: None }.is_retryable());
        assert!(!HttpError::Unauthorized { status: 401, message: String::new() }.is_retryable());
        assert!(!HttpError::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(HttpError::Transport { message: String::new(), connect: true }.is_retryable());
        assert!(!HttpError::Transport { message: String::new(), connect: false }.is_retryable());
    }

    #[test]
    fn port_errors_keep_status_and_message() {
        let err: LlmError = HttpError::Unauthorized { status: 403, message: "m".into() }.into();
        assert_eq!(err, LlmError::Unauthorized { status: 403, message: "m".into() });
        let err: EmbedError = HttpError::Status { status: 502, message: "m".into(), retry_after: None }.into();
        assert_eq!(err, EmbedError::Http { status: 502, message: "m".into() });
        let err: EmbedError = HttpError::Decode("bad".into()).into();
        assert_eq!(err, EmbedError::Protocol("bad".into()));
    }
}
