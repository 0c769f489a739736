//! Google: the Gemini API (an API key in `x-goog-api-key`) and Vertex AI (a service account's OAuth
//! token, its project and location). Shared by the Gemini chat and embedding adapters and the Vertex AI
//! embedder.

mod service_account;

pub use service_account::{ServiceAccount, TokenSource, CLOUD_PLATFORM_SCOPE, DEFAULT_TOKEN_URI};

use crate::adapters::config::{self, config_error, missing_key, or_env, string_key};
use crate::adapters::http::{bearer, secret_header, HttpClient, HttpError, HttpSettings, RetryPolicy};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// The Gemini API's base URL.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// Where the Gemini API key comes from when `api_key` is not set (Google's client reads both).
pub const API_KEY_ENV: &[&str] = &["GOOGLE_API_KEY", "GEMINI_API_KEY"];
/// The config key overriding the Gemini API's base URL (ours).
pub const GEMINI_BASE_URL_KEY: &str = "gemini_base_url";
/// Where the Gemini base URL comes from when the key is not set (as Google's client).
pub const GEMINI_BASE_URL_ENV: &[&str] = &["GOOGLE_GEMINI_BASE_URL"];

/// The Gemini API: base URL and the key header.
#[derive(Debug)]
pub struct GeminiApi {
    /// Base URL, without the version.
    pub base_url: String,
    /// `x-goog-api-key`.
    pub headers: HeaderMap,
    key: SecretString,
}

impl GeminiApi {
    /// Reads `gemini_base_url` and the API key (`api_key`, else `GOOGLE_API_KEY` / `GEMINI_API_KEY`).
    pub fn from_block(
        block: &ProviderBlock,
        api_key: Option<&SecretString>,
        env: &Environment,
    ) -> Result<Self, BuildError> {
        let base_url = config::base_url(block, GEMINI_BASE_URL_KEY, GEMINI_BASE_URL_ENV, env, GEMINI_BASE_URL)?;
        let key = config::secret_or_env(api_key, API_KEY_ENV, env)
            .ok_or_else(|| missing_key(block, "api_key", API_KEY_ENV))?;
        let value = secret_header(key.expose_secret(), "api_key").map_err(|e| config_error(block, e.to_string()))?;
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-goog-api-key"), value);
        Ok(Self { base_url, headers, key })
    }

    /// `{base}/v1beta/{model}:{method}` for a model given with or without its `models/` prefix.
    pub fn url(&self, model: &str, method: &str) -> String {
        format!("{}/v1beta/{}:{method}", self.base_url, resource_name(model))
    }

    /// `http` with the key registered for redaction.
    pub fn register_secret(&self, http: HttpClient) -> HttpClient {
        http.with_secret(self.key.expose_secret())
    }
}

/// A model's resource name: `models/x` for `x` or `models/x`; tuned models keep their `tunedModels/` name.
pub fn resource_name(model: &str) -> String {
    let model = model.trim();
    if model.starts_with("models/") || model.starts_with("tunedModels/") {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// Keys selecting and configuring Vertex AI: Mem0's `vertex_credentials_json` (a path to a service
/// account key file, or here also the key's JSON itself), `project`, `location`, and our
/// `vertexai_base_url`.
pub const VERTEX_KEYS: &[&str] = &["vertex_credentials_json", "project", "location", "vertexai_base_url"];

/// Vertex AI's default location.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// Vertex AI for one project and location, authenticated by a service account.
#[derive(Debug)]
pub struct Vertex {
    tokens: TokenSource,
    project: String,
    location: String,
    base_url: String,
}

impl Vertex {
    /// Reads the credentials (`vertex_credentials_json`, else the file named by
    /// `GOOGLE_APPLICATION_CREDENTIALS`), the project (`project`, else the key's `project_id`, else
    /// `GOOGLE_CLOUD_PROJECT`) and the location (`location`, else `GOOGLE_CLOUD_LOCATION`, else
    /// `us-central1`). Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, settings: &HttpSettings, env: &Environment) -> Result<Self, BuildError> {
        let account = credentials(block, env)?;
        let project_id = account.project_id.clone();
        let tokens = TokenSource::new(account, settings).map_err(|message| config_error(block, message))?;
        let project = or_env(string_key(block, "project")?.or(project_id), &["GOOGLE_CLOUD_PROJECT"], env)
            .ok_or_else(|| missing_key(block, "project", &["GOOGLE_CLOUD_PROJECT"]))?;
        let location = or_env(string_key(block, "location")?, &["GOOGLE_CLOUD_LOCATION"], env)
            .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
        let default_base = match location.as_str() {
            "global" => "https://aiplatform.googleapis.com".to_owned(),
            region => format!("https://{region}-aiplatform.googleapis.com"),
        };
        let base_url = config::base_url(block, "vertexai_base_url", &["GOOGLE_VERTEX_BASE_URL"], env, &default_base)?;
        Ok(Self { tokens, project, location, base_url })
    }

    /// `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:{method}`.
    pub fn model_url(&self, model: &str, method: &str) -> String {
        let model = model.trim().trim_start_matches("models/");
        format!(
            "{}/v1/projects/{}/locations/{}/publishers/google/models/{model}:{method}",
            self.base_url, self.project, self.location
        )
    }

    /// The `Authorization` header with a current access token (fetched or refreshed when needed).
    pub async fn auth_headers(&self) -> Result<HeaderMap, HttpError> {
        let token = self.tokens.token().await?;
        let value = bearer(token.expose_secret()).map_err(|e| HttpError::Decode(e.to_string()))?;
        Ok(HeaderMap::from_iter([(AUTHORIZATION, value)]))
    }

    /// Replaces the token exchange's retry policy (tests use fast backoffs).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.tokens = self.tokens.with_retry(retry);
        self
    }

    /// `http` with the service account's private key registered for redaction.
    pub fn register_secret(&self, http: HttpClient) -> HttpClient {
        self.tokens.register_secret(http)
    }
}

/// The service account from `vertex_credentials_json` (inline JSON, or a path) or
/// `GOOGLE_APPLICATION_CREDENTIALS` (a path).
fn credentials(block: &ProviderBlock, env: &Environment) -> Result<ServiceAccount, BuildError> {
    const KEY: &str = "vertex_credentials_json";
    let parse = |json: &str| ServiceAccount::parse(json).map_err(|e| config_error(block, format!("{KEY}: {e}")));
    let read = |path: &str, what: &str| {
        std::fs::read_to_string(path).map_err(|e| {
            config_error(block, format!("{what}: cannot read the service account key file {path:?} ({e})"))
        })
    };
    match block.config.get(KEY) {
        Some(Value::Object(map)) => parse(&Value::Object(map.clone()).to_string()),
        Some(Value::String(text)) if text.trim_start().starts_with('{') => parse(text),
        Some(Value::String(path)) if !path.trim().is_empty() => parse(&read(path.trim(), KEY)?),
        None | Some(Value::Null) | Some(Value::String(_)) => match env.var("GOOGLE_APPLICATION_CREDENTIALS") {
            Some(path) => ServiceAccount::parse(&read(&path, "GOOGLE_APPLICATION_CREDENTIALS")?)
                .map_err(|e| config_error(block, format!("GOOGLE_APPLICATION_CREDENTIALS: {e}"))),
            None => Err(missing_key(block, KEY, &["GOOGLE_APPLICATION_CREDENTIALS"])),
        },
        Some(_) => Err(config_error(
            block,
            format!("{KEY} must be the service account key (a JSON object or its text) or the path of its file"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_get_their_prefix() {
        assert_eq!(resource_name("gemini-2.0-flash"), "models/gemini-2.0-flash");
        assert_eq!(resource_name("models/gemini-embedding-001"), "models/gemini-embedding-001");
        assert_eq!(resource_name("tunedModels/mine"), "tunedModels/mine");
    }
}
