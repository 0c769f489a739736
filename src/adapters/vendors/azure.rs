//! Azure OpenAI: Mem0's `azure_kwargs` (`api_key`, `azure_deployment`, `azure_endpoint`, `api_version`,
//! `default_headers`) with the `LLM_AZURE_*` / `EMBEDDING_AZURE_*` environment fallbacks, the deployment
//! URL and the `api-key` header. Shared by the chat and embedding adapters.
//!
//! Mem0 signs in with Entra ID (`DefaultAzureCredential`) when no key is given; that is not supported
//! here, so a key is required.

use crate::adapters::config::{self, config_error, is_secret_key, missing_key, non_blank, or_env};
use crate::adapters::http::{secret_header, HttpClient};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The config key holding the Azure settings.
pub const KWARGS_KEY: &str = "azure_kwargs";

/// Mem0's placeholder key, which it treats as "no key".
const PLACEHOLDER_KEY: &str = "your-api-key";

/// `azure_kwargs`; any other key inside it is rejected with the allowed ones named.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureKwargs {
    /// `api_key`.
    pub api_key: Option<SecretString>,
    /// `azure_deployment`.
    pub azure_deployment: Option<String>,
    /// `azure_endpoint`, e.g. `https://my-resource.openai.azure.com`.
    pub azure_endpoint: Option<String>,
    /// `api_version`, e.g. `2024-10-21`.
    pub api_version: Option<String>,
    /// `default_headers`, sent with every request.
    pub default_headers: Option<BTreeMap<String, String>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Outer {
    azure_kwargs: Option<AzureKwargs>,
}

/// Which Mem0 component the settings are for (it picks the environment variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `LLM_AZURE_*`.
    Llm,
    /// `EMBEDDING_AZURE_*`.
    Embedder,
}

impl Component {
    fn env(self, suffix: &str) -> String {
        match self {
            Component::Llm => format!("LLM_AZURE_{suffix}"),
            Component::Embedder => format!("EMBEDDING_AZURE_{suffix}"),
        }
    }
}

/// Where and how to call one Azure OpenAI deployment.
#[derive(Debug)]
pub struct AzureDeployment {
    /// `{azure_endpoint}/openai/deployments/{deployment}`.
    pub base_url: String,
    /// `api-version` sent as a query parameter.
    pub api_version: String,
    /// `api-key` and the `default_headers`.
    pub headers: HeaderMap,
    secrets: Vec<SecretString>,
}

impl AzureDeployment {
    /// Reads `azure_kwargs` (falling back to the block's `api_key` and the component's environment
    /// variables). The deployment defaults to `model`, as in OpenAI's Azure client.
    pub fn from_block(
        block: &ProviderBlock,
        component: Component,
        top_level_api_key: Option<&SecretString>,
        model: &str,
        env: &Environment,
    ) -> Result<Self, BuildError> {
        let Outer { azure_kwargs } = config::deserialize(block)?;
        let kwargs = azure_kwargs.unwrap_or_default();
        let required = |value: Option<String>, key: &str, suffix: &str| -> Result<String, BuildError> {
            let name = component.env(suffix);
            or_env(value, &[name.as_str()], env).ok_or_else(|| missing_key(block, key, &[name.as_str()]))
        };
        let key_env = component.env("OPENAI_API_KEY");
        let api_key = [kwargs.api_key.as_ref(), top_level_api_key]
            .into_iter()
            .flatten()
            .map(|k| k.expose_secret().trim().to_owned())
            .chain(env.var(&key_env))
            .find(|k| !k.is_empty() && k != PLACEHOLDER_KEY)
            .ok_or_else(|| missing_key(block, "azure_kwargs.api_key", &[key_env.as_str()]))?;
        let endpoint = required(kwargs.azure_endpoint, "azure_kwargs.azure_endpoint", "ENDPOINT")?;
        let endpoint = config::check_base_url(block, "azure_kwargs.azure_endpoint", &endpoint)?;
        let api_version = required(kwargs.api_version, "azure_kwargs.api_version", "API_VERSION")?;
        let deployment = or_env(kwargs.azure_deployment, &[component.env("DEPLOYMENT").as_str()], env)
            .or_else(|| non_blank(Some(model.to_owned())))
            .ok_or_else(|| missing_key(block, "azure_kwargs.azure_deployment", &[]))?;

        let mut url = reqwest::Url::parse(&endpoint)
            .map_err(|e| config_error(block, format!("azure_kwargs.azure_endpoint is not a URL ({e})")))?;
        url.path_segments_mut()
            .map_err(|_| config_error(block, "azure_kwargs.azure_endpoint cannot take a path"))?
            .pop_if_empty()
            .extend(["openai", "deployments", deployment.as_str()]);

        let mut headers = HeaderMap::new();
        let mut secrets = vec![SecretString::from(api_key.clone())];
        let key_header =
            secret_header(&api_key, "azure_kwargs.api_key").map_err(|e| config_error(block, e.to_string()))?;
        headers.insert(HeaderName::from_static("api-key"), key_header);
        for (name, value) in kwargs.default_headers.unwrap_or_default() {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                config_error(block, format!("azure_kwargs.default_headers: {name:?} is not a valid header name"))
            })?;
            let mut header_value = HeaderValue::from_str(&value).map_err(|_| {
                config_error(block, format!("azure_kwargs.default_headers: the value of {name:?} cannot be sent"))
            })?;
            if is_secret_key(&name) || name.eq_ignore_ascii_case("authorization") {
                header_value.set_sensitive(true);
                secrets.push(SecretString::from(value));
            }
            headers.insert(header_name, header_value);
        }
        Ok(Self { base_url: url.as_str().trim_end_matches('/').to_owned(), api_version, headers, secrets })
    }

    /// The path of an operation (`chat/completions`, `embeddings`) with the `api-version` query.
    pub fn path(&self, operation: &str) -> String {
        let version: String = form_urlencoded::byte_serialize(self.api_version.as_bytes()).collect();
        format!("{operation}?api-version={version}")
    }

    /// `http` with the key and secret header values registered for redaction.
    pub fn register_secrets(&self, http: HttpClient) -> HttpClient {
        self.secrets.iter().fold(http, |http, secret| http.with_secret(secret.expose_secret()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn deployment(config: Value, vars: &[(&str, &str)]) -> Result<AzureDeployment, BuildError> {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "azure_openai", "config": config}))
            .unwrap()
            .unwrap();
        let env = crate::adapters::registry::Environment::from_pairs(vars.iter().copied());
        AzureDeployment::from_block(&block, Component::Llm, None, "gpt-4o", &env)
    }

    #[test]
    fn kwargs_and_environment_build_the_deployment_url() {
        let d = deployment(
            json!({"azure_kwargs": {"api_key": "az-123456", "azure_endpoint": "https://r.openai.azure.com/",
                   "api_version": "2024-10-21", "azure_deployment": "my dep",
                   "default_headers": {"x-team": "mem", "Ocp-Apim-Subscription-Key": "sub-123456"}}}),
            &[],
        )
        .unwrap();
        assert_eq!(d.base_url, "https://r.openai.azure.com/openai/deployments/my%20dep");
        assert_eq!(d.path("chat/completions"), "chat/completions?api-version=2024-10-21");
        assert_eq!(d.headers["api-key"], "az-123456");
        assert!(d.headers["api-key"].is_sensitive() && d.headers["ocp-apim-subscription-key"].is_sensitive());
        assert_eq!(d.headers["x-team"], "mem");
        let d = deployment(
            json!({}),
            &[
                ("LLM_AZURE_OPENAI_API_KEY", "env-123456"),
                ("LLM_AZURE_ENDPOINT", "https://e.openai.azure.com"),
                ("LLM_AZURE_API_VERSION", "2025-01-01-preview"),
            ],
        )
        .unwrap();
        assert_eq!(d.base_url, "https://e.openai.azure.com/openai/deployments/gpt-4o");
    }

    #[test]
    fn missing_and_unknown_settings_are_named() {
        let err = deployment(json!({"azure_kwargs": {"api_key": "your-api-key"}}), &[]).unwrap_err().to_string();
        assert!(err.contains("azure_kwargs.api_key is required") && err.contains("LLM_AZURE_OPENAI_API_KEY"), "{err}");
        let err = deployment(json!({"azure_kwargs": {"api_key": "k-123456"}}), &[]).unwrap_err().to_string();
        assert!(err.contains("azure_kwargs.azure_endpoint is required") && err.contains("LLM_AZURE_ENDPOINT"), "{err}");
        let err = deployment(json!({"azure_kwargs": {"api_key": "k-123456", "azure_endpoint": "https://x"}}), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("azure_kwargs.api_version is required"), "{err}");
        let err = deployment(json!({"azure_kwargs": {"endpoint": "https://x"}}), &[]).unwrap_err().to_string();
        assert!(err.contains("azure_kwargs") && err.contains("unknown field `endpoint`"), "{err}");
        assert!(err.contains("azure_endpoint"), "the allowed keys are listed: {err}");
        let err = deployment(json!({"azure_kwargs": {"api_key": ["k-in-a-list-123"]}}), &[]).unwrap_err().to_string();
        assert!(!err.contains("k-in-a-list-123"), "{err}");
    }
}
