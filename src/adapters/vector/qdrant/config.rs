//! The `qdrant` block: Mem0's keys (`collection_name`, `embedding_model_dims`, `url` or `host` + `port`,
//! `api_key`, `https`, `on_disk`, `path`, `client`) plus our `timeout`, `max_retries` and
//! `http_client_proxies`. The server address follows the Python client: a scheme in `url` wins, else
//! `https` when set, else HTTPS exactly when an `api_key` is given; port 6333 unless one is given.
//! Local mode (`path` alone) runs Qdrant inside the Python process and cannot be offered here.

use crate::adapters::config::{
    self, check_base_url, check_keys, config_error, count_or, is_store_name, non_blank, reject_client, HttpKeys,
};
use crate::adapters::http::HttpSettings;
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

/// Mem0's keys, then ours.
pub const ALLOWED_KEYS: &[&str] = &[
    "collection_name",
    "embedding_model_dims",
    "client",
    "host",
    "port",
    "path",
    "url",
    "api_key",
    "https",
    "on_disk",
    "http_client_proxies",
    "timeout",
    "max_retries",
];

/// Mem0's collection name.
pub(super) const DEFAULT_COLLECTION: &str = "mem0";
/// Mem0's `embedding_model_dims`.
pub(super) const DEFAULT_DIMS: usize = 1536;
/// Qdrant's REST port.
pub(super) const DEFAULT_PORT: u16 = 6333;
/// Qdrant's largest vector size.
pub(super) const MAX_DIMS: usize = 65_536;

/// A checked `qdrant` block.
#[derive(Debug, Clone)]
pub struct QdrantConfig {
    /// `collection_name`.
    pub collection: String,
    /// `embedding_model_dims`.
    pub dims: usize,
    /// The server's REST base URL (scheme, host, port, optional path prefix).
    pub base_url: String,
    /// `api_key`, sent as the `api-key` header.
    pub api_key: Option<SecretString>,
    /// `on_disk`: vectors of a created collection are kept on disk.
    pub on_disk: bool,
    /// Timeout, retries, proxies.
    pub http: HttpSettings,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Keys {
    collection_name: Option<String>,
    embedding_model_dims: Option<usize>,
    client: Value,
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    url: Option<String>,
    api_key: Option<SecretString>,
    https: Option<bool>,
    on_disk: Option<bool>,
}

/// Reads and checks a `qdrant` block.
pub fn from_block(block: &ProviderBlock) -> Result<QdrantConfig, BuildError> {
    check_keys(block, ALLOWED_KEYS)?;
    let keys: Keys = config::deserialize(block)?;
    let http = HttpKeys::from_block(block)?.settings(block)?;
    let bad = |message: String| config_error(block, message);

    reject_client(block, &keys.client, "set url or host and port")?;
    let collection = non_blank(keys.collection_name).unwrap_or_else(|| DEFAULT_COLLECTION.to_owned());
    if !is_store_name(&collection, 255) {
        return Err(bad(format!("collection_name must be 1-255 letters, digits, '_', '-' or '.', got {collection:?}")));
    }
    let dims = count_or(block, "embedding_model_dims", keys.embedding_model_dims, DEFAULT_DIMS, MAX_DIMS)?;
    let api_key =
        keys.api_key.map(|k| k.expose_secret().trim().to_owned()).filter(|k| !k.is_empty()).map(SecretString::from);
    let https = keys.https.unwrap_or(api_key.is_some());
    let scheme = if https { "https" } else { "http" };
    let url = non_blank(keys.url);
    let host = non_blank(keys.host);
    let base_url = match (url, host) {
        (Some(_), Some(_)) => return Err(bad("set either url or host (with port), not both".into())),
        (Some(url), None) => {
            let with_scheme = if url.contains("://") { url } else { format!("{scheme}://{url}") };
            let mut parsed = reqwest::Url::parse(&with_scheme).map_err(|e| {
                bad(format!("url must be a URL such as http://localhost:6333 ({e}), got {with_scheme:?}"))
            })?;
            if !has_explicit_port(&with_scheme) {
                parsed
                    .set_port(Some(DEFAULT_PORT))
                    .map_err(|_| bad(format!("url cannot take a port: {with_scheme:?}")))?;
            }
            check_base_url(block, "url", parsed.as_str())?
        }
        (None, Some(host)) if host.contains("://") => {
            return Err(bad(format!("host must not contain a scheme (got {host:?}); use url for a full address")))
        }
        (None, Some(host)) => {
            let port = keys.port.unwrap_or(DEFAULT_PORT);
            check_base_url(block, "host", &format!("{scheme}://{host}:{port}"))?
        }
        (None, None) if keys.path.is_some() => {
            return Err(bad(
                "path (Qdrant local mode, which runs inside Mem0's Python process) is not supported: run a Qdrant \
                 server and set url (or host and port)"
                    .into(),
            ))
        }
        (None, None) => return Err(bad("url (or host and port) of the Qdrant server is required".into())),
    };
    Ok(QdrantConfig { collection, dims, base_url, api_key, on_disk: keys.on_disk.unwrap_or(false), http })
}

/// True when the URL's authority names a port (the URL parser drops a default one like `:80`).
fn has_explicit_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.strip_prefix('[') {
        Some(ipv6) => ipv6.split_once(']').is_some_and(|(_, after)| after.starts_with(':')),
        None => host_port.contains(':'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(config: Value) -> Result<QdrantConfig, BuildError> {
        let block = ProviderBlock::parse("local_vector_db_json", &json!({"provider": "qdrant", "config": config}))
            .unwrap()
            .unwrap();
        from_block(&block)
    }

    fn url(config: Value) -> String {
        build(config).unwrap().base_url
    }

    #[test]
    fn addresses_follow_the_python_client() {
        assert_eq!(url(json!({"host": "localhost", "port": 6333})), "http://localhost:6333");
        assert_eq!(url(json!({"host": "q", "port": 7000, "api_key": "k-123456"})), "https://q:7000");
        assert_eq!(url(json!({"host": "q", "api_key": "k-123456", "https": false})), "http://q:6333");
        assert_eq!(url(json!({"url": "http://127.0.0.1:9999"})), "http://127.0.0.1:9999");
        assert_eq!(
            url(json!({"url": "https://xyz.cloud.qdrant.io", "api_key": "k-123456"})),
            "https://xyz.cloud.qdrant.io:6333"
        );
        assert_eq!(url(json!({"url": "localhost:7000"})), "http://localhost:7000");
        assert_eq!(url(json!({"url": "http://proxy:80/qdrant/"})), "http://proxy/qdrant");
        assert_eq!(url(json!({"url": "http://[::1]"})), "http://[::1]:6333");
        let config = build(json!({"url": "http://q:1", "path": "/tmp/qdrant", "on_disk": true})).unwrap();
        assert!(config.on_disk && config.collection == "mem0" && config.dims == 1536);
    }

    #[test]
    fn mistakes_name_the_key() {
        let err = |config: Value| build(config).unwrap_err().to_string();
        assert!(err(json!({"path": "/tmp/qdrant"})).contains("path (Qdrant local mode"));
        assert!(err(json!({})).contains("url (or host and port)"));
        assert!(err(json!({"url": "http://a:1", "host": "b"})).contains("either url or host"));
        assert!(err(json!({"host": "http://b"})).contains("host must not contain a scheme"));
        assert!(err(json!({"url": "http://a:1", "collection_name": "a/b"})).contains("collection_name must be"));
        assert!(err(json!({"url": "http://a:1", "embedding_model_dims": 0})).contains("embedding_model_dims"));
        assert!(err(json!({"url": "http://a:1", "port": "x"})).contains("port: invalid type"));
        assert!(err(json!({"url": "http://a:1", "prefer_grpc": true})).contains("unknown key \"prefer_grpc\""));
        assert!(err(json!({"url": "http://a:1", "client": "x"})).contains("client cannot be given"));
    }
}
