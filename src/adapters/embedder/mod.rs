//! Embedding model adapters ([`crate::ports::embedder::Embedder`]), one module per wire protocol, and
//! [`build_embedder`], which picks the adapter for a block's `provider`.

pub mod aws_bedrock;
pub mod azure_openai;
pub mod base;
pub mod dify;
pub mod gemini;
pub mod huggingface;
#[cfg(feature = "local-embedder")]
pub mod local;
pub mod ollama;
pub mod openai;
pub mod vertexai;

use crate::adapters::config::{build_adapter, AdapterBuilder, Env, ProcessEnv};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::Embedder;
use std::sync::Arc;

/// Builds one adapter from a block.
type Builder = AdapterBuilder<dyn Embedder>;

/// Every adapter: the `provider` names it serves and how to build it.
const ADAPTERS: &[(&[&str], Builder)] = &[
    (openai::PROVIDERS, |b, env| Ok(Arc::new(openai::OpenAiEmbedder::from_block_with_env(b, env)?))),
    (azure_openai::PROVIDERS, |b, env| Ok(Arc::new(azure_openai::AzureOpenAiEmbedder::from_block_with_env(b, env)?))),
    (ollama::PROVIDERS, |b, env| Ok(Arc::new(ollama::OllamaEmbedder::from_block_with_env(b, env)?))),
    (gemini::PROVIDERS, |b, env| Ok(Arc::new(gemini::GeminiEmbedder::from_block_with_env(b, env)?))),
    (huggingface::PROVIDERS, |b, env| Ok(Arc::new(huggingface::HuggingFaceEmbedder::from_block_with_env(b, env)?))),
    (vertexai::PROVIDERS, |b, env| Ok(Arc::new(vertexai::VertexAiEmbedder::from_block_with_env(b, env)?))),
    (aws_bedrock::PROVIDERS, |b, env| Ok(Arc::new(aws_bedrock::BedrockEmbedder::from_block_with_env(b, env)?))),
    (dify::PROVIDERS, |b, _| Ok(Arc::new(dify::DifyEmbedder::from_block(b)?))),
];

/// The in-process model (`local`), when compiled in.
#[cfg(feature = "local-embedder")]
const LOCAL: &[(&[&str], Builder)] =
    &[(&[local::PROVIDER], |b, _| Ok(Arc::new(local::LocalEmbedder::new(local::from_block(b)?))))];
#[cfg(not(feature = "local-embedder"))]
const LOCAL: &[(&[&str], Builder)] = &[];

/// Every supported `provider` name, in documentation order.
pub fn supported_providers() -> Vec<&'static str> {
    ADAPTERS.iter().chain(LOCAL).flat_map(|(names, _)| names.iter().copied()).collect()
}

/// The embedding model a `local_embedder_json` block describes, with fallbacks from the process
/// environment. Nothing is contacted.
pub fn build_embedder(block: &ProviderBlock) -> Result<Arc<dyn Embedder>, BuildError> {
    build_embedder_with_env(block, &ProcessEnv)
}

/// [`build_embedder`] with the environment given.
pub fn build_embedder_with_env(block: &ProviderBlock, env: &dyn Env) -> Result<Arc<dyn Embedder>, BuildError> {
    let adapters: Vec<(&[&str], Builder)> = ADAPTERS.iter().chain(LOCAL).copied().collect();
    build_adapter(&adapters, block, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    #[test]
    fn unknown_providers_list_every_supported_name() {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "fastembed"})).unwrap().unwrap();
        let err = build_embedder_with_env(&block, &HashMap::new()).err().unwrap().to_string();
        for name in [
            "openai",
            "together",
            "lmstudio",
            "azure_openai",
            "ollama",
            "gemini",
            "huggingface",
            "vertexai",
            "aws_bedrock",
        ] {
            assert!(err.contains(name), "{name} missing from: {err}");
        }
        let names = supported_providers();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "a provider name is served twice");
    }

    #[test]
    fn each_provider_reaches_its_adapter() {
        let env: HashMap<String, String> = [
            ("OPENAI_API_KEY", "o-123456"),
            ("GOOGLE_API_KEY", "g-123456"),
            ("HF_TOKEN", "hf-123456"),
            ("EMBEDDING_AZURE_OPENAI_API_KEY", "z-123456"),
            ("EMBEDDING_AZURE_ENDPOINT", "https://r.openai.azure.com"),
            ("EMBEDDING_AZURE_API_VERSION", "2024-10-21"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (name, dims) in
            [("openai", 1536), ("azure_openai", 1536), ("ollama", 768), ("gemini", 768), ("huggingface", 384)]
        {
            let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": name})).unwrap().unwrap();
            let embedder = build_embedder_with_env(&block, &env).map_err(|e| e.to_string()).unwrap();
            assert_eq!(embedder.dimensions(), dims, "{name}");
        }
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "vertexai"})).unwrap().unwrap();
        let err = build_embedder_with_env(&block, &env).err().unwrap().to_string();
        assert!(
            err.contains("vertex_credentials_json is required") && err.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
    }
}
