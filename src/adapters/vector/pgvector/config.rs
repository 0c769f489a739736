//! The pgvector block's `config`, with Mem0's key names and defaults (mem0 `PGVectorConfig`).

use crate::adapters::config::{check_keys, count_key, flag_key, string_key, wrong_type};
use crate::adapters::postgres::identifier::CollectionName;
use crate::adapters::postgres::{ConnectionSettings, SslMode};
use crate::domain::credentials::ProviderBlock;
use crate::ports::backends::BuildError;
use serde_json::Value;

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

/// How the lexical column of rows written without it (a table from before the keyword index, or
/// rows Mem0 itself wrote) is filled in the background. Not configurable from JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexicalFillTuning {
    /// Rows given their terms per transaction (each chunk commits on its own).
    pub chunk_rows: usize,
    /// Wait between two chunks (zero: fill as fast as the database goes).
    pub pause: std::time::Duration,
}

impl Default for LexicalFillTuning {
    fn default() -> Self {
        // A chunk of 1000 rows takes 0.3–0.6 s of UPDATE on a 1M-row table with its indexes
        // (bench/results/growth_notes.md): short enough to hold few row locks for long.
        Self { chunk_rows: 1000, pause: std::time::Duration::ZERO }
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
    /// The background fill of the lexical column.
    pub lexical_fill: LexicalFillTuning,
}

/// Parses a pgvector block's `config`. Unknown keys, wrong types and missing credentials are
/// reported with the key's name; nothing is contacted.
pub fn from_block(block: &ProviderBlock) -> Result<PgVectorConfig, BuildError> {
    let field = block.field;
    let err = |message: String| BuildError::Config { field, message };
    let string = |key: &str| string_key(block, key);
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
    let sslmode = match string("sslmode")? {
        None => None,
        Some(raw) => Some(
            SslMode::parse(&raw)
                .ok_or_else(|| err(format!("sslmode must be one of {}, got {raw:?}", SslMode::ALLOWED)))?,
        ),
    };
    let dbname = match (string("dbname")?, string("database")?) {
        (Some(_), Some(_)) => return Err(err("give dbname or its alias database, not both".into())),
        (a, b) => a.or(b),
    };
    let connection = match string("connection_string")? {
        Some(raw) => {
            let ignored: Vec<&str> = ["dbname", "database", "user", "password", "host", "port"]
                .into_iter()
                .filter(|k| block.config.get(*k).is_some_and(|v| !v.is_null()))
                .collect();
            if !ignored.is_empty() {
                tracing::warn!(keys = ?ignored, "pgvector: connection_string is given, so these keys are ignored (as in Mem0)");
            }
            ConnectionSettings::from_connection_string(&raw, sslmode)
                .map_err(|m| err(format!("connection_string {m}")))?
        }
        None => {
            let user = string("user")?.ok_or_else(|| {
                err("user is required unless connection_string is given (keys: host, port, user, password, dbname)"
                    .into())
            })?;
            let port =
                count_key(block, "port", 1, u16::MAX as usize)?.and_then(|p| u16::try_from(p).ok()).unwrap_or(5432);
            let host = string("host")?.unwrap_or_else(|| "localhost".into());
            ConnectionSettings::from_parts(
                &host,
                port,
                &user,
                password(block)?.as_deref(),
                dbname.as_deref().unwrap_or("postgres"),
                sslmode.unwrap_or(SslMode::Prefer),
            )
        }
    };
    let collection = string("collection_name")?.unwrap_or_else(|| "mem0".into());
    let collection_name = CollectionName::parse(&collection).map_err(|m| err(format!("collection_name {m}")))?;
    let embedding_model_dims = count_key(block, "embedding_model_dims", 1, MAX_DIMS)?.unwrap_or(1536);
    let minconn = count_key(block, "minconn", 0, 1000)?.unwrap_or(1);
    let maxconn = count_key(block, "maxconn", 1, 1000)?.unwrap_or(5);
    if minconn > maxconn {
        return Err(err(format!("minconn ({minconn}) must not exceed maxconn ({maxconn})")));
    }
    Ok(PgVectorConfig {
        connection,
        collection_name,
        embedding_model_dims,
        hnsw: flag_key(block, "hnsw")?.unwrap_or(true),
        diskann: flag_key(block, "diskann")?.unwrap_or(false),
        minconn,
        maxconn,
        search: SearchTuning::default(),
        lexical_fill: LexicalFillTuning::default(),
    })
}

/// The password: a string taken as given (not trimmed), or a number (Mem0 accepts one); `null`
/// and absent mean none. Its value is never shown in an error.
fn password(block: &ProviderBlock) -> Result<Option<String>, BuildError> {
    match block.config.get("password") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(wrong_type(block, "password", "a string", other)),
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
        assert!(message(json!({"user": 3})).contains("user must be a string, got 3"));
        assert!(message(json!({"user": "u", "password": [1]}))
            .contains("password must be a string, got a value that is not shown"));
    }

    #[test]
    fn errors_never_show_the_password() {
        let m = message(json!({"connection_string": "postgresql://u:hunter2@h/d?bogus=1"}));
        assert!(m.contains("connection_string") && !m.contains("hunter2"), "{m}");
        let c = parse(json!({"user": "u", "password": "hunter2"})).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
