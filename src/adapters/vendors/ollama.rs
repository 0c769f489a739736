//! Ollama: the server's address (`ollama_base_url`, else `OLLAMA_HOST`, else `http://localhost:11434`;
//! a bare `host[:port]` is read as Ollama's own client reads it) and an optional bearer key (`api_key`,
//! else `OLLAMA_API_KEY`) for Ollama's cloud or an authenticating proxy. Shared by the chat and
//! embedding adapters.

use crate::adapters::config::{self, config_error, secret_or_env, string_key};
use crate::adapters::http::{bearer, HttpClient};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};

/// The config key holding the server's address.
pub const BASE_URL_KEY: &str = "ollama_base_url";
/// The server's address when nothing else is set.
pub const DEFAULT_BASE_URL: &str = "http://localhost:11434";
/// Ollama's port, for addresses given without one and without a scheme.
pub const DEFAULT_PORT: u16 = 11434;

/// One Ollama server.
#[derive(Debug)]
pub struct OllamaServer {
    /// Base URL (no trailing slash).
    pub base_url: String,
    /// `Authorization` when a key is set.
    pub headers: HeaderMap,
    api_key: Option<SecretString>,
}

impl OllamaServer {
    /// Reads the address and the optional key.
    pub fn from_block(
        block: &ProviderBlock,
        api_key: Option<&SecretString>,
        env: &Environment,
    ) -> Result<Self, BuildError> {
        let raw = string_key(block, BASE_URL_KEY)?.or_else(|| env.var("OLLAMA_HOST"));
        let base_url = match raw {
            Some(raw) => config::check_base_url(block, BASE_URL_KEY, &normalize_host(&raw))?,
            None => DEFAULT_BASE_URL.to_owned(),
        };
        let api_key = secret_or_env(api_key, &["OLLAMA_API_KEY"], env);
        let mut headers = HeaderMap::new();
        if let Some(key) = &api_key {
            let value = bearer(key.expose_secret()).map_err(|e| config_error(block, e.to_string()))?;
            headers.insert(AUTHORIZATION, value);
        }
        Ok(Self { base_url, headers, api_key })
    }

    /// `http` with the key registered for redaction.
    pub fn register_secret(&self, http: HttpClient) -> HttpClient {
        match &self.api_key {
            Some(key) => http.with_secret(key.expose_secret()),
            None => http,
        }
    }
}

/// An address as Ollama's client reads it: `host` or `host:port` get `http://` and, without a port,
/// port 11434; a full URL is kept.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    if raw.contains("://") {
        return raw.to_owned();
    }
    let has_port = raw.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if has_port {
        format!("http://{raw}")
    } else {
        format!("http://{raw}:{DEFAULT_PORT}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn server(config: Value, vars: &[(&str, &str)]) -> Result<OllamaServer, BuildError> {
        let block =
            ProviderBlock::parse("local_llm_json", &json!({"provider": "ollama", "config": config})).unwrap().unwrap();
        let env = crate::adapters::registry::Environment::from_pairs(vars.iter().copied());
        OllamaServer::from_block(&block, None, &env)
    }

    #[test]
    fn addresses_are_read_like_ollamas_client() {
        assert_eq!(normalize_host("gpu-box"), "http://gpu-box:11434");
        assert_eq!(normalize_host("0.0.0.0:8080"), "http://0.0.0.0:8080");
        assert_eq!(normalize_host("https://ollama.example/"), "https://ollama.example/");
        assert_eq!(server(json!({}), &[]).unwrap().base_url, DEFAULT_BASE_URL);
        assert_eq!(server(json!({}), &[("OLLAMA_HOST", "box:1")]).unwrap().base_url, "http://box:1");
        let s = server(json!({"ollama_base_url": "http://h:2/"}), &[("OLLAMA_API_KEY", "ol-123456")]).unwrap();
        assert_eq!(
            (s.base_url.as_str(), s.headers["authorization"].to_str().unwrap()),
            ("http://h:2", "Bearer ol-123456")
        );
        let err = server(json!({"ollama_base_url": 7}), &[]).unwrap_err().to_string();
        assert!(err.contains("ollama_base_url must be a string"), "{err}");
    }
}
