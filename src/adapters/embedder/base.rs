//! What every embedding adapter shares: Mem0's `BaseEmbedderConfig` keys (plus our `batch_size`,
//! `timeout`, `max_retries`), the task type per purpose (`memory_*_embedding_type`), and the checks of
//! the vectors a provider returns.

use crate::adapters::config::{self, config_error, non_blank};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose};
use secrecy::SecretString;
use serde::Deserialize;
use std::future::Future;

/// Keys every embedding provider accepts.
pub const BASE_KEYS: &[&str] =
    &["model", "api_key", "embedding_dims", "batch_size", "http_client_proxies", "timeout", "max_retries"];

/// The keys a provider accepts: [`BASE_KEYS`] and its own.
pub fn allowed_keys(extra: &[&'static str]) -> Vec<&'static str> {
    config::allowed_keys(BASE_KEYS, extra)
}

/// The typed [`BASE_KEYS`] of a block (other keys are ignored here; unknown ones are rejected earlier).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BaseKeys {
    /// `model`.
    pub model: Option<String>,
    /// `api_key`.
    pub api_key: Option<SecretString>,
    /// `embedding_dims`.
    pub embedding_dims: Option<usize>,
    /// `batch_size` (ours): texts per request.
    pub batch_size: Option<usize>,
}

impl BaseKeys {
    /// Reads and checks the keys.
    pub fn from_block(block: &ProviderBlock) -> Result<Self, BuildError> {
        let keys: Self = config::deserialize(block)?;
        if keys.embedding_dims == Some(0) {
            return Err(config_error(block, "embedding_dims must be at least 1, got 0"));
        }
        Ok(keys)
    }

    /// `model`, or the provider's default.
    pub fn model_or(&self, default: &str) -> String {
        non_blank(self.model.clone()).unwrap_or_else(|| default.to_owned())
    }

    /// `batch_size`, or `default`; checked against the provider's `max`.
    pub fn batch_size(&self, block: &ProviderBlock, default: usize, max: usize) -> Result<usize, BuildError> {
        config::count_or(block, "batch_size", self.batch_size, default, max)
    }
}

/// Mem0's task-type keys (Vertex AI takes them; we also pass them to Gemini when set).
pub const TASK_TYPE_KEYS: &[&str] =
    &["memory_add_embedding_type", "memory_update_embedding_type", "memory_search_embedding_type"];

/// The task types Google's embedding APIs know.
pub const TASK_TYPES: &[&str] = &[
    "RETRIEVAL_DOCUMENT",
    "RETRIEVAL_QUERY",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
];

/// The task type sent for each purpose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TaskTypes {
    /// `memory_add_embedding_type`.
    pub memory_add_embedding_type: Option<String>,
    /// `memory_update_embedding_type`.
    pub memory_update_embedding_type: Option<String>,
    /// `memory_search_embedding_type`.
    pub memory_search_embedding_type: Option<String>,
}

impl TaskTypes {
    /// Mem0's Vertex AI defaults: `RETRIEVAL_DOCUMENT` to store, `RETRIEVAL_QUERY` to search.
    pub fn retrieval() -> Self {
        Self {
            memory_add_embedding_type: Some("RETRIEVAL_DOCUMENT".into()),
            memory_update_embedding_type: Some("RETRIEVAL_DOCUMENT".into()),
            memory_search_embedding_type: Some("RETRIEVAL_QUERY".into()),
        }
    }

    /// Reads the keys over `defaults`, checking each value is a known task type.
    pub fn from_block(block: &ProviderBlock, defaults: Self) -> Result<Self, BuildError> {
        let given: Self = config::deserialize(block)?;
        let pick = |given: Option<String>, default: Option<String>, key: &str| -> Result<Option<String>, BuildError> {
            match non_blank(given).map(|v| v.to_ascii_uppercase()) {
                Some(value) if TASK_TYPES.contains(&value.as_str()) => Ok(Some(value)),
                Some(value) => {
                    Err(config_error(block, format!("{key} must be one of {}, got {value:?}", TASK_TYPES.join(", "))))
                }
                None => Ok(default),
            }
        };
        Ok(Self {
            memory_add_embedding_type: pick(
                given.memory_add_embedding_type,
                defaults.memory_add_embedding_type,
                "memory_add_embedding_type",
            )?,
            memory_update_embedding_type: pick(
                given.memory_update_embedding_type,
                defaults.memory_update_embedding_type,
                "memory_update_embedding_type",
            )?,
            memory_search_embedding_type: pick(
                given.memory_search_embedding_type,
                defaults.memory_search_embedding_type,
                "memory_search_embedding_type",
            )?,
        })
    }

    /// The task type for a purpose, if any.
    pub fn for_purpose(&self, purpose: EmbedPurpose) -> Option<&str> {
        match purpose {
            EmbedPurpose::Add => self.memory_add_embedding_type.as_deref(),
            EmbedPurpose::Update => self.memory_update_embedding_type.as_deref(),
            EmbedPurpose::Search => self.memory_search_embedding_type.as_deref(),
        }
    }
}

/// Checks there is exactly one vector per text and each has `dims` floats.
pub fn check_vectors(vectors: Vec<Vec<f32>>, expected: usize, dims: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if vectors.len() != expected {
        return Err(EmbedError::Protocol(format!("asked for {expected} embeddings, got {}", vectors.len())));
    }
    if let Some((index, vector)) = vectors.iter().enumerate().find(|(_, v)| v.len() != dims) {
        return Err(EmbedError::Protocol(format!(
            "embedding {index} has {} dimensions but embedding_dims is {dims}; set embedding_dims to the model's size",
            vector.len()
        )));
    }
    Ok(vectors)
}

/// Embeds `texts` in chunks of `batch_size`, one `call` per chunk in order, checking each chunk's vectors
/// (one per text, `dims` floats each). No call is made for no texts.
pub async fn in_batches<'a, F, Fut>(
    texts: &'a [String],
    batch_size: usize,
    dims: usize,
    call: F,
) -> Result<Vec<Vec<f32>>, EmbedError>
where
    F: Fn(&'a [String]) -> Fut,
    Fut: Future<Output = Result<Vec<Vec<f32>>, EmbedError>>,
{
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch_size.max(1)) {
        vectors.extend(check_vectors(call(chunk).await?, chunk.len(), dims)?);
    }
    Ok(vectors)
}

/// Mem0's newline handling for providers that flatten text: newlines become spaces.
pub fn flatten_newlines(texts: &[String]) -> Vec<String> {
    texts.iter().map(|t| t.replace('\n', " ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::config::test_block;
    use serde_json::{json, Value};

    fn block(config: Value) -> ProviderBlock {
        test_block("local_embedder_json", "gemini", config)
    }

    #[test]
    fn keys_are_checked() {
        let err = BaseKeys::from_block(&block(json!({"embedding_dims": 0}))).unwrap_err().to_string();
        assert!(err.contains("embedding_dims must be at least 1"), "{err}");
        let keys = BaseKeys::from_block(&block(json!({"batch_size": 500}))).unwrap();
        let err = keys.batch_size(&block(json!({})), 10, 100).unwrap_err().to_string();
        assert!(err.contains("batch_size must be between 1 and 100, got 500"), "{err}");
        assert_eq!(BaseKeys::default().batch_size(&block(json!({})), 10, 100).unwrap(), 10);
    }

    #[test]
    fn task_types_default_and_validate() {
        let types = TaskTypes::from_block(
            &block(json!({"memory_search_embedding_type": "question_answering"})),
            TaskTypes::retrieval(),
        )
        .unwrap();
        assert_eq!(types.for_purpose(EmbedPurpose::Search), Some("QUESTION_ANSWERING"));
        assert_eq!(types.for_purpose(EmbedPurpose::Update), Some("RETRIEVAL_DOCUMENT"));
        assert_eq!(TaskTypes::default().for_purpose(EmbedPurpose::Add), None);
        let err = TaskTypes::from_block(&block(json!({"memory_add_embedding_type": "FAST"})), TaskTypes::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("memory_add_embedding_type must be one of RETRIEVAL_DOCUMENT"), "{err}");
    }

    #[test]
    fn vectors_are_counted_and_sized() {
        assert!(check_vectors(vec![vec![1.0, 2.0]], 1, 2).is_ok());
        let err = check_vectors(vec![vec![1.0]], 1, 2).unwrap_err().to_string();
        assert!(err.contains("embedding 0 has 1 dimensions but embedding_dims is 2"), "{err}");
        assert!(check_vectors(vec![], 1, 2).unwrap_err().to_string().contains("asked for 1 embeddings, got 0"));
        assert_eq!(flatten_newlines(&["a\nb".to_owned()]), vec!["a b".to_owned()]);
    }
}
