//! Embedding model adapters ([`crate::ports::embedder::Embedder`]), one module per wire protocol, and
//! [`build_embedder`], which picks the adapter for a block's `provider` from the registry table.

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

use crate::adapters::registry::{self, BuildContext, Provider};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::Embedder;
use std::sync::Arc;

/// The embedder kind's registry table (with [`LOCAL`] after it): every adapter, the `provider`
/// names it serves and how it is built.
pub const PROVIDERS: &[Provider<Arc<dyn Embedder>>] = &[
    Provider {
        names: openai::PROVIDERS,
        keys: openai::keys,
        build: |b, ctx, ()| Ok(Arc::new(openai::OpenAiEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: azure_openai::PROVIDERS,
        keys: azure_openai::keys,
        build: |b, ctx, ()| Ok(Arc::new(azure_openai::AzureOpenAiEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: ollama::PROVIDERS,
        keys: ollama::keys,
        build: |b, ctx, ()| Ok(Arc::new(ollama::OllamaEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: gemini::PROVIDERS,
        keys: gemini::keys,
        build: |b, ctx, ()| Ok(Arc::new(gemini::GeminiEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: huggingface::PROVIDERS,
        keys: huggingface::keys,
        build: |b, ctx, ()| Ok(Arc::new(huggingface::HuggingFaceEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: vertexai::PROVIDERS,
        keys: vertexai::keys,
        build: |b, ctx, ()| Ok(Arc::new(vertexai::VertexAiEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: aws_bedrock::PROVIDERS,
        keys: aws_bedrock::keys,
        build: |b, ctx, ()| Ok(Arc::new(aws_bedrock::BedrockEmbedder::from_block(b, ctx)?)),
    },
    Provider {
        names: dify::PROVIDERS,
        keys: dify::keys,
        build: |b, _, ()| Ok(Arc::new(dify::DifyEmbedder::from_block(b)?)),
    },
];

/// The in-process model (`local`), when compiled in: the last entry of the embedder table.
#[cfg(feature = "local-embedder")]
pub const LOCAL: &[Provider<Arc<dyn Embedder>>] = &[Provider {
    names: &[local::PROVIDER],
    keys: |_| local::ALLOWED_KEYS.to_vec(),
    build: |b, ctx, ()| Ok(Arc::new(local::LocalEmbedder::new(local::from_block(b, ctx)?))),
}];
/// The in-process model (`local`) is not compiled in.
#[cfg(not(feature = "local-embedder"))]
pub const LOCAL: &[Provider<Arc<dyn Embedder>>] = &[];

/// The whole table: [`PROVIDERS`], then [`LOCAL`].
fn table() -> Vec<Provider<Arc<dyn Embedder>>> {
    PROVIDERS.iter().chain(LOCAL).copied().collect()
}

/// Every supported `provider` name, in documentation order.
pub fn supported_providers() -> Vec<&'static str> {
    registry::names(&table())
}

/// The embedding model a `local_embedder_json` block describes, with fallbacks from the context's
/// environment. Nothing is contacted.
pub fn build_embedder(block: &ProviderBlock, context: &BuildContext) -> Result<Arc<dyn Embedder>, BuildError> {
    registry::build(&table(), block, context, ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_context;
    use serde_json::json;

    #[test]
    fn unknown_providers_list_every_supported_name() {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "fastembed"})).unwrap().unwrap();
        let err = build_embedder(&block, &test_context(&[])).err().unwrap().to_string();
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
        let env = test_context(&[
            ("OPENAI_API_KEY", "o-123456"),
            ("GOOGLE_API_KEY", "g-123456"),
            ("HF_TOKEN", "hf-123456"),
            ("EMBEDDING_AZURE_OPENAI_API_KEY", "z-123456"),
            ("EMBEDDING_AZURE_ENDPOINT", "https://r.openai.azure.com"),
            ("EMBEDDING_AZURE_API_VERSION", "2024-10-21"),
        ]);
        for (name, dims) in
            [("openai", 1536), ("azure_openai", 1536), ("ollama", 768), ("gemini", 768), ("huggingface", 384)]
        {
            let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": name})).unwrap().unwrap();
            let embedder = build_embedder(&block, &env).map_err(|e| e.to_string()).unwrap();
            assert_eq!(embedder.dimensions(), dims, "{name}");
        }
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "vertexai"})).unwrap().unwrap();
        let err = build_embedder(&block, &env).err().unwrap().to_string();
        assert!(
            err.contains("vertex_credentials_json is required") && err.contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{err}"
        );
    }
}
