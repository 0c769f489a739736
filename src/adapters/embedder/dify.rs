//! The `dify` embedding model: one backwards invocation of type `text_embedding` per call (the
//! request body the Python SDK's `TextEmbeddingInvocation` sends; the answer is one
//! `TextEmbeddingResult`).

use crate::adapters::config::{self, check_keys, config_error};
use crate::adapters::dify::backwards::current_caller;
pub use crate::adapters::dify::models::PROVIDERS;
use crate::adapters::dify::models::{DifyModel, MODEL_KEYS};
use crate::adapters::dify::protocol::null_as_default;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

/// The keys of a `dify` `local_embedder_json` block besides [`MODEL_KEYS`].
pub const KEYS: &[&str] = &["embedding_dims"];

/// An embedding model of the user's Dify workspace.
#[derive(Debug, Clone)]
pub struct DifyEmbedder {
    model: DifyModel,
    dims: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EmbeddingKeys {
    embedding_dims: Option<usize>,
}

/// The `TextEmbeddingResult` fields read (`null` reads as no vectors, then reported as missing).
#[derive(Debug, Deserialize)]
struct EmbeddingResult {
    #[serde(deserialize_with = "null_as_default")]
    embeddings: Vec<Vec<f32>>,
}

impl DifyEmbedder {
    /// Reads a `dify` block: [`MODEL_KEYS`] and `embedding_dims` (required: the size of the
    /// vectors the Dify model returns cannot be known before it is called).
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        check_keys(block, &keys(&block.provider))?;
        let model = DifyModel::from_block(block, "text-embedding-3-small")?;
        let keys: EmbeddingKeys = config::deserialize(block)?;
        let dims =
            match keys.embedding_dims {
                Some(dims) if dims > 0 => dims,
                Some(_) => return Err(config_error(block, "embedding_dims must be at least 1, got 0")),
                None => return Err(config_error(
                    block,
                    "embedding_dims is required with the dify provider: the size of the vectors your Dify embedding \
                     model returns (e.g. 1536 for text-embedding-3-small)",
                )),
            };
        Ok(Self { model, dims })
    }

    /// The `request` of the `text_embedding` invocation.
    fn request(&self, texts: &[String], purpose: EmbedPurpose) -> Value {
        let input_type = match purpose {
            EmbedPurpose::Search => "query",
            EmbedPurpose::Add | EmbedPurpose::Update => "document",
        };
        json!({
            "provider": self.model.provider,
            "model": self.model.model,
            "model_type": "text-embedding",
            "texts": texts,
            "input_type": input_type,
        })
    }

    /// The vectors of the invocation's one result, checked against the texts and `embedding_dims`.
    fn vectors(&self, payloads: Vec<Value>, texts: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let payload = payloads
            .into_iter()
            .next()
            .ok_or_else(|| EmbedError::Protocol("Dify ended the text_embedding invocation without a result".into()))?;
        let result: EmbeddingResult = serde_json::from_value(payload)
            .map_err(|e| EmbedError::Protocol(format!("the TextEmbeddingResult is malformed: {e}")))?;
        if result.embeddings.len() != texts {
            return Err(EmbedError::Protocol(format!(
                "Dify returned {} vectors for {texts} texts",
                result.embeddings.len()
            )));
        }
        if let Some(wrong) = result.embeddings.iter().find(|v| v.len() != self.dims) {
            return Err(EmbedError::Protocol(format!(
                "the Dify model returns {}-dimensional vectors but embedding_dims is {}; set embedding_dims (and the \
                 vector store's embedding_model_dims) to {}",
                wrong.len(),
                self.dims,
                wrong.len()
            )));
        }
        Ok(result.embeddings)
    }
}

#[async_trait]
impl Embedder for DifyEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let caller = current_caller()?;
        let payloads = caller.invoke("text_embedding", self.request(texts, purpose), self.model.silence).await?;
        self.vectors(payloads, texts.len())
    }

    fn dimensions(&self) -> usize {
        self.dims
    }

    fn bound_to_call(&self) -> bool {
        true
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    MODEL_KEYS.iter().chain(KEYS).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(config: Value) -> ProviderBlock {
        ProviderBlock::parse("local_embedder_json", &json!({"provider": "dify", "config": config})).unwrap().unwrap()
    }

    fn embedder() -> DifyEmbedder {
        DifyEmbedder::from_block(&block(json!({"provider": "p", "model": "e", "embedding_dims": 2}))).unwrap()
    }

    fn result(embeddings: Value) -> Value {
        json!({"model": "e", "embeddings": embeddings, "usage": {"tokens": 2, "total_tokens": 2, "unit_price": "0",
            "price_unit": "0", "total_price": "0", "currency": "USD", "latency": 0.1}})
    }

    #[test]
    fn the_request_is_the_sdk_text_embedding_invocation() {
        let texts = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            embedder().request(&texts, EmbedPurpose::Add),
            json!({"provider": "p", "model": "e", "model_type": "text-embedding", "texts": ["a", "b"],
                "input_type": "document"})
        );
        assert_eq!(embedder().request(&texts, EmbedPurpose::Search)["input_type"], "query");
    }

    #[test]
    fn embedding_dims_is_required_and_checked() {
        let error = DifyEmbedder::from_block(&block(json!({"provider": "p", "model": "e"}))).unwrap_err().to_string();
        assert!(error.starts_with("local_embedder_json: embedding_dims is required"), "{error}");
        let error = DifyEmbedder::from_block(&block(json!({"provider": "p", "model": "e", "embedding_dims": 0})))
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least 1"), "{error}");
    }

    #[test]
    fn results_are_checked_against_the_texts_and_the_size() {
        let ok = embedder().vectors(vec![result(json!([[0.5, 0.25]]))], 1).unwrap();
        assert_eq!(ok, vec![vec![0.5, 0.25]]);
        let error = embedder().vectors(vec![result(json!([[0.5, 0.25, 1.0]]))], 1).unwrap_err().to_string();
        assert!(error.contains("3-dimensional") && error.contains("embedding_dims is 2"), "{error}");
        let error = embedder().vectors(vec![result(json!([[0.5, 0.25]]))], 2).unwrap_err().to_string();
        assert!(error.contains("1 vectors for 2 texts"), "{error}");
        assert!(embedder().vectors(vec![], 1).unwrap_err().to_string().contains("without a result"));
        assert!(embedder().vectors(vec![json!({"x": 1})], 1).unwrap_err().to_string().contains("malformed"));
        // null (the Go daemon's absent list) is no vectors, not a malformed result
        let error = embedder().vectors(vec![result(Value::Null)], 1).unwrap_err().to_string();
        assert!(error.contains("0 vectors for 1 texts"), "{error}");
    }
}
