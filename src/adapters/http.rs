//! The HTTP client every hosted-model adapter shares (OpenAI-compatible, Anthropic, Ollama, Gemini, …):
//! per-request timeout, bounded retries with jittered exponential backoff on 408 / 429 / 5xx / connection
//! failures (honouring `Retry-After`), HTTP status mapped to [`HttpError`] (and from there to the port
//! errors), provider messages extracted from error bodies, and secrets redacted from every message and log.
//!
//! Provider-neutral: callers build the URL and headers (see [`bearer`] and [`secret_header`], which mark
//! credentials as sensitive) and register their secrets with [`HttpClient::with_secret`].

mod error;
mod proxy;
mod redact;
mod retry;

pub use error::{provider_message, HttpError};
pub use proxy::{parse_proxies, ProxyRule, ProxyScope};
pub use redact::{truncate, Redactor, MAX_MESSAGE_CHARS, MIN_SECRET_LEN, REDACTED};
pub use reqwest::Method;
pub use retry::{retry_after, RetryPolicy};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// Default time allowed for one request (connect, send, full answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Time allowed to establish a connection (within the request timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `User-Agent` sent to providers.
pub const USER_AGENT: &str = concat!("mem0-dify/", env!("CARGO_PKG_VERSION"));

/// The content type of JSON bodies.
pub const JSON: &str = "application/json";

/// How an [`HttpClient`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Time allowed for one attempt.
    pub timeout: Duration,
    /// Retries after failed attempts.
    pub retry: RetryPolicy,
    /// Proxies (Mem0's `http_client_proxies`); none means the environment's (`HTTPS_PROXY`, …).
    pub proxies: Vec<ProxyRule>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, retry: RetryPolicy::default(), proxies: Vec::new() }
    }
}

/// Why an [`HttpClient`] or a header could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSetupError {
    /// A proxy setting is unusable.
    #[error("{0}")]
    Proxy(String),
    /// A credential cannot be sent as a header value.
    #[error("{0} contains characters that cannot be sent in an HTTP header")]
    Header(&'static str),
    /// The TLS / client setup failed.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

/// A retrying JSON-over-HTTP client that never lets a registered secret into an error or a log.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
    retry: RetryPolicy,
    redactor: Redactor,
    service: &'static str,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("service", &self.service)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `service` (a short name used in logs, e.g. `"openai chat"`).
    pub fn new(service: &'static str, settings: &HttpSettings) -> Result<Self, HttpSetupError> {
        let mut builder = reqwest::Client::builder().user_agent(USER_AGENT).connect_timeout(CONNECT_TIMEOUT);
        let mut redactor = Redactor::default();
        if !settings.proxies.is_empty() {
            builder = builder.no_proxy();
            for rule in &settings.proxies {
                builder = builder.proxy(proxy::to_reqwest(rule).map_err(HttpSetupError::Proxy)?);
                if let Some(password) = rule.password() {
                    redactor.add(&password);
                }
            }
        }
        let client = builder.build().map_err(|e| HttpSetupError::Client(describe(&e)))?;
        Ok(Self { client, timeout: settings.timeout, retry: settings.retry, redactor, service })
    }

    /// Registers a secret (API key, token) to redact from every message and log.
    pub fn with_secret(mut self, secret: &str) -> Self {
        self.redactor.add(secret);
        self
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The redactor holding this client's secrets.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The time allowed for one attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs `body` as JSON and decodes the JSON answer, retrying as the policy says.
    pub async fn post_json<B, T>(&self, url: &str, headers: &HeaderMap, body: &B) -> Result<T, HttpError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = serde_json::to_vec(body).map_err(|e| HttpError::Decode(format!("request not serializable: {e}")))?;
        self.post_bytes(url, headers, JSON, body).await
    }

    /// POSTs a body already serialized (a signed request must send exactly the bytes that were signed)
    /// and decodes the JSON answer, retrying as the policy says.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        url: &str,
        headers: &HeaderMap,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<T, HttpError> {
        self.send(Method::POST, url, headers, Some((body, content_type))).await
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded` (OAuth token exchanges) and decodes the
    /// JSON answer, retrying as the policy says.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        headers: &HeaderMap,
        fields: &[(&str, &str)],
    ) -> Result<T, HttpError> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.post_bytes(url, headers, "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// GETs `url` and decodes the JSON answer, retrying as the policy says.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str, headers: &HeaderMap) -> Result<T, HttpError> {
        self.send(Method::GET, url, headers, None).await
    }

    /// Sends a request with any method and an optional JSON body, and decodes the JSON answer (an empty
    /// answer body reads as `null`), retrying as the policy says. For REST APIs that use PUT / DELETE.
    pub async fn request_json<B, T>(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<&B>,
    ) -> Result<T, HttpError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| HttpError::Decode(format!("request not serializable: {e}")))?;
        self.send(method, url, headers, body.map(|body| (body, JSON))).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<(Vec<u8>, &'static str)>,
    ) -> Result<T, HttpError> {
        let target = loggable_url(url);
        let mut attempt = 0u32;
        let result = self
            .retry
            .run(
                || {
                    attempt += 1;
                    self.attempt(method.clone(), url, headers, body.clone(), &target, attempt)
                },
                |err, wait| {
                    tracing::warn!(
                        service = self.service,
                        target = %target,
                        error = %err,
                        wait_ms = wait.as_millis() as u64,
                        "provider request failed; retrying"
                    );
                },
            )
            .await;
        let bytes = result.inspect_err(|err| {
            tracing::debug!(service = self.service, target = %target, error = %err, "provider request failed");
        })?;
        decode(&bytes, &self.redactor)
    }

    async fn attempt(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<(Vec<u8>, &'static str)>,
        target: &str,
        attempt: u32,
    ) -> Result<Vec<u8>, HttpError> {
        tracing::debug!(service = self.service, target = %target, attempt, "provider request");
        let mut request =
            self.client.request(method, url).timeout(self.timeout).headers(headers.clone()).header(ACCEPT, JSON);
        if let Some((body, content_type)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let message = self.redactor.redact_and_truncate(&provider_message(&bytes));
        Err(status_error(status, message, wait))
    }

    fn transport_error(&self, err: &reqwest::Error) -> HttpError {
        if err.is_timeout() {
            return HttpError::Timeout(self.timeout);
        }
        HttpError::Transport { message: self.redactor.redact_and_truncate(&describe(err)), connect: err.is_connect() }
    }
}

/// The error for a non-success status.
fn status_error(status: StatusCode, message: String, retry_after: Option<Duration>) -> HttpError {
    match status.as_u16() {
        401 | 403 => HttpError::Unauthorized { status: status.as_u16(), message },
        429 => HttpError::RateLimited { message, retry_after },
        code => HttpError::Status { status: code, message, retry_after },
    }
}

/// Decodes a success body (an empty one as `null`), naming the JSON path of a mismatch.
fn decode<T: DeserializeOwned>(bytes: &[u8], redactor: &Redactor) -> Result<T, HttpError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { bytes };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let detail = if inner.is_syntax() || inner.is_eof() {
            let body = truncate(String::from_utf8_lossy(bytes).trim(), 200);
            format!("the answer is not JSON ({inner}): {body}")
        } else if path == "." {
            format!("unexpected answer: {inner}")
        } else {
            format!("unexpected answer at {path}: {inner}")
        };
        HttpError::Decode(redactor.redact_and_truncate(&detail))
    })
}

/// A reqwest error with its causes, without the URL's query (which may carry a key); a failed
/// connection names the server (`scheme://host:port/path`) so a wrong base URL is easy to spot.
fn describe(err: &reqwest::Error) -> String {
    let connect =
        err.url().filter(|_| err.is_connect()).map(|url| format!("connection failed ({})", loggable_url(url.as_str())));
    let head = if let Some(connect) = &connect {
        connect.as_str()
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "reading the answer failed"
    } else if err.is_builder() {
        "the request could not be built"
    } else if err.is_request() {
        "sending the request failed"
    } else {
        "request failed"
    };
    let mut parts = vec![head.to_owned()];
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `scheme://host[:port]/path` of a URL, without credentials or query (safe to log).
pub fn loggable_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("");
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}{}", parsed.scheme(), parsed.path()),
                None => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
            }
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

/// `base` and `path` joined with exactly one slash (`https://api.openai.com/v1` + `chat/completions`).
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// An `Authorization: Bearer …` value, marked sensitive so it is never printed.
pub fn bearer(token: &str) -> Result<HeaderValue, HttpSetupError> {
    secret_header(&format!("Bearer {}", token.trim()), "api_key")
}

/// A header value holding a credential (`x-api-key`, …), marked sensitive. `what` names the setting
/// in the error, which never repeats the value.
pub fn secret_header(value: &str, what: &'static str) -> Result<HeaderValue, HttpSetupError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| HttpSetupError::Header(what))?;
    header.set_sensitive(true);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_joined_and_logged_without_secrets() {
        assert_eq!(join_url("http://h/v1/", "/chat/completions"), "http://h/v1/chat/completions");
        assert_eq!(join_url("http://h/v1", "embeddings"), "http://h/v1/embeddings");
        assert_eq!(loggable_url("https://u:p@api.x.ai:8443/v1/chat?key=abc"), "https://api.x.ai:8443/v1/chat");
        assert_eq!(loggable_url("nope"), "(invalid URL)");
    }

    #[test]
    fn credential_headers_are_sensitive() {
        let header = bearer("sk-secret").unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("sk-secret"));
        assert_eq!(bearer("bad\nkey"), Err(HttpSetupError::Header("api_key")));
        assert!(!bearer("bad\nkey").unwrap_err().to_string().contains("bad"));
    }

    #[test]
    fn statuses_map_to_errors() {
        let err = status_error(StatusCode::FORBIDDEN, "m".into(), None);
        assert_eq!(err, HttpError::Unauthorized { status: 403, message: "m".into() });
        let err = status_error(StatusCode::TOO_MANY_REQUESTS, "m".into(), Some(Duration::from_secs(1)));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert!(matches!(
            status_error(StatusCode::BAD_GATEWAY, "m".into(), None),
            HttpError::Status { status: 502, .. }
        ));
    }

    #[test]
    fn decode_errors_name_the_path_and_redact() {
        #[derive(Debug, serde::Deserialize)]
        struct Answer {
            #[allow(dead_code)]
            items: Vec<u32>,
        }
        let redactor = Redactor::new(["sk-secret-key"]);
        let err = decode::<Answer>(br#"{"items":[1,"x"]}"#, &redactor).unwrap_err();
        assert!(err.to_string().contains("items[1]"), "{err}");
        let err = decode::<Answer>(b"<html>sk-secret-key</html>", &redactor).unwrap_err();
        assert!(err.to_string().contains("not JSON") && !err.to_string().contains("sk-secret-key"), "{err}");
        assert_eq!(decode::<serde_json::Value>(b"", &redactor).unwrap(), serde_json::Value::Null);
        assert!(decode::<Answer>(b" ", &redactor).unwrap_err().to_string().contains("null"));
    }
}
