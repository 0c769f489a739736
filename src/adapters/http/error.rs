//! Errors of one HTTP exchange, their classification for retries, and their mapping to port errors.

use crate::ports::{embedder::EmbedError, llm::LlmError, reranker::RerankError, store::StoreError};
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
            // A model's HTTP 200 that is not the expected JSON (an HTML page, a truncated body):
            // transient, a retry usually gets a real answer.
            HttpError::Decode(message) => LlmError::BadAnswer(message),
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

impl HttpError {
    /// The storage port's error for a failed call to a hosted store (`store` names it, e.g.
    /// `"pinecone store"`): unreachable, timed out, rate limited and 5xx are transient
    /// ([`StoreError::Unavailable`]); rejected credentials and other 4xx are not
    /// ([`StoreError::Rejected`]); an unreadable success answer is [`StoreError::Corrupt`].
    pub fn into_store_error(self, store: &'static str) -> StoreError {
        match self {
            HttpError::Timeout(_) | HttpError::RateLimited { .. } | HttpError::Transport { .. } => {
                StoreError::Unavailable { store, message: self.to_string() }
            }
            HttpError::Status { status, .. } if status == 408 || status >= 500 => {
                StoreError::Unavailable { store, message: self.to_string() }
            }
            HttpError::Unauthorized { status, message } => StoreError::Rejected {
                store,
                message: format!("the credentials were rejected (HTTP {status}): {message}"),
            },
            HttpError::Status { .. } => StoreError::Rejected { store, message: self.to_string() },
            HttpError::Decode(message) => StoreError::Corrupt { store, message },
        }
    }
}

/// The human part of an error body: OpenAI / Anthropic `{"error":{"message"}}`, `{"error":"…"}`,
/// `{"message":"…"}`, FastAPI `{"detail":…}`, Qdrant `{"status":{"error":"…"}}`; otherwise the body
/// itself. Not yet redacted.
pub fn provider_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else { return text.to_owned() };
    if let (Some(code), Some(description)) =
        (json.get("error").and_then(Value::as_str), json.get("error_description").and_then(Value::as_str))
    {
        // OAuth (RFC 6749 §5.2): {"error": "invalid_grant", "error_description": "…"}.
        return format!("{code}: {description}");
    }
    let candidates = [
        json.pointer("/error/message"),
        json.get("error").filter(|e| e.is_string()),
        json.get("message"),
        json.get("detail"),
        json.pointer("/status/error"),
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
        let oauth = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        assert_eq!(provider_message(oauth), "invalid_grant: Invalid JWT Signature.");
        assert_eq!(provider_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(provider_message(br#"{"detail":[{"msg":"field required"}]}"#), r#"[{"msg":"field required"}]"#);
        assert_eq!(provider_message(br#"{"error":{"code":5}}"#), r#"{"code":5}"#);
        assert_eq!(provider_message(br#"{"status":{"error":"Not found: x"},"time":0.1}"#), "Not found: x");
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
    fn store_errors_say_whether_a_retry_may_help() {
        let err = HttpError::RateLimited { message: "slow".into(), retry_after: None }.into_store_error("x store");
        assert!(err.is_transient() && err.to_string().contains("HTTP 429: slow"), "{err}");
        let err = HttpError::Status { status: 503, message: "m".into(), retry_after: None }.into_store_error("x");
        assert!(err.is_transient());
        let err = HttpError::Unauthorized { status: 401, message: "bad key".into() }.into_store_error("x store");
        assert_eq!(
            err.to_string(),
            "the x store rejected the request: the credentials were rejected (HTTP 401): bad key"
        );
        let err = HttpError::Status { status: 400, message: "m".into(), retry_after: None }.into_store_error("x");
        assert!(!err.is_transient());
        assert!(matches!(HttpError::Decode("d".into()).into_store_error("x"), StoreError::Corrupt { .. }));
    }

    #[test]
    fn port_errors_keep_status_and_message() {
        let err: LlmError = HttpError::Unauthorized { status: 403, message: "m".into() }.into();
        assert_eq!(err, LlmError::Unauthorized { status: 403, message: "m".into() });
        let err: EmbedError = HttpError::Status { status: 502, message: "m".into(), retry_after: None }.into();
        assert_eq!(err, EmbedError::Http { status: 502, message: "m".into() });
        let err: LlmError = HttpError::Decode("<html>".into()).into();
        assert!(err.is_transient(), "an unreadable HTTP 200 from a model is worth a retry");
        let err: EmbedError = HttpError::Decode("bad".into()).into();
        assert_eq!(err, EmbedError::Protocol("bad".into()));
    }
}
