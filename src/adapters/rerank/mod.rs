//! Rerankers ([`crate::ports::reranker::Reranker`]) with Mem0's provider names and keys: hosted APIs
//! ([`cohere`], [`huggingface`] over text-embeddings-inference, [`jina`], [`zero_entropy`]) and a chat
//! model ([`llm_reranker`]).

pub mod cohere;
pub mod hosted;
pub mod huggingface;
pub mod jina;
pub mod llm_reranker;
pub mod zero_entropy;

use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::llm::Llm;
use crate::ports::reranker::Reranker;
use std::sync::Arc;

/// Every reranker `provider` name, in the order they are documented.
pub const PROVIDERS: &[&str] = &["cohere", "huggingface", "jina", "zero_entropy", "llm_reranker"];

/// Builds the reranker a `local_reranker_json` block names (nothing is contacted). `llm` is the chat
/// model `llm_reranker` uses: the one [`llm_reranker::own_llm_block`] describes when it returns a
/// block, else the configured `local_llm_json` model; the other providers ignore it.
pub fn build_reranker(block: &ProviderBlock, llm: Option<Arc<dyn Llm>>) -> Result<Arc<dyn Reranker>, BuildError> {
    let provider = block.provider.as_str();
    let reranker: Arc<dyn Reranker> = if cohere::PROVIDERS.contains(&provider) {
        Arc::new(cohere::from_block(block)?)
    } else if huggingface::PROVIDERS.contains(&provider) {
        Arc::new(huggingface::from_block(block)?)
    } else if jina::PROVIDERS.contains(&provider) {
        Arc::new(jina::from_block(block)?)
    } else if zero_entropy::PROVIDERS.contains(&provider) {
        Arc::new(zero_entropy::from_block(block)?)
    } else if llm_reranker::PROVIDERS.contains(&provider) {
        Arc::new(llm_reranker::from_block(block, llm)?)
    } else {
        return Err(BuildError::UnknownProvider {
            field: block.field,
            provider: block.provider.clone(),
            supported: PROVIDERS.join(", "),
        });
    };
    Ok(reranker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_providers_list_every_name() {
        let block =
            ProviderBlock::parse("local_reranker_json", &json!({"provider": "sentence_transformer"})).unwrap().unwrap();
        let err = build_reranker(&block, None).err().unwrap().to_string();
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
        assert_eq!(listed, PROVIDERS);
    }
}
