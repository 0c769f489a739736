//! Chat model adapters ([`crate::ports::llm::Llm`]), one module per wire protocol, and
//! [`build_llm`], which picks the adapter for a block's `provider`.

pub mod anthropic;
pub mod aws_bedrock;
pub mod azure_openai;
pub mod base;
pub mod dify;
pub mod gemini;
pub mod ollama;
pub mod openai;

use crate::adapters::config::{build_adapter, AdapterBuilder, Env, ProcessEnv};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::Llm;
use std::sync::Arc;

/// Builds one adapter from a block.
type Builder = AdapterBuilder<dyn Llm>;

/// Every adapter: the `provider` names it serves and how to build it.
const ADAPTERS: &[(&[&str], Builder)] = &[
    (openai::PROVIDERS, |b, env| Ok(Arc::new(openai::OpenAiChat::from_block_with_env(b, env)?))),
    (azure_openai::PROVIDERS, |b, env| Ok(Arc::new(azure_openai::AzureOpenAiChat::from_block_with_env(b, env)?))),
    (anthropic::PROVIDERS, |b, env| Ok(Arc::new(anthropic::AnthropicChat::from_block_with_env(b, env)?))),
    (ollama::PROVIDERS, |b, env| Ok(Arc::new(ollama::OllamaChat::from_block_with_env(b, env)?))),
    (gemini::PROVIDERS, |b, env| Ok(Arc::new(gemini::GeminiChat::from_block_with_env(b, env)?))),
    (aws_bedrock::PROVIDERS, |b, env| Ok(Arc::new(aws_bedrock::BedrockChat::from_block_with_env(b, env)?))),
    (dify::PROVIDERS, |b, _| Ok(Arc::new(dify::DifyChat::from_block(b)?))),
];

/// Every supported `provider` name, in documentation order.
pub fn supported_providers() -> Vec<&'static str> {
    ADAPTERS.iter().flat_map(|(names, _)| names.iter().copied()).collect()
}

/// The chat model a `local_llm_json` block describes, with fallbacks from the process environment.
/// Nothing is contacted.
pub fn build_llm(block: &ProviderBlock) -> Result<Arc<dyn Llm>, BuildError> {
    build_llm_with_env(block, &ProcessEnv)
}

/// [`build_llm`] with the environment given.
pub fn build_llm_with_env(block: &ProviderBlock, env: &dyn Env) -> Result<Arc<dyn Llm>, BuildError> {
    build_adapter(ADAPTERS, block, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn unknown_providers_list_every_supported_name() {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "langchain"})).unwrap().unwrap();
        let err = build_llm_with_env(&block, &HashMap::new()).err().unwrap().to_string();
        for name in
            ["openai", "deepseek", "sarvam", "azure_openai_structured", "anthropic", "ollama", "gemini", "aws_bedrock"]
        {
            assert!(err.contains(name), "{name} missing from: {err}");
        }
        let names = supported_providers();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "a provider name is served twice");
    }

    #[test]
    fn each_provider_reaches_its_adapter() {
        let env: HashMap<String, String> = [
            ("ANTHROPIC_API_KEY", "a-123456"),
            ("GOOGLE_API_KEY", "g-123456"),
            ("AWS_BEARER_TOKEN_BEDROCK", "b-123456"),
            ("LLM_AZURE_OPENAI_API_KEY", "z-123456"),
            ("LLM_AZURE_ENDPOINT", "https://r.openai.azure.com"),
            ("LLM_AZURE_API_VERSION", "2024-10-21"),
            ("OPENAI_API_KEY", "o-123456"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for name in ["openai", "azure_openai", "anthropic", "ollama", "gemini", "aws_bedrock"] {
            let block = ProviderBlock::parse("local_llm_json", &json!({"provider": name})).unwrap().unwrap();
            assert!(build_llm_with_env(&block, &env).is_ok(), "{name}");
            let bad = ProviderBlock::parse("local_llm_json", &json!({"provider": name, "config": {"bogus": 1}}))
                .unwrap()
                .unwrap();
            let err = build_llm_with_env(&bad, &env).err().unwrap().to_string();
            assert!(err.contains("unknown key \"bogus\""), "{name}: {err}");
        }
    }
}
