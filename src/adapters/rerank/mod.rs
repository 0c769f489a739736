//! Rerankers ([`crate::ports::reranker::Reranker`]) with Mem0's provider names and keys: hosted APIs
//! ([`cohere`], [`huggingface`] over text-embeddings-inference, [`jina`], [`zero_entropy`]) and a chat
//! model ([`llm_reranker`]).

pub mod cohere;
pub mod hosted;
pub mod huggingface;
pub mod jina;
pub mod llm_reranker;
pub mod zero_entropy;

use crate::adapters::registry::{self, BuildContext, Provider};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::Llm;
use crate::ports::reranker::Reranker;
use std::sync::Arc;

/// One entry of the reranker table: it needs the chat model `llm_reranker` uses (the others
/// ignore it).
pub type RerankerProvider = Provider<Arc<dyn Reranker>, Option<Arc<dyn Llm>>>;

/// The reranker kind's registry table.
pub const PROVIDERS: &[RerankerProvider] = &[
    Provider {
        names: cohere::PROVIDERS,
        keys: |_| cohere::SPEC.allowed_keys(),
        build: |b, ctx, _| Ok(Arc::new(cohere::from_block(b, ctx)?)),
    },
    Provider {
        names: huggingface::PROVIDERS,
        keys: |_| huggingface::SPEC.allowed_keys(),
        build: |b, ctx, _| Ok(Arc::new(huggingface::from_block(b, ctx)?)),
    },
    Provider {
        names: jina::PROVIDERS,
        keys: |_| jina::SPEC.allowed_keys(),
        build: |b, ctx, _| Ok(Arc::new(jina::from_block(b, ctx)?)),
    },
    Provider {
        names: zero_entropy::PROVIDERS,
        keys: |_| zero_entropy::SPEC.allowed_keys(),
        build: |b, ctx, _| Ok(Arc::new(zero_entropy::from_block(b, ctx)?)),
    },
    Provider {
        names: llm_reranker::PROVIDERS,
        keys: |_| llm_reranker::ALLOWED_KEYS.to_vec(),
        build: |b, _, llm| Ok(Arc::new(llm_reranker::from_block(b, llm)?)),
    },
];

/// Every reranker `provider` name, in the order they are documented.
pub fn supported_providers() -> Vec<&'static str> {
    registry::names(PROVIDERS)
}

/// Builds the reranker a `local_reranker_json` block names (nothing is contacted). `llm` is the chat
/// model `llm_reranker` uses: the one [`llm_reranker::own_llm_block`] describes when it returns a
/// block, else the configured `local_llm_json` model; the other providers ignore it.
pub fn build_reranker(
    block: &ProviderBlock,
    context: &BuildContext,
    llm: Option<Arc<dyn Llm>>,
) -> Result<Arc<dyn Reranker>, BuildError> {
    registry::build(PROVIDERS, block, context, llm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_providers_list_every_name() {
        let block =
            ProviderBlock::parse("local_reranker_json", &json!({"provider": "sentence_transformer"})).unwrap().unwrap();
        let err = build_reranker(&block, &crate::adapters::config::test_context(&[]), None).err().unwrap().to_string();
        assert_eq!(
            err,
            "local_reranker_json: unknown provider \"sentence_transformer\"; supported providers are cohere, \
             huggingface, jina, zero_entropy, llm_reranker"
        );
        let listed: Vec<&str> = [
            cohere::PROVIDERS,
            huggingface::PROVIDERS,
            jina::PROVIDERS,
            zero_entropy::PROVIDERS,
            llm_reranker::PROVIDERS,
        ]
        .concat();
        assert_eq!(listed, supported_providers());
    }
}
