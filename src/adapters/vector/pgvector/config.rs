//! The pgvector block's `config`, with Mem0's key names and defaults (mem0 `PGVectorConfig`).

use crate::adapters::config::check_keys;
use crate::adapters::postgres::identifier::CollectionName;
use crate::adapters::postgres::{ConnectionSettings, SslMode};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use serde_json::{Map, Value};

/// The keys a pgvector block may hold (`database` is the seed plugin's alias of `dbname`).
pub const ALLOWED_KEYS: &[&str] = &[
    "dbname",
    "database",
    "user",
    "password",
    "host",
    "port",
    "sslmode",
    "connection_string",
    "collection_name",
    "embedding_model_dims",
    "hnsw",
    "diskann",
    "minconn",
    "maxconn",
];

/// Largest dimension pgvector's `vector` type stores.
pub const MAX_DIMS: usize = 16_000;
/// Largest dimension an HNSW (or DiskANN) index on `vector` accepts; above it searches are exact scans.
pub const MAX_INDEXED_DIMS: usize = 2_000;

/// How searches trade speed for recall. Not configurable from JSON (Mem0 has no such keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchTuning {
    /// Scopes holding at most this many memories are searched exactly (every vector compared).
    pub exact_scan_limit: usize,
    /// `hnsw.ef_search` for larger scopes (raised to the limit when the limit is larger).
    pub ef_search: usize,
    /// `hnsw.max_scan_tuples` for larger scopes' iterative index scans.
    pub max_scan_tuples: usize,
}

impl Default for SearchTuning {
    fn default() -> Self {
        // Exact scans cost about 8 µs per 1536-dimension row (≈80 ms for 10k rows) and are always
        // right; beyond that, iterative HNSW scans keep a big scope fast (measured: tests/serial/pgvector_store.rs).
        Self { exact_scan_limit: 10_000, ef_search: 200, max_scan_tuples: 100_000 }
    }
}

/// A validated pgvector configuration.
#[derive(Debug, Clone)]
pub struct PgVectorConfig {
    /// Where to connect.
    pub connection: ConnectionSettings,
    /// The table (Mem0's `collection_name`, default `mem0`).
    pub collection_name: CollectionName,
    /// The vector dimension (`embedding_model_dims`, default 1536).
    pub embedding_model_dims: usize,
    /// Build an HNSW index (default true).
    pub hnsw: bool,
    /// Build a DiskANN index with pgvectorscale instead, when installed (default false).
    pub diskann: bool,
    /// Connections opened when the store gets ready (`minconn`, default 1); more open on demand.
    pub minconn: usize,
    /// Most pooled connections (`maxconn`, default 5).
    pub maxconn: usize,
    /// Search strategy thresholds.
    pub search: SearchTuning,
}

/// Parses a pgvector block's `config`. Unknown keys, wrong types and missing credentials are
/// reported with the key's name; nothing is contacted.
pub fn from_block(block: &ProviderBlock) -> Result<PgVectorConfig, BuildError> {
    let field = block.field;
    let err = |message: String| BuildError::Config { field, message };
    let config = Keys { map: &block.config, field };
    for (key, hint) in [
        ("connection_pool", "a pool object cannot be given as JSON; use connection_string"),
        ("metric", "pgvector always uses cosine distance"),
    ] {
        if block.config.contains_key(key) {
            return Err(err(format!(
                "unknown key {key:?} for provider \"pgvector\" ({hint}); allowed keys are {}",
                ALLOWED_KEYS.join(", ")
            )));
        }
    }
    check_keys(block, ALLOWED_KEYS)?;
    let sslmode = match config.string("sslmode")? {
        None => None,
        Some(raw) => Some(
            SslMode::parse(&raw)
                .ok_or_else(|| err(format!("sslmode must be one of {}, got {raw:?}", SslMode::ALLOWED)))?,
        ),
    };
    let dbname = match (config.string("dbname")?, config.string("database")?) {
        (Some(_), Some(_)) => return Err(err("give dbname or its alias database, not both".into())),
        (a, b) => a.or(b),
    };
    let connection = match config.string("connection_string")? {
        Some(raw) => {
            let ignored: Vec<&str> = ["dbname", "database", "user", "password", "host", "port"]
                .into_iter()
                .filter(|k| config.map.get(*k).is_some_and(|v| !v.is_null()))
                .collect();
            if !ignored.is_empty() {
                tracing::warn!(keys = ?ignored, "pgvector: connection_string is given, so these keys are ignored (as in Mem0)");
            }
            ConnectionSettings::from_connection_string(&raw, sslmode)
                .map_err(|m| err(format!("connection_string {m}")))?
        }
        None => {
            let user = config.string("user")?.ok_or_else(|| {
                err("user is required unless connection_string is given (keys: host, port, user, password, dbname)"
                    .into())
            })?;
            let port = config.port()?.unwrap_or(5432);
            let host = config.string("host")?.unwrap_or_else(|| "localhost".into());
            ConnectionSettings::from_parts(
                &host,
                port,
                &user,
                config.string("password")?.as_deref(),
                dbname.as_deref().unwrap_or("postgres"),
                sslmode.unwrap_or(SslMode::Prefer),
            )
        }
    };
    let collection = config.string("collection_name")?.unwrap_or_else(|| "mem0".into());
    let collection_name = CollectionName::parse(&collection).map_err(|m| err(format!("collection_name {m}")))?;
    let embedding_model_dims = config.count("embedding_model_dims", 1, MAX_DIMS)?.unwrap_or(1536);
    let minconn = config.count("minconn", 0, 1000)?.unwrap_or(1);
    let maxconn = config.count("maxconn", 1, 1000)?.unwrap_or(5);
    if minconn > maxconn {
        return Err(err(format!("minconn ({minconn}) must not exceed maxconn ({maxconn})")));
    }
    Ok(PgVectorConfig {
        connection,
        collection_name,
        embedding_model_dims,
        hnsw: config.flag("hnsw")?.unwrap_or(true),
        diskann: config.flag("diskann")?.unwrap_or(false),
        minconn,
        maxconn,
        search: SearchTuning::default(),
    })
}

/// Typed access to the config keys; `null` means absent.
struct Keys<'a> {
    map: &'a Map<String, Value>,
    field: &'static str,
}

impl Keys<'_> {
    fn bad(&self, key: &str, expected: &str, got: &Value) -> BuildError {
        let got = match got {
            Value::String(_) => "a string".to_owned(),
            Value::Number(n) => format!("the number {n}"),
            Value::Bool(b) => format!("{b}"),
            Value::Array(_) => "a list".to_owned(),
            Value::Object(_) => "an object".to_owned(),
            Value::Null => "null".to_owned(),
        };
        BuildError::Config { field: self.field, message: format!("{key} must be {expected}, got {got}") }
    }

    fn string(&self, key: &str) -> Result<Option<String>, BuildError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if key == "password" => Ok(Some(s.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(Value::Number(n)) if key == "password" => Ok(Some(n.to_string())),
            Some(other) => Err(self.bad(key, "a string", other)),
        }
    }

    fn count(&self, key: &str, min: usize, max: usize) -> Result<Option<usize>, BuildError> {
        let value = match self.map.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v,
        };
        let parsed = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match parsed.and_then(|n| usize::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(self.bad(key, &format!("a whole number from {min} to {max}"), value)),
        }
    }

    fn port(&self) -> Result<Option<u16>, BuildError> {
        Ok(self.count("port", 1, u16::MAX as usize)?.and_then(|p| u16::try_from(p).ok()))
    }

    fn flag(&self, key: &str) -> Result<Option<bool>, BuildError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v @ Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(self.bad(key, "true or false", v)),
            },
            Some(v @ Value::Number(n)) => match n.as_u64() {
                Some(1) => Ok(Some(true)),
                Some(0) => Ok(Some(false)),
                _ => Err(self.bad(key, "true or false", v)),
            },
            Some(other) => Err(self.bad(key, "true or false", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credentials::VECTOR_STORE;
    use serde_json::json;

    fn parse(config: Value) -> Result<PgVectorConfig, BuildError> {
        let block =
            ProviderBlock::parse(VECTOR_STORE, &json!({"provider": "pgvector", "config": config})).unwrap().unwrap();
        from_block(&block)
    }

    fn message(config: Value) -> String {
        parse(config).unwrap_err().to_string()
    }

    #[test]
    fn mem0_keys_and_defaults() {
        let c = parse(json!({"user": "u", "password": "p", "host": "db", "port": "5433", "dbname": "dify"})).unwrap();
        assert_eq!(c.connection.describe(), "u@db:5433/dify");
        assert_eq!(
            (c.collection_name.as_str(), c.embedding_model_dims, c.hnsw, c.diskann),
            ("mem0", 1536, true, false)
        );
        assert_eq!((c.minconn, c.maxconn), (1, 5));
        assert_eq!(c.connection.ssl_mode(), SslMode::Prefer);
        let c = parse(json!({"user": "u", "database": "d", "collection_name": "memories", "embedding_model_dims": 768,
            "hnsw": "false", "diskann": true, "minconn": 2, "maxconn": 10, "sslmode": "verify-full"}))
        .unwrap();
        assert_eq!(c.connection.describe(), "u@localhost:5432/d");
        assert_eq!((c.embedding_model_dims, c.hnsw, c.diskann, c.maxconn), (768, false, true, 10));
        assert_eq!(c.connection.ssl_mode(), SslMode::VerifyFull);
        let c = parse(json!({"connection_string": "postgresql://a:b@h:1/x?sslmode=require"})).unwrap();
        assert_eq!((c.connection.describe(), c.connection.ssl_mode()), ("a@h:1/x".into(), SslMode::Require));
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let m = message(json!({"user": "u", "metric": "cosine"}));
        assert!(m.starts_with("local_vector_db_json: unknown key \"metric\""), "{m}");
        assert!(m.contains("allowed keys are dbname, database, user"), "{m}");
        assert!(message(json!({"user": "u", "port": "x"})).contains("port must be a whole number from 1 to 65535"));
        assert!(message(json!({"user": "u", "embedding_model_dims": 0})).contains("embedding_model_dims"));
        assert!(message(json!({"user": "u", "hnsw": "maybe"})).contains("hnsw must be true or false"));
        assert!(message(json!({"user": "u", "sslmode": "sometimes"})).contains("sslmode must be one of"));
        assert!(message(json!({"user": "u", "minconn": 6})).contains("minconn (6) must not exceed maxconn (5)"));
        assert!(message(json!({"user": "u", "collection_name": "a;b"})).contains("collection_name must be"));
        assert!(message(json!({"host": "h"})).contains("user is required"));
        assert!(message(json!({"user": "u", "dbname": "a", "database": "b"})).contains("not both"));
        assert!(message(json!({"user": 3})).contains("user must be a string, got the number 3"));
    }

    #[test]
    fn errors_never_show_the_password() {
        let m = message(json!({"connection_string": "postgresql://u:hunter2@h/d?bogus=1"}));
        assert!(m.contains("connection_string") && !m.contains("hunter2"), "{m}");
        let c = parse(json!({"user": "u", "password": "hunter2"})).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
