//! The `pinecone` block: Mem0's keys (`collection_name`, `embedding_model_dims`, `api_key` /
//! `PINECONE_API_KEY`, `environment`, `serverless_config` / `pod_config`, `hybrid_search`, `metric`,
//! `batch_size`, `extra_params`, `namespace`, `client`) plus our `timeout`, `max_retries` and
//! `http_client_proxies`.

use crate::adapters::config::{
    self, check_base_url, check_keys, config_error, count_or, non_blank, reject_client, secret_or_env, HttpKeys,
};
use crate::adapters::http::{parse_proxies, HttpSettings};
use crate::adapters::registry::Environment;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Mem0's keys, then ours.
pub const ALLOWED_KEYS: &[&str] = &[
    "collection_name",
    "embedding_model_dims",
    "client",
    "api_key",
    "environment",
    "serverless_config",
    "pod_config",
    "hybrid_search",
    "metric",
    "batch_size",
    "extra_params",
    "namespace",
    "http_client_proxies",
    "timeout",
    "max_retries",
];

/// Keys accepted inside `extra_params` (the Pinecone client's constructor arguments we honour).
pub const EXTRA_PARAMS_KEYS: &[&str] = &["host", "additional_headers", "source_tag", "proxy_url", "pool_threads"];

/// The control plane when neither `extra_params.host` nor `PINECONE_CONTROLLER_HOST` is set.
pub(super) const DEFAULT_CONTROLLER_URL: &str = "https://api.pinecone.io";
/// Mem0's index name.
pub(super) const DEFAULT_INDEX_NAME: &str = "mem0";
/// Mem0's `embedding_model_dims`.
pub(super) const DEFAULT_DIMS: usize = 1536;
/// Mem0's `batch_size` (vectors per upsert).
pub(super) const DEFAULT_BATCH_SIZE: usize = 100;
/// Pinecone's limit of vectors per upsert.
pub(super) const MAX_BATCH_SIZE: usize = 1000;
/// Pinecone's largest dense dimension.
pub(super) const MAX_DIMS: usize = 20_000;
/// Longest index name Pinecone accepts.
pub(super) const MAX_INDEX_NAME_LEN: usize = 45;

/// How Pinecone compares vectors (`metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity (Mem0's default): the score is the similarity.
    Cosine,
    /// Dot product: a similarity for normalised embeddings.
    DotProduct,
    /// Squared Euclidean distance: lower is closer.
    Euclidean,
}

impl Metric {
    /// Parses Pinecone's name of a metric.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cosine" => Some(Metric::Cosine),
            "dotproduct" => Some(Metric::DotProduct),
            "euclidean" => Some(Metric::Euclidean),
            _ => None,
        }
    }

    /// Pinecone's name of the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::DotProduct => "dotproduct",
            Metric::Euclidean => "euclidean",
        }
    }
}

/// Where a missing index is created (`serverless_config` or `pod_config`).
#[derive(Debug, Clone, PartialEq)]
pub enum IndexSpec {
    /// `{"serverless": {...}}`.
    Serverless(Map<String, Value>),
    /// `{"pod": {...}}`.
    Pod(Map<String, Value>),
}

impl IndexSpec {
    /// The `spec` object of a create-index request.
    pub fn to_json(&self) -> Value {
        match self {
            IndexSpec::Serverless(spec) => json!({ "serverless": spec }),
            IndexSpec::Pod(spec) => json!({ "pod": spec }),
        }
    }
}

/// A checked `pinecone` block.
#[derive(Debug, Clone)]
pub struct PineconeConfig {
    /// `collection_name`: the index.
    pub index_name: String,
    /// `embedding_model_dims`.
    pub dims: usize,
    /// `api_key` or `PINECONE_API_KEY`.
    pub api_key: SecretString,
    /// How a missing index is created.
    pub spec: IndexSpec,
    /// `metric` of a created index (an existing index's own metric is used for scores).
    pub metric: Metric,
    /// `batch_size`: vectors per upsert.
    pub batch_size: usize,
    /// `namespace` (`None`: the default namespace).
    pub namespace: Option<String>,
    /// Control-plane base URL (`extra_params.host`, `PINECONE_CONTROLLER_HOST`, or Pinecone's).
    pub controller_url: String,
    /// `extra_params.additional_headers`, sent on every request.
    pub additional_headers: Vec<(HeaderName, HeaderValue)>,
    /// `extra_params.source_tag`, appended to the `User-Agent`.
    pub source_tag: Option<String>,
    /// Timeout, retries, proxies.
    pub http: HttpSettings,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    collection_name: Option<String>,
    embedding_model_dims: Option<usize>,
    client: Value,
    api_key: Option<SecretString>,
    /// Accepted for Mem0 compatibility; the pod environment falls back to it.
    environment: Option<String>,
    serverless_config: Option<Map<String, Value>>,
    pod_config: Option<Map<String, Value>>,
    hybrid_search: Option<bool>,
    metric: Option<String>,
    batch_size: Option<usize>,
    extra_params: Option<Map<String, Value>>,
    namespace: Option<String>,
}

/// Reads and checks a `pinecone` block; `env` supplies `PINECONE_API_KEY` and `PINECONE_CONTROLLER_HOST`.
pub fn from_block(block: &ProviderBlock, env: &Environment) -> Result<PineconeConfig, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let keys: Keys = config::deserialize(block)?;
    let http_keys = HttpKeys::from_block(block)?;
    let bad = |message: String| config_error(block, message);

    reject_client(block, &keys.client, "set api_key instead")?;
    let index_name = non_blank(keys.collection_name).unwrap_or_else(|| DEFAULT_INDEX_NAME.to_owned());
    let valid_name = index_name.len() <= MAX_INDEX_NAME_LEN
        && index_name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name {
        return Err(bad(format!(
            "collection_name is the Pinecone index name: at most {MAX_INDEX_NAME_LEN} lower-case letters, digits \
             and '-', got {index_name:?}"
        )));
    }
    let dims = count_or(block, "embedding_model_dims", keys.embedding_model_dims, DEFAULT_DIMS, MAX_DIMS)?;
    let api_key = secret_or_env(keys.api_key.as_ref(), &["PINECONE_API_KEY"], env).ok_or_else(|| {
        bad("api_key is required: set it in the config or in the PINECONE_API_KEY environment variable".into())
    })?;
    let metric = match keys.metric.as_deref() {
        None => Metric::Cosine,
        Some(name) => Metric::parse(name)
            .ok_or_else(|| bad(format!("metric must be \"cosine\", \"dotproduct\" or \"euclidean\", got {name:?}")))?,
    };
    let batch_size = count_or(block, "batch_size", keys.batch_size, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE)?;
    let spec = index_spec(block, keys.serverless_config, keys.pod_config, keys.environment)?;
    if keys.hybrid_search == Some(true) {
        tracing::warn!("pinecone: hybrid_search has no effect here (keyword search is not used; Mem0 never sends sparse values either)");
    }

    let mut http = http_keys.settings(block)?;
    let extra = ExtraParams::read(block, keys.extra_params.unwrap_or_default(), env)?;
    if let Some(proxy) = extra.proxy_url {
        if !http.proxies.is_empty() {
            return Err(bad("set either http_client_proxies or extra_params.proxy_url, not both".into()));
        }
        http.proxies = parse_proxies(&Value::String(proxy))
            .map_err(|message| bad(format!("extra_params.proxy_url: {message}")))?;
    }
    Ok(PineconeConfig {
        index_name,
        dims,
        api_key,
        spec,
        metric,
        batch_size,
        namespace: non_blank(keys.namespace),
        controller_url: extra.controller_url,
        additional_headers: extra.additional_headers,
        source_tag: extra.source_tag,
        http,
    })
}

fn index_spec(
    block: &ProviderBlock,
    serverless: Option<Map<String, Value>>,
    pod: Option<Map<String, Value>>,
    environment: Option<String>,
) -> Result<IndexSpec, BuildError> {
    let bad = |message: String| config_error(block, message);
    let text = |spec: &Map<String, Value>, key: &str| {
        spec.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).is_some()
    };
    match (serverless, pod) {
        (Some(_), Some(_)) => Err(bad("set either serverless_config or pod_config, not both".into())),
        (Some(spec), None) => {
            if !(text(&spec, "cloud") && text(&spec, "region")) {
                return Err(bad(
                    "serverless_config must name cloud and region, e.g. {\"cloud\": \"aws\", \"region\": \"us-east-1\"}"
                        .into(),
                ));
            }
            Ok(IndexSpec::Serverless(spec))
        }
        (None, Some(mut spec)) => {
            if !text(&spec, "environment") {
                match non_blank(environment) {
                    Some(env) => {
                        spec.insert("environment".into(), Value::String(env));
                    }
                    None => {
                        return Err(bad(
                            "pod_config must name an environment, e.g. {\"environment\": \"us-east-1-aws\"}".into(),
                        ))
                    }
                }
            }
            // The Pinecone client's PodSpec defaults.
            for (key, default) in
                [("pod_type", json!("p1.x1")), ("replicas", json!(1)), ("shards", json!(1)), ("pods", json!(1))]
            {
                spec.entry(key).or_insert(default);
            }
            Ok(IndexSpec::Pod(spec))
        }
        (None, None) => {
            let mut spec = Map::new();
            spec.insert("cloud".into(), json!("aws"));
            spec.insert("region".into(), json!("us-west-2"));
            Ok(IndexSpec::Serverless(spec))
        }
    }
}

/// The honoured part of `extra_params`.
struct ExtraParams {
    controller_url: String,
    additional_headers: Vec<(HeaderName, HeaderValue)>,
    source_tag: Option<String>,
    proxy_url: Option<String>,
}

impl ExtraParams {
    fn read(block: &ProviderBlock, extra: Map<String, Value>, env: &Environment) -> Result<Self, BuildError> {
        let bad = |message: String| config_error(block, message);
        if let Some(key) = extra.keys().find(|k| !EXTRA_PARAMS_KEYS.contains(&k.as_str())) {
            return Err(bad(format!(
                "extra_params: unknown key {key:?}; allowed keys are {}",
                EXTRA_PARAMS_KEYS.join(", ")
            )));
        }
        let string = |key: &str| -> Result<Option<String>, BuildError> {
            match extra.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(non_blank(Some(s.clone()))),
                Some(_) => Err(bad(format!("extra_params.{key} must be a string"))),
            }
        };
        let host = string("host")?.or_else(|| env.var("PINECONE_CONTROLLER_HOST"));
        let controller_url = match host {
            None => DEFAULT_CONTROLLER_URL.to_owned(),
            Some(host) if host.starts_with("http://") || host.starts_with("https://") => {
                check_base_url(block, "extra_params.host", &host)?
            }
            Some(host) => check_base_url(block, "extra_params.host", &format!("https://{host}"))?,
        };
        let mut additional_headers = Vec::new();
        match extra.get("additional_headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(headers)) => {
                for (name, value) in headers {
                    let header = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| bad(format!("extra_params.additional_headers: {name:?} is not a header name")))?;
                    let value = value.as_str().and_then(|v| HeaderValue::from_str(v).ok()).ok_or_else(|| {
                        bad(format!("extra_params.additional_headers.{name} must be a header-safe string"))
                    })?;
                    additional_headers.push((header, value));
                }
            }
            Some(_) => return Err(bad("extra_params.additional_headers must be an object of strings".into())),
        }
        if extra.get("pool_threads").is_some_and(|v| !v.is_null() && !v.is_u64()) {
            return Err(bad("extra_params.pool_threads must be a whole number".into()));
        }
        Ok(Self {
            controller_url,
            additional_headers,
            source_tag: string("source_tag")?,
            proxy_url: string("proxy_url")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn build(config: Value, env: &[(&str, &str)]) -> Result<PineconeConfig, BuildError> {
        let block = ProviderBlock::parse("local_vector_db_json", &json!({"provider": "pinecone", "config": config}))
            .unwrap()
            .unwrap();
        from_block(&block, &Environment::from_pairs(env.iter().copied()))
    }

    fn err(config: Value) -> String {
        build(config, &[]).unwrap_err().to_string()
    }

    #[test]
    fn defaults_follow_mem0() {
        let config = build(json!({}), &[("PINECONE_API_KEY", "pk-123456")]).unwrap();
        assert_eq!((config.index_name.as_str(), config.dims, config.batch_size), ("mem0", 1536, 100));
        assert_eq!(config.metric, Metric::Cosine);
        assert_eq!(config.spec.to_json(), json!({"serverless": {"cloud": "aws", "region": "us-west-2"}}));
        assert_eq!(config.controller_url, "https://api.pinecone.io");
        assert_eq!(config.api_key.expose_secret(), "pk-123456");
        assert_eq!(config.namespace, None);
    }

    #[test]
    fn specs_and_extra_params_are_read() {
        let config = build(
            json!({"api_key": "k-123456", "pod_config": {"pod_type": "s1.x1"}, "environment": "us-east-1-aws",
                   "namespace": "team", "metric": "dotproduct",
                   "extra_params": {"host": "localhost:5080", "additional_headers": {"x-team": "a"}, "source_tag": "dify"}}),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.spec.to_json(),
            json!({"pod": {"pod_type": "s1.x1", "environment": "us-east-1-aws", "replicas": 1, "shards": 1, "pods": 1}})
        );
        assert_eq!(config.controller_url, "https://localhost:5080");
        assert_eq!(config.additional_headers[0].0.as_str(), "x-team");
        assert_eq!((config.namespace.as_deref(), config.metric), (Some("team"), Metric::DotProduct));
        let config =
            build(json!({"api_key": "k-123456"}), &[("PINECONE_CONTROLLER_HOST", "http://127.0.0.1:9")]).unwrap();
        assert_eq!(config.controller_url, "http://127.0.0.1:9");
    }

    #[test]
    fn mistakes_name_the_key() {
        assert!(err(json!({})).contains("api_key is required") && err(json!({})).contains("PINECONE_API_KEY"));
        let e = err(json!({"api_key": "k-123456", "collection_name": "mem0_memories"}));
        assert!(e.contains("collection_name is the Pinecone index name"), "{e}");
        let e = err(json!({"api_key": "k-123456", "serverless_config": {"cloud": "aws"}, "pod_config": {}}));
        assert!(e.contains("either serverless_config or pod_config"), "{e}");
        let e = err(json!({"api_key": "k-123456", "serverless_config": {"cloud": "aws"}}));
        assert!(e.contains("serverless_config must name cloud and region"), "{e}");
        let e = err(json!({"api_key": "k-123456", "pod_config": {}}));
        assert!(e.contains("pod_config must name an environment"), "{e}");
        let e = err(json!({"api_key": "k-123456", "metric": "l2"}));
        assert!(e.contains("metric must be"), "{e}");
        let e = err(json!({"api_key": "k-123456", "batch_size": 5000}));
        assert!(e.contains("batch_size must be between 1 and 1000"), "{e}");
        let e = err(json!({"api_key": "k-123456", "embedding_model_dims": 0}));
        assert!(e.contains("embedding_model_dims must be between"), "{e}");
        let e = err(json!({"api_key": "k-123456", "extra_params": {"ssl_verify": false}}));
        assert!(e.contains("extra_params: unknown key \"ssl_verify\"") && e.contains("proxy_url"), "{e}");
        let e = err(json!({"api_key": "k-123456", "indexname": "x"}));
        assert!(e.starts_with("local_vector_db_json: unknown key \"indexname\""), "{e}");
        let e = err(json!({"api_key": "k-123456", "client": {}}));
        assert!(e.contains("client cannot be given in JSON"), "{e}");
        let e = err(
            json!({"api_key": "k-123456", "http_client_proxies": "http://p:1", "extra_params": {"proxy_url": "http://q:2"}}),
        );
        assert!(e.contains("not both"), "{e}");
        let e = err(json!({"api_key": ["pk-secret-in-list"]}));
        assert!(e.contains("api_key has the wrong type") && !e.contains("pk-secret"), "{e}");
    }
}
