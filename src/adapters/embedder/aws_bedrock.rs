//! Embeddings through Amazon Bedrock's InvokeModel (`POST /model/{modelId}/invoke`), signed with SigV4
//! or sent with a Bedrock API key: Amazon Titan text models (one text per request, as in Mem0) and
//! Cohere Embed models (up to 96 texts per request).
//!
//! Config keys are Mem0's: `model` (default `amazon.titan-embed-text-v1`), `embedding_dims` (sent as
//! `dimensions` to Titan v2 models when set), `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `aws_region` (else the `AWS_*` variables; region default `us-west-2`),
//! `http_client_proxies`; ours: `aws_bedrock_base_url` (else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`),
//! `batch_size` (Cohere only; default and most 96), `timeout`, `max_retries`. `api_key` is a Bedrock API
//! key. The size defaults to the model's (Titan v1 1536, Titan v2 1024, Cohere v3 1024); other models
//! need `embedding_dims`. Cohere gets `input_type` `search_query` for searches, `search_document`
//! otherwise (Mem0 always sends `search_document`).

use super::base::{allowed_keys, in_batches, BaseKeys};
use crate::adapters::config::{self, check_keys, config_error, HttpKeys};
use crate::adapters::http::{HttpClient, RetryPolicy, JSON};
use crate::adapters::registry::BuildContext;
use crate::adapters::vendors::aws::{self, encode_segment, AwsAccess};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use crate::ports::embedder::{EmbedError, EmbedPurpose, Embedder};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `provider` names this adapter serves.
pub const PROVIDERS: &[&str] = &["aws_bedrock"];
/// Mem0's default model.
pub const DEFAULT_MODEL: &str = "amazon.titan-embed-text-v1";
/// The most texts one Cohere request takes.
pub const MAX_COHERE_BATCH: usize = 96;

/// How a model family takes its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `{"inputText"}` → `{"embedding"}`, one text per request.
    Titan,
    /// `{"texts", "input_type"}` → `{"embeddings"}`.
    Cohere,
}

/// An embedding model on Amazon Bedrock.
#[derive(Debug)]
pub struct BedrockEmbedder {
    access: AwsAccess,
    url: String,
    model: String,
    family: Family,
    dims: usize,
    send_dimensions: bool,
    batch_size: usize,
    http: HttpClient,
}

#[derive(Deserialize)]
struct TitanAnswer {
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct CohereAnswer {
    embeddings: Vec<Vec<f32>>,
}

impl BedrockEmbedder {
    /// Builds the adapter from a block, with fallbacks from the context's environment. Nothing is contacted.
    pub fn from_block(block: &ProviderBlock, context: &BuildContext) -> Result<Self, BuildError> {
        let env = context.env();
        check_keys(block, &keys(&block.provider))?;
        let keys = BaseKeys::from_block(block)?;
        let settings = HttpKeys::from_block(block)?.settings(block)?;
        let access = AwsAccess::from_block(block, "bedrock", keys.api_key.as_ref(), env)?;
        let default_base = format!("https://bedrock-runtime.{}.amazonaws.com", access.region);
        let base_url =
            config::base_url(block, "aws_bedrock_base_url", &["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"], env, &default_base)?;
        let model = keys.model_or(DEFAULT_MODEL);
        let lower = model.to_ascii_lowercase();
        let family = if lower.contains("cohere.") { Family::Cohere } else { Family::Titan };
        let titan_v2 = lower.contains("titan-embed-text-v2");
        let known_dims = if titan_v2 || family == Family::Cohere {
            Some(1024)
        } else if lower.contains("titan-embed-text-v1") || lower.contains("titan-embed-g1-text") {
            Some(1536)
        } else {
            None
        };
        let dims = keys.embedding_dims.or(known_dims).ok_or_else(|| {
            config_error(block, format!("embedding_dims is required for {model:?}: its vector size is not known here"))
        })?;
        let batch_size = match family {
            Family::Cohere => keys.batch_size(block, MAX_COHERE_BATCH, MAX_COHERE_BATCH)?,
            Family::Titan => 1,
        };
        let http = HttpClient::new("bedrock embed", &settings).map_err(|e| config_error(block, e.to_string()))?;
        Ok(Self {
            url: format!("{base_url}/model/{}/invoke", encode_segment(&model)),
            http: access.register_secrets(http),
            access,
            send_dimensions: titan_v2 && keys.embedding_dims.is_some(),
            model,
            family,
            dims,
            batch_size,
        })
    }

    /// Replaces the retry policy (tests use fast backoffs).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// The full URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn invoke<T: DeserializeOwned>(&self, body: &Value) -> Result<T, EmbedError> {
        let body =
            serde_json::to_vec(body).map_err(|e| EmbedError::Protocol(format!("unserializable request: {e}")))?;
        let headers = self.access.auth_headers("POST", &self.url, &body).map_err(EmbedError::Protocol)?;
        Ok(self.http.post_bytes(&self.url, &headers, JSON, body).await?)
    }

    async fn embed_chunk(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        match self.family {
            Family::Cohere => {
                let input_type = if purpose == EmbedPurpose::Search { "search_query" } else { "search_document" };
                let answer: CohereAnswer = self.invoke(&json!({"texts": texts, "input_type": input_type})).await?;
                Ok(answer.embeddings)
            }
            Family::Titan => {
                let mut vectors = Vec::with_capacity(texts.len());
                for text in texts {
                    let mut body = json!({"inputText": text});
                    if self.send_dimensions {
                        body["dimensions"] = json!(self.dims);
                    }
                    let answer: TitanAnswer = self.invoke(&body).await?;
                    vectors.push(answer.embedding);
                }
                Ok(vectors)
            }
        }
    }
}

#[async_trait]
impl Embedder for BedrockEmbedder {
    async fn embed(&self, texts: &[String], purpose: EmbedPurpose) -> Result<Vec<Vec<f32>>, EmbedError> {
        let vectors = in_batches(texts, self.batch_size, self.dims, |chunk| self.embed_chunk(chunk, purpose)).await?;
        tracing::debug!(provider = "aws_bedrock", model = %self.model, count = texts.len(), ?purpose, "embedded");
        Ok(vectors)
    }

    fn dimensions(&self) -> usize {
        self.dims
    }
}

/// The config keys this adapter accepts for `provider` (its registry entry lists them; the
/// constructor rejects any other, naming it).
pub fn keys(_provider: &str) -> Vec<&'static str> {
    let extra: Vec<&str> = aws::KEYS.iter().copied().chain(["aws_bedrock_base_url"]).collect();
    allowed_keys(&extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(config: Value) -> Result<BedrockEmbedder, BuildError> {
        let block = ProviderBlock::parse("local_embedder_json", &json!({"provider": "aws_bedrock", "config": config}))
            .unwrap()
            .unwrap();
        BedrockEmbedder::from_block(&block, &crate::adapters::config::test_context(&[]))
    }

    #[test]
    fn sizes_and_families_follow_the_model() {
        let e = build(json!({"api_key": "b-123456"})).unwrap();
        assert_eq!((e.dimensions(), e.family, e.batch_size), (1536, Family::Titan, 1));
        assert_eq!(e.url(), "https://bedrock-runtime.us-west-2.amazonaws.com/model/amazon.titan-embed-text-v1/invoke");
        let e = build(json!({"api_key": "b-123456", "model": "amazon.titan-embed-text-v2:0", "embedding_dims": 256}))
            .unwrap();
        assert!(e.send_dimensions && e.url().ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke"));
        let e = build(json!({"api_key": "b-123456", "model": "cohere.embed-multilingual-v3"})).unwrap();
        assert_eq!((e.dimensions(), e.family, e.batch_size), (1024, Family::Cohere, 96));
        let err = build(json!({"api_key": "b-123456", "model": "twelvelabs.marengo"})).unwrap_err().to_string();
        assert!(err.contains("embedding_dims is required"), "{err}");
    }
}
