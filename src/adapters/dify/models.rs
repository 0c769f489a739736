//! What the `dify` model provider's two adapters share (`crate::adapters::llm::dify` and
//! `crate::adapters::embedder::dify`): the LLM and embedding models already configured in the
//! user's Dify workspace, called through the daemon's backwards invocation (contract §6) so that no
//! API key is pasted a second time. They can be reached only while Dify is calling this plugin (a
//! tool call), so both report [`crate::ports::llm::Llm::bound_to_call`].
//!
//! `config` names the Dify model: `provider` (the model provider as Dify knows it, e.g.
//! `langgenius/openai/openai`) and `model`; `timeout` bounds the wait for each reply (seconds).

use super::backwards::BackwardsError;
use crate::adapters::config::{self, config_error, non_blank};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::EmbedError;
use crate::ports::llm::LlmError;
use serde::Deserialize;
use std::time::Duration;

/// The provider name of both adapters.
pub const PROVIDER: &str = "dify";
/// The `provider` names served (for the adapter tables).
pub const PROVIDERS: &[&str] = &[PROVIDER];

/// How long a reply may take by default: the Python SDK's `MAX_INVOCATION_TIMEOUT`.
pub const DEFAULT_SILENCE: Duration = Duration::from_secs(250);

/// The keys naming the model, shared by the LLM and the embedder.
pub const MODEL_KEYS: &[&str] = &["provider", "model", "timeout"];

/// Which Dify model to call, and how long to wait for each reply.
#[derive(Debug, Clone, PartialEq)]
pub struct DifyModel {
    /// The Dify model provider (e.g. `langgenius/openai/openai`).
    pub provider: String,
    /// The model name.
    pub model: String,
    /// The longest wait for one reply.
    pub silence: Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ModelKeys {
    provider: Option<String>,
    model: Option<String>,
    timeout: Option<f64>,
}

impl DifyModel {
    /// Reads [`MODEL_KEYS`] of a `dify` block; `example` is a model name for the error messages.
    pub fn from_block(block: &ProviderBlock, example: &str) -> Result<Self, BuildError> {
        let keys: ModelKeys = config::deserialize(block)?;
        let provider = non_blank(keys.provider).ok_or_else(|| {
            config_error(
                block,
                "provider is required with the dify provider: the model provider of your Dify workspace that serves \
                 the model, as Dify names it (e.g. \"langgenius/openai/openai\")",
            )
        })?;
        let model = non_blank(keys.model).ok_or_else(|| {
            config_error(
                block,
                format!("model is required with the dify provider: the model's name (e.g. {example:?})"),
            )
        })?;
        let silence = keys.timeout.map_or(Ok(DEFAULT_SILENCE), |secs| config::timeout_secs(block, secs))?;
        Ok(Self { provider, model, silence })
    }
}

impl From<BackwardsError> for LlmError {
    fn from(error: BackwardsError) -> Self {
        match error {
            BackwardsError::Silent(after) => LlmError::Timeout(after),
            BackwardsError::Closed => LlmError::Transport(error.to_string()),
            BackwardsError::NoCaller | BackwardsError::Refused(_) => LlmError::Unavailable(error.to_string()),
        }
    }
}

impl From<BackwardsError> for EmbedError {
    fn from(error: BackwardsError) -> Self {
        match error {
            BackwardsError::Silent(after) => EmbedError::Timeout(after),
            BackwardsError::Closed => EmbedError::Transport(error.to_string()),
            BackwardsError::NoCaller | BackwardsError::Refused(_) => EmbedError::Unavailable(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(config: serde_json::Value) -> ProviderBlock {
        ProviderBlock::parse("local_llm_json", &json!({"provider": "dify", "config": config})).unwrap().unwrap()
    }

    #[test]
    fn the_model_is_named_by_provider_and_model() {
        let model =
            DifyModel::from_block(&block(json!({"provider": "langgenius/openai/openai", "model": "gpt-4o-mini"})), "x")
                .unwrap();
        assert_eq!(model.provider, "langgenius/openai/openai");
        assert_eq!(model.model, "gpt-4o-mini");
        assert_eq!(model.silence, DEFAULT_SILENCE);
        let model = DifyModel::from_block(&block(json!({"provider": "p", "model": "m", "timeout": 30})), "x").unwrap();
        assert_eq!(model.silence, Duration::from_secs(30));
    }

    #[test]
    fn missing_or_wrong_keys_are_named() {
        let error = DifyModel::from_block(&block(json!({"model": "m"})), "x").unwrap_err().to_string();
        assert!(error.starts_with("local_llm_json: provider is required"), "{error}");
        let error = DifyModel::from_block(&block(json!({"provider": "p"})), "gpt-4o-mini").unwrap_err().to_string();
        assert!(error.contains("model is required") && error.contains("gpt-4o-mini"), "{error}");
        let error = DifyModel::from_block(&block(json!({"provider": "p", "model": "m", "timeout": 0})), "x")
            .unwrap_err()
            .to_string();
        assert!(error.contains("timeout must be"), "{error}");
        let error = DifyModel::from_block(&block(json!({"provider": 3, "model": "m"})), "x").unwrap_err().to_string();
        assert!(error.contains("provider"), "{error}");
    }
}
