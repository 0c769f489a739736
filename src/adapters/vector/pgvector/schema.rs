//! Creating or checking the collection table and its indexes (Mem0's DDL plus scope and hash indexes).

use super::config::{PgVectorConfig, MAX_INDEXED_DIMS};
use crate::adapters::postgres::ddl;
use crate::adapters::postgres::errors::from_pg;
use crate::ports::store::StoreError;
use deadpool_postgres::Transaction;

const STORE: &str = "pgvector store";

/// The nearest-neighbour index a collection has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnIndex {
    /// pgvector HNSW (cosine).
    Hnsw,
    /// pgvectorscale DiskANN (cosine).
    DiskAnn,
    /// None: every search compares every vector of the scope.
    None,
}

/// What the server and the table turned out to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The ANN index in use.
    pub ann: AnnIndex,
    /// pgvector ≥ 0.8: `hnsw.iterative_scan` exists.
    pub iterative_scan: bool,
}

/// Makes sure the extension, table and indexes exist and the table's dimension is the configured one.
pub(super) async fn prepare(tx: &Transaction<'_>, config: &PgVectorConfig) -> Result<Capabilities, StoreError> {
    let pg = |e: tokio_postgres::Error| from_pg(STORE, &e);
    ddl::lock(tx).await.map_err(pg)?;
    let version = match extension_version(tx, "vector").await? {
        Some(v) => v,
        None => {
            tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vector").await.map_err(|e| match from_pg(STORE, &e) {
                StoreError::Rejected { store, message } => StoreError::Rejected {
                    store,
                    message: format!("the pgvector extension is not installed and cannot be created here: {message}"),
                },
                other => other,
            })?;
            extension_version(tx, "vector").await?.unwrap_or_default()
        }
    };
    let table = config.collection_name.quoted("");
    let dims = config.embedding_model_dims;
    check_or_create_table(tx, &table, dims).await?;
    let ann = ann_index(tx, config).await?;
    let name = |suffix: &str| config.collection_name.quoted(suffix);
    let mut ddl = Vec::new();
    match ann {
        AnnIndex::Hnsw => ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} USING hnsw (vector vector_cosine_ops)",
            name("_hnsw_idx")
        )),
        AnnIndex::DiskAnn => ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} USING diskann (vector vector_cosine_ops)",
            name("_diskann_idx")
        )),
        AnnIndex::None => {}
    }
    for key in ["user_id", "agent_id", "run_id", "hash"] {
        ddl.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {table} ((payload->>'{key}'))",
            name(&format!("_{key}_idx"))
        ));
    }
    tx.batch_execute(&ddl.join(";\n")).await.map_err(pg)?;
    super::lexical::prepare(tx, &table, &name("_lexical_idx")).await.map_err(pg)?;
    let iterative_scan = version_at_least(&version, (0, 8));
    if ann == AnnIndex::Hnsw && !iterative_scan {
        tracing::warn!(
            pgvector = %version,
            "pgvector older than 0.8 has no iterative index scans: every search will scan its scope exactly"
        );
    }
    Ok(Capabilities { ann, iterative_scan })
}

async fn extension_version(tx: &Transaction<'_>, name: &str) -> Result<Option<String>, StoreError> {
    let row = tx
        .query_opt("SELECT extversion FROM pg_extension WHERE extname = $1", &[&name])
        .await
        .map_err(|e| from_pg(STORE, &e))?;
    row.map(|r| r.try_get::<_, String>(0)).transpose().map_err(|e| from_pg(STORE, &e))
}

async fn check_or_create_table(tx: &Transaction<'_>, table: &str, dims: usize) -> Result<(), StoreError> {
    let rows = tx
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypmod, t.typname::text \
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
             WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
            &[&table],
        )
        .await
        .map_err(|e| from_pg(STORE, &e))?;
    if rows.is_empty() {
        let sql =
            format!("CREATE TABLE IF NOT EXISTS {table} (id uuid PRIMARY KEY, vector vector({dims}), payload jsonb)");
        return tx.batch_execute(&sql).await.map_err(|e| from_pg(STORE, &e));
    }
    // (name, shown type, typmod, type name) of each column.
    let columns = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect::<Result<Vec<(String, String, i32, String)>, tokio_postgres::Error>>()
        .map_err(|e| from_pg(STORE, &e))?;
    let column = |name: &str| columns.iter().find(|c| c.0 == name);
    let rejected = |message: String| StoreError::Rejected { store: STORE, message };
    for (name, expected) in [("id", "uuid"), ("payload", "jsonb")] {
        match column(name).map(|c| c.3.as_str()) {
            Some(ty) if ty == expected => {}
            found => {
                return Err(rejected(format!(
                    "table {table} exists but its column {name} is {} instead of {expected}",
                    found.unwrap_or("missing")
                )))
            }
        }
    }
    let Some((_, shown, typmod, ty)) = column("vector") else {
        return Err(rejected(format!("table {table} exists but has no vector column")));
    };
    let typmod = *typmod;
    if ty != "vector" {
        return Err(rejected(format!("table {table} exists but its column vector is {shown}, not vector({dims})")));
    }
    if usize::try_from(typmod).ok() != Some(dims) {
        return Err(rejected(format!(
            "table {table} stores {shown} but embedding_model_dims is {dims}; use the embedding model the \
             collection was built with, or another collection_name"
        )));
    }
    Ok(())
}

async fn ann_index(tx: &Transaction<'_>, config: &PgVectorConfig) -> Result<AnnIndex, StoreError> {
    if !config.hnsw && !config.diskann {
        return Ok(AnnIndex::None);
    }
    if config.embedding_model_dims > MAX_INDEXED_DIMS {
        tracing::warn!(
            dims = config.embedding_model_dims,
            "pgvector indexes at most {MAX_INDEXED_DIMS} dimensions: no ANN index, searches scan their scope exactly"
        );
        return Ok(AnnIndex::None);
    }
    if config.diskann {
        if extension_version(tx, "vectorscale").await?.is_some() {
            return Ok(AnnIndex::DiskAnn);
        }
        let available = tx
            .query_opt("SELECT 1 FROM pg_available_extensions WHERE name = 'vectorscale'", &[])
            .await
            .map_err(|e| from_pg(STORE, &e))?
            .is_some();
        if available {
            tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vectorscale CASCADE")
                .await
                .map_err(|e| from_pg(STORE, &e))?;
            return Ok(AnnIndex::DiskAnn);
        }
        tracing::warn!(
            fallback = if config.hnsw { "hnsw" } else { "exact scans" },
            "diskann is configured but the pgvectorscale extension is not available on this server"
        );
    }
    Ok(if config.hnsw { AnnIndex::Hnsw } else { AnnIndex::None })
}

/// True when a dotted version like `0.8.1` is at least `major.minor`.
fn version_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    found >= (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare() {
        assert!(version_at_least("0.8.0", (0, 8)));
        assert!(version_at_least("0.10.1", (0, 8)));
        assert!(!version_at_least("0.7.4", (0, 8)));
        assert!(!version_at_least("", (0, 8)));
    }
}
