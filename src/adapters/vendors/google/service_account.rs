//! A Google service account key and the OAuth access tokens it buys: a JWT signed with the key
//! (RS256, through `jsonwebtoken`) exchanged at the key's `token_uri` (RFC 7523), cached until shortly
//! before it expires.

use crate::adapters::http::{HttpClient, HttpError, HttpSettings, RetryPolicy};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Google's token endpoint, when the key names none.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The scope asked for: all of Google Cloud (what Vertex AI's clients ask for).
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The JWT-bearer grant type.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long a signed assertion is valid (Google's maximum).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// A token is renewed this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The fields of a service account key file that are used.
#[derive(Clone)]
pub struct ServiceAccount {
    /// `client_email`.
    pub client_email: String,
    /// `private_key` (PEM).
    pub private_key: SecretString,
    /// `private_key_id`.
    pub private_key_id: Option<String>,
    /// `token_uri`.
    pub token_uri: String,
    /// `project_id`.
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads a key file's JSON. Errors never quote the file's content.
    pub fn parse(json: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            format!("the service account key is not valid JSON (line {}, column {})", e.line(), e.column())
        })?;
        let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        match field("type") {
            Some("service_account") | None => {}
            Some(other) => {
                return Err(format!(
                    "only service account keys (\"type\": \"service_account\") are supported, got {other:?}"
                ))
            }
        }
        let required = |name: &str| {
            field(name).map(str::to_owned).ok_or_else(|| format!("the service account key has no {name:?}"))
        };
        let token_uri = field("token_uri").unwrap_or(DEFAULT_TOKEN_URI).to_owned();
        match reqwest::Url::parse(&token_uri) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return Err(format!("the service account key's token_uri is not an http(s) URL: {token_uri:?}")),
        }
        Ok(Self {
            client_email: required("client_email")?,
            private_key: SecretString::from(required("private_key")?),
            private_key_id: field("private_key_id").map(str::to_owned),
            token_uri,
            project_id: field("project_id").map(str::to_owned),
        })
    }
}

/// OAuth access tokens for one service account.
pub struct TokenSource {
    account: ServiceAccount,
    key: EncodingKey,
    http: HttpClient,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("account", &self.account).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// A source for `account`; checks the private key is a PEM RSA key. Nothing is contacted.
    pub fn new(account: ServiceAccount, settings: &HttpSettings) -> Result<Self, String> {
        let key = EncodingKey::from_rsa_pem(account.private_key.expose_secret().as_bytes())
            .map_err(|_| "the service account's private_key is not a PEM-encoded RSA key".to_owned())?;
        let http = HttpClient::new("google oauth", settings)
            .map_err(|e| e.to_string())?
            .with_secret(account.private_key.expose_secret());
        Ok(Self { account, key, http, cached: tokio::sync::Mutex::new(None) })
    }

    /// Replaces the retry policy of the token exchange.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// `http` with the private key registered for redaction.
    pub fn register_secret(&self, http: HttpClient) -> HttpClient {
        http.with_secret(self.account.private_key.expose_secret())
    }

    /// A valid access token: the cached one, or a new one (one exchange at a time).
    pub async fn token(&self) -> Result<SecretString, HttpError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(current.token.clone());
        }
        let assertion = self.assertion()?;
        let answer: TokenAnswer = self
            .http
            .post_form(
                &self.account.token_uri,
                &HeaderMap::new(),
                &[("grant_type", GRANT_TYPE), ("assertion", &assertion)],
            )
            .await
            .map_err(in_context)?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let token = SecretString::from(answer.access_token);
        *cached =
            Some(Cached { token: token.clone(), renew_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN) });
        tracing::debug!(account = %self.account.client_email, lifetime_s = lifetime.as_secs(), "got an access token");
        Ok(token)
    }

    /// The signed JWT asking for a cloud-platform token.
    fn assertion(&self) -> Result<String, HttpError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: &self.account.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &self.account.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.account.private_key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| HttpError::Decode(format!("signing the service account assertion failed: {e}")))
    }
}

/// A token-exchange failure, said to be one; a rejected assertion (HTTP 400 `invalid_grant`) is a
/// credentials problem.
fn in_context(err: HttpError) -> HttpError {
    let context = |m: String| format!("getting an access token for the service account failed: {m}");
    match err {
        HttpError::Status { status: 400, message, .. } | HttpError::Unauthorized { status: 400, message } => {
            HttpError::Unauthorized { status: 400, message: context(message) }
        }
        HttpError::Unauthorized { status, message } => HttpError::Unauthorized { status, message: context(message) },
        HttpError::Status { status, message, retry_after } => {
            HttpError::Status { status, message: context(message), retry_after }
        }
        HttpError::RateLimited { message, retry_after } => {
            HttpError::RateLimited { message: context(message), retry_after }
        }
        HttpError::Transport { message, connect } => HttpError::Transport { message: context(message), connect },
        HttpError::Decode(message) => HttpError::Decode(context(message)),
        HttpError::Timeout(d) => HttpError::Timeout(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_read_without_quoting_them() {
        let err = ServiceAccount::parse("{\"private_key\": \"-----BEGIN secret").unwrap_err();
        assert!(err.contains("not valid JSON") && !err.contains("secret"), "{err}");
        let err = ServiceAccount::parse(r#"{"type": "authorized_user", "refresh_token": "r"}"#).unwrap_err();
        assert!(err.contains("only service account keys"), "{err}");
        let err = ServiceAccount::parse(r#"{"type": "service_account", "private_key": "k"}"#).unwrap_err();
        assert!(err.contains("no \"client_email\""), "{err}");
        let account =
            ServiceAccount::parse(r#"{"type": "service_account", "client_email": "a@b", "private_key": "k-secret"}"#)
                .unwrap();
        assert_eq!(account.token_uri, DEFAULT_TOKEN_URI);
        assert!(!format!("{account:?}").contains("k-secret"));
        let err = TokenSource::new(account, &HttpSettings::default()).unwrap_err();
        assert!(err.contains("not a PEM-encoded RSA key"), "{err}");
        let bad_uri = r#"{"client_email": "a@b", "private_key": "k", "token_uri": "file:///etc/passwd"}"#;
        assert!(ServiceAccount::parse(bad_uri).unwrap_err().contains("token_uri"));
    }
}
