//! Chat model adapters ([`crate::ports::llm::Llm`]), one module per wire protocol, and
//! [`build_llm`], which picks the adapter for a block's `provider` from the [`PROVIDERS`] table.

pub mod anthropic;
pub mod aws_bedrock;
pub mod azure_openai;
pub mod base;
pub mod dify;
pub mod gemini;
pub mod ollama;
pub mod openai;

use crate::adapters::registry::{self, BuildContext, Provider};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::Llm;
use std::sync::Arc;

/// The chat-model kind's registry table: every adapter, the `provider` names it serves and how
/// it is built.
pub const PROVIDERS: &[Provider<Arc<dyn Llm>>] = &[
    Provider {
        names: openai::PROVIDERS,
        keys: openai::keys,
        build: |b, ctx, ()| Ok(Arc::new(openai::OpenAiChat::from_block(b, ctx)?)),
    },
    Provider {
        names: azure_openai::PROVIDERS,
        keys: azure_openai::keys,
        build: |b, ctx, ()| Ok(Arc::new(azure_openai::AzureOpenAiChat::from_block(b, ctx)?)),
    },
    Provider {
        names: anthropic::PROVIDERS,
        keys: anthropic::keys,
        build: |b, ctx, ()| Ok(Arc::new(anthropic::AnthropicChat::from_block(b, ctx)?)),
    },
    Provider {
        names: ollama::PROVIDERS,
        keys: ollama::keys,
        build: |b, ctx, ()| Ok(Arc::new(ollama::OllamaChat::from_block(b, ctx)?)),
    },
    Provider {
        names: gemini::PROVIDERS,
        keys: gemini::keys,
        build: |b, ctx, ()| Ok(Arc::new(gemini::GeminiChat::from_block(b, ctx)?)),
    },
    Provider {
        names: aws_bedrock::PROVIDERS,
        keys: aws_bedrock::keys,
        build: |b, ctx, ()| Ok(Arc::new(aws_bedrock::BedrockChat::from_block(b, ctx)?)),
    },
    Provider {
        names: dify::PROVIDERS,
        keys: dify::keys,
        build: |b, _, ()| Ok(Arc::new(dify::DifyChat::from_block(b)?)),
    },
];

/// Every supported `provider` name, in documentation order.
pub fn supported_providers() -> Vec<&'static str> {
    registry::names(PROVIDERS)
}

/// The chat model a `local_llm_json` block describes, with fallbacks from the context's
/// environment. Nothing is contacted.
pub fn build_llm(block: &ProviderBlock, context: &BuildContext) -> Result<Arc<dyn Llm>, BuildError> {
    registry::build(PROVIDERS, block, context, ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_context;
    use serde_json::json;

    #[test]
    fn unknown_providers_list_every_supported_name() {
        let block = ProviderBlock::parse("local_llm_json", &json!({"provider": "langchain"})).unwrap().unwrap();
        let err = build_llm(&block, &test_context(&[])).err().unwrap().to_string();
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
        let env = test_context(&[
            ("ANTHROPIC_API_KEY", "a-123456"),
            ("GOOGLE_API_KEY", "g-123456"),
            ("AWS_BEARER_TOKEN_BEDROCK", "b-123456"),
            ("LLM_AZURE_OPENAI_API_KEY", "z-123456"),
            ("LLM_AZURE_ENDPOINT", "https://r.openai.azure.com"),
            ("LLM_AZURE_API_VERSION", "2024-10-21"),
            ("OPENAI_API_KEY", "o-123456"),
        ]);
        for name in ["openai", "azure_openai", "anthropic", "ollama", "gemini", "aws_bedrock"] {
            let block = ProviderBlock::parse("local_llm_json", &json!({"provider": name})).unwrap().unwrap();
            assert!(build_llm(&block, &env).is_ok(), "{name}");
            let bad = ProviderBlock::parse("local_llm_json", &json!({"provider": name, "config": {"bogus": 1}}))
                .unwrap()
                .unwrap();
            let err = build_llm(&bad, &env).err().unwrap().to_string();
            assert!(err.contains("unknown key \"bogus\""), "{name}: {err}");
        }
    }
}
