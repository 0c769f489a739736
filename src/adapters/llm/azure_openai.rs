//! Chat through an Azure OpenAI deployment: OpenAI's `/chat/completions` wire format (shared with
//! [`super::openai`]) at `{azure_endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! with an `api-key` header.
//!
//! Config keys are Mem0's base keys (see [`super::base`]) and `azure_kwargs` (`api_key`,
//! `azure_deployment`, `azure_endpoint`, `api_version`, `default_headers`), each falling back to
//! `LLM_AZURE_OPENAI_API_KEY`, `LLM_AZURE_DEPLOYMENT`, `LLM_AZURE_ENDPOINT`, `LLM_AZURE_API_VERSION`.
//! The deployment defaults to `model` (default `gpt-5-mini`); sampling parameters follow the model as
//! for OpenAI (none for reasoning models).

use super::base::{allowed_keys, BaseKeys};
use super::openai::{standard_template, OpenAiChat};
use crate::adapters::config::{check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, RetryPolicy};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::azure::{AzureDeployment, Component, KWARGS_KEY};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::{ChatRequest, ChatResponse, Llm, LlmError};
use async_trait::async_trait;

/// The `provider` names this adapter serves (the structured variant differs in Mem0 only by the SDK
/// call it makes).
pub const PROVIDERS: &[&str] = &["azure_openai", "azure_openai_structured"];

/// Mem0's default model (and so deployment name).
pub const DEFAULT_MODEL: &str = "gpt-5-mini";

/// A chat model deployed on Azure OpenAI.
#[derive(Debug)]
pub struct AzureOpenAiChat {
    inner: OpenAiChat,
}

impl AzureOpenAiChat {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let base = BaseKeys::from_block(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let model = base.model_or(DEFAULT_MODEL);
        let deployment = AzureDeployment::from_block(block, Component::Llm, base.api_key.as_ref(), &model, env)?;
        let http = HttpClient::new("azure openai chat", &settings).map_err(|e| config_error(block, e.to_string()))?;
        let http = deployment.register_secrets(http);
        let template = standard_template(&base, &model);
        let provider = if block.provider == PROVIDERS[1] { PROVIDERS[1] } else { PROVIDERS[0] };
        let path = deployment.path("chat/completions");
        let inner =
            OpenAiChat::from_parts(provider, deployment.base_url, &path, deployment.headers, template, model, http);
        Ok(Self { inner })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(self, retry: RetryPolicy) -> Self {
        Self { inner: self.inner.with_retry_policy(retry) }
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        self.inner.url()
    }
}

#[async_trait]
impl Llm for AzureOpenAiChat {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.inner.chat(request).await
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    allowed_keys(&[KWARGS_KEY])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn build(config: Value) -> Result<AzureOpenAiChat, BuildError> {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "azure_openai", "config": config}))
            .unwrap()
            .unwrap();
        AzureOpenAiChat::from_block(&block, &crate::adapters::config::test_context(&[]))
    }

    #[test]
    fn the_deployment_url_carries_the_api_version() {
        let chat = build(json!({"model": "gpt-4o", "azure_kwargs": {"api_key": "az-123456",
            "azure_endpoint": "https://r.openai.azure.com", "api_version": "2024-10-21"}}))
        .unwrap();
        assert_eq!(
            chat.url(),
            "https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        let err = build(json!({"azure_kwargs": {}, "openai_base_url": "x"})).unwrap_err().to_string();
        assert!(err.contains("unknown key \"openai_base_url\"") && err.contains("azure_kwargs"), "{err}");
    }
}
