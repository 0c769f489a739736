//! Chat through OpenAI's `/chat/completions` API, for `openai` and every provider that serves the same
//! API at another base URL (see [`PROVIDERS`]).
//!
//! Config keys are Mem0's: `model`, `api_key`, `temperature` (0.1), `max_tokens` (2000), `top_p` (0.1),
//! `top_k` (accepted, not sent: the API has none), `reasoning_effort`, `is_reasoning_model`,
//! `enable_vision` / `vision_details` (accepted; messages are text only), `http_client_proxies`, and the
//! provider's base-URL key (`openai_base_url`, `deepseek_base_url`, `xai_base_url`, `minimax_base_url`,
//! `vllm_base_url`, `lmstudio_base_url`, `openrouter_base_url`; for providers Mem0 reaches through their
//! own SDK we add `groq_base_url`, `together_base_url`, `litellm_base_url`; Sarvam's `sarvam_base_url`
//! is read by Mem0 but not declared in its config). OpenAI and OpenRouter also
//! take `models`, `route`, `site_url`, `app_name`; OpenAI takes `store`; LM Studio takes
//! `lmstudio_response_format`. Two keys Mem0 does not have: `timeout` (seconds per request, default 60)
//! and `max_retries` (default 2).
//!
//! `api_key` falls back to the provider's environment variable (`OPENAI_API_KEY`, `DEEPSEEK_API_KEY`, …)
//! and the base URL to Mem0's variables (`OPENAI_BASE_URL`, `DEEPSEEK_API_BASE`, …). As in Mem0,
//! `openai` goes to OpenRouter when `OPENROUTER_API_KEY` is set, except that here an `api_key` or
//! `openai_base_url` in the block keeps it on OpenAI.

mod providers;
pub(crate) mod wire;

pub use providers::{is_reasoning_model, uses_max_completion_tokens, ChatProvider, Flavour};

use super::base::{usable, BaseKeys};
use crate::adapters::config::{self, check_keys, config_error, missing_key, non_blank, secret_or_env, HttpKeys};
use crate::adapters::config::{or_env, string_key};
use crate::adapters::http::{bearer, join_url, HttpClient, RetryPolicy};
use crate::adapters::registry::{BuildContext, Environment};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError, StructuredOutput};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use wire::{BodyTemplate, Completion, Sampling};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &[
    "openai",
    "openai_structured",
    "openrouter",
    "deepseek",
    "xai",
    "minimax",
    "groq",
    "together",
    "vllm",
    "lmstudio",
    "litellm",
    "sarvam",
];

pub use super::base::{DEFAULT_MAX_TOKENS, DEFAULT_TEMPERATURE, DEFAULT_TOP_P};

/// The typed keys only some of these providers take (unknown keys are rejected before this is read).
#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    models: Option<Vec<String>>,
    route: Option<String>,
    site_url: Option<String>,
    app_name: Option<String>,
    store: Option<bool>,
    lmstudio_response_format: Option<Value>,
}

/// A chat model reached through an OpenAI-compatible `/chat/completions` endpoint.
#[derive(Debug)]
pub struct OpenAiChat {
    provider: &'static str,
    base_url: String,
    url: String,
    headers: HeaderMap,
    template: BodyTemplate,
    model: String,
    http: HttpClient,
}

impl OpenAiChat {
    /// Builds the adapter from a `{"provider", "config"}` block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        let Some(declared) = providers::find(&block.provider) else {
            return Err(BuildError::UnknownProvider {
                field: block.field,
                provider: block.provider.clone(),
                supported: PROVIDERS.join(", "),
            });
        };
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let keys: Keys = config::deserialize(block)?;
        let http_keys = HttpKeys::from_block(block)?;
        let own_base_url = string_key(block, declared.base_url_key)?;
        let provider = effective_provider(declared, &base, own_base_url.is_some(), env);
        let base_url = match provider.name == declared.name {
            true => own_base_url,
            false => string_key(block, provider.base_url_key)?,
        };
        let base_url =
            or_env(base_url, provider.base_url_env, env).unwrap_or_else(|| provider.default_base_url.to_owned());
        let base_url = config::check_base_url(block, provider.base_url_key, &base_url)?;
        let api_key = api_key(block, provider, base.api_key.as_ref(), env)?;
        check_values(block, &keys)?;

        let model = base.model_or(declared.default_model);
        let template = body_template(provider, &base, &keys, &model);
        let headers = headers(block, provider, &keys, api_key.as_ref())?;
        let settings = http_keys.settings(block)?;
        let mut http =
            HttpClient::new(client_name(provider), &settings).map_err(|e| config_error(block, e.to_string()))?;
        if let Some(key) = &api_key {
            http = http.with_secret(key.expose_secret());
        }
        Ok(Self::from_parts(declared.name, base_url, "chat/completions", headers, template, model, http))
    }

    /// An adapter for another endpoint that speaks this wire format (Azure OpenAI): requests go to
    /// `base_url` joined with `path` (which may carry a query), with `headers`, bodies from `template`.
    pub(crate) fn from_parts(
        provider: &'static str,
        base_url: String,
        path: &str,
        headers: HeaderMap,
        template: BodyTemplate,
        model: String,
        http: HttpClient,
    ) -> Self {
        Self { provider, url: join_url(&base_url, path), base_url, headers, template, model, http }
    }

    /// Replaces the whole retry policy, `max_retries` included (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The `provider` name this adapter was built for.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The model asked for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl Llm for OpenAiChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.template.body(&request);
        let completion: Completion = self.http.post_json(&self.url, &self.headers, &body).await?;
        let redactor = self.http.redactor();
        let response = completion.into_response(|text| redactor.redact_and_truncate(text)).and_then(usable)?;
        if let Some(usage) = response.usage {
            tracing::debug!(
                provider = self.provider,
                model = %self.model,
                prompt_tokens = usage.prompt_tokens,
                completion_tokens = usage.completion_tokens,
                "chat completion"
            );
        }
        Ok(response)
    }
}

/// OpenRouter instead of OpenAI when only `OPENROUTER_API_KEY` is available (Mem0's routing).
fn effective_provider(
    declared: &'static ChatProvider,
    base: &BaseKeys,
    has_own_base_url: bool,
    env: &Environment,
) -> &'static ChatProvider {
    let routes = declared.name == "openai"
        && base.api_key.is_none()
        && !has_own_base_url
        && env.var("OPENROUTER_API_KEY").is_some();
    if routes {
        &providers::OPENROUTER
    } else {
        declared
    }
}

fn client_name(provider: &ChatProvider) -> &'static str {
    match provider.flavour {
        providers::Flavour::OpenRouter => "openrouter chat",
        _ => "openai-compatible chat",
    }
}

/// The API key: the block's, else the provider's environment variable, else its local default.
fn api_key(
    block: &ProviderBlock,
    provider: &ChatProvider,
    configured: Option<&SecretString>,
    env: &Environment,
) -> Result<Option<SecretString>, BuildError> {
    let env_names: Vec<&str> = provider.api_key_env.into_iter().collect();
    let key = secret_or_env(configured, &env_names, env)
        .or_else(|| provider.default_api_key.map(|k| SecretString::from(k.to_owned())));
    match key {
        Some(key) => Ok(Some(key)),
        None if provider.api_key_required => Err(missing_key(block, "api_key", &env_names)),
        None => Ok(None),
    }
}

/// Checks of the keys only some providers take.
fn check_values(block: &ProviderBlock, keys: &Keys) -> Result<(), BuildError> {
    let bad = |message: String| Err(config_error(block, message));
    if keys.models.as_ref().is_some_and(Vec::is_empty) {
        return bad("models must list at least one model when given".to_owned());
    }
    if keys.lmstudio_response_format.as_ref().is_some_and(|f| !f.is_object() && !f.is_null()) {
        return bad("lmstudio_response_format must be a JSON object such as {\"type\": \"json_schema\", …}".to_owned());
    }
    Ok(())
}

/// The body template of a plain OpenAI-compatible endpoint: the model, Mem0's sampling parameters
/// unless it is a reasoning model (then `reasoning_effort`, if set), and schemas sent as `json_schema`.
pub(crate) fn standard_template(base: &BaseKeys, model: &str) -> BodyTemplate {
    let reasoning = base.is_reasoning_model.unwrap_or_else(|| is_reasoning_model(model));
    BodyTemplate {
        model: Some(model.to_owned()),
        sampling: (!reasoning).then(|| Sampling {
            temperature: base.temperature(),
            top_p: base.top_p(),
            max_tokens: base.max_tokens(),
            max_completion_tokens: uses_max_completion_tokens(model),
        }),
        reasoning_effort: non_blank(base.reasoning_effort.clone()),
        structured: base.structured(StructuredOutput::Schema),
        ..BodyTemplate::default()
    }
}

fn body_template(provider: &ChatProvider, base: &BaseKeys, keys: &Keys, model: &str) -> BodyTemplate {
    let openrouter_models = match (provider.flavour, &keys.models) {
        (providers::Flavour::OpenRouter, Some(models)) => {
            Some((models.clone(), non_blank(keys.route.clone()).unwrap_or_else(|| "fallback".to_owned())))
        }
        _ => None,
    };
    let standard = standard_template(base, model);
    BodyTemplate {
        model: openrouter_models.is_none().then(|| model.to_owned()),
        store: if provider.flavour == providers::Flavour::OpenAi { keys.store } else { None },
        openrouter_models,
        fixed_response_format: match provider.flavour {
            providers::Flavour::LmStudio => keys.lmstudio_response_format.clone().filter(Value::is_object),
            _ => None,
        },
        json_mode_unsupported: match provider.flavour {
            providers::Flavour::Groq => {
                model.to_ascii_lowercase().rsplit('/').next().is_some_and(|m| m.starts_with("compound"))
            }
            providers::Flavour::Sarvam => true,
            _ => false,
        },
        structured: base.structured(providers::structured_output(provider)),
        ..standard
    }
}

fn headers(
    block: &ProviderBlock,
    provider: &ChatProvider,
    keys: &Keys,
    api_key: Option<&SecretString>,
) -> Result<HeaderMap, BuildError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = api_key {
        let value = bearer(key.expose_secret()).map_err(|e| config_error(block, e.to_string()))?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    if provider.flavour == providers::Flavour::OpenRouter {
        for (name, key, value) in
            [("http-referer", "site_url", &keys.site_url), ("x-title", "app_name", &keys.app_name)]
        {
            if let Some(value) = non_blank(value.clone()) {
                let value = HeaderValue::from_str(&value)
                    .map_err(|_| config_error(block, format!("{key} cannot be sent as an HTTP header")))?;
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    Ok(headers)
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(provider: &str) -> Vec<&'static str> {
    providers::find(provider).map(providers::allowed_keys).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;
    use serde_json::json;

    fn block(provider: &str, config: Value) -> ProviderBlock {
        test_block("local_llm_json", provider, config)
    }

    fn build(provider: &str, config: Value, vars: &[(&str, &str)]) -> Result<OpenAiChat, BuildError> {
        OpenAiChat::from_block(&block(provider, config), &crate::adapters::config::test_context(vars))
    }

    #[test]
    fn defaults_follow_mem0() {
        let chat = build("deepseek", json!({}), &[("DEEPSEEK_API_KEY", "k-123456")]).unwrap();
        assert_eq!((chat.model(), chat.base_url()), ("deepseek-chat", "https://api.deepseek.com"));
        assert_eq!(chat.url, "https://api.deepseek.com/chat/completions");
        let chat = build("vllm", json!({}), &[("VLLM_BASE_URL", "http://gpu:8000/v1/")]).unwrap();
        assert_eq!(chat.base_url(), "http://gpu:8000/v1");
        assert_eq!(chat.headers["authorization"], "Bearer vllm-api-key");
        let chat = build("lmstudio", json!({"lmstudio_base_url": "http://box:1234/v1"}), &[]).unwrap();
        assert_eq!(chat.base_url(), "http://box:1234/v1");
        let chat = build("litellm", json!({}), &[]).unwrap();
        assert!(chat.headers.get("authorization").is_none());
        let chat = build("openai", json!({"api_key": "sk-abcdef"}), &[]).unwrap();
        assert_eq!((chat.model(), chat.base_url()), ("gpt-5-mini", "https://api.openai.com/v1"));
        assert!(chat.template.sampling.is_none(), "gpt-5-mini is a reasoning model");
    }

    #[test]
    fn openai_routes_to_openrouter_only_without_explicit_settings() {
        let vars = [("OPENROUTER_API_KEY", "or-123456"), ("OPENAI_API_KEY", "sk-123456")];
        let chat =
            build("openai", json!({"models": ["a/b"], "site_url": "https://x", "app_name": "me"}), &vars).unwrap();
        assert_eq!(chat.base_url(), "https://openrouter.ai/api/v1");
        assert_eq!(chat.headers["authorization"], "Bearer or-123456");
        assert_eq!(chat.headers["x-title"], "me");
        assert_eq!(chat.template.model, None);
        let chat = build("openai", json!({"api_key": "sk-mine-123"}), &vars).unwrap();
        assert_eq!(chat.base_url(), "https://api.openai.com/v1");
    }

    #[test]
    fn missing_keys_and_bad_values_are_named() {
        let err = build("openai", json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("api_key is required") && err.contains("OPENAI_API_KEY"), "{err}");
        let err = build("deepseek", json!({"openai_base_url": "http://x"}), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown key \"openai_base_url\"") && err.contains("deepseek_base_url"), "{err}");
        let err = build("vllm", json!({"temperature": 3}), &[]).unwrap_err().to_string();
        assert!(err.contains("temperature must be between 0 and 2"), "{err}");
        let err = build("vllm", json!({"vllm_base_url": 5}), &[]).unwrap_err().to_string();
        assert!(err.contains("vllm_base_url must be a string"), "{err}");
        let err = build("vllm", json!({"max_tokens": "lots"}), &[]).unwrap_err().to_string();
        assert!(err.contains("max_tokens: invalid type"), "{err}");
        let err = build("mistral", json!({}), &[]).unwrap_err().to_string();
        assert!(err.contains("unknown provider \"mistral\"") && err.contains("deepseek"), "{err}");
    }

    #[test]
    fn sampling_parameters_follow_the_model() {
        let chat = build("vllm", json!({"model": "gpt-5.4-mini", "temperature": 0.3, "max_tokens": 50}), &[]).unwrap();
        let sampling = chat.template.sampling.unwrap();
        assert_eq!((sampling.temperature, sampling.max_tokens, sampling.max_completion_tokens), (0.3, 50, true));
        let chat =
            build("vllm", json!({"model": "my-o1-clone", "is_reasoning_model": true, "reasoning_effort": "high"}), &[])
                .unwrap();
        assert!(chat.template.sampling.is_none());
        assert_eq!(chat.template.reasoning_effort.as_deref(), Some("high"));
        let chat = build("groq", json!({"model": "groq/compound-mini"}), &[("GROQ_API_KEY", "gsk-123456")]).unwrap();
        assert!(chat.template.json_mode_unsupported);
        let chat = build("lmstudio", json!({"lmstudio_response_format": {"type": "json_schema"}}), &[]).unwrap();
        assert_eq!(chat.template.fixed_response_format, Some(json!({"type": "json_schema"})));
    }

    #[test]
    fn every_listed_provider_builds() {
        for provider in PROVIDERS {
            let chat = build(provider, json!({"api_key": "key-123456"}), &[]).unwrap();
            assert_eq!(chat.provider(), *provider);
        }
        assert_eq!(PROVIDERS.len(), providers::ALL.len());
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        let chat = build("openai", json!({"api_key": "sk-very-secret"}), &[]).unwrap();
        assert!(!format!("{chat:?}").contains("sk-very-secret"));
    }
}
